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
} from './native.js';
import { type LocalModelHandle, type ModelCapabilities } from '../model/handle.js';
import {
  type ChatMessage,
  type EvaluateRequest,
  type EvaluationResult,
  type GenerateRequest,
  type GenerationResult,
  type GenerationStream,
  type MemoryReport,
  type TokenizeOptions,
} from '../model/types.js';
import { type LoadedModelInfo } from './types.js';
import { fromNative, toMemoryReport } from './convert.js';
import { completeWith, generateParams, startRequest, stringField } from './request.js';
import { ModelChat, type ChatOptions } from '../template/chat.js';
import { type ChatTemplateSet } from '../template/choose.js';
import { evaluateParams, evaluationResult } from './evaluate.js';

// ---------------------------------------------------------------------------------------------
// Model

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
    const stream = startRequest((p, cb) => this.#submit(nativeModel, p, cb), params, signal, () => {
      this.track(-1);
      return this;
    });
    this.track(1);
    return stream;
  }

  #wakePending = false;

  // Requests made in one turn of the event loop wake the scheduler once, at the end of the turn, so they
  // start as one batch instead of the first running alone while the others are still being submitted.
  #submit(nativeModel: NativeModel, params: NativeGenerateParams | NativeEvaluateParams, callback: NativeRequestCallback): NativeRequestHandle {
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
}
