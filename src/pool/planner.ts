/**
 * Load planning: how a model will load (estimate, GPU layers, context size) and whether it can fit
 * at all within the budgets once everything the pool may evict is gone.
 */

import { ModelpoolError } from '../errors.js';
import type { EstimateOptions } from '../model/types.js';
import { formatBytes } from './budget.js';
import type { DeviceBytes } from './eviction.js';
import { estimateOptionsOf } from './spec.js';
import { bytesRecord, type Entry, type PoolState } from './state.js';
import type { ModelEstimate, ModelSpec } from './types.js';

export interface Plan {
  options: EstimateOptions;
  estimate: ModelEstimate;
  /** The calibrated estimate: bytes to reserve per device. */
  need: DeviceBytes;
}

/**
 * Decides how to load: the estimate (calibrated) for the spec's options; if it cannot fit even
 * with everything evictable gone, fewer GPU layers (when gpuLayers is 'auto'), then a smaller
 * context (down to minContextSize); else INSUFFICIENT_MEMORY. `beside`: the model's own loaded
 * instance stays (a swap loads the new version next to it).
 */
export async function planLoad(state: PoolState, entry: Entry, spec: ModelSpec, beside: boolean): Promise<Plan> {
  const base = estimateOptionsOf(spec);
  const first = await estimateOnce(state, spec, base);
  const planFor = (options: EstimateOptions, estimate: ModelEstimate): Plan => ({
    options,
    estimate,
    need: state.calibrator.calibrate(estimate.architecture, estimate.memory),
  });
  let plan = planFor(base, first);
  if (feasible(state, entry, plan.need, beside)) return plan;

  const gpuShort = [...plan.need].some(([device, bytes]) => device !== 'CPU' && bytes > capacity(state, entry, device, beside));
  if ((spec.gpuLayers ?? 'auto') === 'auto' && gpuShort && first.layers !== undefined && first.layers > 0) {
    const layers = first.layers;
    for (const count of [Math.floor((layers * 3) / 4), Math.floor(layers / 2), Math.floor(layers / 4), 0]) {
      const options = { ...base, gpuLayers: count };
      const candidate = planFor(options, await estimateOnce(state, spec, options));
      if (feasible(state, entry, candidate.need, beside)) {
        state.emit({ type: 'gpu-layers-reduced', modelId: spec.id, requested: spec.gpuLayers, granted: count });
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
      const candidate = planFor(options, await estimateOnce(state, spec, options));
      if (feasible(state, entry, candidate.need, beside)) {
        state.emit({ type: 'context-shrunk', modelId: spec.id, requested, granted: context });
        return candidate;
      }
      plan = candidate;
    }
  }
  throw insufficient(state, entry, plan.need, beside);
}

/** The provider's estimate, once per source and options. */
function estimateOnce(state: PoolState, spec: ModelSpec, options: EstimateOptions): Promise<ModelEstimate> {
  const key = `${spec.source}\u0000${JSON.stringify(options)}`;
  let pending = state.estimates.get(key);
  if (pending === undefined) {
    pending = state.provider.estimate(spec, options);
    state.estimates.set(key, pending);
    pending.catch(() => state.estimates.delete(key));
  }
  return pending;
}

/** Bytes a model could ever get on a device: the budget minus what pinned (and, beside, the model's own) instances hold. */
function capacity(state: PoolState, entry: Entry, device: string, beside: boolean): number {
  const budget = state.budgets.get(device);
  if (budget === undefined) return Number.POSITIVE_INFINITY;
  let fixed = 0;
  for (const r of state.reservations) {
    if ((r.entry.pinned && r.entry !== entry) || (beside && r.entry === entry)) fixed += r.bytes.get(device) ?? 0;
  }
  return budget - fixed;
}

function feasible(state: PoolState, entry: Entry, need: DeviceBytes, beside: boolean): boolean {
  for (const [device, bytes] of need) if (bytes > capacity(state, entry, device, beside)) return false;
  let fixedModels = 0;
  const counted = new Set<Entry>();
  for (const r of state.reservations) {
    if ((r.entry.pinned && r.entry !== entry && !counted.has(r.entry)) || (beside && r.entry === entry)) {
      fixedModels++;
      counted.add(r.entry);
    }
  }
  return fixedModels + 1 <= state.maxLoaded;
}

/** INSUFFICIENT_MEMORY for `entry`: it can never fit, or (with `waitedMs`) busy models did not make room in time. */
export function insufficient(state: PoolState, entry: Entry, need: DeviceBytes, beside: boolean, waitedMs?: number): ModelpoolError {
  const parts = [...need].map(([device, bytes]) => {
    const budget = state.budgets.get(device);
    return `${device}: needs ${formatBytes(bytes)}${budget === undefined ? '' : ` of a ${formatBytes(budget)} budget (${formatBytes(capacity(state, entry, device, beside))} not pinned)`}`;
  });
  const reason = waitedMs === undefined ? 'does not fit even after evicting every unpinned model' : `waited ${Math.round(waitedMs)} ms for busy models to make room`;
  return new ModelpoolError('INSUFFICIENT_MEMORY', `Model "${entry.id}" ${reason} (${parts.join('; ')})`, {
    details: { modelId: entry.id, need: bytesRecord(need), budgets: bytesRecord(state.budgets), used: bytesRecord(state.used()), waitedMs },
  });
}
