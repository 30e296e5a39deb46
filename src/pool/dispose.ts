/** ModelPool.dispose(): every waiter and memory job fails with DISPOSED, loads are aborted, every instance is disposed. */

import { sumBytes } from './calibration.js';
import { failJob } from './memory.js';
import { disposedError, type Instance, type PoolState } from './state.js';
import { clearKeepAlive } from './unload.js';
import { settleWaiter } from './waiters.js';

/** Disposes everything the pool holds; `abort` ends in-flight generations rather than waiting for them. */
export async function disposeAll(state: PoolState, abort: boolean): Promise<void> {
  const error = disposedError();
  for (const entry of state.entries.values()) {
    clearKeepAlive(entry);
    for (const w of entry.waiters.drain()) settleWaiter(state, w, error);
    entry.loadAbort?.abort(error);
    for (const resolve of entry.idleWaiters.splice(0)) resolve();
  }
  for (const job of [...state.jobs]) failJob(state, job, error);
  if (state.turnTimer !== undefined) clearTimeout(state.turnTimer);
  await Promise.allSettled([...state.entries.values()].map((e) => e.loading));
  const instances: Instance[] = [];
  for (const entry of state.entries.values()) {
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
      state.reservations.delete(inst.reservation);
      state.emit({ type: 'unload', modelId: inst.entry.id, version: inst.spec.version, reason: 'dispose', bytes: sumBytes(inst.reservation.bytes), memoryConfirmed: true });
    }),
  );
  await Promise.allSettled([...state.entries.values()].map((e) => e.unloading));
  state.reservations.clear();
  state.events.clear();
}
