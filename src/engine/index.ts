import type { LocalModelHandle } from '../model/handle.js';
import type { LoadedModelInfo } from './types.js';

export { defaultThreads } from './convert.js';
export { loadModel, estimateMemory, deviceInfo, setLogLevel } from './load.js';
export { Model } from './model.js';
export { ModelSlot } from './model-slot.js';
export { inspect } from '../gguf/inspect.js';
export { quantizeModel } from './quantize.js';
export type { QuantizeType } from './quantize.js';
export type * from './types.js';
/** The request, result and load types of the model contract (src/model), which the engine's models take and give. */
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

/**
 * A model of the in-process engine: the local model contract with the engine's own
 * {@link LoadedModelInfo}. {@link Model} implements it.
 * @deprecated Use `LocalModelHandle` (or `ModelHandle`, the contract every provider implements).
 */
export type EngineModel = LocalModelHandle & { readonly info: LoadedModelInfo };
