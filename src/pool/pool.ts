/**
 * The model pool: leases on loaded models, loading on demand within memory and thread budgets.
 *
 * Everything runs on the JavaScript thread; the only asynchronous steps are the loader's estimate,
 * load and unload. State changes funnel into one `#pump()` that, in order, grants leases on loaded
 * models, starts loads for models with waiters, and gives memory to waiting loads (evicting or
 * draining other models). It is re-entrancy safe and runs after every event that can unblock
 * something, so no request waits on a condition nobody re-checks; every wait is also bounded by a
 * timer (the request's own deadline, the pool's `memoryWaitMs`), so nothing deadlocks.
 */

import { performance } from 'node:perf_hooks';
import { KeepAlive } from '../core/keep-alive.js';
import { ModelpoolError, isModelpoolError } from '../errors.js';
import type { EngineModel, EstimateOptions, MemoryReport } from '../engine/types.js';
import { nonEmptyString } from '../validate.js';
import { ReferenceSlot, type SlotReference } from '../core/ref-slot.js';
import { runSwap, type SwapHost, type SwapOptions, type SwapResult, type SwapSession } from './swap/swap.js';
import { resolveBudgets, type DeviceMemoryInfo } from './budget.js';
import { MemoryCalibrator, reportDevices, sumBytes } from './calibration.js';
import {
  DEFAULT_EVICTION_POLICY,
  bumpUseScore,
  chooseVictims,
  evictionCost,
  type DeviceBytes,
  type EvictionCandidate,
  type EvictionNeed,
  type EvictionPolicy,
} from './eviction.js';
import { PoolEvents } from './events.js';
import { WaitQueue, queueKey, type Priority, type Queued } from './queue.js';
import { estimateOptionsOf, validateAcquireOptions, validatePoolOptions, validateSpec } from './spec.js';
import { createEngineLoader } from './loader.js';
import { allocateThreads, defaultThreadBudget, type ThreadDemand } from './threads.js';
import type {
  AcquireOptions,
  InstanceStatus,
  Lease,
  ModelEstimate,
  ModelLoader,
  ModelSpec,
  ModelState,
  ModelStatus,
  PoolEvent,
  PoolEventOf,
  PoolEventType,
  PoolOptions,
  PoolStatus,
  UnloadReason,
} from './types.js';

const now = (): number => performance.now();
/** Converts a performance.now() time to epoch ms for status output. */
const toEpoch = (t: number): number => Math.round(Date.now() - (performance.now() - t));

const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/** Thrown inside the pool when a load job is dropped because nobody waits for it any more. */
const CANCELLED = Symbol('cancelled');

interface Reservation {
  readonly entry: Entry;
  bytes: DeviceBytes;
  /** Granted to a load that has not finished yet. */
  loading: boolean;
}

interface Instance {
  readonly entry: Entry;
  readonly model: EngineModel;
  readonly spec: ModelSpec;
  readonly architecture: string;
  readonly estimatedBytes: number;
  readonly estimateError: number;
  readonly reservation: Reservation;
  readonly loadedAt: number;
  /** Parallel sequences = concurrent leases. */
  readonly parallel: number;
  role: 'current' | 'draining' | 'candidate';
  /** Threads last set on the engine model. */
  threads: number;
  /** Threads the budget gives it now (0 when it is not running). */
  assigned: number;
  unloading: boolean;
}

interface Plan {
  options: EstimateOptions;
  estimate: ModelEstimate;
  need: DeviceBytes;
}

class Waiter implements Queued {
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

interface MemoryJob {
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

class Entry {
  state: ModelState = 'unloaded';
  readonly slot = new ReferenceSlot<Instance>();
  readonly waiters = new WaitQueue<Waiter>();
  /** Instances replaced by a swap, finishing their leases. */
  readonly retiring = new Set<Instance>();
  /** Instances loaded by a swap and still being checked. */
  readonly candidates = new Set<Instance>();
  running = false;
  pinned: boolean;
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

  /** Key of the oldest live waiter, or +Infinity. */
  headKey(): number {
    return this.waiters.peek()?.key ?? Number.POSITIVE_INFINITY;
  }
}

class PoolLease implements Lease {
  #ref: SlotReference<Instance> | undefined;
  constructor(
    readonly pool: ModelPool,
    readonly entry: Entry,
    ref: SlotReference<Instance>,
    readonly waitedMs: number,
    readonly signal: AbortSignal | undefined,
  ) {
    this.#ref = ref;
  }
  get instance(): Instance {
    return this.#ref?.value ?? this.#lastInstance!;
  }
  #lastInstance: Instance | undefined;
  get modelId(): string {
    return this.entry.id;
  }
  get version(): string | undefined {
    return this.instance.spec.version;
  }
  get model(): EngineModel {
    return this.instance.model;
  }
  get released(): boolean {
    return this.#ref === undefined;
  }
  release(): void {
    const ref = this.#ref;
    if (ref === undefined) return;
    this.#lastInstance = ref.value;
    this.#ref = undefined;
    releaseLease(this.pool, this.entry, ref);
  }
  [Symbol.dispose](): void {
    this.release();
  }
}

// Set by the ModelPool class body; lets PoolLease reach the private release path.
let releaseLease: (pool: ModelPool, entry: Entry, ref: SlotReference<Instance>) => void;

function wrapLoadError(error: unknown, spec: ModelSpec): ModelpoolError {
  if (isModelpoolError(error)) return error;
  return new ModelpoolError('LOAD_FAILED', `Model "${spec.id}" failed to load from ${spec.source}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
    details: { modelId: spec.id, version: spec.version },
  });
}

function noop(): void {}

function disposedError(): ModelpoolError {
  return new ModelpoolError('DISPOSED', 'The model pool has been disposed');
}

function bytesRecord(bytes: DeviceBytes): Record<string, number> {
  return Object.fromEntries(bytes);
}

/**
 * An in-process pool of models under memory and CPU-thread budgets.
 *
 * ```ts
 * const pool = new ModelPool({ models: [{ id: 'stories', source: 'stories260K.gguf' }] });
 * const text = await pool.use('stories', (lease) => lease.model.complete({ prompt: 'Once' }));
 * await pool.dispose();
 * ```
 */
export class ModelPool implements AsyncDisposable {
  readonly #loader: ModelLoader;
  readonly #options: PoolOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #resolving = new Map<string, Promise<Entry>>();
  /** Names the resolver mapped to another model id (registry aliases): one entry, loaded once. */
  readonly #aliases = new Map<string, string>();
  readonly #events = new PoolEvents();
  readonly #calibrator: MemoryCalibrator;
  readonly #policy: EvictionPolicy;
  readonly #reservations = new Set<Reservation>();
  readonly #jobs = new Set<MemoryJob>();
  readonly #estimates = new Map<string, Promise<ModelEstimate>>();
  #budgets: DeviceBytes = new Map();
  #initialized: Promise<void> | undefined;
  readonly #threadTotal: number;
  readonly #maxLoaded: number;
  readonly #keepAliveMs: number;
  readonly #maxQueuePerModel: number;
  readonly #maxQueued: number;
  readonly #priorityStepMs: number;
  readonly #swapDelayMs: number;
  readonly #memoryWaitMs: number;
  readonly #maxConcurrentLoads: number;
  readonly #confirmTimeoutMs: number;
  readonly #confirmMinBytes: number;
  #queued = 0;
  #seq = 0;
  #running = 0;
  #turnBlocked = false;
  /** When the oldest waiter first found no CPU turn (see #grantWaiting). */
  #turnBlockedSince: number | undefined;
  #turnTimer: NodeJS.Timeout | undefined;
  readonly #turnWaitMs: number;
  #pumping = false;
  #pumpAgain = false;
  #disposed = false;
  #disposing: Promise<void> | undefined;
  /** Holds the event loop open while a request, load, unload, swap or disposal is pending. */
  readonly #keepAliveHold = new KeepAlive();

  static {
    releaseLease = (pool, entry, ref) => pool.#release(entry, ref);
  }

  constructor(options: PoolOptions = {}) {
    const o = validatePoolOptions(options);
    this.#options = o;
    this.#loader = o.loader ?? createEngineLoader();
    this.#calibrator = new MemoryCalibrator(o.calibrationAlpha === undefined ? {} : { alpha: o.calibrationAlpha });
    this.#policy = { ...DEFAULT_EVICTION_POLICY, ...o.eviction };
    if (o.eviction?.halfLifeMs !== undefined && o.eviction.horizonMs === undefined) this.#policy.horizonMs = o.eviction.halfLifeMs;
    this.#threadTotal = o.threads ?? defaultThreadBudget(this.#loader.cpuCores?.());
    this.#maxLoaded = o.maxLoadedModels ?? Number.POSITIVE_INFINITY;
    this.#keepAliveMs = o.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.#maxQueuePerModel = o.maxQueuePerModel ?? 256;
    this.#maxQueued = o.maxQueued ?? 1024;
    this.#priorityStepMs = o.priorityStepMs ?? 2000;
    this.#swapDelayMs = o.swapDelayMs ?? 1000;
    this.#memoryWaitMs = o.memoryWaitMs ?? 60_000;
    this.#maxConcurrentLoads = o.maxConcurrentLoads ?? 1;
    this.#confirmTimeoutMs = o.memory?.confirmTimeoutMs ?? 2000;
    this.#confirmMinBytes = o.memory?.confirmMinBytes ?? 64 * 1024 * 1024;
    this.#turnWaitMs = o.turnWaitMs ?? 10_000;
    for (const spec of o.models ?? []) this.define(spec);
  }

  // ---------------------------------------------------------------- models

  /**
   * Adds a model, or updates its spec. A change reaches a loaded model at its next load; use
   * {@link swapVersion} to change a loaded model without downtime.
   */
  define(spec: ModelSpec): void {
    this.#checkOpen();
    const valid = validateSpec(spec);
    const entry = this.#entries.get(valid.id);
    if (entry === undefined) {
      this.#entries.set(valid.id, new Entry(valid));
      return;
    }
    entry.spec = valid;
    if (valid.pinned !== undefined) this.pin(valid.id, valid.pinned);
  }

  /** Model ids the pool knows. */
  models(): string[] {
    return [...this.#entries.keys()];
  }

  /** Pins (never evicted, never unloaded for idleness) or unpins a model. */
  pin(modelId: string, pinned = true): void {
    this.#checkOpen();
    const entry = this.#entry(modelId);
    entry.pinned = pinned;
    if (pinned) this.#clearKeepAlive(entry);
    else this.#maybeIdle(entry);
  }

  /** Loads a model ahead of use; resolves when it is ready. */
  async load(modelId: string, options?: AcquireOptions): Promise<void> {
    const lease = await this.acquire(modelId, options);
    lease.release();
  }

  /**
   * Unloads a model: queued requests for it get ABORTED, a load in progress is aborted, leases are
   * waited for (never cut short), then the model is unloaded. Later acquires load it again.
   */
  async unload(modelId: string): Promise<void> {
    this.#checkOpen();
    const entry = this.#entry(modelId);
    await this.#keepAliveHold.track(this.#unloadEntry(entry, 'explicit'));
  }

  /** Unloads a model and forgets it; later acquires get MODEL_NOT_FOUND. */
  async remove(modelId: string): Promise<void> {
    this.#checkOpen();
    const entry = this.#entry(modelId);
    entry.removed = true;
    this.#entries.delete(entry.id);
    for (const [name, id] of this.#aliases) if (id === entry.id) this.#aliases.delete(name);
    await this.#keepAliveHold.track(this.#unloadEntry(entry, 'remove'));
  }

  // ---------------------------------------------------------------- leases

  /**
   * A lease on a ready model: loads it if needed (one load however many ask), waits in the
   * model's queue by priority, and resolves once the model has a free sequence and a CPU turn.
   * Rejects with QUEUE_FULL, TIMEOUT, ABORTED, INSUFFICIENT_MEMORY, MODEL_NOT_FOUND, LOAD_FAILED
   * or DISPOSED.
   */
  acquire(modelId: string, options?: AcquireOptions): Promise<Lease> {
    if (this.#disposed) return Promise.reject(disposedError());
    let opts;
    try {
      nonEmptyString('modelId', modelId);
      opts = validateAcquireOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (opts.signal?.aborted === true) return Promise.reject(abortedError(modelId, opts.signal, 'before it was queued'));
    const entry = this.#lookup(modelId);
    if (entry !== undefined) {
      // Fast path: a ready model with a free sequence and nobody ahead.
      if (
        entry.state === 'ready' &&
        entry.waiters.size === 0 &&
        entry.drainFor === undefined &&
        entry.pausedBy === 0 &&
        !this.#turnBlocked &&
        entry.slot.currentRefs < entry.concurrency &&
        (entry.running || this.#running < this.#threadTotal)
      ) {
        return Promise.resolve(this.#grant(entry, 0, opts.signal));
      }
      return this.#enqueue(entry, opts.priority, opts.timeoutMs, opts.signal);
    }
    return this.#resolveEntry(modelId).then((resolved) => this.#enqueue(resolved, opts.priority, opts.timeoutMs, opts.signal));
  }

  /** Runs `fn` with a lease and releases it however `fn` ends. */
  async use<T>(modelId: string, fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    const lease = await this.acquire(modelId, options);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  // ---------------------------------------------------------------- hot swap

  /**
   * Replaces a model's version without downtime (see src/pool/swap/swap.ts): loads `spec` beside the
   * current version when memory allows (else queues requests briefly and swaps in place), warms
   * it up, health-checks it with a real generation, optionally compares a canary against the
   * current version, switches atomically and lets in-flight leases finish on the old version.
   * Rolls back automatically (ROLLED_BACK) if the new version fails any step.
   */
  swapVersion(modelId: string, spec: Omit<ModelSpec, 'id'> & { id?: string }, options?: SwapOptions): Promise<SwapResult> {
    if (this.#disposed) return Promise.reject(disposedError());
    return this.#keepAliveHold.track(runSwap(this.#swapHost, modelId, { ...spec, id: modelId } as ModelSpec, options));
  }

  // ---------------------------------------------------------------- observation

  on<K extends PoolEventType>(type: K, listener: (event: PoolEventOf<K>) => void): () => void;
  on(type: '*', listener: (event: PoolEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    return this.#events.on(type as PoolEventType, listener as (event: PoolEvent) => void);
  }

  /** A snapshot of budgets, models, leases, queues and threads (like Ollama's /api/ps). */
  status(): PoolStatus {
    const used = this.#used();
    const devices = new Set([...this.#budgets.keys(), ...used.keys()]);
    const models: ModelStatus[] = [];
    let assigned = 0;
    for (const entry of this.#entries.values()) {
      const current = entry.slot.current;
      const instances: InstanceStatus[] = [];
      for (const inst of [current, ...entry.retiring, ...entry.candidates]) {
        if (inst === undefined) continue;
        assigned += inst.assigned;
        instances.push({
          version: inst.spec.version,
          role: inst.role,
          architecture: inst.architecture,
          contextSize: inst.model.info.contextSize,
          parallel: inst.parallel,
          memory: bytesRecord(inst.reservation.bytes),
          measuredBytes: sumBytes(inst.reservation.bytes),
          estimatedBytes: inst.estimatedBytes,
          estimateError: inst.estimateError,
          loadMs: inst.model.loadMs,
          leases: entry.slot.refs(inst),
          threads: inst.threads,
          loadedAt: inst.loadedAt,
        });
      }
      const status: ModelStatus = {
        id: entry.id,
        version: current?.spec.version ?? entry.spec.version,
        state: entry.state,
        pinned: entry.pinned,
        keepAliveMs: this.#keepAlive(entry),
        expiresAt: entry.expiresAt,
        leases: entry.slot.currentRefs,
        queued: entry.waiters.size,
        concurrency: entry.concurrency,
        threads: current?.assigned ?? 0,
        sizeBytes: current === undefined ? 0 : sumBytes(current.reservation.bytes),
        draining: entry.drainFor !== undefined || entry.pausedBy > 0,
        swapping: entry.swapping,
        uses: entry.uses,
        lastUsedAt: entry.lastUsedAt === null ? null : toEpoch(entry.lastUsedAt),
        reloadMs: entry.reloadMs,
        instances,
      };
      if (entry.lastError !== undefined) status.lastError = { code: entry.lastError.code, message: entry.lastError.message };
      models.push(status);
    }
    return {
      devices: [...devices].map((device) => ({ device, budget: this.#budgets.get(device), used: used.get(device) ?? 0 })),
      threads: { total: this.#threadTotal, assigned, running: this.#running },
      loadedModels: this.#reservations.size,
      maxLoadedModels: Number.isFinite(this.#maxLoaded) ? this.#maxLoaded : null,
      queued: this.#queued,
      loadsInFlight: this.#loadsInFlight(),
      models,
      calibration: this.#calibrator.stats(),
      disposed: this.#disposed,
    };
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  // ---------------------------------------------------------------- disposal

  /**
   * Rejects queued requests with DISPOSED, aborts loads in progress, and disposes every model
   * (waiting for in-flight generations unless `abort` is set). Idempotent.
   */
  dispose(options: { abort?: boolean } = {}): Promise<void> {
    if (this.#disposing !== undefined) return this.#disposing;
    this.#disposed = true;
    this.#disposing = this.#keepAliveHold.track(this.#disposeAll(options.abort === true));
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  async #disposeAll(abort: boolean): Promise<void> {
    const error = disposedError();
    for (const entry of this.#entries.values()) {
      this.#clearKeepAlive(entry);
      for (const w of entry.waiters.drain()) this.#settleWaiter(w, error);
      entry.loadAbort?.abort(error);
      for (const resolve of entry.idleWaiters.splice(0)) resolve();
    }
    for (const job of [...this.#jobs]) this.#failJob(job, error);
    if (this.#turnTimer !== undefined) clearTimeout(this.#turnTimer);
    await Promise.allSettled([...this.#entries.values()].map((e) => e.loading));
    const instances: Instance[] = [];
    for (const entry of this.#entries.values()) {
      const current = entry.slot.current;
      if (current !== undefined) instances.push(current);
      instances.push(...entry.retiring, ...entry.candidates);
      entry.state = 'unloaded';
    }
    await Promise.allSettled(
      instances.map(async (inst) => {
        if (inst.unloading) return;
        inst.unloading = true;
        await inst.model.dispose({ abort }).catch(() => undefined);
        this.#reservations.delete(inst.reservation);
        this.#emit({ type: 'unload', modelId: inst.entry.id, version: inst.spec.version, reason: 'dispose', bytes: sumBytes(inst.reservation.bytes), memoryConfirmed: true });
      }),
    );
    await Promise.allSettled([...this.#entries.values()].map((e) => e.unloading));
    this.#reservations.clear();
    this.#events.clear();
  }

  // ================================================================ internals

  #checkOpen(): void {
    if (this.#disposed) throw disposedError();
  }

  /** The entry for a model id or a name the resolver mapped to one. */
  #lookup(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    if (entry !== undefined) return entry;
    const id = this.#aliases.get(name);
    return id === undefined ? undefined : this.#entries.get(id);
  }

  #entry(modelId: string): Entry {
    nonEmptyString('modelId', modelId);
    const entry = this.#lookup(modelId);
    if (entry === undefined) throw notFound(modelId);
    return entry;
  }

  #resolveEntry(modelId: string): Promise<Entry> {
    const resolver = this.#options.resolve;
    if (resolver === undefined) return Promise.reject(notFound(modelId));
    let pending = this.#resolving.get(modelId);
    if (pending === undefined) {
      pending = (async () => {
        try {
          const spec = await resolver(modelId);
          if (this.#disposed) throw disposedError();
          if (spec === undefined) throw notFound(modelId);
          // The spec's id is the pool's key; the name asked for becomes an alias of it, so every
          // name of one registered model shares one loaded instance.
          const id = typeof spec.id === 'string' && spec.id.length > 0 ? spec.id : modelId;
          if (id !== modelId) this.#aliases.set(modelId, id);
          const existing = this.#entries.get(id);
          if (existing !== undefined) return existing;
          this.define({ ...spec, id });
          return this.#entries.get(id)!;
        } finally {
          this.#resolving.delete(modelId);
        }
      })();
      this.#resolving.set(modelId, pending);
    }
    return pending;
  }

  #emit(event: PoolEvent): void {
    this.#events.emit(event);
  }

  #keepAlive(entry: Entry): number {
    return entry.spec.keepAliveMs ?? this.#keepAliveMs;
  }

  // ---------------------------------------------------------------- queue

  #enqueue(entry: Entry, priority: Priority, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<Lease> {
    if (this.#disposed) return Promise.reject(disposedError());
    if (entry.removed) return Promise.reject(notFound(entry.id));
    const maxQueue = entry.spec.maxQueue ?? this.#maxQueuePerModel;
    if (entry.waiters.size >= maxQueue || this.#queued >= this.#maxQueued) {
      const scope = entry.waiters.size >= maxQueue ? `model "${entry.id}" (${maxQueue})` : `the pool (${this.#maxQueued})`;
      return Promise.reject(
        new ModelpoolError('QUEUE_FULL', `Queue full: ${scope} requests are already waiting`, {
          details: { modelId: entry.id, queued: entry.waiters.size, total: this.#queued },
        }),
      );
    }
    if (signal?.aborted === true) return Promise.reject(abortedError(entry.id, signal, 'before it was queued'));
    return new Promise<Lease>((resolve, reject) => {
      const arrivedAt = now();
      const waiter = new Waiter(entry, queueKey(arrivedAt, priority, this.#priorityStepMs), this.#seq++, arrivedAt, signal, resolve, reject);
      entry.waiters.push(waiter);
      waiter.releaseHold = this.#keepAliveHold.hold();
      this.#queued++;
      this.#clearKeepAlive(entry);
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.#cancelWaiter(
            waiter,
            new ModelpoolError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for model "${entry.id}" (${entry.state})`, {
              details: { modelId: entry.id, state: entry.state, timeoutMs },
            }),
          );
        }, timeoutMs);
      }
      if (signal !== undefined) {
        waiter.onAbort = () => this.#cancelWaiter(waiter, abortedError(entry.id, signal, 'while queued'));
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#emitQueue(entry);
      this.#pump();
    });
  }

  #emitQueue(entry: Entry): void {
    if (this.#events.wants('queue')) this.#emit({ type: 'queue', modelId: entry.id, depth: entry.waiters.size, total: this.#queued });
  }

  /** Takes a waiter out of the queue with an error (timeout, abort). */
  #cancelWaiter(waiter: Waiter, error: ModelpoolError): void {
    if (waiter.settled) return;
    const entry = waiter.entry;
    entry.waiters.cancel(waiter);
    this.#settleWaiter(waiter, error);
    this.#emitQueue(entry);
    if (entry.waiters.size === 0) {
      // Nobody waits any more: a load still waiting for memory is dropped (one already reading
      // the file goes on and the model stays, subject to its keep-alive).
      for (const job of [...this.#jobs]) if (job.entry === entry && job.kind === 'load') this.#failJob(job, CANCELLED);
      this.#maybeIdle(entry);
    }
    this.#pump();
  }

  /** Settles a waiter already out of the heap (or being drained from it). */
  #settleWaiter(waiter: Waiter, error: unknown): void {
    if (waiter.settled) return;
    this.#dequeued(waiter);
    waiter.reject(error);
  }

  /** Bookkeeping for a waiter that leaves the queue, granted or not. */
  #dequeued(waiter: Waiter): void {
    waiter.settled = true;
    this.#queued--;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
    waiter.releaseHold();
  }

  #grant(entry: Entry, arrivedAt: number, signal: AbortSignal | undefined): Lease {
    const ref = entry.slot.acquire()!;
    const t = now();
    entry.uses++;
    entry.useScore = bumpUseScore(entry.useScore, entry.scoredAt, t, this.#policy.halfLifeMs);
    entry.scoredAt = t;
    entry.lastUsedAt = t;
    if (entry.keepAliveTimer !== undefined) this.#clearKeepAlive(entry);
    if (!entry.running) this.#updateRunning(entry);
    return new PoolLease(this, entry, ref, arrivedAt === 0 ? 0 : t - arrivedAt, signal);
  }

  #release(entry: Entry, ref: SlotReference<Instance>): void {
    ref.release();
    if (ref.value === entry.slot.current) {
      if (entry.slot.currentRefs === 0) {
        entry.lastReleasedAt = now();
        this.#updateRunning(entry);
        for (const resolve of entry.idleWaiters.splice(0)) resolve();
      }
    }
    if (this.#disposed) return;
    this.#pump();
    this.#maybeIdle(entry);
  }

  // ---------------------------------------------------------------- scheduling

  #pump(): void {
    if (this.#disposed) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#grantWaiting();
        this.#startNeededLoads();
        this.#processJobs();
        this.#unloadDrainedVictims();
      } while (this.#pumpAgain && !this.#disposed);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Grants leases on ready models in queue-key order across all models. A model that has no
   * lease needs a CPU turn (at most `threads` models run at once); when the oldest waiter cannot
   * get one, granting stops everywhere so running models drain and hand their turn over.
   */
  #grantWaiting(): void {
    const wasBlocked = this.#turnBlocked;
    this.#turnBlocked = false;
    try {
      this.#grantInOrder();
    } finally {
      if (!this.#turnBlocked) {
        this.#turnBlockedSince = undefined;
        if (this.#turnTimer !== undefined) clearTimeout(this.#turnTimer);
        this.#turnTimer = undefined;
      } else if (!wasBlocked || this.#turnBlockedSince === undefined) {
        this.#turnBlockedSince = now();
        this.#turnTimer = setTimeout(() => {
          this.#turnTimer = undefined;
          this.#pump();
        }, this.#turnWaitMs + 1);
        this.#turnTimer.unref();
      }
    }
  }

  /**
   * A model waiting for a CPU turn longer than turnWaitMs gets one anyway: a lease held for a
   * long time (or a caller holding one model while it waits for another) must not stall the pool.
   * The budget is then exceeded until a running model releases; status() shows it.
   */
  #turnWaitExpired(): boolean {
    return this.#turnBlockedSince !== undefined && now() - this.#turnBlockedSince >= this.#turnWaitMs;
  }

  #grantInOrder(): void {
    if (this.#queued === 0) return;
    const candidates: Entry[] = [];
    for (const e of this.#entries.values()) {
      if (e.state === 'ready' && e.waiters.size > 0 && e.drainFor === undefined && e.pausedBy === 0) candidates.push(e);
    }
    while (candidates.length > 0) {
      let best = 0;
      let bestKey = candidates[0]!.headKey();
      for (let i = 1; i < candidates.length; i++) {
        const k = candidates[i]!.headKey();
        if (k < bestKey) {
          best = i;
          bestKey = k;
        }
      }
      const entry = candidates[best]!;
      if (entry.slot.currentRefs >= entry.concurrency) {
        candidates.splice(best, 1);
        continue;
      }
      if (!entry.running && this.#running >= this.#threadTotal && !this.#turnWaitExpired()) {
        this.#turnBlocked = true;
        return;
      }
      const waiter = entry.waiters.pop()!;
      this.#dequeued(waiter);
      waiter.resolve(this.#grant(entry, waiter.arrivedAt, waiter.signal));
      this.#emitQueue(entry);
      if (entry.waiters.size === 0) candidates.splice(best, 1);
    }
  }

  #startNeededLoads(): void {
    for (const entry of this.#entries.values()) {
      if (entry.state === 'unloaded' && entry.waiters.size > 0 && entry.pausedBy === 0 && !entry.swapping) this.#startLoad(entry);
    }
  }

  #startLoad(entry: Entry): void {
    entry.state = 'estimating';
    const spec = entry.spec;
    const abort = new AbortController();
    entry.loadAbort = abort;
    entry.loading = this.#keepAliveHold.track((async () => {
      try {
        await this.#init();
        const plan = await this.#plan(entry, spec, false);
        if (this.#disposed) throw disposedError();
        if (entry.waiters.size === 0) throw CANCELLED;
        entry.state = 'waiting-for-memory';
        const reservation = await this.#reserve(entry, plan.need, 'load', true);
        entry.state = 'loading';
        const instance = await this.#loadInstance(entry, spec, plan, reservation, 'current', abort.signal);
        entry.slot.replace(instance);
        entry.state = 'ready';
        entry.lastError = undefined;
      } catch (error) {
        entry.state = 'unloaded';
        if (error !== CANCELLED) {
          const failure = abort.signal.aborted && !this.#disposed ? abortedLoad(entry, abort.signal) : wrapLoadError(error, spec);
          if (!this.#disposed) {
            entry.lastError = failure;
            this.#emit({ type: 'load-failed', modelId: entry.id, version: spec.version, error: failure });
          }
          for (const w of entry.waiters.drain()) this.#settleWaiter(w, failure);
        }
      } finally {
        entry.loading = undefined;
        entry.loadAbort = undefined;
        this.#pump();
        this.#maybeIdle(entry);
      }
    })());
  }

  /**
   * Decides how to load: the estimate (calibrated) for the spec's options; if it cannot fit even
   * with everything evictable gone, fewer GPU layers (when gpuLayers is 'auto'), then a smaller
   * context (down to minContextSize); else INSUFFICIENT_MEMORY.
   */
  async #plan(entry: Entry, spec: ModelSpec, beside: boolean): Promise<Plan> {
    const base = estimateOptionsOf(spec);
    const first = await this.#estimate(spec, base);
    const planFor = (options: EstimateOptions, estimate: ModelEstimate): Plan => ({
      options,
      estimate,
      need: this.#calibrator.calibrate(estimate.architecture, estimate.memory),
    });
    let plan = planFor(base, first);
    if (this.#feasible(entry, plan.need, beside)) return plan;

    const gpuShort = [...plan.need].some(([device, bytes]) => device !== 'CPU' && bytes > this.#capacity(entry, device, beside));
    if ((spec.gpuLayers ?? 'auto') === 'auto' && gpuShort && first.layers !== undefined && first.layers > 0) {
      const layers = first.layers;
      for (const count of [Math.floor((layers * 3) / 4), Math.floor(layers / 2), Math.floor(layers / 4), 0]) {
        const options = { ...base, gpuLayers: count };
        const candidate = planFor(options, await this.#estimate(spec, options));
        if (this.#feasible(entry, candidate.need, beside)) {
          this.#emit({ type: 'gpu-layers-reduced', modelId: spec.id, requested: spec.gpuLayers, granted: count });
          return candidate;
        }
        plan = candidate;
      }
    }

    if (spec.minContextSize !== undefined) {
      const requested = spec.contextSize ?? Math.min(first.trainContextLength ?? 4096, 4096);
      let context = requested;
      while (context > spec.minContextSize) {
        context = Math.max(spec.minContextSize, Math.floor(context / 2));
        const options = { ...plan.options, contextSize: context };
        const candidate = planFor(options, await this.#estimate(spec, options));
        if (this.#feasible(entry, candidate.need, beside)) {
          this.#emit({ type: 'context-shrunk', modelId: spec.id, requested, granted: context });
          return candidate;
        }
        plan = candidate;
      }
    }
    throw this.#insufficient(entry, plan.need, beside);
  }

  #estimate(spec: ModelSpec, options: EstimateOptions): Promise<ModelEstimate> {
    const key = `${spec.source}\u0000${JSON.stringify(options)}`;
    let pending = this.#estimates.get(key);
    if (pending === undefined) {
      pending = this.#loader.estimate(spec, options);
      this.#estimates.set(key, pending);
      pending.catch(() => this.#estimates.delete(key));
    }
    return pending;
  }

  /** Bytes a model could ever get on a device: the budget minus what pinned (and, beside, the model's own) instances hold. */
  #capacity(entry: Entry, device: string, beside: boolean): number {
    const budget = this.#budgets.get(device);
    if (budget === undefined) return Number.POSITIVE_INFINITY;
    let fixed = 0;
    for (const r of this.#reservations) {
      if ((r.entry.pinned && r.entry !== entry) || (beside && r.entry === entry)) fixed += r.bytes.get(device) ?? 0;
    }
    return budget - fixed;
  }

  #feasible(entry: Entry, need: DeviceBytes, beside: boolean): boolean {
    for (const [device, bytes] of need) if (bytes > this.#capacity(entry, device, beside)) return false;
    let fixedModels = 0;
    const counted = new Set<Entry>();
    for (const r of this.#reservations) {
      if ((r.entry.pinned && r.entry !== entry && !counted.has(r.entry)) || (beside && r.entry === entry)) {
        fixedModels++;
        counted.add(r.entry);
      }
    }
    return fixedModels + 1 <= this.#maxLoaded;
  }

  #insufficient(entry: Entry, need: DeviceBytes, beside: boolean, waitedMs?: number): ModelpoolError {
    const parts = [...need].map(([device, bytes]) => {
      const budget = this.#budgets.get(device);
      return `${device}: needs ${formatBytes(bytes)}${budget === undefined ? '' : ` of a ${formatBytes(budget)} budget (${formatBytes(this.#capacity(entry, device, beside))} not pinned)`}`;
    });
    const reason = waitedMs === undefined ? 'does not fit even after evicting every unpinned model' : `waited ${Math.round(waitedMs)} ms for busy models to make room`;
    return new ModelpoolError('INSUFFICIENT_MEMORY', `Model "${entry.id}" ${reason} (${parts.join('; ')})`, {
      details: { modelId: entry.id, need: bytesRecord(need), budgets: bytesRecord(this.#budgets), used: bytesRecord(this.#used()), waitedMs },
    });
  }

  #used(): DeviceBytes {
    const used: DeviceBytes = new Map();
    for (const r of this.#reservations) for (const [d, b] of r.bytes) used.set(d, (used.get(d) ?? 0) + b);
    return used;
  }

  /** Waits until `need` is reserved for `entry` (evicting or draining others), bounded by memoryWaitMs. */
  #reserve(entry: Entry, need: DeviceBytes, kind: 'load' | 'swap', allowBusy: boolean): Promise<Reservation> {
    return new Promise<Reservation>((resolve, reject) => {
      const createdAt = now();
      const job: MemoryJob = {
        entry,
        need,
        kind,
        createdAt,
        allowBusy,
        // A swap goes ahead of ordinary loads: its requests are already being served.
        fixedKey: kind === 'swap' ? queueKey(createdAt, 'high', this.#priorityStepMs) : undefined,
        victims: new Set(),
        resolve,
        reject,
        timer: undefined,
        wakeTimer: undefined,
        releaseHold: this.#keepAliveHold.hold(),
        done: false,
      };
      job.timer = setTimeout(() => this.#failJob(job, this.#insufficient(entry, need, false, now() - createdAt)), this.#memoryWaitMs);
      job.timer.unref();
      this.#jobs.add(job);
      this.#pump();
    });
  }

  #jobKey(job: MemoryJob): number {
    if (job.fixedKey !== undefined) return job.fixedKey;
    const head = job.entry.headKey();
    return Number.isFinite(head) ? head : job.createdAt;
  }

  #endJob(job: MemoryJob): boolean {
    if (job.done) return false;
    job.done = true;
    this.#jobs.delete(job);
    job.releaseHold();
    if (job.timer !== undefined) clearTimeout(job.timer);
    if (job.wakeTimer !== undefined) clearTimeout(job.wakeTimer);
    for (const victim of job.victims) {
      if (victim.drainFor === job) victim.drainFor = undefined;
      if (victim.claimedBy === job && victim.state !== 'unloading') victim.claimedBy = undefined;
    }
    return true;
  }

  #failJob(job: MemoryJob, error: unknown): void {
    if (!this.#endJob(job)) return;
    job.reject(error);
    // Victims released from draining can serve again.
    if (!this.#disposed) queueMicrotask(() => this.#pump());
  }

  #loadsInFlight(): number {
    let n = 0;
    for (const r of this.#reservations) if (r.loading) n++;
    return n;
  }

  /**
   * Gives memory to waiting loads in key order. A job that fits takes its reservation; one that
   * does not evicts idle models (cheapest expected reload cost per byte first); if only busy
   * models could make room, it waits until its oldest request has waited `swapDelayMs` — so
   * requests for loaded models are served first and two models do not thrash — then drains them.
   */
  #processJobs(): void {
    if (this.#jobs.size === 0) return;
    const jobs = [...this.#jobs].sort((a, b) => this.#jobKey(a) - this.#jobKey(b));
    const t = now();
    for (const job of jobs) {
      if (job.done) continue;
      if (this.#loadsInFlight() >= this.#maxConcurrentLoads) return;
      const short = this.#shortfall(job.need);
      if (short === undefined) {
        const reservation: Reservation = { entry: job.entry, bytes: new Map(job.need), loading: true };
        this.#reservations.add(reservation);
        this.#endJob(job);
        job.resolve(reservation);
        continue;
      }
      // Memory already on its way back from this job's victims.
      for (const v of job.victims) {
        const inst = v.slot.current;
        if (inst === undefined && v.state !== 'unloading') continue;
        short.models--;
        const reservation = inst?.reservation ?? this.#unloadingReservation(v);
        for (const [d, b] of reservation?.bytes ?? []) short.bytes.set(d, (short.bytes.get(d) ?? 0) - b);
      }
      if (!hasShortfall(short)) continue;
      const jobKey = this.#jobKey(job);
      const idle = chooseVictims(this.#victimCandidates(job.entry, false, jobKey), short, t, this.#policy);
      if (idle.covers) {
        for (const v of idle.victims) this.#claim(job, v, short, t);
        continue;
      }
      if (!job.allowBusy) {
        this.#failJob(job, this.#insufficient(job.entry, job.need, true));
        continue;
      }
      const any = chooseVictims(this.#victimCandidates(job.entry, true, jobKey), short, t, this.#policy);
      if (!any.covers) continue; // others' loads, drains or claims hold the memory; the job timer bounds the wait
      const waited = t - jobKey;
      if (waited >= this.#swapDelayMs) {
        for (const v of any.victims) this.#claim(job, v, short, t);
      } else if (job.wakeTimer === undefined) {
        job.wakeTimer = setTimeout(() => {
          job.wakeTimer = undefined;
          this.#pump();
        }, this.#swapDelayMs - waited + 1);
        job.wakeTimer.unref();
      }
    }
  }

  #unloadingReservation(entry: Entry): Reservation | undefined {
    for (const r of this.#reservations) if (r.entry === entry) return r;
    return undefined;
  }

  /** Missing bytes per device and models over the count limit, or undefined when `need` fits now. */
  #shortfall(need: DeviceBytes): EvictionNeed | undefined {
    const used = this.#used();
    const bytes: DeviceBytes = new Map();
    let any = false;
    for (const [device, b] of need) {
      const budget = this.#budgets.get(device);
      if (budget === undefined) continue;
      const missing = (used.get(device) ?? 0) + b - budget;
      if (missing > 0) {
        bytes.set(device, missing);
        any = true;
      }
    }
    const models = Math.max(0, this.#reservations.size + 1 - this.#maxLoaded);
    if (!any && models === 0) return undefined;
    return { bytes, models };
  }

  /**
   * Models that may be evicted for `exclude`: ready, not pinned, not swapping, not claimed; busy
   * ones only when asked, and never one whose oldest waiter is older than `olderThan` (it is ahead
   * in line). Busy means leases or waiters — or a release within the last swapDelayMs: a model
   * used back to back is idle only for an instant between requests, and evicting it then is how
   * two models thrash.
   */
  #victimCandidates(exclude: Entry, includeBusy: boolean, olderThan: number, protectRecent = true): Array<EvictionCandidate<Entry>> {
    const out: Array<EvictionCandidate<Entry>> = [];
    const t = now();
    const recent = protectRecent ? this.#swapDelayMs : 0;
    for (const e of this.#entries.values()) {
      if (e === exclude || e.state !== 'ready' || e.pinned || e.swapping || e.claimedBy !== undefined) continue;
      const inst = e.slot.current!;
      const busy = e.slot.currentRefs > 0 || e.waiters.size > 0 || t - e.lastReleasedAt < recent;
      if (busy && (!includeBusy || e.headKey() < olderThan)) continue;
      out.push({
        item: e,
        bytes: inst.reservation.bytes,
        reloadMs: e.reloadMs ?? inst.model.loadMs,
        useScore: e.useScore,
        scoredAt: e.scoredAt,
        keepAliveMs: this.#keepAlive(e),
        busy,
      });
    }
    return out;
  }

  #claim(job: MemoryJob, candidate: EvictionCandidate<Entry>, short: EvictionNeed, t: number): void {
    const victim = candidate.item;
    victim.claimedBy = job;
    job.victims.add(victim);
    this.#emit({
      type: 'evict',
      modelId: victim.id,
      version: victim.slot.current?.spec.version,
      forModel: job.entry.id,
      reason: [...short.bytes.values()].some((b) => b > 0) ? 'memory' : 'max-models',
      bytes: sumBytes(candidate.bytes),
      cost: evictionCost(candidate, t, this.#policy),
      busy: candidate.busy,
    });
    if (candidate.busy) victim.drainFor = job;
    else this.#startUnload(victim, 'evict');
  }

  #unloadDrainedVictims(): void {
    for (const e of this.#entries.values()) {
      if (e.drainFor !== undefined && e.state === 'ready' && e.slot.currentRefs === 0) this.#startUnload(e, 'evict');
    }
  }

  // ---------------------------------------------------------------- load / unload

  async #loadInstance(entry: Entry, spec: ModelSpec, plan: Plan, reservation: Reservation, role: Instance['role'], signal: AbortSignal | undefined): Promise<Instance> {
    const threads = this.#threadsForNew(spec);
    const estimatedBytes = sumBytes(plan.need);
    this.#emit({ type: 'load', modelId: entry.id, version: spec.version, estimatedBytes, contextSize: plan.options.contextSize, gpuLayers: plan.options.gpuLayers, threads });
    let model: EngineModel;
    try {
      const options = { ...plan.options, threads, ...(spec.mlock === undefined ? {} : { mlock: spec.mlock }), ...(spec.probe === undefined ? {} : { probe: spec.probe }) };
      model = await this.#loader.load(spec, signal === undefined ? options : { ...options, signal });
    } catch (error) {
      this.#reservations.delete(reservation);
      throw error;
    } finally {
      reservation.loading = false;
    }
    if (this.#disposed) {
      this.#reservations.delete(reservation);
      await model.dispose({ abort: true }).catch(() => undefined);
      throw disposedError();
    }
    const measured: MemoryReport = model.memory;
    const sample = this.#calibrator.record(plan.estimate.architecture, plan.estimate.memory, measured);
    reservation.bytes = reportDevices(measured);
    const instance: Instance = {
      entry,
      model,
      spec,
      architecture: plan.estimate.architecture,
      estimatedBytes,
      estimateError: measured.total > 0 ? (measured.total - estimatedBytes) / measured.total : 0,
      reservation,
      loadedAt: Date.now(),
      parallel: model.info.parallel,
      role,
      threads: model.threads,
      assigned: 0,
      unloading: false,
    };
    entry.reloadMs = entry.reloadMs === null ? model.loadMs : entry.reloadMs * 0.5 + model.loadMs * 0.5;
    this.#emit({
      type: 'ready',
      modelId: entry.id,
      version: spec.version,
      loadMs: model.loadMs,
      estimatedBytes,
      measuredBytes: measured.total,
      estimateError: instance.estimateError,
      rawEstimateError: sample.rawError,
    });
    this.#checkOverBudget(entry);
    return instance;
  }

  /** After a load measured more than estimated: report it, and evict idle models to get back under budget. */
  #checkOverBudget(entry: Entry): void {
    const used = this.#used();
    for (const [device, budget] of this.#budgets) {
      const u = used.get(device) ?? 0;
      if (u <= budget) continue;
      this.#emit({ type: 'over-budget', modelId: entry.id, device, used: u, budget });
      const t = now();
      const choice = chooseVictims(this.#victimCandidates(entry, false, Number.NEGATIVE_INFINITY, false), { bytes: new Map([[device, u - budget]]), models: 0 }, t, this.#policy);
      for (const v of choice.victims) {
        if (v.item.state !== 'ready') continue;
        this.#emit({ type: 'evict', modelId: v.item.id, version: v.item.slot.current?.spec.version, forModel: entry.id, reason: 'budget', bytes: sumBytes(v.bytes), cost: evictionCost(v, t, this.#policy), busy: false });
        this.#startUnload(v.item, 'budget');
      }
    }
  }

  #startUnload(entry: Entry, reason: UnloadReason): void {
    const inst = entry.slot.current;
    if (inst === undefined || entry.state !== 'ready') return;
    entry.state = 'unloading';
    entry.drainFor = undefined;
    this.#clearKeepAlive(entry);
    entry.slot.replace(undefined);
    inst.role = 'draining';
    this.#updateRunning(entry);
    entry.unloading = this.#keepAliveHold.track(
      this.#unloadInstance(inst, reason).finally(() => {
        entry.unloading = undefined;
        entry.claimedBy?.victims.delete(entry);
        entry.claimedBy = undefined;
        if (entry.state === 'unloading') entry.state = 'unloaded';
        this.#pump();
      }),
    );
  }

  /**
   * Disposes an instance, then confirms the memory is really back before its reservation is
   * released (re-reading free memory from the loader, bounded by confirmTimeoutMs).
   */
  async #unloadInstance(inst: Instance, reason: UnloadReason): Promise<void> {
    if (inst.unloading) return;
    inst.unloading = true;
    inst.assigned = 0;
    const bytes = sumBytes(inst.reservation.bytes);
    let confirmed = true;
    try {
      const expected = this.#expectedFreed(inst);
      const before = expected.size > 0 ? await this.#readDevices() : undefined;
      await inst.model.dispose();
      if (before !== undefined) confirmed = await this.#confirmFreed(inst, expected, before);
    } catch (error) {
      // dispose() is idempotent and should not fail; if it does, the memory is unaccounted for.
      confirmed = false;
      process.emitWarning(`modelpool: unloading model "${inst.entry.id}" failed: ${String(error)}`);
    } finally {
      this.#reservations.delete(inst.reservation);
      this.#emit({ type: 'unload', modelId: inst.entry.id, version: inst.spec.version, reason, bytes, memoryConfirmed: confirmed });
      this.#rebalanceThreads();
    }
  }

  /** Bytes per device that free memory should regain; file-backed (mmap) weights do not count. */
  #expectedFreed(inst: Instance): DeviceBytes {
    const out: DeviceBytes = new Map();
    if (this.#loader.devices === undefined) return out;
    const mmap = inst.spec.mmap !== false;
    for (const d of inst.model.memory.devices) {
      const bytes = d.total - (mmap && d.device === 'CPU' ? d.weights : 0);
      if (bytes >= this.#confirmMinBytes) out.set(d.device, (out.get(d.device) ?? 0) + bytes);
    }
    return out;
  }

  async #readDevices(): Promise<Map<string, DeviceMemoryInfo>> {
    const list = await this.#loader.devices!();
    return new Map(list.map((d) => [d.device, d]));
  }

  async #confirmFreed(inst: Instance, expected: DeviceBytes, before: Map<string, DeviceMemoryInfo>): Promise<boolean> {
    const deadline = now() + this.#confirmTimeoutMs;
    let last = before;
    for (;;) {
      let ok = true;
      for (const [device, bytes] of expected) {
        const b = before.get(device);
        const a = last.get(device);
        if (b !== undefined && a !== undefined && a.free - b.free < bytes * 0.5) ok = false;
      }
      if (ok) return true;
      if (now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
      last = await this.#readDevices();
    }
    for (const [device, bytes] of expected) {
      const b = before.get(device);
      const a = last.get(device);
      if (b !== undefined && a !== undefined) this.#emit({ type: 'memory-unconfirmed', modelId: inst.entry.id, device, expected: bytes, observed: a.free - b.free });
    }
    return false;
  }

  async #unloadEntry(entry: Entry, reason: UnloadReason): Promise<void> {
    const error = new ModelpoolError('ABORTED', `Model "${entry.id}" was unloaded (${reason}) while the request waited`, { details: { modelId: entry.id, reason } });
    for (const w of entry.waiters.drain()) this.#settleWaiter(w, error);
    this.#emitQueue(entry);
    for (const job of [...this.#jobs]) if (job.entry === entry) this.#failJob(job, job.kind === 'load' ? CANCELLED : error);
    entry.loadAbort?.abort(error);
    await entry.loading;
    if (entry.slot.currentRefs > 0) {
      entry.pausedBy++;
      try {
        await new Promise<void>((resolve) => entry.idleWaiters.push(resolve));
      } finally {
        entry.pausedBy--;
      }
    }
    if (this.#disposed) return;
    if (entry.state === 'ready') this.#startUnload(entry, reason);
    await entry.unloading;
    await Promise.all([...entry.retiring].map((inst) => this.#waitRetired(entry, inst)));
  }

  #waitRetired(entry: Entry, inst: Instance): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!entry.retiring.has(inst) || this.#disposed) resolve();
        else setTimeout(check, 10).unref();
      };
      check();
    });
  }

  // ---------------------------------------------------------------- keep-alive

  #clearKeepAlive(entry: Entry): void {
    if (entry.keepAliveTimer !== undefined) clearTimeout(entry.keepAliveTimer);
    entry.keepAliveTimer = undefined;
    entry.expiresAt = null;
  }

  /** Starts the keep-alive clock when a model has become idle. */
  #maybeIdle(entry: Entry): void {
    if (this.#disposed || entry.state !== 'ready' || entry.pinned || entry.swapping || entry.keepAliveTimer !== undefined) return;
    if (entry.slot.currentRefs > 0 || entry.waiters.size > 0) return;
    const ttl = this.#keepAlive(entry);
    if (ttl < 0) return;
    if (ttl === 0) {
      this.#startUnload(entry, 'idle');
      return;
    }
    entry.expiresAt = Date.now() + ttl;
    entry.keepAliveTimer = setTimeout(() => {
      entry.keepAliveTimer = undefined;
      entry.expiresAt = null;
      if (entry.slot.currentRefs === 0 && entry.waiters.size === 0 && !entry.pinned && !entry.swapping) this.#startUnload(entry, 'idle');
    }, ttl);
    entry.keepAliveTimer.unref();
  }

  // ---------------------------------------------------------------- threads

  #updateRunning(entry: Entry): void {
    const running = entry.slot.currentRefs > 0;
    if (running === entry.running) return;
    entry.running = running;
    this.#running += running ? 1 : -1;
    this.#rebalanceThreads();
  }

  #threadUnits(): Array<ThreadDemand<Instance>> {
    const units: Array<ThreadDemand<Instance>> = [];
    const cap = (spec: ModelSpec): number => Math.min(spec.maxThreads ?? this.#threadTotal, this.#threadTotal);
    for (const e of this.#entries.values()) {
      const current = e.slot.current;
      if (current !== undefined && e.running) units.push({ key: current, demand: e.slot.currentRefs + e.waiters.size, maxThreads: cap(current.spec) });
      for (const inst of e.retiring) if (!inst.unloading && e.slot.refs(inst) > 0) units.push({ key: inst, demand: e.slot.refs(inst), maxThreads: cap(inst.spec) });
      for (const inst of e.candidates) units.push({ key: inst, demand: 1, maxThreads: cap(inst.spec) });
    }
    return units;
  }

  #threadsForNew(spec: ModelSpec): number {
    const marker = {} as Instance;
    const units = this.#threadUnits();
    units.push({ key: marker, demand: 1, maxThreads: Math.min(spec.maxThreads ?? this.#threadTotal, this.#threadTotal) });
    return allocateThreads(this.#threadTotal, units).get(marker) ?? 1;
  }

  /** Shares the thread budget among running instances and applies changes with setThreads(). */
  #rebalanceThreads(): void {
    const units = this.#threadUnits();
    const allocation = allocateThreads(this.#threadTotal, units);
    for (const e of this.#entries.values()) {
      for (const inst of [e.slot.current, ...e.retiring, ...e.candidates]) if (inst !== undefined && !allocation.has(inst)) inst.assigned = 0;
    }
    for (const [inst, threads] of allocation) {
      inst.assigned = threads;
      if (inst.threads !== threads && !inst.model.disposed) {
        try {
          inst.model.setThreads(threads);
          inst.threads = threads;
        } catch {
          // A model being disposed refuses; it does not decode any more either.
        }
      }
    }
    if (this.#events.wants('threads')) {
      const assignments: Record<string, number> = {};
      for (const [inst, threads] of allocation) {
        const name = inst.role === 'current' ? inst.entry.id : `${inst.entry.id}@${inst.spec.version ?? inst.role}`;
        assignments[name] = (assignments[name] ?? 0) + threads;
      }
      this.#emit({ type: 'threads', assignments, total: this.#threadTotal });
    }
  }

  // ---------------------------------------------------------------- swap host

  readonly #swapHost: SwapHost = {
    disposed: () => this.#disposed,
    begin: async (modelId: string): Promise<SwapSession> => {
      this.#checkOpen();
      const entry = this.#lookup(modelId) ?? (await this.#resolveEntry(modelId));
      if (entry.swapping) {
        throw new ModelpoolError('IN_USE', `A swap of model "${modelId}" is already in progress`, { details: { modelId } });
      }
      entry.swapping = true;
      this.#clearKeepAlive(entry);
      await this.#init();
      if (entry.loading !== undefined) await entry.loading;
      if (entry.unloading !== undefined) await entry.unloading;
      return this.#swapSession(entry);
    },
  };

  #swapSession(entry: Entry): SwapSession {
    const pool = this;
    let paused = false;
    const session: SwapSession = {
      modelId: entry.id,
      get currentSpec() {
        return entry.spec;
      },
      get current() {
        return entry.state === 'ready' ? entry.slot.current?.model : undefined;
      },
      emit: (event) => this.#emit(event),
      loadCandidate: async (spec, mode, signal) => {
        this.#checkOpen();
        const plan = await this.#plan(entry, spec, mode === 'beside');
        this.#checkOpen();
        const reservation = await this.#reserve(entry, plan.need, 'swap', mode !== 'beside');
        const inst = await this.#loadInstance(entry, spec, plan, reservation, 'candidate', signal);
        entry.candidates.add(inst);
        this.#rebalanceThreads();
        return inst.model;
      },
      discard: async (model, reason) => {
        const inst = [...entry.candidates].find((c) => c.model === model);
        if (inst === undefined) return;
        entry.candidates.delete(inst);
        await this.#unloadInstance(inst, reason);
      },
      pause: () => {
        if (paused) return;
        paused = true;
        entry.pausedBy++;
      },
      resume: () => {
        if (!paused) return;
        paused = false;
        entry.pausedBy--;
        this.#pump();
      },
      drain: async (timeoutMs) => {
        if (entry.slot.currentRefs === 0) return;
        let timer: NodeJS.Timeout | undefined;
        let resolveIdle: (() => void) | undefined;
        try {
          await Promise.race([
            new Promise<void>((resolve) => {
              resolveIdle = resolve;
              entry.idleWaiters.push(resolve);
            }),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new ModelpoolError('TIMEOUT', `Model "${entry.id}" still had ${entry.slot.currentRefs} lease(s) after ${timeoutMs} ms; the swap was not started`, { details: { modelId: entry.id, timeoutMs } })),
                timeoutMs,
              );
            }),
          ]);
        } finally {
          clearTimeout(timer);
          entry.idleWaiters = entry.idleWaiters.filter((r) => r !== resolveIdle);
        }
      },
      unloadCurrent: async () => {
        if (entry.state === 'ready') this.#startUnload(entry, 'swap');
        await entry.unloading;
      },
      publish: (model, spec) => {
        const inst = [...entry.candidates].find((c) => c.model === model);
        if (inst === undefined) throw new ModelpoolError('ILLEGAL_TRANSITION', `Model "${entry.id}" has no such candidate to publish`);
        this.#checkOpen();
        entry.candidates.delete(inst);
        inst.role = 'current';
        const { previous, drained } = entry.slot.replace(inst);
        entry.spec = { ...spec, id: entry.id };
        entry.state = 'ready';
        entry.lastError = undefined;
        if (previous !== undefined) {
          previous.role = 'draining';
          entry.retiring.add(previous);
          void drained.then(async () => {
            try {
              await pool.#unloadInstance(previous, 'swap');
            } finally {
              entry.retiring.delete(previous);
              pool.#pump();
            }
          });
        }
        // The old instance's leases no longer count as the model running; the new one has none yet.
        entry.running = entry.slot.currentRefs > 0;
        this.#recountRunning();
        this.#rebalanceThreads();
        this.#pump();
      },
      end: () => {
        session.resume();
        entry.swapping = false;
        for (const inst of [...entry.candidates]) void session.discard(inst.model, 'rollback');
        this.#pump();
        this.#maybeIdle(entry);
      },
    };
    return session;
  }

  #recountRunning(): void {
    let running = 0;
    for (const e of this.#entries.values()) if (e.running) running++;
    this.#running = running;
  }

  // ---------------------------------------------------------------- init

  /** Reads device memory once for the default budgets. */
  #init(): Promise<void> {
    if (this.#initialized === undefined) {
      this.#initialized = (async () => {
        const devices = this.#loader.devices === undefined ? [] : await this.#loader.devices();
        this.#budgets = resolveBudgets(this.#options.memory, devices);
      })();
    }
    return this.#initialized;
  }

  /** Resolves once budgets are known; acquire() waits for it on first use. */
  ready(): Promise<void> {
    return this.#init();
  }
}

function notFound(modelId: string): ModelpoolError {
  return new ModelpoolError('MODEL_NOT_FOUND', `Model "${modelId}" is not defined in the pool`, { field: 'modelId', value: modelId });
}

function abortedError(modelId: string, signal: AbortSignal, when: string): ModelpoolError {
  return new ModelpoolError('ABORTED', `Request for model "${modelId}" was aborted ${when}`, { cause: signal.reason, details: { modelId } });
}

function abortedLoad(entry: Entry, signal: AbortSignal): ModelpoolError {
  return isModelpoolError(signal.reason) ? signal.reason : new ModelpoolError('ABORTED', `Loading model "${entry.id}" was aborted`, { cause: signal.reason });
}

function hasShortfall(need: EvictionNeed): boolean {
  if (need.models > 0) return true;
  for (const b of need.bytes.values()) if (b > 0) return true;
  return false;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
