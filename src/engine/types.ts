/**
 * Public types of the engine (src/engine). The request, result and load types live in src/model/
 * (the contract every provider implements) and are re-exported here, so `modelpool/engine` keeps
 * exporting them; only src/engine/native.ts knows the raw shape of the addon's exports.
 */

import type { LocalModelHandle, ModelInfo } from '../model/handle.js';

export type {
  ChatMessage,
  DeviceMemory,
  EstimateOptions,
  FinishReason,
  GenerateRequest,
  GenerationResult,
  GenerationStats,
  GenerationStream,
  GpuLayers,
  LoadOptions,
  MemoryReport,
  SamplingOptions,
  TokenizeOptions,
} from '../model/types.js';

/** Metadata read from a GGUF header without loading tensors (see inspect.ts). */
export interface GgufInspection {
  path: string;
  fileSize: number;
  ggufVersion: number;
  architecture: string;
  name?: string;
  /** Parameter count, from the tensor shapes. */
  parameterCount: number;
  layers: number;
  heads: number;
  kvHeads: number;
  embeddingSize: number;
  feedForwardSize?: number;
  contextLength: number;
  vocabularySize: number;
  /** `general.file_type` as a name ("F32", "F16", "Q8_0", "Q4_0", "Q4_K_M", ...), or "unknown". */
  fileType: string;
  /** Most common tensor type by bytes ("F32", "Q4_0", ...). */
  quantization: string;
  keyLength: number;
  valueLength: number;
  expertCount?: number;
  chatTemplate?: string;
  tensorCount: number;
  tensorBytes: number;
  /** Scalar metadata (arrays are summarised as `{ type, length }`). */
  metadata: Record<string, unknown>;
}

export interface DeviceInfo {
  cpu: { model: string; cores: number; features: string[] };
  ram: { total: number; free: number };
  gpus: Array<{ name: string; description: string; type: string; total: number; free: number }>;
  /** Backends compiled in, e.g. ["CPU"] or ["CPU", "CUDA"]. */
  backends: string[];
}

/** A model loaded in this process, with its context and its batching scheduler thread. */
export interface LoadedModelInfo extends ModelInfo {
  path: string;
  architecture: string;
  description: string;
  parameterCount: number;
  sizeBytes: number;
  contextSize: number;
  trainContextSize: number;
  parallel: number;
  embeddingSize: number;
  layers: number;
  vocabularySize: number;
  chatTemplate?: string;
  embeddings: boolean;
}

/**
 * A model of the in-process engine: the local model contract with the engine's own
 * {@link LoadedModelInfo}. {@link Model} implements it.
 * @deprecated Use `LocalModelHandle` (or `ModelHandle`, the contract every provider implements).
 */
export type EngineModel = LocalModelHandle & { readonly info: LoadedModelInfo };
