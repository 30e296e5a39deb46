/**
 * The pool's side of a version swap: the {@link SwapHost} that swap/swap.ts drives. Each swap gets
 * a session on one model that loads candidates beside (or after) the current version, pauses and
 * drains the model's leases, and publishes a candidate atomically through the model's slot.
 */

import { ModelpoolError } from '../errors.js';
import { init, loadInstance } from './load.js';
import { reserve } from './memory.js';
import { resolveEntry } from './models.js';
import { planLoad } from './planner.js';
import { isRunning, rebalanceThreads, recountRunning } from './running.js';
import type { Entry, PoolState } from './state.js';
import type { SwapHost, SwapSession } from './swap/swap.js';
import { clearKeepAlive, maybeIdle, startUnload, unloadInstance } from './unload.js';

export function createSwapHost(state: PoolState): SwapHost {
  return {
    disposed: () => state.disposed,
    begin: async (modelId: string): Promise<SwapSession> => {
      state.checkOpen();
      const entry = state.lookup(modelId) ?? (await resolveEntry(state, modelId));
      if (entry.swapping) {
        throw new ModelpoolError('IN_USE', `A swap of model "${modelId}" is already in progress`, { details: { modelId } });
      }
      entry.swapping = true;
      clearKeepAlive(entry);
      await init(state);
      if (entry.loading !== undefined) await entry.loading;
      if (entry.unloading !== undefined) await entry.unloading;
      return swapSession(state, entry);
    },
  };
}

function swapSession(state: PoolState, entry: Entry): SwapSession {
  let paused = false;
  const session: SwapSession = {
    modelId: entry.id,
    get currentSpec() {
      return entry.spec;
    },
    get current() {
      return entry.state === 'ready' ? entry.slot.current?.model : undefined;
    },
    emit: (event) => state.emit(event),
    loadCandidate: async (spec, mode, signal) => {
      state.checkOpen();
      const plan = await planLoad(state, entry, spec, mode === 'beside');
      state.checkOpen();
      const reservation = await reserve(state, entry, plan.need, 'swap', mode !== 'beside');
      const inst = await loadInstance(state, entry, spec, plan, reservation, 'candidate', signal);
      entry.candidates.add(inst);
      rebalanceThreads(state);
      return inst.model;
    },
    discard: async (model, reason) => {
      const inst = [...entry.candidates].find((c) => c.model === model);
      if (inst === undefined) return;
      entry.candidates.delete(inst);
      await unloadInstance(state, inst, reason);
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
      state.pump();
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
      if (entry.state === 'ready') startUnload(state, entry, 'swap');
      await entry.unloading;
    },
    publish: (model, spec) => {
      const inst = [...entry.candidates].find((c) => c.model === model);
      if (inst === undefined) throw new ModelpoolError('ILLEGAL_TRANSITION', `Model "${entry.id}" has no such candidate to publish`);
      state.checkOpen();
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
            await unloadInstance(state, previous, 'swap');
          } finally {
            entry.retiring.delete(previous);
            state.pump();
          }
        });
      }
      // The old instance's leases no longer count as the model running; the new one has none yet.
      entry.running = isRunning(entry);
      recountRunning(state);
      rebalanceThreads(state);
      state.pump();
    },
    end: () => {
      session.resume();
      entry.swapping = false;
      for (const inst of [...entry.candidates]) void session.discard(inst.model, 'rollback');
      state.pump();
      maybeIdle(state, entry);
    },
  };
  return session;
}
