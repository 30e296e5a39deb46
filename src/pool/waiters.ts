/**
 * Waiting for a lease: a request joins its model's queue (queue.ts orders it by priority and age)
 * and leaves it granted (scheduler.ts), timed out, aborted, or failed with the model's load.
 */

import { ModelpoolError } from '../errors.js';
import { failJob } from './memory.js';
import { queueKey, type Priority } from './queue.js';
import { CANCELLED, Waiter, abortedError, disposedError, notFound, now, type Entry, type PoolState } from './state.js';
import type { Lease } from './types.js';
import { clearKeepAlive, maybeIdle } from './unload.js';

/** Queues a request for `entry` (QUEUE_FULL when its queue or the pool's is full). */
export function enqueue(state: PoolState, entry: Entry, priority: Priority, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<Lease> {
  if (state.disposed) return Promise.reject(disposedError());
  if (entry.removed) return Promise.reject(notFound(entry.id));
  const maxQueue = entry.spec.maxQueue ?? state.maxQueuePerModel;
  if (entry.waiters.size >= maxQueue || state.queued >= state.maxQueued) {
    const scope = entry.waiters.size >= maxQueue ? `model "${entry.id}" (${maxQueue})` : `the pool (${state.maxQueued})`;
    return Promise.reject(
      new ModelpoolError('QUEUE_FULL', `Queue full: ${scope} requests are already waiting`, {
        details: { modelId: entry.id, queued: entry.waiters.size, total: state.queued },
      }),
    );
  }
  if (signal?.aborted === true) return Promise.reject(abortedError(entry.id, signal, 'before it was queued'));
  return new Promise<Lease>((resolve, reject) => {
    const arrivedAt = now();
    const waiter = new Waiter(entry, queueKey(arrivedAt, priority, state.priorityStepMs), state.seq++, arrivedAt, signal, resolve, reject);
    entry.waiters.push(waiter);
    waiter.releaseHold = state.keepAliveHold.hold();
    state.queued++;
    clearKeepAlive(entry);
    if (timeoutMs !== undefined) {
      waiter.timer = setTimeout(() => {
        cancelWaiter(
          state,
          waiter,
          new ModelpoolError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for model "${entry.id}" (${entry.state})`, {
            details: { modelId: entry.id, state: entry.state, timeoutMs },
          }),
        );
      }, timeoutMs);
    }
    if (signal !== undefined) {
      waiter.onAbort = () => cancelWaiter(state, waiter, abortedError(entry.id, signal, 'while queued'));
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    emitQueue(state, entry);
    state.pump();
  });
}

export function emitQueue(state: PoolState, entry: Entry): void {
  if (state.events.wants('queue')) state.emit({ type: 'queue', modelId: entry.id, depth: entry.waiters.size, total: state.queued });
}

/** Takes a waiter out of the queue with an error (timeout, abort). */
function cancelWaiter(state: PoolState, waiter: Waiter, error: ModelpoolError): void {
  if (waiter.settled) return;
  const entry = waiter.entry;
  entry.waiters.cancel(waiter);
  settleWaiter(state, waiter, error);
  emitQueue(state, entry);
  if (entry.waiters.size === 0) {
    // Nobody waits any more: a load still waiting for memory is dropped (one already reading
    // the file goes on and the model stays, subject to its keep-alive).
    for (const job of [...state.jobs]) if (job.entry === entry && job.kind === 'load') failJob(state, job, CANCELLED);
    maybeIdle(state, entry);
  }
  state.pump();
}

/** Settles a waiter already out of the heap (or being drained from it). */
export function settleWaiter(state: PoolState, waiter: Waiter, error: unknown): void {
  if (waiter.settled) return;
  dequeued(state, waiter);
  waiter.reject(error);
}

/** Bookkeeping for a waiter that leaves the queue, granted or not. */
export function dequeued(state: PoolState, waiter: Waiter): void {
  waiter.settled = true;
  state.queued--;
  if (waiter.timer !== undefined) clearTimeout(waiter.timer);
  if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
  waiter.releaseHold();
}
