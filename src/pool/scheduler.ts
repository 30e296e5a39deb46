/**
 * The scheduler. State changes funnel into one `pump()` that, in order, grants leases on loaded
 * models, starts loads for models with waiters, and gives memory to waiting loads (evicting or
 * draining other models). It is re-entrancy safe and runs after every event that can unblock
 * something (through `PoolState.pump()`), so no request waits on a condition nobody re-checks;
 * every wait is also bounded by a timer (the request's own deadline, the pool's `memoryWaitMs`,
 * `turnWaitMs`), so nothing deadlocks.
 */

import { grantLease } from './lease.js';
import { startNeededLoads } from './load.js';
import { processJobs, unloadDrainedVictims } from './memory.js';
import { now, type Entry, type PoolState } from './state.js';
import { dequeued, emitQueue } from './waiters.js';

export function pump(state: PoolState): void {
  if (state.disposed) return;
  if (state.pumping) {
    state.pumpAgain = true;
    return;
  }
  state.pumping = true;
  try {
    do {
      state.pumpAgain = false;
      grantWaiting(state);
      startNeededLoads(state);
      processJobs(state);
      unloadDrainedVictims(state);
    } while (state.pumpAgain && !state.disposed);
  } finally {
    state.pumping = false;
  }
}

/**
 * Grants leases on ready models in queue-key order across all models. A local model that has no
 * lease needs a CPU turn (at most `threads` models run at once); when the oldest waiter cannot
 * get one, granting stops for every local model so running ones drain and hand their turn over.
 * A model outside this process needs no turn.
 */
function grantWaiting(state: PoolState): void {
  const wasBlocked = state.turnBlocked;
  state.turnBlocked = false;
  try {
    grantInOrder(state);
  } finally {
    if (!state.turnBlocked) {
      state.turnBlockedSince = undefined;
      if (state.turnTimer !== undefined) clearTimeout(state.turnTimer);
      state.turnTimer = undefined;
    } else if (!wasBlocked || state.turnBlockedSince === undefined) {
      state.turnBlockedSince = now();
      state.turnTimer = setTimeout(() => {
        state.turnTimer = undefined;
        state.pump();
      }, state.turnWaitMs + 1);
      state.turnTimer.unref();
    }
  }
}

/**
 * A model waiting for a CPU turn longer than turnWaitMs gets one anyway: a lease held for a
 * long time (or a caller holding one model while it waits for another) must not stall the pool.
 * The budget is then exceeded until a running model releases; status() shows it.
 */
function turnWaitExpired(state: PoolState): boolean {
  return state.turnBlockedSince !== undefined && now() - state.turnBlockedSince >= state.turnWaitMs;
}

function grantInOrder(state: PoolState): void {
  if (state.queued === 0) return;
  const candidates: Entry[] = [];
  for (const e of state.entries.values()) {
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
    if (!entry.running && state.running >= state.threadTotal && entry.usesCpu && !turnWaitExpired(state)) {
      // Granting stops for every model that uses the CPU, so that running ones drain and hand their
      // turn over; models outside this process need no turn and are still served in order.
      state.turnBlocked = true;
      for (let i = candidates.length - 1; i >= 0; i--) if (candidates[i]!.usesCpu) candidates.splice(i, 1);
      continue;
    }
    const waiter = entry.waiters.pop()!;
    dequeued(state, waiter);
    waiter.resolve(grantLease(state, entry, waiter.arrivedAt, waiter.signal));
    emitQueue(state, entry);
    if (entry.waiters.size === 0) candidates.splice(best, 1);
  }
}
