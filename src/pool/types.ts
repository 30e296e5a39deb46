/**
 * Public types of the pool (src/pool). The pool schedules work onto models that a {@link Provider}
 * loads, through the model contract (src/model); it never touches the native engine directly.
 */

import type { PrefixCacheOptions } from './prefix-store.js';
import type { ModelpoolError } from '../errors.js';
import type { ModelHandle } from '../model/handle.js';
import type { ModelRef, Provider, ProviderLoadOptions } from '../model/provider.js';
import type { GpuLayers, LoadOptions } from '../model/types.js';
import type { ArchitectureCalibration } from './calibration.js';
import type { MemoryBudgetOptions } from './budget.js';
import type { EvictionPolicy } from './eviction.js';
import type { Priority } from './queue.js';

export type { Priority } from './queue.js';
export type { ByteAmount, DeviceMemoryInfo, MemoryBudgetOptions } from './budget.js';
export type { LocalModelHandle, ModelCapabilities, ModelHandle, ModelInfo } from '../model/handle.js';
export type { ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from '../model/provider.js';

/** How one model is loaded and kept. `id` is the pool's key; `source` is what the provider reads. */
export interface ModelSpec extends ModelRef {
  id: string;
  /** Shown in status and events; the swap manager changes it. */
  version?: string;
  /** For the llama provider, the GGUF path; other providers read their own reference. */
  source: string;
  /** Context size in tokens. Default: the provider's default. */
  contextSize?: number;
  /**
   * When set below `contextSize`, the pool may halve the context down to this size rather than
   * refuse a model that does not fit even after evicting everything it may evict.
   */
  minContextSize?: number;
  /** Parallel sequences; this is also the model's concurrency (leases at once). Default 1. */
  parallel?: number;
  /** 'auto' lets the pool offload fewer layers when the GPU budget is short. Default 'auto'. */
  gpuLayers?: GpuLayers;
  batchSize?: number;
  embeddings?: boolean;
  mmap?: boolean;
  mlock?: boolean;
  probe?: LoadOptions['probe'];
  /** Keep-alive after the last release, ms: 0 unloads at once, negative keeps forever. */
  keepAliveMs?: number;
  /** A pinned model is never evicted nor unloaded for idleness. */
  pinned?: boolean;
  /** Requests that may wait for this model. Default: the pool's `maxQueuePerModel`. */
  maxQueue?: number;
  /** Most decode threads this model gets. Default: the whole budget. */
  maxThreads?: number;
}

/** Load options as the pool passes them to a provider (the same as {@link ProviderLoadOptions}). */
export type PoolLoadOptions = ProviderLoadOptions;

/**
 * The pool's loader interface of 0.1.0: a {@link Provider} whose `name` may be left out.
 * @deprecated Use `Provider`.
 */
export type ModelLoader = Omit<Provider, 'name'> & { readonly name?: string };

export interface PoolOptions {
  /** Where models come from. Default: the llama provider (GGUF files in this process, {@link createLlamaProvider}). */
  provider?: Provider;
  /**
   * The same as `provider` (its 0.1.0 name); not with `provider`.
   * @deprecated Use `provider`.
   */
  loader?: ModelLoader;
  /**
   * More providers beside `provider` (remote ones: OpenAI-compatible, OpenAI, Anthropic, Ollama; ONNX): a
   * spec's `provider` names the one that loads it; specs without one go to `provider`. Names are unique.
   */
  providers?: Provider[];
  models?: ModelSpec[];
  /**
   * Looks up a name the pool does not know (e.g. in the registry). The returned spec's `id` is the
   * pool's key for the model; when it differs from the name asked for, the name becomes an alias of
   * it, so several names of one model share one loaded instance.
   */
  resolve?: (id: string) => ModelSpec | undefined | Promise<ModelSpec | undefined>;
  memory?: MemoryBudgetOptions & {
    /** After an unload, how long to wait for free memory to really come back. Default 2000 ms. */
    confirmTimeoutMs?: number;
    /** Unloads smaller than this are trusted to the engine's accounting. Default 64 MiB. */
    confirmMinBytes?: number;
  };
  /** Decode threads shared by all models. Default: cores − 1, at least 1. */
  threads?: number;
  /** Most models loaded at once (loading and unloading ones included). Default unlimited. */
  maxLoadedModels?: number;
  /** Default keep-alive, ms (0 = unload after last release, negative = forever). Default 5 min. */
  keepAliveMs?: number;
  /** Default per-model queue bound. Default 256. */
  maxQueuePerModel?: number;
  /** Bound on all queued requests together. Default 1024. */
  maxQueued?: number;
  /** Head start per priority class, ms (see queue.ts). Default 2000. */
  priorityStepMs?: number;
  /**
   * How long a request for an unloaded model waits before it may force busy models out. Until
   * then requests for loaded models are served first; this bounds how long anyone is passed over.
   * Default 1000 ms.
   */
  swapDelayMs?: number;
  /** How long a load waits for busy models to make room before INSUFFICIENT_MEMORY. Default 60 s. */
  memoryWaitMs?: number;
  /**
   * A model waiting this long for a CPU turn gets one anyway (the thread budget is then exceeded
   * until a running model releases), so a caller holding one model while it acquires another
   * cannot stall the pool. Default 10 000 ms.
   */
  turnWaitMs?: number;
  /** Loads at once. Default 1. */
  maxConcurrentLoads?: number;
  eviction?: Partial<EvictionPolicy>;
  /** Weight of a new sample in the estimate calibration. Default 0.3. */
  calibrationAlpha?: number;
  /**
   * Hot prefixes kept across an unload: the KV state of a local model's cached sequences is saved
   * when it is unloaded (evicted, idle, removed) and restored when it is loaded again. Default: on, in
   * host memory, 256 MiB; `false` or `{ maxBytes: 0 }` turns it off.
   */
  prefixCache?: PrefixCacheOptions | false;
}

export interface AcquireOptions {
  priority?: Priority;
  /** Bound on the wait for a lease (queue and load), ms; TIMEOUT when exceeded. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A reservation of one loaded model; release it when done. */
export interface Lease {
  readonly modelId: string;
  readonly version: string | undefined;
  /** The model instance, valid until release (a swap does not take it away). See isLocalModel() for its local powers. */
  readonly model: ModelHandle;
  /** Time from acquire() to the grant, ms. */
  readonly waitedMs: number;
  /** The signal given to acquire(), to pass on to generate(). */
  readonly signal: AbortSignal | undefined;
  readonly released: boolean;
  /** Idempotent. */
  release(): void;
  [Symbol.dispose](): void;
}

export type ModelState = 'unloaded' | 'estimating' | 'waiting-for-memory' | 'loading' | 'ready' | 'unloading';

export interface DeviceStatus {
  device: string;
  /** Undefined when the device has no budget. */
  budget: number | undefined;
  /** Reserved by loaded, loading and unloading models. */
  used: number;
}

export interface InstanceStatus {
  version: string | undefined;
  /** 'current' serves new leases; 'draining' finishes its leases after a swap; 'candidate' is being checked. */
  role: 'current' | 'draining' | 'candidate';
  architecture: string;
  contextSize: number;
  parallel: number;
  /** Bytes per device as measured after the load. */
  memory: Record<string, number>;
  /** Resident bytes measured after the load (what the budget counts). */
  measuredBytes: number;
  /**
   * Mapped file bytes the model does not read after its load (originals of repacked or offloaded
   * weights): not budgeted, and the OS may drop them (see docs/api.md, Memory).
   */
  reclaimableBytes: number;
  estimatedBytes: number;
  /** (measured − estimate) / measured. */
  estimateError: number;
  loadMs: number;
  leases: number;
  threads: number;
  loadedAt: number;
}

export interface ModelStatus {
  id: string;
  version: string | undefined;
  state: ModelState;
  pinned: boolean;
  keepAliveMs: number;
  /** Epoch ms when idle unload happens; null when not scheduled (busy, pinned, keep forever). */
  expiresAt: number | null;
  leases: number;
  queued: number;
  concurrency: number;
  threads: number;
  /** Measured bytes of the current instance (0 when not loaded). */
  sizeBytes: number;
  /** No new leases: it is being drained to make room, or paused by a swap. */
  draining: boolean;
  swapping: boolean;
  uses: number;
  lastUsedAt: number | null;
  reloadMs: number | null;
  instances: InstanceStatus[];
  lastError?: { code: string; message: string };
}

export interface PoolStatus {
  devices: DeviceStatus[];
  threads: { total: number; assigned: number; running: number };
  loadedModels: number;
  maxLoadedModels: number | null;
  queued: number;
  loadsInFlight: number;
  models: ModelStatus[];
  calibration: ArchitectureCalibration[];
  disposed: boolean;
}

export type UnloadReason = 'evict' | 'idle' | 'explicit' | 'swap' | 'rollback' | 'dispose' | 'remove' | 'budget';

export type PoolEvent =
  | { type: 'load'; modelId: string; version: string | undefined; estimatedBytes: number; contextSize: number | undefined; gpuLayers: GpuLayers | undefined; threads: number }
  | { type: 'ready'; modelId: string; version: string | undefined; loadMs: number; estimatedBytes: number; measuredBytes: number; estimateError: number; rawEstimateError: number }
  | { type: 'load-failed'; modelId: string; version: string | undefined; error: ModelpoolError }
  | { type: 'evict'; modelId: string; version: string | undefined; forModel: string; reason: 'memory' | 'max-models' | 'budget'; bytes: number; cost: number; busy: boolean }
  | { type: 'unload'; modelId: string; version: string | undefined; reason: UnloadReason; bytes: number; memoryConfirmed: boolean }
  /** Prefixes saved at an unload (`saved`) or restored at a load (`restored`; `failed` were refused). */
  | { type: 'prefixes'; modelId: string; version: string | undefined; action: 'saved' | 'restored'; count: number; tokens: number; bytes: number; failed: number }
  | { type: 'context-shrunk'; modelId: string; requested: number; granted: number }
  | { type: 'gpu-layers-reduced'; modelId: string; requested: GpuLayers | undefined; granted: number }
  | { type: 'over-budget'; modelId: string; device: string; used: number; budget: number }
  | { type: 'memory-unconfirmed'; modelId: string; device: string; expected: number; observed: number }
  | { type: 'queue'; modelId: string; depth: number; total: number }
  /** A load's progress in [0, 1], as the provider reports it (the llama provider: tensors read). */
  | { type: 'load-progress'; modelId: string; version: string | undefined; progress: number }
  | { type: 'threads'; assignments: Record<string, number>; total: number }
  | { type: 'swap'; modelId: string; from: string | undefined; to: string | undefined; strategy: 'beside' | 'sequential' | 'cold'; pausedMs: number }
  | { type: 'rollback'; modelId: string; from: string | undefined; to: string | undefined; reason: 'load-failed' | 'health-check' | 'canary' | 'aborted'; error: ModelpoolError };

export type PoolEventType = PoolEvent['type'];
export type PoolEventOf<K extends PoolEventType> = Extract<PoolEvent, { type: K }>;
