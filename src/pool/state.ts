/**
 * The pool's shared state: one {@link PoolState} per ModelPool, which the pool's parts (scheduler,
 * load planner, memory jobs, unload, swap host, status, disposal) read and change, each in its own
 * file, as functions that take the state. ModelPool (pool.ts) is the facade over it.
 *
 * Everything runs on the JavaScript thread. The parts form one chain — state, running, unload,
 * lease, planner, memory, waiters, load, scheduler, models — each importing only the ones before
 * it; the one call back up, to the scheduler, goes through {@link PoolState.pump}.
 */

import { performance } from 'node:perf_hooks';
import { KeepAlive } from '../core/keep-alive.js';
import { ReferenceSlot } from '../core/ref-slot.js';
import { ModelpoolError, isModelpoolError } from '../errors.js';
import type { LocalModelHandle, ModelHandle } from '../model/handle.js';
import { ProviderSet, type Provider } from '../model/provider.js';
import { nonEmptyString } from '../validate.js';
import { MemoryCalibrator } from './calibration.js';
import { DEFAULT_EVICTION_POLICY, type DeviceBytes, type EvictionPolicy } from './eviction.js';
import { PrefixStore } from './prefix-store.js';
import { PoolEvents } from './events.js';
import { createLlamaProvider } from './loader.js';
import { WaitQueue, type Queued } from './queue.js';
import { defaultThreadBudget } from './threads.js';
import type { Lease, ModelEstimate, ModelLoader, ModelSpec, ModelState, PoolEvent, PoolOptions } from './types.js';

/** A provider with a name: a 0.1.0 loader without one is 'default'. */
function named(provider: Provider | ModelLoader): Provider {
  if (typeof provider.name === 'string' && provider.name.length > 0) return provider as Provider;
  const p = provider;
  return {
    name: 'default',
    estimate: (ref, options) => p.estimate(ref, options),
    load: (ref, options) => p.load(ref, options),
    ...(p.devices !== undefined ? { devices: () => p.devices!() } : {}),
    ...(p.cpuCores !== undefined ? { cpuCores: () => p.cpuCores!() } : {}),
  };
}

export const now = (): number => performance.now();

const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/** Thrown inside the pool when a load job is dropped because nobody waits for it any more. */
export const CANCELLED = Symbol('cancelled');

export function noop(): void {}

/** Memory held for one instance, by device: granted to a load, then the measured bytes. */
export interface Reservation {
  readonly entry: Entry;
  bytes: DeviceBytes;
  /** Granted to a load that has not finished yet. */
  loading: boolean;
}

/** One loaded version of a model. */
export interface Instance {
  readonly entry: Entry;
  readonly model: ModelHandle;
  /** The same model when it has the local extension (threads, measured memory); see isLocalModel(). */
  readonly local: LocalModelHandle | undefined;
  readonly spec: ModelSpec;
  readonly architecture: string;
  readonly estimatedBytes: number;
  readonly estimateError: number;
  readonly reservation: Reservation;
  readonly loadedAt: number;
  /** Parallel sequences = concurrent leases. */
  readonly parallel: number;
  role: 'current' | 'draining' | 'candidate';
  /** Threads last set on the model (0 for a model without the local extension). */
  threads: number;
  /** Threads the budget gives it now (0 when it is not running). */
  assigned: number;
  unloading: boolean;
}

/** A request waiting in a model's queue for a lease. */
export class Waiter implements Queued {
  cancelled = false;
  settled = false;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
  /** Releases the event-loop hold taken while the waiter is queued. */
  releaseHold: () => void = noop;
  constructor(
    readonly entry: Entry,
    readonly key: number,
    readonly seq: number,
    readonly arrivedAt: number,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (lease: Lease) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** A load or swap waiting for memory (see memory.ts). */
export interface MemoryJob {
  readonly entry: Entry;
  readonly need: DeviceBytes;
  readonly kind: 'load' | 'swap';
  readonly createdAt: number;
  /** May drain busy models (after swapDelayMs) rather than fail at once. */
  readonly allowBusy: boolean;
  readonly fixedKey: number | undefined;
  readonly victims: Set<Entry>;
  readonly resolve: (reservation: Reservation) => void;
  readonly reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  wakeTimer: NodeJS.Timeout | undefined;
  /** Releases the event-loop hold taken while the job is pending. */
  releaseHold: () => void;
  done: boolean;
}

/** One model the pool knows: its spec, its slot of loaded instances, its queue and its state. */
export class Entry {
  state: ModelState = 'unloaded';
  readonly slot = new ReferenceSlot<Instance>();
  readonly waiters = new WaitQueue<Waiter>();
  /** Instances replaced by a swap, finishing their leases. */
  readonly retiring = new Set<Instance>();
  /** Instances loaded by a swap and still being checked. */
  readonly candidates = new Set<Instance>();
  running = false;
  pinned: boolean;
  /** The keep-alive set at run time (setKeepAlive), over the spec's and the pool's. */
  keepAliveOverride: number | undefined = undefined;
  /** A waiting load drains this model: no new leases until it is unloaded. */
  drainFor: MemoryJob | undefined;
  claimedBy: MemoryJob | undefined;
  pausedBy = 0;
  swapping = false;
  keepAliveTimer: NodeJS.Timeout | undefined;
  expiresAt: number | null = null;
  uses = 0;
  useScore = 0;
  scoredAt = 0;
  lastUsedAt: number | null = null;
  /** When the last lease on the current instance was released (performance.now()). */
  lastReleasedAt = Number.NEGATIVE_INFINITY;
  reloadMs: number | null = null;
  lastError: ModelpoolError | undefined;
  loading: Promise<void> | undefined;
  loadAbort: AbortController | undefined;
  unloading: Promise<void> | undefined;
  /** Resolvers waiting for the current instance to have no leases (swap drain). */
  idleWaiters: Array<() => void> = [];
  removed = false;

  constructor(public spec: ModelSpec) {
    this.pinned = spec.pinned === true;
  }

  get id(): string {
    return this.spec.id;
  }

  get concurrency(): number {
    return this.slot.current?.parallel ?? this.spec.parallel ?? 1;
  }

  /**
   * Whether leases on the current instance take one of the pool's CPU turns: it is a local model.
   * A model outside this process uses none of the thread budget.
   */
  get usesCpu(): boolean {
    return this.slot.current?.local !== undefined;
  }

  /** Key of the oldest live waiter, or +Infinity. */
  headKey(): number {
    return this.waiters.peek()?.key ?? Number.POSITIVE_INFINITY;
  }
}

/** The state of one ModelPool. Options arrive validated (spec.ts). */
export class PoolState {
  /** The parts of the provider the pool uses (`name` is for people). */
  readonly provider: ProviderSet;
  readonly options: PoolOptions;
  readonly entries = new Map<string, Entry>();
  readonly resolving = new Map<string, Promise<Entry>>();
  /** Names the resolver mapped to another model id (registry aliases): one entry, loaded once. */
  readonly aliases = new Map<string, string>();
  readonly events = new PoolEvents();
  readonly calibrator: MemoryCalibrator;
  readonly policy: EvictionPolicy;
  readonly reservations = new Set<Reservation>();
  readonly jobs = new Set<MemoryJob>();
  readonly estimates = new Map<string, Promise<ModelEstimate>>();
  budgets: DeviceBytes = new Map();
  initialized: Promise<void> | undefined;
  readonly threadTotal: number;
  readonly maxLoaded: number;
  readonly keepAliveMs: number;
  readonly maxQueuePerModel: number;
  readonly maxQueued: number;
  readonly priorityStepMs: number;
  readonly swapDelayMs: number;
  readonly memoryWaitMs: number;
  readonly maxConcurrentLoads: number;
  readonly confirmTimeoutMs: number;
  readonly confirmMinBytes: number;
  readonly turnWaitMs: number;
  /** Hot prefixes of unloaded local models (see prefix-store.ts). */
  readonly prefixes: PrefixStore;
  queued = 0;
  seq = 0;
  /** Models holding at least one lease (each needs a CPU turn). */
  running = 0;
  turnBlocked = false;
  /** When the oldest waiter first found no CPU turn (see scheduler.ts). */
  turnBlockedSince: number | undefined;
  turnTimer: NodeJS.Timeout | undefined;
  pumping = false;
  pumpAgain = false;
  disposed = false;
  disposing: Promise<void> | undefined;
  /** Holds the event loop open while a request, load, unload, swap or disposal is pending. */
  readonly keepAliveHold = new KeepAlive();
  readonly #schedule: (state: PoolState) => void;

  /** `schedule` is the scheduler's pass (scheduler.ts), run by {@link pump}. */
  constructor(o: PoolOptions, schedule: (state: PoolState) => void) {
    this.options = o;
    this.#schedule = schedule;
    this.provider = new ProviderSet([named(o.provider ?? o.loader ?? createLlamaProvider()), ...(o.providers ?? [])]);
    this.calibrator = new MemoryCalibrator(o.calibrationAlpha === undefined ? {} : { alpha: o.calibrationAlpha });
    this.policy = { ...DEFAULT_EVICTION_POLICY, ...o.eviction };
    if (o.eviction?.halfLifeMs !== undefined && o.eviction.horizonMs === undefined) this.policy.horizonMs = o.eviction.halfLifeMs;
    this.threadTotal = o.threads ?? defaultThreadBudget(this.provider.cpuCores?.());
    this.maxLoaded = o.maxLoadedModels ?? Number.POSITIVE_INFINITY;
    this.keepAliveMs = o.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.maxQueuePerModel = o.maxQueuePerModel ?? 256;
    this.maxQueued = o.maxQueued ?? 1024;
    this.priorityStepMs = o.priorityStepMs ?? 2000;
    this.swapDelayMs = o.swapDelayMs ?? 1000;
    this.memoryWaitMs = o.memoryWaitMs ?? 60_000;
    this.maxConcurrentLoads = o.maxConcurrentLoads ?? 1;
    this.confirmTimeoutMs = o.memory?.confirmTimeoutMs ?? 2000;
    this.confirmMinBytes = o.memory?.confirmMinBytes ?? 64 * 1024 * 1024;
    this.turnWaitMs = o.turnWaitMs ?? 10_000;
    this.prefixes = new PrefixStore(o.prefixCache === false ? { maxBytes: 0 } : o.prefixCache);
  }

  /**
   * Runs the scheduler: grants leases, starts loads, gives memory to waiting loads. Every change
   * that can unblock something calls it; it is re-entrancy safe (see scheduler.ts).
   */
  pump(): void {
    this.#schedule(this);
  }

  emit(event: PoolEvent): void {
    this.events.emit(event);
  }

  checkOpen(): void {
    if (this.disposed) throw disposedError();
  }

  keepAliveOf(entry: Entry): number {
    return entry.keepAliveOverride ?? entry.spec.keepAliveMs ?? this.keepAliveMs;
  }

  /** The entry for a model id or a name the resolver mapped to one. */
  lookup(name: string): Entry | undefined {
    const entry = this.entries.get(name);
    if (entry !== undefined) return entry;
    const id = this.aliases.get(name);
    return id === undefined ? undefined : this.entries.get(id);
  }

  /** The entry for `modelId`, or MODEL_NOT_FOUND. */
  entry(modelId: string): Entry {
    nonEmptyString('modelId', modelId);
    const entry = this.lookup(modelId);
    if (entry === undefined) throw notFound(modelId);
    return entry;
  }

  /** Bytes reserved per device by loaded, loading and unloading instances. */
  used(): DeviceBytes {
    const used: DeviceBytes = new Map();
    for (const r of this.reservations) for (const [d, b] of r.bytes) used.set(d, (used.get(d) ?? 0) + b);
    return used;
  }
}

export function bytesRecord(bytes: DeviceBytes): Record<string, number> {
  return Object.fromEntries(bytes);
}

// ---------------------------------------------------------------- errors the pool raises

export function disposedError(): ModelpoolError {
  return new ModelpoolError('DISPOSED', 'The model pool has been disposed');
}

export function notFound(modelId: string): ModelpoolError {
  return new ModelpoolError('MODEL_NOT_FOUND', `Model "${modelId}" is not defined in the pool`, { field: 'modelId', value: modelId });
}

export function abortedError(modelId: string, signal: AbortSignal, when: string): ModelpoolError {
  return new ModelpoolError('ABORTED', `Request for model "${modelId}" was aborted ${when}`, { cause: signal.reason, details: { modelId } });
}

export function abortedLoad(entry: Entry, signal: AbortSignal): ModelpoolError {
  return isModelpoolError(signal.reason) ? signal.reason : new ModelpoolError('ABORTED', `Loading model "${entry.id}" was aborted`, { cause: signal.reason });
}

export function wrapLoadError(error: unknown, spec: ModelSpec): ModelpoolError {
  if (isModelpoolError(error)) return error;
  return new ModelpoolError('LOAD_FAILED', `Model "${spec.id}" failed to load from ${spec.source}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
    details: { modelId: spec.id, version: spec.version },
  });
}
