/**
 * The model contract: what the pool, the swap manager and users may call on a loaded model,
 * whichever provider loaded it (llama.cpp in this process, a remote server, a fake in tests). The
 * powers only a model in this process has — a thread count, a measured memory report, its tokenizer
 * and chat template — form the {@link LocalModelHandle} extension, which callers check for with
 * {@link isLocalModel} rather than assume.
 */

import type { ChatMessage, EvaluateRequest, EvaluationResult, ModelState, GenerateRequest, GenerationResult, GenerationStream, MemoryReport, TokenizeOptions } from './types.js';

/**
 * What a model can do. A request that needs a capability the model lacks fails with
 * INVALID_ARGUMENT naming the field; one that stays within them must work.
 */
export interface ModelCapabilities {
  /** generate() and complete() with a raw `prompt`. */
  readonly generate: boolean;
  /** Requests with `messages` (formatted with the model's chat template, or sent as a chat to a remote API). */
  readonly chat: boolean;
  /** embed(). */
  readonly embed: boolean;
  /** Requests with `jsonSchema`: output constrained to JSON matching the schema. */
  readonly jsonSchema: boolean;
  /** Requests with `grammar` (GBNF). */
  readonly grammar: boolean;
  /** generate() yields text while it is produced; false: all of it in one chunk at the end. */
  readonly streaming: boolean;
}

/** What any model can say about itself; a local model says more (the engine's LoadedModelInfo). */
export interface ModelInfo {
  /** Tokens one request may hold, prompt and output together; 0 when the provider does not say. */
  readonly contextSize: number;
  /** Requests the model serves at once: the pool grants this many leases on it at once. */
  readonly parallel: number;
  /** Architecture or family ('llama', 'qwen2', ...), when the provider knows it. */
  readonly architecture?: string;
}

/**
 * A loaded model, as any provider can honestly implement it.
 *
 * - `generate()` returns at once; invalid input, a missing capability (INVALID_ARGUMENT), a disposed
 *   model (DISPOSED) and a signal already aborted (ABORTED) throw synchronously. Failures while the
 *   request runs reject `result` and end the iteration with the same error.
 * - The chunks of a stream, joined, are the result's `text`.
 * - Aborting through `request.signal` rejects `result` with ABORTED, whose `details` hold the partial
 *   result (`finishReason: 'abort'`).
 * - `complete()` is `generate()` without streaming; every error is a rejection.
 * - `dispose()` stops taking requests, waits for those in flight (or ends them with ABORTED given
 *   `{ abort: true }`) and frees the model. It is idempotent; every call after it gets DISPOSED.
 */
export interface ModelHandle {
  /** Whether the model has the local extension ({@link LocalModelHandle}); see {@link isLocalModel}. */
  readonly local: boolean;
  readonly capabilities: ModelCapabilities;
  readonly info: ModelInfo;
  /** Wall time the load took, ms. */
  readonly loadMs: number;
  /** Requests accepted and not finished yet (queued or generating). */
  readonly activeRequests: number;
  readonly disposed: boolean;
  generate(request: GenerateRequest): GenerationStream;
  /** generate() without streaming: resolves with the final result. */
  complete(request: GenerateRequest): Promise<GenerationResult>;
  /** One embedding per text (needs `capabilities.embed`). */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Waits for in-flight requests (or aborts them with `{ abort: true }`), then frees everything. Idempotent. */
  dispose(options?: { abort?: boolean }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A model running in this process: it uses the pool's CPU threads, its memory is measured after
 * the load, and its tokenizer and chat template can be called directly.
 */
export interface LocalModelHandle extends ModelHandle {
  readonly local: true;
  /** Memory really allocated by this model, by device and kind (what the pool's budgets count). */
  readonly memory: MemoryReport;
  /** Decode threads now. */
  readonly threads: number;
  /** Changes the decode and batch thread counts; applies from the next decode step. */
  setThreads(threads: number, batchThreads?: number): void;
  tokenize(text: string, options?: TokenizeOptions): number[];
  detokenize(tokens: readonly number[]): string;
  /**
   * Formats messages with the model's own chat template (its GGUF's Jinja template, rendered as Hugging Face
   * transformers does). `options`: a boolean is `addGenerationPrompt` (default true: open the assistant's
   * turn); tools, documents, a named template and more template variables as in a GenerateRequest.
   */
  applyChatTemplate(
    messages: ChatMessage[],
    options?: boolean | (Pick<GenerateRequest, 'tools' | 'documents' | 'chatTemplate' | 'templateVariables'> & { addGenerationPrompt?: boolean }),
  ): string;
  /** The log probability of each token of a given continuation after a prompt (nothing is sampled). */
  evaluate(request: EvaluateRequest): Promise<EvaluationResult>;
  /**
   * The KV state of every idle sequence caching at least `minTokens` tokens (engines that keep a
   * prompt cache): what the pool keeps across an eviction.
   */
  savePromptCache?(minTokens?: number): Promise<ModelState[]>;
  /** Loads a saved state into a free sequence as its prompt cache (STATE_MISMATCH for another model's). */
  restoreState?(state: ModelState): Promise<void>;
  /**
   * Loads the GGUF LoRA adapter at `path` beside the model, under `name`, without reloading the model;
   * requests then choose it with `adapter: name` (or `{ name, scale }`). The file is checked against
   * the model first: INVALID_ADAPTER names the key or tensor that does not fit, ALREADY_EXISTS a name
   * in use. Adapters belong to this model: a model loaded in its place has none until they are loaded
   * on it.
   */
  loadAdapter(name: string, path: string): Promise<AdapterInfo>;
  /** Removes an adapter; requests already using it finish with it. An unknown name is INVALID_ARGUMENT. */
  removeAdapter(name: string): void;
  /** Names of the adapters loaded now (none once disposed). */
  readonly adapters: string[];
}

/** A LoRA adapter loaded beside a model ({@link LocalModelHandle.loadAdapter}). */
export interface AdapterInfo {
  name: string;
  path: string;
  /** Wall time of the load, ms, including the wait for the decode step in progress. */
  loadMs: number;
  /** Rank of its A and B matrices (the largest, should they differ). */
  rank: number;
  /** `adapter.lora.alpha`: a request's scale is multiplied by alpha / rank (0: by 1). */
  alpha: number;
  /** Base tensors it adapts. */
  tensors: number;
}

/** Whether `model` has the local extension: its `local` flag, checked at run time. */
export function isLocalModel(model: ModelHandle): model is LocalModelHandle {
  return model.local === true;
}
