import type { LocalModelHandle } from '../model/handle.js';
import type { LoadedModelInfo } from './types.js';

export { defaultThreads } from './convert.js';
export { loadModel, estimateMemory, deviceInfo, setLogLevel } from './load.js';
export { Model } from './model.js';
export { ModelSlot } from './model-slot.js';
export { inspect } from '../gguf/inspect.js';
export { quantizeModel } from './quantize.js';
export { modelFingerprint } from './state.js';
export { serializeState, deserializeState } from '../model/state.js';
export { ChatTemplate, readChatTemplates, outputFormat, parseOutput } from '../template/index.js';
export type { ChatTemplateOptions, ChatTemplateContext, ChatTemplateSet, ChatOptions, OutputFormat, ParsedOutput, ToolSyntax, ToolCall } from '../template/index.js';
export type { QuantizeType } from './quantize.js';
export type * from './types.js';
/** The request, result and load types of the model contract (src/model), which the engine's models take and give. */
export type {
  ChatMessage,
  DeviceMemory,
  EstimateOptions,
  EvaluateRequest,
  EvaluationResult,
  FinishReason,
  GenerateRequest,
  GenerationResult,
  GenerationStats,
  GenerationChunk,
  GenerationStream,
  GpuLayers,
  LoadOptions,
  MemoryReport,
  ModelState,
  SamplingOptions,
  SaveStateRequest,
  TokenLogprob,
  TokenizeOptions,
  TopLogprob,
} from '../model/types.js';
/** A LoRA adapter loaded beside a model (Model.loadAdapter). */
export type { AdapterInfo } from '../model/handle.js';

/**
 * A model of the in-process engine: the local model contract with the engine's own
 * {@link LoadedModelInfo}. {@link Model} implements it.
 * @deprecated Use `LocalModelHandle` (or `ModelHandle`, the contract every provider implements).
 */
export type EngineModel = LocalModelHandle & { readonly info: LoadedModelInfo };
