/**
 * The engine's model: a GGUF model loaded into this process through the native core. Arguments are
 * validated here; the native side converts them once and does the work on the model's scheduler thread.
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { integer, optionalBoolean, optionalSignal } from '../validate.js';
import { native } from './native.js';
import {
  type NativeEvaluateParams,
  type NativeGenerateParams,
  type NativeModel,
  type NativeModelInfo,
  type NativeRequestCallback,
  type NativeRequestHandle,
  type NativeResult,
  type NativeSaveStateParams,
} from './native.js';
import { type AdapterInfo, type LocalModelHandle, type ModelCapabilities } from '../model/handle.js';
import {
  type ChatMessage,
  type EvaluateRequest,
  type EvaluationResult,
  type GenerateRequest,
  type GenerationResult,
  type GenerationStream,
  type MemoryReport,
  type ModelState,
  type SaveStateRequest,
  type TokenizeOptions,
} from '../model/types.js';
import { type LoadedModelInfo } from './types.js';
import { fromNative, toMemoryReport } from './convert.js';
import { completeWith, generateParams, startRequest, stringField } from './request.js';
import { ModelChat, type ChatOptions } from '../template/chat.js';
import { parseOutput } from '../template/parse.js';
import { type ChatTemplateSet } from '../template/choose.js';
import { evaluateParams, evaluationResult } from './evaluate.js';
import { modelFingerprint, saveStateParams, toModelState, toNativeState } from './state.js';
import { loadAdapter, removeAdapter } from './adapters.js';

// ---------------------------------------------------------------------------------------------
// Model

/** The adapter fields of a native state, from the request's. */
function adapterOf(params: NativeSaveStateParams): { adapter?: string; adapterScale?: number } {
  return params.adapter !== undefined ? { adapter: params.adapter, adapterScale: params.adapterScale ?? 1 } : {};
}

export const models = new WeakMap<NativeModel, Model>();

/** Capabilities of a model loaded for generation, and of one loaded for embeddings. */
const GENERATION: ModelCapabilities = Object.freeze({ generate: true, chat: true, embed: false, jsonSchema: true, grammar: true, streaming: true });
const EMBEDDING: ModelCapabilities = Object.freeze({ generate: false, chat: false, embed: true, jsonSchema: false, grammar: false, streaming: false });

/** A model loaded in this process: the model contract with its local extension (see {@link LocalModelHandle}). */
export class Model implements LocalModelHandle {
  readonly #native: NativeModel;
  readonly local = true;
  /** A model without a chat template of its own formats messages as ChatML, as llama.cpp's server does. */
  readonly capabilities: ModelCapabilities;
  readonly info: LoadedModelInfo;
  readonly memory: MemoryReport;
  readonly loadMs: number;
  #active = 0;
  #threads: number;
  #disposing: Promise<void> | undefined;
  /** @internal How chat messages become a prompt: the GGUF's Jinja templates (src/template/), else llama.cpp's guesser. */
  readonly chat: ModelChat;

  /** @internal Use {@link loadModel}. `templates`: the GGUF's chat templates and BOS/EOS texts. */
  constructor(nativeModel: NativeModel, loadMs: number, templates?: ChatTemplateSet) {
    this.#native = nativeModel;
    this.chat = new ModelChat(
      templates ?? { templates: nativeModel.info().chatTemplate ? { default: nativeModel.info().chatTemplate! } : {}, bosToken: null, eosToken: null },
      (messages, addAssistant) => this.#live().applyChatTemplate(messages, addAssistant),
      { tokenize: (text, addSpecial, parseSpecial) => this.#live().tokenize(text, addSpecial, parseSpecial) },
    );
    const info: NativeModelInfo = nativeModel.info();
    const { loadMs: _nativeLoadMs, ...rest } = info;
    this.info = rest;
    this.capabilities = rest.embeddings ? EMBEDDING : GENERATION;
    this.memory = toMemoryReport(nativeModel.memory());
    this.loadMs = loadMs;
    this.#threads = nativeModel.stats().threads;
    models.set(nativeModel, this);
  }

  get threads(): number {
    return this.#threads;
  }
  get activeRequests(): number {
    return this.#active;
  }
  /** Batched decode steps run for generation so far (all sequences of a step count once). */
  get decodeSteps(): number {
    return this.#native.stats().decodeSteps;
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  #live(): NativeModel {
    if (this.#disposing) throw new ModelpoolError('DISPOSED', `the model ${this.info.path} has been disposed`);
    return this.#native;
  }

  /** @internal */
  get nativeModel(): NativeModel {
    return this.#live();
  }

  setThreads(threads: number, batchThreads = threads): void {
    integer('threads', threads, 1, 1024);
    integer('batchThreads', batchThreads, 1, 1024);
    this.#live().setThreads(threads, batchThreads);
    this.#threads = threads;
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    stringField('text', text);
    const addSpecial = optionalBoolean('options.addSpecial', options.addSpecial) ?? true;
    const parseSpecial = optionalBoolean('options.parseSpecial', options.parseSpecial) ?? false;
    return Array.from(this.#live().tokenize(text, addSpecial, parseSpecial));
  }

  detokenize(tokens: readonly number[]): string {
    if (!Array.isArray(tokens)) throw invalidArgument('tokens', 'an array of token ids', tokens);
    tokens.forEach((t, i) => integer(`tokens[${i}]`, t, 0, this.info.vocabularySize - 1));
    return this.#live().detokenize(Int32Array.from(tokens));
  }

  /**
   * Formats messages with the model's own Jinja chat template, as Hugging Face transformers renders it
   * (BOS text included); a GGUF without a template goes through llama.cpp's built-in guesser. `options`:
   * `addGenerationPrompt` (default true; a boolean alone means it), tools, documents, a named template
   * (`chatTemplate`) and more template variables. A template that raises gives TEMPLATE_ERROR.
   */
  applyChatTemplate(messages: ChatMessage[], options: boolean | ChatOptions = true): string {
    this.#live();
    try {
      return this.chat.format(messages, typeof options === 'boolean' ? { addGenerationPrompt: options } : options);
    } catch (error) {
      throw fromNative(error, 'INVALID_ARGUMENT');
    }
  }

  /** @internal Bookkeeping shared with ModelSlot. */
  track(delta: number): void {
    this.#active += delta;
  }

  generate(request: GenerateRequest): GenerationStream {
    const nativeModel = this.#live();
    const params = generateParams(nativeModel, request, this.chat);
    const signal = optionalSignal('request.signal', request.signal);
    const stream = startRequest(
      (p, cb) => this.#submit(nativeModel, p, cb),
      params,
      signal,
      () => {
        this.track(-1);
        return this;
      },
      request.messages !== undefined && this.chat.hasTemplate ? this.#parseChat(request) : undefined,
    );
    this.track(1);
    return stream;
  }

  /**
   * A chat result taken apart as its template's syntax says: reasoning and tool calls out of `text` into
   * their own fields (the stream's chunks carry the raw text, as llama.cpp's server streams it).
   */
  #parseChat(request: GenerateRequest): (result: GenerationResult) => GenerationResult {
    const format = this.chat.outputFormat(request);
    const tools = request.tools;
    return (result) => {
      const parsed = parseOutput(result.text, format, tools ? { tools } : {});
      if (parsed.reasoning === undefined && parsed.toolCalls === undefined) return result;
      return {
        ...result,
        text: parsed.content,
        ...(parsed.reasoning !== undefined ? { reasoning: parsed.reasoning } : {}),
        ...(parsed.toolCalls !== undefined ? { toolCalls: parsed.toolCalls } : {}),
      };
    };
  }

  #wakePending = false;

  // Requests made in one turn of the event loop wake the scheduler once, at the end of the turn, so they
  // start as one batch instead of the first running alone while the others are still being submitted.
  #submit(nativeModel: NativeModel, params: NativeGenerateParams | NativeEvaluateParams | NativeSaveStateParams, callback: NativeRequestCallback): NativeRequestHandle {
    const handle = nativeModel.generate(params, callback, true);
    if (!this.#wakePending) {
      this.#wakePending = true;
      queueMicrotask(() => {
        this.#wakePending = false;
        nativeModel.wake();
      });
    }
    return handle;
  }

  complete(request: GenerateRequest): Promise<GenerationResult> {
    return completeWith(() => this.generate(request));
  }

  #identity: Promise<ModelState['model']> | undefined;

  /** What states saved from this model name: its file's content fingerprint and architecture. */
  #stateModel(): Promise<ModelState['model']> {
    this.#identity ??= modelFingerprint(this.info.path).then((fingerprint) => ({ fingerprint, architecture: this.info.architecture }));
    return this.#identity;
  }

  /**
   * Decodes `request.prompt` into a sequence (from its cached prefix, if any) and returns that
   * sequence's KV state, to restore later into this model or another load of the same file.
   */
  async saveState(request: SaveStateRequest): Promise<ModelState> {
    const nativeModel = this.#live();
    const params = saveStateParams(request);
    const signal = optionalSignal('request.signal', request.signal);
    const identity = this.#stateModel();
    let saved: NativeResult | undefined;
    const stream = startRequest(
      (p, cb) => this.#submit(nativeModel, p, (kind, text, r, tokens) => ((saved = r ?? saved), cb(kind, text, r, tokens))),
      params,
      signal,
      () => {
        this.track(-1);
        return this;
      },
    );
    this.track(1);
    await stream.result;
    return toModelState({ tokens: saved!.stateTokens!, data: saved!.state!, ...adapterOf(params) }, await identity);
  }

  /**
   * The KV state of every idle sequence whose prompt cache holds at least `minTokens` tokens
   * (default 1): what the pool keeps across an eviction.
   */
  async savePromptCache(minTokens = 1): Promise<ModelState[]> {
    const nativeModel = this.#live();
    const min = integer('minTokens', minTokens, 1, 1 << 30);
    const identity = await this.#stateModel();
    try {
      return (await nativeModel.savePromptCache(min)).map((s) => toModelState(s, identity));
    } catch (error) {
      throw fromNative(error, 'GENERATION_FAILED');
    }
  }

  /**
   * Loads a saved state into a free sequence as its prompt cache. STATE_MISMATCH for a state from
   * another model file (or version), or made with an adapter this model has not loaded; QUEUE_FULL
   * when every sequence is busy.
   */
  async restoreState(state: ModelState): Promise<void> {
    const nativeModel = this.#live();
    const nativeState = toNativeState(state, await this.#stateModel());
    if (nativeState.tokens.length >= this.info.contextSize) {
      throw new ModelpoolError('CONTEXT_OVERFLOW', `the state holds ${nativeState.tokens.length} tokens but the context holds ${this.info.contextSize}`, {
        field: 'state.tokens',
        value: nativeState.tokens.length,
      });
    }
    try {
      await nativeModel.restoreState(nativeState);
    } catch (error) {
      throw fromNative(error, 'STATE_MISMATCH');
    }
  }

  /**
   * The log probability of each token of `request.continuation` after `request.prompt`, computed in
   * one pass over the prompt cache (nothing is sampled): scoring answers, perplexity, KL divergence.
   */
  evaluate(request: EvaluateRequest): Promise<EvaluationResult> {
    try {
      const nativeModel = this.#live();
      const params = evaluateParams(nativeModel, request);
      const signal = optionalSignal('request.signal', request.signal);
      const stream = startRequest((p, cb) => this.#submit(nativeModel, p, cb), params, signal, () => {
        this.track(-1);
        return this;
      });
      this.track(1);
      return evaluationResult(stream, params.continuationTokens.length);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * One embedding per text, in order. The texts are batched: as many as fit go into one decode, each its
   * own sequence (`parallel` texts and `batchSize` tokens at most). The vector is the model's pooled one
   * (its GGUF pooling type: mean, CLS, last token; a reranker's classifier scores); a model without
   * pooling gives the mean of its token embeddings. Raw unless `options.normalize` asks for unit length
   * (L2, as llama.cpp's llama-embedding prints by default).
   */
  async embed(texts: string[], options: { normalize?: boolean } = {}): Promise<Float32Array[]> {
    if (!Array.isArray(texts) || texts.length === 0) throw invalidArgument('texts', 'a non-empty array of strings', texts);
    texts.forEach((t, i) => stringField(`texts[${i}]`, t));
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
    const normalize = optionalBoolean('options.normalize', options.normalize) ?? false;
    const nativeModel = this.#live();
    const vectors = await new Promise<Float32Array[]>((resolve, reject) => {
      try {
        nativeModel.embed(texts, (kind, _text, r) => {
          if (kind !== 'done' || !r) return;
          this.track(-1);
          if (r.errorCode) reject(fromNative(Object.assign(new Error(r.errorMessage), { code: r.errorCode })));
          else if (r.finishReason === 'abort') reject(new ModelpoolError('ABORTED', 'the embedding request was aborted'));
          else resolve(r.embeddings ?? []);
        });
        this.track(1);
      } catch (error) {
        reject(fromNative(error, 'INVALID_ARGUMENT'));
      }
    });
    if (normalize) {
      for (const v of vectors) {
        const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
        // A zero vector stays zero, as in llama.cpp's common_embd_normalize.
        const scale = norm > 0 ? 1 / norm : 0;
        for (let i = 0; i < v.length; i++) v[i]! *= scale;
      }
    }
    return vectors;
  }

  dispose(options: { abort?: boolean } = {}): Promise<void> {
    if (!this.#disposing) {
      const abort = optionalBoolean('options.abort', options.abort) ?? false;
      this.#disposing = this.#native.close(abort);
    }
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * Loads the GGUF LoRA adapter at `path` under `name` beside this model, without reloading it;
   * requests choose it with `adapter`. The file is checked against this model first (INVALID_ADAPTER
   * names the key or tensor that does not fit); a name in use is ALREADY_EXISTS.
   */
  loadAdapter(name: string, path: string): Promise<AdapterInfo> {
    return loadAdapter(this, name, path);
  }

  /** Removes an adapter: new requests cannot choose it, those using it finish with it. */
  removeAdapter(name: string): void {
    removeAdapter(this, name);
  }

  /** Names of the adapters loaded now (none once disposed). */
  get adapters(): string[] {
    return this.disposed ? [] : this.#native.adapters();
  }
}
