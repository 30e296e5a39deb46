/**
 * An in-memory ModelLoader for pure-policy tests (eviction, queues, threads, state). Its models
 * honour the EngineModel contract — dispose waits for in-flight requests, setThreads, activeRequests,
 * abort via signals — but generate text by timers. Real-model tests live beside these and use the
 * engine.
 */

import { ModelpoolError } from '../errors.js';
import type {
  EngineModel,
  EstimateOptions,
  GenerateRequest,
  GenerationResult,
  GenerationStream,
  LoadedModelInfo,
  MemoryReport,
} from '../engine/types.js';
import type { DeviceMemoryInfo, ModelEstimate, ModelLoader, ModelSpec, PoolLoadOptions } from '../pool/types.js';

export interface FakeModelConfig {
  /** Bytes on CPU the estimate reports (weights part), before context. Default 100 MB. */
  bytes?: number;
  /** Extra bytes per 1,000 tokens of context (KV). Default 0. */
  kvPerKTokens?: number;
  /** measured = estimate × this. Default 1. */
  actualFactor?: number;
  /** GPU share (bytes on "GPU0" when gpuLayers > 0). Default 0. */
  gpuBytes?: number;
  layers?: number;
  architecture?: string;
  loadMs?: number;
  failLoad?: boolean | string;
  failEstimate?: boolean;
  /** ms per generated token. Default 1. */
  tokenMs?: number;
  /** The health check sees this text; '' with 0 tokens fails it. */
  text?: string;
  generatedTokens?: number;
  failGenerate?: boolean;
  trainContext?: number;
}

const MB = 1_000_000;

export class FakeModel implements EngineModel {
  readonly local = true;
  readonly capabilities = { generate: true, chat: true, embed: true, jsonSchema: false, grammar: false, streaming: false };
  readonly info: LoadedModelInfo;
  readonly memory: MemoryReport;
  readonly loadMs: number;
  threads: number;
  activeRequests = 0;
  disposed = false;
  disposedAt: number | undefined;
  disposeCalls = 0;
  threadHistory: number[] = [];
  readonly #idle: Array<() => void> = [];
  readonly #aborts = new Set<AbortController>();

  constructor(
    readonly source: string,
    readonly config: FakeModelConfig,
    options: PoolLoadOptions,
    memory: MemoryReport,
    loadMs: number,
  ) {
    this.memory = memory;
    this.loadMs = loadMs;
    this.threads = options.threads;
    this.info = {
      path: source,
      architecture: config.architecture ?? 'llama',
      description: 'fake',
      parameterCount: 1,
      sizeBytes: memory.total,
      contextSize: options.contextSize ?? 4096,
      trainContextSize: config.trainContext ?? 4096,
      parallel: options.parallel ?? 1,
      embeddingSize: 8,
      layers: config.layers ?? 4,
      vocabularySize: 32,
      embeddings: false,
    };
  }

  setThreads(threads: number): void {
    if (this.disposed) throw new ModelpoolError('DISPOSED', 'disposed');
    this.threads = threads;
    this.threadHistory.push(threads);
  }

  generate(request: GenerateRequest): GenerationStream {
    const result = this.complete(request);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        yield (await result).text;
      },
    };
  }

  async complete(request: GenerateRequest): Promise<GenerationResult> {
    if (this.disposed) throw new ModelpoolError('DISPOSED', 'The model has been disposed');
    this.activeRequests++;
    const controller = new AbortController();
    this.#aborts.add(controller);
    const onAbort = (): void => controller.abort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    try {
      const tokens = this.config.generatedTokens ?? Math.min(request.maxTokens ?? 8, 8);
      const ms = (this.config.tokenMs ?? 1) * tokens;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        controller.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (this.config.failGenerate === true) throw new ModelpoolError('GENERATION_FAILED', 'fake generation failure');
      const totalMs = performance.now() - started;
      return {
        text: controller.signal.aborted ? '' : (this.config.text ?? ' there was a fake model'),
        finishReason: controller.signal.aborted ? 'abort' : 'length',
        promptTokens: 4,
        generatedTokens: controller.signal.aborted ? 0 : tokens,
        timeToFirstTokenMs: 0,
        promptTokensPerSecond: 0,
        decodeTokensPerSecond: tokens / Math.max(totalMs / 1000, 1e-6),
        totalMs,
        nativeMs: totalMs,
        cpuMs: totalMs,
        queuedMs: 0,
      };
    } finally {
      request.signal?.removeEventListener('abort', onAbort);
      this.#aborts.delete(controller);
      this.activeRequests--;
      if (this.activeRequests === 0) for (const r of this.#idle.splice(0)) r();
    }
  }

  async embed(): Promise<Float32Array[]> {
    return [];
  }
  tokenize(text: string): number[] {
    return [...text].map((c) => c.charCodeAt(0) % 32);
  }
  detokenize(tokens: readonly number[]): string {
    return tokens.map((t) => String.fromCharCode(97 + (t % 26))).join('');
  }
  applyChatTemplate(messages: Array<{ content: string }>): string {
    return messages.map((m) => m.content).join('\n');
  }

  async dispose(options: { abort?: boolean } = {}): Promise<void> {
    this.disposeCalls++;
    if (options.abort === true) for (const c of this.#aborts) c.abort();
    if (this.activeRequests > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (!this.disposed) this.disposedAt = performance.now();
    this.disposed = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

export class FakeLoader implements ModelLoader {
  readonly configs = new Map<string, FakeModelConfig>();
  readonly models: FakeModel[] = [];
  readonly loads: string[] = [];
  readonly estimates: Array<{ source: string; options: EstimateOptions }> = [];
  /** Device free memory reported by devices(); null = no devices() method behaviour. */
  deviceMemory: DeviceMemoryInfo[] = [{ device: 'CPU', total: 16_000 * MB, free: 8_000 * MB }];
  /** Subtracted from free memory while models are loaded, to test unload confirmation. */
  trackFree = false;
  /** Delay before freed memory shows up in devices(), ms. */
  freeLagMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  cores = 2;

  constructor(configs: Record<string, FakeModelConfig> = {}) {
    for (const [k, v] of Object.entries(configs)) this.configs.set(k, v);
  }

  config(source: string): FakeModelConfig {
    const c = this.configs.get(source);
    if (c === undefined) throw new ModelpoolError('MODEL_NOT_FOUND', `No fake model at ${source}`);
    return c;
  }

  report(config: FakeModelConfig, options: EstimateOptions, factor: number): MemoryReport {
    const ctx = options.contextSize ?? Math.min(config.trainContext ?? 4096, 4096);
    const weights = Math.round((config.bytes ?? 100 * MB) * factor);
    const kv = Math.round(((config.kvPerKTokens ?? 0) * ctx * factor) / 1000);
    const layers = config.layers ?? 4;
    const gpuLayers = options.gpuLayers === undefined || options.gpuLayers === 'auto' || options.gpuLayers === 'max' ? layers : options.gpuLayers;
    const gpu = Math.round(((config.gpuBytes ?? 0) * factor * gpuLayers) / layers);
    const devices = [{ device: 'CPU', weights, kvCache: kv, compute: 0, total: weights + kv, reclaimable: 0 }];
    if (gpu > 0) devices.push({ device: 'GPU0', weights: gpu, kvCache: 0, compute: 0, total: gpu, reclaimable: 0 });
    const total = devices.reduce((s, d) => s + d.total, 0);
    return { devices, total, weights: weights + gpu, kvCache: kv, compute: 0, reclaimable: 0 };
  }

  async estimate(spec: ModelSpec, options: EstimateOptions): Promise<ModelEstimate> {
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

  async load(spec: ModelSpec, options: PoolLoadOptions): Promise<FakeModel> {
    const config = this.config(spec.source);
    this.loads.push(spec.source);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const started = performance.now();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, config.loadMs ?? 5);
        options.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new ModelpoolError('ABORTED', 'load aborted', { cause: options.signal!.reason }));
        });
      });
      if (config.failLoad !== undefined && config.failLoad !== false) {
        throw new Error(typeof config.failLoad === 'string' ? config.failLoad : 'fake load failure');
      }
      const memory = this.report(config, options, config.actualFactor ?? 1);
      const model = new FakeModel(spec.source, config, options, memory, performance.now() - started);
      this.models.push(model);
      return model;
    } finally {
      this.inFlight--;
    }
  }

  live(): FakeModel[] {
    return this.models.filter((m) => !m.disposed);
  }

  devices(): DeviceMemoryInfo[] {
    if (!this.trackFree) return this.deviceMemory.map((d) => ({ ...d }));
    const now = performance.now();
    return this.deviceMemory.map((d) => {
      let used = 0;
      for (const m of this.models) {
        const counts = !m.disposed || (m.disposedAt !== undefined && now - m.disposedAt < this.freeLagMs);
        if (counts) for (const dev of m.memory.devices) if (dev.device === d.device) used += dev.kvCache + dev.compute;
      }
      return { ...d, free: d.free - used };
    });
  }

  cpuCores(): number {
    return this.cores;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export { MB };
