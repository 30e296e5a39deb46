/**
 * Public types of the engine (src/engine). The request, result and load types live in src/model/
 * (the contract every provider implements); src/engine/index.ts exports them with these, so
 * `modelpool/engine` keeps exporting them. This file imports only src/gguf (pure TypeScript): the registry
 * reads GgufInspection from it and must not reach further. Only src/engine/native.ts knows the raw shape
 * of the addon's exports.
 */

export type { GgufInspection } from '../gguf/types.js';

export interface DeviceInfo {
  cpu: { model: string; cores: number; features: string[] };
  ram: { total: number; free: number };
  gpus: Array<{ name: string; description: string; type: string; total: number; free: number }>;
  /** Backends compiled in, e.g. ["CPU"] or ["CPU", "CUDA"]. */
  backends: string[];
}

/**
 * A model loaded in this process, with its context and its batching scheduler thread: the
 * contract's ModelInfo (contextSize, parallel, architecture) and what the engine knows besides.
 */
export interface LoadedModelInfo {
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
