/**
 * The model pool: leases on loaded models, loading on demand within memory and thread budgets.
 *
 * ModelPool is a facade over one {@link PoolState}; each concern lives in its own file as functions
 * that take the state (the way better-sqlite3 assembles Database from lib/methods/):
 *
 * | file          | concern                                                                      |
 * | ------------- | ---------------------------------------------------------------------------- |
 * | state.ts      | the shared state, its entries (one per model), instances, waiters, jobs      |
 * | models.ts     | define, resolve names, acquire, unload, remove                               |
 * | waiters.ts    | the wait for a lease: queue, timeout, abort                                   |
 * | lease.ts      | granting and releasing leases                                                |
 * | scheduler.ts  | the one pump: grants in queue order across models, CPU turns                 |
 * | load.ts       | loading an instance; budgets read at first use                               |
 * | planner.ts    | how a model loads and whether it can ever fit                                |
 * | memory.ts     | memory jobs: reservations, eviction and draining of other models             |
 * | unload.ts     | unloading with memory confirmation; keep-alive                               |
 * | running.ts    | running models and their share of the thread budget                         |
 * | swap-host.ts  | the pool's side of a version swap (swap/swap.ts runs the swap)               |
 * | status.ts     | status()                                                                     |
 * | dispose.ts    | dispose()                                                                    |
 *
 * Policies without state sit beside them: queue.ts, eviction.ts, budget.ts, calibration.ts,
 * threads.ts, and spec.ts validates every input.
 */

import { disposeAll } from './dispose.js';
import { init } from './load.js';
import { acquireLease, defineModel, pinModel, removeModel, setKeepAlive, unloadModel } from './models.js';
import { pump } from './scheduler.js';
import { validatePoolOptions } from './spec.js';
import { PoolState, disposedError } from './state.js';
import { poolStatus } from './status.js';
import { createSwapHost } from './swap-host.js';
import { runSwap, type SwapHost, type SwapOptions, type SwapResult } from './swap/swap.js';
import type { AcquireOptions, Lease, ModelSpec, PoolEvent, PoolEventOf, PoolEventType, PoolOptions, PoolStatus } from './types.js';

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
  readonly #state: PoolState;
  readonly #swapHost: SwapHost;

  constructor(options: PoolOptions = {}) {
    const o = validatePoolOptions(options);
    this.#state = new PoolState(o, pump);
    this.#swapHost = createSwapHost(this.#state);
    for (const spec of o.models ?? []) this.define(spec);
  }

  // ---------------------------------------------------------------- models

  /**
   * Adds a model, or updates its spec. A change reaches a loaded model at its next load; use
   * {@link swapVersion} to change a loaded model without downtime.
   */
  define(spec: ModelSpec): void {
    defineModel(this.#state, spec);
  }

  /** Model ids the pool knows. */
  models(): string[] {
    return [...this.#state.entries.keys()];
  }

  /** Pins (never evicted, never unloaded for idleness) or unpins a model. */
  pin(modelId: string, pinned = true): void {
    pinModel(this.#state, modelId, pinned);
  }

  /**
   * Sets a model's keep-alive after its last release from now on, over its spec's and the pool's
   * (`undefined`: back to those): `0` unloads it once idle (at once if it is), negative keeps it. An idle
   * model's clock starts again. MODEL_NOT_FOUND for a model the pool does not know.
   */
  setKeepAlive(modelId: string, keepAliveMs: number | undefined): void {
    setKeepAlive(this.#state, modelId, keepAliveMs);
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
    await unloadModel(this.#state, modelId);
  }

  /** Unloads a model and forgets it; later acquires get MODEL_NOT_FOUND. */
  async remove(modelId: string): Promise<void> {
    await removeModel(this.#state, modelId);
  }

  // ---------------------------------------------------------------- leases

  /**
   * A lease on a ready model: loads it if needed (one load however many ask), waits in the
   * model's queue by priority, and resolves once the model has a free sequence and a CPU turn.
   * Rejects with QUEUE_FULL, TIMEOUT, ABORTED, INSUFFICIENT_MEMORY, MODEL_NOT_FOUND, LOAD_FAILED
   * or DISPOSED.
   */
  acquire(modelId: string, options?: AcquireOptions): Promise<Lease> {
    return acquireLease(this.#state, modelId, options);
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
    if (this.#state.disposed) return Promise.reject(disposedError());
    return this.#state.keepAliveHold.track(runSwap(this.#swapHost, modelId, { ...spec, id: modelId } as ModelSpec, options));
  }

  // ---------------------------------------------------------------- observation

  on<K extends PoolEventType>(type: K, listener: (event: PoolEventOf<K>) => void): () => void;
  on(type: '*', listener: (event: PoolEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    return this.#state.events.on(type as PoolEventType, listener as (event: PoolEvent) => void);
  }

  /** A snapshot of budgets, models, leases, queues and threads (like Ollama's /api/ps). */
  status(): PoolStatus {
    return poolStatus(this.#state);
  }

  get disposed(): boolean {
    return this.#state.disposed;
  }

  /** Resolves once budgets are known; acquire() waits for it on first use. */
  ready(): Promise<void> {
    return init(this.#state);
  }

  // ---------------------------------------------------------------- disposal

  /**
   * Rejects queued requests with DISPOSED, aborts loads in progress, and disposes every model
   * (waiting for in-flight generations unless `abort` is set). Idempotent.
   */
  dispose(options: { abort?: boolean } = {}): Promise<void> {
    const state = this.#state;
    if (state.disposing !== undefined) return state.disposing;
    state.disposed = true;
    state.disposing = state.keepAliveHold.track(disposeAll(state, options.abort === true));
    return state.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
