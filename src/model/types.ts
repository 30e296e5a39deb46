/**
 * The types of the model contract (src/model): the options a model is estimated and loaded with,
 * and the requests, results and streams every provider's models take and give back, whatever runs
 * them. Only src/core/ and the error and validation helpers are below this room.
 */

export type GpuLayers = number | 'max' | 'auto';

export interface EstimateOptions {
  /** Context size in tokens of each sequence (the context holds contextSize × parallel). Default: min(model's, 4096). */
  contextSize?: number;
  /** Parallel sequences sharing the context. Default 1. */
  parallel?: number;
  /** Layers offloaded to GPU devices. Default 'auto' (all when a GPU is present). */
  gpuLayers?: GpuLayers;
  /** Logical batch size. Default 512. */
  batchSize?: number;
  /** Load as an embedding model. */
  embeddings?: boolean;
  /** Use mmap for weights (the weights then count as file-backed memory). Default true. */
  mmap?: boolean;
}

/**
 * Bytes by kind on one device ("CPU" is host memory). Every figure but `reclaimable` is memory the
 * model needs resident: anonymous buffers (weights copied or repacked out of the file, KV cache,
 * compute) and the file-mapped bytes of tensors read from the mapping at run time.
 */
export interface DeviceMemory {
  device: string;
  /** Resident weights: copies and repacked tensors, plus mapped tensors read at run time. */
  weights: number;
  kvCache: number;
  compute: number;
  /** weights + kvCache + compute: what budgets count. */
  total: number;
  /**
   * File-mapped bytes no tensor reads after the load (originals of tensors repacked for the CPU or
   * offloaded to a GPU). Not counted in `total`: the engine tells the OS it may drop these pages.
   */
  reclaimable: number;
}

export interface MemoryReport {
  devices: DeviceMemory[];
  /** Resident bytes, summed over devices (what budgets count). */
  total: number;
  weights: number;
  kvCache: number;
  compute: number;
  /** Reclaimable mapped bytes, summed over devices (not in `total`). */
  reclaimable: number;
}

export interface LoadOptions extends EstimateOptions {
  /** Decode threads. Default: cores left after the event loop (at least 1). */
  threads?: number;
  /** Prompt-processing threads. Default: same as threads. */
  batchThreads?: number;
  mlock?: boolean;
  signal?: AbortSignal;
  /** Load progress in [0, 1]. */
  onProgress?: (progress: number) => void;
  /**
   * Check the file in a child process before llama.cpp reads it in-process, so that a corrupted
   * file that would make llama.cpp abort cannot take the process down. 'auto' probes each file
   * once (cached by path, size and mtime). Default 'auto'.
   */
  probe?: 'auto' | 'always' | 'never';
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /**
   * The text, or content parts (`{ type: 'text', text }`; other types are passed to the template as they
   * are). null only for an assistant message that calls tools and says nothing (templates read it as None).
   */
  content: string | Array<{ type: string; text?: string; [key: string]: unknown }> | null;
  /** The tools an assistant message calls (OpenAI's shape; templates read them as `tool_calls`). */
  toolCalls?: Array<{
    id?: string;
    type?: 'function';
    /** `arguments`: a JSON object, or a string holding one (templates get it parsed into a mapping). */
    function: { name: string; arguments: string | Record<string, unknown> };
  }>;
  /** A tool message: the id of the call it answers (templates read `tool_call_id`). */
  toolCallId?: string;
  /** A tool message: the tool's name; otherwise the author's name. */
  name?: string;
  /** The assistant's reasoning in this turn (templates read `reasoning_content`, or the name they use). */
  reasoning?: string;
}

export interface SamplingOptions {
  /** 0 = greedy. Default 0.8. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
}

export interface GenerateRequest extends SamplingOptions {
  /** Raw prompt text. Exactly one of prompt or messages. */
  prompt?: string;
  /** Chat messages, formatted with the model's own chat template. */
  messages?: ChatMessage[];
  /** With messages: tool definitions for the template (`{ type: 'function', function: { name, description, parameters } }`). */
  tools?: Array<Record<string, unknown>>;
  /** With messages: documents for the template (retrieval-augmented generation; `{ title, text }` by convention). */
  documents?: Array<Record<string, unknown>>;
  /**
   * With messages: the GGUF's named template to use (`tokenizer.chat_template.<name>`, e.g. 'tool_use').
   * Default: 'tool_use' when tools are given and the model has one, else the default template.
   */
  chatTemplate?: string;
  /** With messages: more variables for the template (enable_thinking, reasoning_effort, ...). */
  templateVariables?: Record<string, unknown>;
  /** Default 256. */
  maxTokens?: number;
  stop?: string[];
  /** Constrain output to JSON matching this JSON schema. */
  jsonSchema?: Record<string, unknown>;
  /** Constrain output with a GBNF grammar (root rule "root"). */
  grammar?: string;
  signal?: AbortSignal;
  /** Add BOS etc. when tokenizing a raw prompt. Default true. */
  addSpecial?: boolean;
  /**
   * Reuse the KV cache of the longest prefix this prompt shares with a sequence's cached tokens, and
   * evaluate only the rest (llama-server's `cache_prompt`). Default true.
   */
  cachePrompt?: boolean;
  /** Report each generated token's log probability (GenerationResult.logprobs, and the stream's chunks). */
  logprobs?: boolean;
  /** With logprobs: also the k most likely tokens at each position, 0..20. Default 0. */
  topLogprobs?: number;
  /** A LoRA adapter loaded on the model (by name), optionally with a scale (default 1). */
  adapter?: string | { name: string; scale?: number };
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'abort';

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  /** From the request reaching the engine to its first generated token. */
  timeToFirstTokenMs: number;
  promptTokensPerSecond: number;
  decodeTokensPerSecond: number;
  totalMs: number;
  /** Wall time of the native decode steps this request took part in. */
  nativeMs: number;
  /**
   * CPU time this model's own compute threads spent on those steps (the scheduler thread and its
   * OpenMP workers; never other models' threads), shared out among the sequences of each step in
   * proportion to the tokens each put in the batch. In builds without OpenMP (macOS) the worker
   * threads are counted busy for the whole step.
   */
  cpuMs: number;
  /** Time spent waiting for a free sequence slot. */
  queuedMs: number;
  /** Prompt tokens taken from the prompt cache instead of being evaluated (0 with cachePrompt false). */
  cachedPromptTokens: number;
}

/** One alternative at a token position, most likely first. */
export interface TopLogprob {
  /** Token id in the model's vocabulary. */
  id: number;
  /** The token's text (may be part of a multi-byte character). */
  text: string;
  /** Natural-log probability under the model's distribution (before sampling filters). */
  logprob: number;
}

/** A generated (or evaluated) token with its log probability. */
export interface TokenLogprob extends TopLogprob {
  /** The most likely tokens at this position (topLogprobs of them), most likely first. */
  top?: TopLogprob[];
}

export interface GenerationResult extends GenerationStats {
  text: string;
  finishReason: FinishReason;
  /** Chat requests: the reasoning the model's template marks (`<think>…</think>` and the like), taken out of `text`. */
  reasoning?: string;
  /** Chat requests: the tool calls the model wrote in its template's syntax, taken out of `text`. */
  toolCalls?: NonNullable<ChatMessage['toolCalls']>;
  /** One entry per generated token, with request.logprobs. */
  logprobs?: TokenLogprob[];
}

/** A piece of a streamed generation: its text and, with request.logprobs, the tokens whose text starts in it. */
export interface GenerationChunk {
  text: string;
  logprobs?: TokenLogprob[];
}

/**
 * What generate() returns: an async iterable of text chunks and the final result. Iterate either the
 * stream itself (strings) or chunks() (text with log probabilities), not both.
 */
export interface GenerationStream extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
  /** The same chunks with their tokens' log probabilities. */
  chunks(): AsyncIterable<GenerationChunk>;
}

/** Scores a given continuation: the log probability of each of its tokens after the prompt. */
export interface EvaluateRequest {
  /** Text (tokenized with addSpecial) or token ids. */
  prompt: string | number[];
  /** Text (tokenized on its own, without BOS) or token ids. At least one token. */
  continuation: string | number[];
  /** Also the k most likely tokens at each position, 0..vocabulary size. Default 0. */
  topLogprobs?: number;
  /** Add BOS etc. when tokenizing a text prompt. Default true. */
  addSpecial?: boolean;
  /** Default true (see GenerateRequest.cachePrompt). */
  cachePrompt?: boolean;
  adapter?: string | { name: string; scale?: number };
  signal?: AbortSignal;
}

/** What Model.saveState() decodes: a prompt (a long system prompt, a conversation so far). */
export interface SaveStateRequest {
  /** Text (tokenized with addSpecial) or token ids. */
  prompt: string | number[];
  /** Add BOS etc. when tokenizing a text prompt. Default true. */
  addSpecial?: boolean;
  /** The adapter to compute the KV with (see GenerateRequest.adapter). */
  adapter?: string | { name: string; scale?: number };
  /** Start from a sequence's cached prefix (default true). */
  cachePrompt?: boolean;
  signal?: AbortSignal;
}

/**
 * The KV state of one sequence: the tokens it holds and llama.cpp's state of them. Restored into a
 * model made from the same file, it is that sequence's prompt cache (a request starting with these
 * tokens evaluates only the rest).
 */
export interface ModelState {
  /** The model file it came from (a content fingerprint) and its architecture. */
  readonly model: { readonly fingerprint: string; readonly architecture: string };
  readonly tokens: number[];
  /** The LoRA adapter the KV was computed with; restoring needs an adapter of that name loaded. */
  readonly adapter?: { readonly name: string; readonly scale: number };
  readonly data: Uint8Array;
}

export interface EvaluationResult {
  /** One entry per continuation token. */
  tokens: TokenLogprob[];
  /** Sum of the tokens' log probabilities: the continuation's log likelihood. */
  logprob: number;
  /** exp(-logprob / tokens): the continuation's perplexity. */
  perplexity: number;
  promptTokens: number;
  cachedPromptTokens: number;
  totalMs: number;
  cpuMs: number;
}

export interface TokenizeOptions {
  /** Add BOS/EOS as the model's vocabulary asks. Default true. */
  addSpecial?: boolean;
  /** Parse special-token text like "<s>" as the special token. Default false. */
  parseSpecial?: boolean;
}
