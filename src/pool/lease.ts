/**
 * Leases: a reference on a model's current instance (core/ref-slot.ts), taken when the pool grants
 * one and dropped by `release()`. A swap does not take a lease's instance away: it finishes on the
 * version it was granted.
 */

import type { SlotReference } from '../core/ref-slot.js';
import type { ModelHandle } from '../model/handle.js';
import { bumpUseScore } from './eviction.js';
import { updateRunning } from './running.js';
import { now, type Entry, type Instance, type PoolState } from './state.js';
import type { Lease } from './types.js';
import { clearKeepAlive, maybeIdle } from './unload.js';

class PoolLease implements Lease {
  readonly #state: PoolState;
  readonly #entry: Entry;
  #ref: SlotReference<Instance> | undefined;
  #lastInstance: Instance | undefined;

  constructor(
    state: PoolState,
    entry: Entry,
    ref: SlotReference<Instance>,
    readonly waitedMs: number,
    readonly signal: AbortSignal | undefined,
  ) {
    this.#state = state;
    this.#entry = entry;
    this.#ref = ref;
  }
  get #instance(): Instance {
    return this.#ref?.value ?? this.#lastInstance!;
  }
  get modelId(): string {
    return this.#entry.id;
  }
  get version(): string | undefined {
    return this.#instance.spec.version;
  }
  get model(): ModelHandle {
    return this.#instance.model;
  }
  get released(): boolean {
    return this.#ref === undefined;
  }
  release(): void {
    const ref = this.#ref;
    if (ref === undefined) return;
    this.#lastInstance = ref.value;
    this.#ref = undefined;
    releaseLease(this.#state, this.#entry, ref);
  }
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * Whether a lease on a ready model can be granted at once, with nobody ahead: a free sequence and,
 * for a local model, a CPU turn (acquire's fast path; otherwise the request queues).
 */
export function canGrantNow(state: PoolState, entry: Entry): boolean {
  return (
    entry.state === 'ready' &&
    entry.waiters.size === 0 &&
    entry.drainFor === undefined &&
    entry.pausedBy === 0 &&
    (!state.turnBlocked || !entry.usesCpu) &&
    entry.slot.currentRefs < entry.concurrency &&
    (entry.running || state.running < state.threadTotal || !entry.usesCpu)
  );
}

/** A lease on `entry`'s current instance; the caller has checked that it may have one now. */
export function grantLease(state: PoolState, entry: Entry, arrivedAt: number, signal: AbortSignal | undefined): Lease {
  const ref = entry.slot.acquire()!;
  const t = now();
  entry.uses++;
  entry.useScore = bumpUseScore(entry.useScore, entry.scoredAt, t, state.policy.halfLifeMs);
  entry.scoredAt = t;
  entry.lastUsedAt = t;
  if (entry.keepAliveTimer !== undefined) clearKeepAlive(entry);
  if (!entry.running) updateRunning(state, entry);
  return new PoolLease(state, entry, ref, arrivedAt === 0 ? 0 : t - arrivedAt, signal);
}

function releaseLease(state: PoolState, entry: Entry, ref: SlotReference<Instance>): void {
  ref.release();
  if (ref.value === entry.slot.current) {
    if (entry.slot.currentRefs === 0) {
      entry.lastReleasedAt = now();
      updateRunning(state, entry);
      if (entry.idleWaiters.length > 0) for (const resolve of entry.idleWaiters.splice(0)) resolve();
    }
  }
  if (state.disposed) return;
  state.pump();
  maybeIdle(state, entry);
}
