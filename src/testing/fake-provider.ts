/**
 * A fake {@link Provider} for tests: models that honour the model contract — requests stream and
 * finish on timers, abort through signals, `dispose()` waits for in-flight requests — without
 * loading anything. Each model's memory, load time, speed, text and failures are configured by
 * source. Its models are local ({@link FakeModel}: threads, a memory report, a toy tokenizer) or,
 * with `local: false`, plain {@link FakeRemoteModel}s with only the contract, as a remote provider's
 * would be. The pool's own tests run on it; use it to test code that takes a pool or a provider.
 */

import { ModelpoolError, invalidArgument } from '../errors.js';
import type { LoadedModelInfo } from '../engine/types.js';
import type { AdapterInfo, LocalModelHandle, ModelCapabilities, ModelHandle, ModelInfo } from '../model/handle.js';
import type { DeviceMemoryInfo, ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from '../model/provider.js';
import type { ChatMessage, EstimateOptions, EvaluateRequest, EvaluationResult, GenerateRequest, GenerationResult, GenerationStream, MemoryReport } from '../model/types.js';
import { optionalSignal, plainObject } from '../validate.js';

/** One megabyte (10⁶ bytes), for sizing fake models. */
export const MB = 1_000_000;

/** How one fake model behaves; every field is optional. */
export interface FakeModelConfig {
  /** With the local extension (threads, measured memory, tokenizer). Default: the provider's `local`. */
  local?: boolean;
  /** What the model declares (and honours). Default: everything but `jsonSchema` and `grammar`. */
  capabilities?: Partial<ModelCapabilities>;
  /** Bytes on CPU the estimate reports (weights), before context. Default 100 MB; 0 for a model that is not local. */
  bytes?: number;
  /** Extra bytes per 1,000 tokens of context (KV cache). Default 0. */
  kvPerKTokens?: number;
  /** Measured memory = estimate × this. Default 1. */
  actualFactor?: number;
  /** Bytes on "GPU0" when every layer is offloaded (scaled by gpuLayers). Default 0. */
  gpuBytes?: number;
  /** Default 4. */
  layers?: number;
  /** Default 'llama'. */
  architecture?: string;
  /** Load time, ms. Default 5. */
  loadMs?: number;
  /** The load fails (with this message). */
  failLoad?: boolean | string;
  /** The estimate fails. */
  failEstimate?: boolean;
  /** ms per generated token. Default 1. */
  tokenMs?: number;
  /** The generated text. Default ' there was a fake model'. */
  text?: string;
  /** Tokens generated. Default min(maxTokens, 8); 0 gives an empty text. */
  generatedTokens?: number;
  /** Requests fail with GENERATION_FAILED at their end. */
  failGenerate?: boolean;
  /** Trained context. Default 4096. */
  trainContext?: number;
}

const DEFAULT_CAPABILITIES: ModelCapabilities = { generate: true, chat: true, embed: true, jsonSchema: false, grammar: false, streaming: true };
const EMBEDDING_SIZE = 8;

/** The text in at most `count` pieces, cut before words, that join back to it. */
function pieces(text: string, count: number): string[] {
  if (count <= 0) return [];
  const words = text.match(/\s*\S+\s*|\s+/g) ?? [text];
  const size = Math.ceil(words.length / count);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(''));
  return out;
}

/** Chunks pushed by timers, pulled by one async iterator. */
class Chunks {
  readonly #chunks: string[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  push(text: string): void {
    this.#chunks.push(text);
    this.#notify();
  }
  end(error?: unknown): void {
    this.#done = true;
    this.#error = error;
    this.#notify();
  }
  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
  async *iterate(): AsyncGenerator<string> {
    for (;;) {
      if (this.#chunks.length > 0) yield this.#chunks.splice(0).join('');
      else if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      } else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** A fake model with only the contract, as a remote provider's model would be (`local: false`). */
export class FakeRemoteModel implements ModelHandle {
  readonly local: boolean = false;
  readonly capabilities: ModelCapabilities;
  readonly info: ModelInfo;
  readonly loadMs: number;
  activeRequests = 0;
  disposed = false;
  /** performance.now() when the model was freed (after its last request). */
  disposedAt: number | undefined;
  disposeCalls = 0;
  readonly #idle: Array<() => void> = [];
  readonly #aborts = new Set<AbortController>();

  constructor(
    readonly source: string,
    readonly config: FakeModelConfig,
    info: ModelInfo,
    loadMs: number,
  ) {
    this.capabilities = Object.freeze({ ...DEFAULT_CAPABILITIES, ...config.capabilities });
    this.info = info;
    this.loadMs = loadMs;
  }

  /** Throws DISPOSED once dispose() was called. */
  protected throwIfDisposed(): void {
    if (this.disposed) throw new ModelpoolError('DISPOSED', `the fake model ${this.source} has been disposed`);
  }

  #needs(capability: keyof ModelCapabilities, field: string, value: unknown): void {
    if (!this.capabilities[capability]) throw invalidArgument(field, `a model that declares capabilities.${capability}`, value);
  }

  /** Checks a request as a provider would before accepting it. */
  #check(request: GenerateRequest): AbortSignal | undefined {
    this.throwIfDisposed();
    plainObject('request', request);
    if ((request.prompt === undefined) === (request.messages === undefined)) {
      throw invalidArgument('request.prompt', 'exactly one of prompt or messages', request.prompt === undefined ? undefined : 'both');
    }
    if (request.prompt !== undefined) this.#needs('generate', 'request.prompt', request.prompt);
    if (request.messages !== undefined) this.#needs('chat', 'request.messages', request.messages);
    if (request.jsonSchema !== undefined) this.#needs('jsonSchema', 'request.jsonSchema', request.jsonSchema);
    if (request.grammar !== undefined) this.#needs('grammar', 'request.grammar', request.grammar);
    const signal = optionalSignal('request.signal', request.signal);
    if (signal?.aborted === true) throw new ModelpoolError('ABORTED', 'the request was aborted before it started', { cause: signal.reason });
    return signal;
  }

  #track(delta: number): void {
    this.activeRequests += delta;
    if (this.activeRequests === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  generate(request: GenerateRequest): GenerationStream {
    const signal = this.#check(request);
    const chunks = new Chunks();
    const result = this.#run(request, signal, chunks);
    // The caller may only iterate: a rejection must not become an unhandled one.
    result.catch(() => undefined);
    return {
      result,
      chunks: async function* () {
        for await (const text of chunks.iterate()) yield { text };
      },
      [Symbol.asyncIterator]: () => chunks.iterate(),
    };
  }

  /** Emits the text's pieces on timers spread over tokens × tokenMs; an abort stops them. */
  async #run(request: GenerateRequest, signal: AbortSignal | undefined, chunks: Chunks): Promise<GenerationResult> {
    this.#track(1);
    const controller = new AbortController();
    this.#aborts.add(controller);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    const tokens = this.config.generatedTokens ?? Math.min(request.maxTokens ?? 8, 8);
    const parts = this.capabilities.streaming ? pieces(this.config.text ?? ' there was a fake model', tokens) : [];
    const whole = tokens === 0 ? '' : (this.config.text ?? ' there was a fake model');
    let text = '';
    const emit = (piece: string): void => {
      text += piece;
      chunks.push(piece);
    };
    try {
      await new Promise<void>((resolve) => {
        const duration = Math.round((this.config.tokenMs ?? 1) * tokens);
        const timers = parts.map((piece, i) => setTimeout(() => emit(piece), Math.round((duration * (i + 1)) / parts.length)));
        const finish = (): void => {
          for (const timer of timers) clearTimeout(timer);
          resolve();
        };
        // Timers due at the same time run in the order they were set: the last piece comes first.
        timers.push(setTimeout(finish, duration));
        controller.signal.addEventListener('abort', finish);
      });
      const totalMs = performance.now() - started;
      const generatedTokens = controller.signal.aborted ? Math.round((tokens * text.length) / Math.max(1, whole.length)) : tokens;
      const stats = {
        promptTokens: 4,
        generatedTokens,
        timeToFirstTokenMs: 0,
        promptTokensPerSecond: 0,
        decodeTokensPerSecond: generatedTokens / Math.max(totalMs / 1000, 1e-6),
        totalMs,
        nativeMs: totalMs,
        cpuMs: totalMs,
        queuedMs: 0,
        cachedPromptTokens: 0,
      };
      if (controller.signal.aborted) {
        throw new ModelpoolError('ABORTED', 'the request was aborted', { cause: controller.signal.reason, details: { partialText: text, text, finishReason: 'abort', ...stats } });
      }
      if (this.config.failGenerate === true) throw new ModelpoolError('GENERATION_FAILED', 'fake generation failure');
      if (text.length < whole.length) chunks.push(whole.slice(text.length));
      chunks.end();
      return { text: whole, finishReason: 'length', ...stats };
    } catch (error) {
      chunks.end(error);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#aborts.delete(controller);
      this.#track(-1);
    }
  }

  /** generate()'s result; being async, it turns generate()'s synchronous errors into rejections. */
  async complete(request: GenerateRequest): Promise<GenerationResult> {
    return this.generate(request).result;
  }

  /** A deterministic vector per text (its character codes folded into EMBEDDING_SIZE dimensions). */
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.throwIfDisposed();
    this.#needs('embed', 'texts', texts);
    if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) {
      throw invalidArgument('texts', 'a non-empty array of strings', texts);
    }
    this.#track(1);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.config.tokenMs ?? 1));
      return texts.map((t) => {
        const v = new Float32Array(EMBEDDING_SIZE);
        for (let i = 0; i < t.length; i++) v[i % EMBEDDING_SIZE]! += t.charCodeAt(i) / 128;
        return v;
      });
    } finally {
      this.#track(-1);
    }
  }

  async dispose(options: { abort?: boolean } = {}): Promise<void> {
    this.disposeCalls++;
    this.disposed = true;
    if (options.abort === true) for (const c of this.#aborts) c.abort(new ModelpoolError('ABORTED', 'the model was disposed'));
    if (this.activeRequests > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.disposedAt ??= performance.now();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** A fake model with the local extension: a thread count, a memory report and a toy tokenizer. */
export class FakeModel extends FakeRemoteModel implements LocalModelHandle {
  override readonly local = true;
  declare readonly info: LoadedModelInfo;
  readonly memory: MemoryReport;
  threads: number;
  /** Every setThreads() call's thread count, in order. */
  readonly threadHistory: number[] = [];

  constructor(source: string, config: FakeModelConfig, info: LoadedModelInfo, memory: MemoryReport, threads: number, loadMs: number) {
    super(source, config, info, loadMs);
    this.memory = memory;
    this.threads = threads;
  }

  setThreads(threads: number): void {
    this.throwIfDisposed();
    this.threads = threads;
    this.threadHistory.push(threads);
  }

  tokenize(text: string): number[] {
    this.throwIfDisposed();
    return [...text].map((c) => c.charCodeAt(0) % 32);
  }
  detokenize(tokens: readonly number[]): string {
    this.throwIfDisposed();
    return tokens.map((t) => String.fromCharCode(97 + (t % 26))).join('');
  }
  applyChatTemplate(messages: ChatMessage[]): string {
    this.throwIfDisposed();
    return messages.map((m) => `${m.role}: ${m.content}`).join('\n');
  }
  /** Every continuation token of the toy tokenizer is one of its 32 ids, equally likely. */
  async evaluate(request: EvaluateRequest): Promise<EvaluationResult> {
    this.throwIfDisposed();
    const toIds = (v: string | number[]): number[] => (typeof v === 'string' ? this.tokenize(v) : v);
    const ids = toIds(request.continuation);
    const logprob = -Math.log(32);
    const tokens = ids.map((id) => ({ id, text: this.detokenize([id]), logprob }));
    return { tokens, logprob: logprob * ids.length, perplexity: 32, promptTokens: toIds(request.prompt).length, cachedPromptTokens: 0, totalMs: 0, cpuMs: 0 };
  }

  readonly #adapters = new Map<string, AdapterInfo>();
  /** Records the adapter (the file is not read); requests ignore it. */
  async loadAdapter(name: string, path: string): Promise<AdapterInfo> {
    this.throwIfDisposed();
    if (this.#adapters.has(name)) throw new ModelpoolError('ALREADY_EXISTS', `an adapter named ${name} is loaded`, { field: 'name', value: name });
    const info = { name, path, loadMs: 0, rank: 0, alpha: 0, tensors: 0 };
    this.#adapters.set(name, info);
    return info;
  }
  removeAdapter(name: string): void {
    this.throwIfDisposed();
    if (!this.#adapters.delete(name)) throw invalidArgument('name', 'the name of an adapter loaded on this model', name);
  }
  get adapters(): string[] {
    return this.disposed ? [] : [...this.#adapters.keys()];
  }
}

export interface FakeProviderOptions {
  /** Whether models have the local extension, unless their config says. Default true. */
  local?: boolean;
  /** Default 'fake'. */
  name?: string;
}

/** A provider of fake models, configured by source (see {@link FakeModelConfig}). */
export class FakeProvider implements Provider {
  readonly name: string;
  readonly local: boolean;
  /** Config per source; a source without one fails to estimate and load (MODEL_NOT_FOUND). */
  readonly configs = new Map<string, FakeModelConfig>();
  /** Every model loaded, in order (disposed ones included). */
  readonly models: FakeRemoteModel[] = [];
  /** Sources loaded, in order. */
  readonly loads: string[] = [];
  readonly estimates: Array<{ source: string; options: EstimateOptions }> = [];
  /** What devices() reports. */
  deviceMemory: DeviceMemoryInfo[] = [{ device: 'CPU', total: 16_000 * MB, free: 8_000 * MB }];
  /** Subtract the KV cache and compute bytes of local models not yet freed from free memory (unload confirmation). */
  trackFree = false;
  /** With trackFree: how long freed memory takes to show up in devices(), ms. */
  freeLagMs = 0;
  /** Loads running now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** What cpuCores() reports. */
  cores = 2;

  constructor(configs: Record<string, FakeModelConfig> = {}, options: FakeProviderOptions = {}) {
    for (const [source, config] of Object.entries(configs)) this.configs.set(source, config);
    this.local = options.local ?? true;
    this.name = options.name ?? 'fake';
  }

  config(source: string): FakeModelConfig {
    const c = this.configs.get(source);
    if (c === undefined) throw new ModelpoolError('MODEL_NOT_FOUND', `No fake model at ${source}`);
    return c;
  }

  #isLocal(config: FakeModelConfig): boolean {
    return config.local ?? this.local;
  }

  /** The memory report of `config` loaded with `options`, times `factor`. */
  report(config: FakeModelConfig, options: EstimateOptions, factor: number): MemoryReport {
    const ctx = options.contextSize ?? Math.min(config.trainContext ?? 4096, 4096);
    const weights = Math.round((config.bytes ?? (this.#isLocal(config) ? 100 * MB : 0)) * factor);
    const kv = Math.round(((config.kvPerKTokens ?? 0) * ctx * factor) / 1000);
    const layers = config.layers ?? 4;
    const gpuLayers = options.gpuLayers === undefined || options.gpuLayers === 'auto' || options.gpuLayers === 'max' ? layers : options.gpuLayers;
    const gpu = Math.round(((config.gpuBytes ?? 0) * factor * gpuLayers) / layers);
    const devices = [{ device: 'CPU', weights, kvCache: kv, compute: 0, total: weights + kv, reclaimable: 0 }];
    if (gpu > 0) devices.push({ device: 'GPU0', weights: gpu, kvCache: 0, compute: 0, total: gpu, reclaimable: 0 });
    const total = devices.reduce((s, d) => s + d.total, 0);
    return { devices, total, weights: weights + gpu, kvCache: kv, compute: 0, reclaimable: 0 };
  }

  async estimate(spec: ModelRef, options: EstimateOptions): Promise<ModelEstimate> {
    const config = this.config(spec.source);
    this.estimates.push({ source: spec.source, options });
    await Promise.resolve();
    if (config.failEstimate === true) throw new Error('estimate exploded');
    return {
      memory: this.report(config, options, 1),
      architecture: config.architecture ?? 'llama',
      layers: config.layers ?? 4,
      trainContextLength: config.trainContext ?? 4096,
    };
  }

  async load(spec: ModelRef, options: ProviderLoadOptions): Promise<FakeRemoteModel> {
    const config = this.config(spec.source);
    this.loads.push(spec.source);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const started = performance.now();
    try {
      await new Promise<void>((resolve, reject) => {
        const signal = options.signal;
        const aborted = (): void => {
          clearTimeout(timer);
          reject(new ModelpoolError('ABORTED', `loading the fake model ${spec.source} was aborted`, { cause: signal?.reason }));
        };
        const timer = setTimeout(resolve, config.loadMs ?? 5);
        if (signal?.aborted === true) aborted();
        else signal?.addEventListener('abort', aborted, { once: true });
      });
      if (config.failLoad !== undefined && config.failLoad !== false) {
        throw new Error(typeof config.failLoad === 'string' ? config.failLoad : 'fake load failure');
      }
      const loadMs = performance.now() - started;
      const info = { architecture: config.architecture ?? 'llama', contextSize: options.contextSize ?? 4096, parallel: options.parallel ?? 1 };
      let model: FakeRemoteModel;
      if (this.#isLocal(config)) {
        const memory = this.report(config, options, config.actualFactor ?? 1);
        model = new FakeModel(spec.source, config, localInfo(spec.source, config, info, memory), memory, options.threads, loadMs);
      } else {
        model = new FakeRemoteModel(spec.source, config, info, loadMs);
      }
      this.models.push(model);
      return model;
    } finally {
      this.inFlight--;
    }
  }

  /** Models not disposed. */
  live(): FakeRemoteModel[] {
    return this.models.filter((m) => !m.disposed);
  }

  devices(): DeviceMemoryInfo[] {
    if (!this.trackFree) return this.deviceMemory.map((d) => ({ ...d }));
    const now = performance.now();
    return this.deviceMemory.map((d) => {
      let used = 0;
      for (const m of this.models) {
        if (!(m instanceof FakeModel)) continue;
        const counts = m.disposedAt === undefined || now - m.disposedAt < this.freeLagMs;
        if (counts) for (const dev of m.memory.devices) if (dev.device === d.device) used += dev.kvCache + dev.compute;
      }
      return { ...d, free: d.free - used };
    });
  }

  cpuCores(): number {
    return this.cores;
  }
}

/** What a local fake model says about itself, in the engine's shape. */
function localInfo(source: string, config: FakeModelConfig, info: Required<ModelInfo>, memory: MemoryReport): LoadedModelInfo {
  return {
    ...info,
    path: source,
    description: 'fake',
    parameterCount: 1,
    sizeBytes: memory.total,
    trainContextSize: config.trainContext ?? 4096,
    embeddingSize: EMBEDDING_SIZE,
    layers: config.layers ?? 4,
    vocabularySize: 32,
    embeddings: false,
  };
}
