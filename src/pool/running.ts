/**
 * Which models are running — holding at least one lease — and each running instance's share of the
 * CPU thread budget (threads.ts does the arithmetic). Draining instances still finishing leases and
 * swap candidates being checked count as running too.
 */

import type { Entry, Instance, PoolState } from './state.js';
import { allocateThreads, type ThreadDemand } from './threads.js';
import type { ModelSpec } from './types.js';

/** Counts `entry` as running or not after its leases changed; rebalances threads when that flips. */
export function updateRunning(state: PoolState, entry: Entry): void {
  const running = entry.slot.currentRefs > 0;
  if (running === entry.running) return;
  entry.running = running;
  state.running += running ? 1 : -1;
  rebalanceThreads(state);
}

export function recountRunning(state: PoolState): void {
  let running = 0;
  for (const e of state.entries.values()) if (e.running) running++;
  state.running = running;
}

function threadUnits(state: PoolState): Array<ThreadDemand<Instance>> {
  const units: Array<ThreadDemand<Instance>> = [];
  const cap = (spec: ModelSpec): number => Math.min(spec.maxThreads ?? state.threadTotal, state.threadTotal);
  for (const e of state.entries.values()) {
    const current = e.slot.current;
    if (current !== undefined && e.running) units.push({ key: current, demand: e.slot.currentRefs + e.waiters.size, maxThreads: cap(current.spec) });
    for (const inst of e.retiring) if (!inst.unloading && e.slot.refs(inst) > 0) units.push({ key: inst, demand: e.slot.refs(inst), maxThreads: cap(inst.spec) });
    for (const inst of e.candidates) units.push({ key: inst, demand: 1, maxThreads: cap(inst.spec) });
  }
  return units;
}

/** Threads a model about to load gets, beside the instances running now. */
export function threadsForNew(state: PoolState, spec: ModelSpec): number {
  const marker = {} as Instance;
  const units = threadUnits(state);
  units.push({ key: marker, demand: 1, maxThreads: Math.min(spec.maxThreads ?? state.threadTotal, state.threadTotal) });
  return allocateThreads(state.threadTotal, units).get(marker) ?? 1;
}

/** Shares the thread budget among running instances and applies changes with setThreads(). */
export function rebalanceThreads(state: PoolState): void {
  const units = threadUnits(state);
  const allocation = allocateThreads(state.threadTotal, units);
  for (const e of state.entries.values()) {
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
  if (state.events.wants('threads')) {
    const assignments: Record<string, number> = {};
    for (const [inst, threads] of allocation) {
      const name = inst.role === 'current' ? inst.entry.id : `${inst.entry.id}@${inst.spec.version ?? inst.role}`;
      assignments[name] = (assignments[name] ?? 0) + threads;
    }
    state.emit({ type: 'threads', assignments, total: state.threadTotal });
  }
}
