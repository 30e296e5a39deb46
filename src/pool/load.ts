/**
 * Loading: a model with waiters and no instance is planned (planner.ts), given memory (memory.ts)
 * and loaded by the provider; the measured memory of a local model calibrates later estimates.
 */

import { isLocalModel, type ModelHandle } from '../model/handle.js';
import { resolveBudgets } from './budget.js';
import { reportDevices, sumBytes } from './calibration.js';
import { chooseVictims, evictionCost } from './eviction.js';
import { reserve, victimCandidates } from './memory.js';
import { planLoad, type Plan } from './planner.js';
import { threadsForNew } from './running.js';
import { CANCELLED, abortedLoad, disposedError, now, wrapLoadError, type Entry, type Instance, type PoolState, type Reservation } from './state.js';
import type { ModelSpec } from './types.js';
import { maybeIdle, prefixKey, startUnload } from './unload.js';
import { settleWaiter } from './waiters.js';

/** Reads device memory once for the default budgets. */
export function init(state: PoolState): Promise<void> {
  if (state.initialized === undefined) {
    state.initialized = (async () => {
      const devices = state.provider.devices === undefined ? [] : await state.provider.devices();
      state.budgets = resolveBudgets(state.options.memory, devices);
    })();
  }
  return state.initialized;
}

export function startNeededLoads(state: PoolState): void {
  for (const entry of state.entries.values()) {
    if (entry.state === 'unloaded' && entry.waiters.size > 0 && entry.pausedBy === 0 && !entry.swapping) startLoad(state, entry);
  }
}

function startLoad(state: PoolState, entry: Entry): void {
  entry.state = 'estimating';
  const spec = entry.spec;
  const abort = new AbortController();
  entry.loadAbort = abort;
  entry.loading = state.keepAliveHold.track((async () => {
    try {
      await init(state);
      const plan = await planLoad(state, entry, spec, false);
      if (state.disposed) throw disposedError();
      if (entry.waiters.size === 0) throw CANCELLED;
      entry.state = 'waiting-for-memory';
      const reservation = await reserve(state, entry, plan.need, 'load', true);
      entry.state = 'loading';
      const instance = await loadInstance(state, entry, spec, plan, reservation, 'current', abort.signal);
      entry.slot.replace(instance);
      entry.state = 'ready';
      entry.lastError = undefined;
    } catch (error) {
      entry.state = 'unloaded';
      if (error !== CANCELLED) {
        const failure = abort.signal.aborted && !state.disposed ? abortedLoad(entry, abort.signal) : wrapLoadError(error, spec);
        if (!state.disposed) {
          entry.lastError = failure;
          state.emit({ type: 'load-failed', modelId: entry.id, version: spec.version, error: failure });
        }
        for (const w of entry.waiters.drain()) settleWaiter(state, w, failure);
      }
    } finally {
      entry.loading = undefined;
      entry.loadAbort = undefined;
      state.pump();
      maybeIdle(state, entry);
    }
  })());
}

/** Loads `spec` into `reservation` and measures it; the caller publishes the instance. */
export async function loadInstance(
  state: PoolState,
  entry: Entry,
  spec: ModelSpec,
  plan: Plan,
  reservation: Reservation,
  role: Instance['role'],
  signal: AbortSignal | undefined,
): Promise<Instance> {
  const threads = threadsForNew(state, spec);
  const estimatedBytes = sumBytes(plan.need);
  state.emit({ type: 'load', modelId: entry.id, version: spec.version, estimatedBytes, contextSize: plan.options.contextSize, gpuLayers: plan.options.gpuLayers, threads });
  let model: ModelHandle;
  try {
    // A load's progress reaches listeners of 'load-progress' (a CLI's progress bar, the dashboard).
    const onProgress = state.events.wants('load-progress') ? (progress: number) => state.emit({ type: 'load-progress', modelId: entry.id, version: spec.version, progress }) : undefined;
    const options = {
      ...plan.options,
      threads,
      ...(spec.mlock === undefined ? {} : { mlock: spec.mlock }),
      ...(spec.probe === undefined ? {} : { probe: spec.probe }),
      ...(onProgress === undefined ? {} : { onProgress }),
    };
    model = await state.provider.load(spec, signal === undefined ? options : { ...options, signal });
  } catch (error) {
    state.reservations.delete(reservation);
    throw error;
  } finally {
    reservation.loading = false;
  }
  if (state.disposed) {
    state.reservations.delete(reservation);
    await model.dispose({ abort: true }).catch(() => undefined);
    throw disposedError();
  }
  const local = isLocalModel(model) ? model : undefined;
  let estimateError = 0;
  let rawEstimateError = 0;
  if (local !== undefined) {
    // A local model's memory is measured: it becomes the reservation and teaches the calibration.
    const measured = local.memory;
    rawEstimateError = state.calibrator.record(plan.estimate.architecture, plan.estimate.memory, measured).rawError;
    reservation.bytes = reportDevices(measured);
    estimateError = measured.total > 0 ? (measured.total - estimatedBytes) / measured.total : 0;
  } else {
    // Nothing to measure: the model holds what its provider's estimate says (the calibration learned
    // from local models of the same architecture does not apply to it).
    reservation.bytes = reportDevices(plan.estimate.memory);
  }
  const instance: Instance = {
    entry,
    model,
    local,
    spec,
    architecture: plan.estimate.architecture,
    estimatedBytes,
    estimateError,
    reservation,
    loadedAt: Date.now(),
    parallel: Math.max(1, model.info.parallel),
    role,
    threads: local?.threads ?? 0,
    assigned: 0,
    unloading: false,
  };
  entry.reloadMs = entry.reloadMs === null ? model.loadMs : entry.reloadMs * 0.5 + model.loadMs * 0.5;
  await restorePrefixes(state, instance);
  state.emit({
    type: 'ready',
    modelId: entry.id,
    version: spec.version,
    loadMs: model.loadMs,
    estimatedBytes,
    measuredBytes: sumBytes(reservation.bytes),
    estimateError: instance.estimateError,
    rawEstimateError,
  });
  checkOverBudget(state, entry);
  return instance;
}

/** Puts the prefixes saved at this model version's last unload back into its sequences. */
async function restorePrefixes(state: PoolState, inst: Instance): Promise<void> {
  const restore = inst.local?.restoreState;
  if (!state.prefixes.enabled || restore === undefined) return;
  const states = await state.prefixes.take(prefixKey(inst)).catch(() => []);
  if (states.length === 0) return;
  let count = 0;
  let tokens = 0;
  let bytes = 0;
  let failed = 0;
  // Longest first, one per sequence: the rest would only push the first ones out again.
  for (const s of states.slice(0, inst.parallel)) {
    try {
      await restore.call(inst.local, s);
      count++;
      tokens += s.tokens.length;
      bytes += s.data.length;
    } catch {
      failed++;
    }
  }
  state.emit({ type: 'prefixes', modelId: inst.entry.id, version: inst.spec.version, action: 'restored', count, tokens, bytes, failed });
}

/** After a load measured more than estimated: report it, and evict idle models to get back under budget. */
function checkOverBudget(state: PoolState, entry: Entry): void {
  const used = state.used();
  for (const [device, budget] of state.budgets) {
    const u = used.get(device) ?? 0;
    if (u <= budget) continue;
    state.emit({ type: 'over-budget', modelId: entry.id, device, used: u, budget });
    const t = now();
    const choice = chooseVictims(victimCandidates(state, entry, false, Number.NEGATIVE_INFINITY, false), { bytes: new Map([[device, u - budget]]), models: 0 }, t, state.policy);
    for (const v of choice.victims) {
      if (v.item.state !== 'ready') continue;
      state.emit({ type: 'evict', modelId: v.item.id, version: v.item.slot.current?.spec.version, forModel: entry.id, reason: 'budget', bytes: sumBytes(v.bytes), cost: evictionCost(v, t, state.policy), busy: false });
      startUnload(state, v.item, 'budget');
    }
  }
}
