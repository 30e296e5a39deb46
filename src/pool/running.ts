/**
 * Which models are running — local models holding at least one lease — and each running instance's
 * share of the CPU thread budget (threads.ts does the arithmetic). Draining instances still finishing
 * leases and swap candidates being checked count as running too. A model without the local extension
 * (see isLocalModel()) uses no CPU threads of the pool: it never runs in this sense and gets no share.
 */

import type { Entry, Instance, PoolState } from './state.js';
import { shareThreads, type ThreadDemand } from './threads.js';
import type { ModelSpec } from './types.js';

/** Counts `entry` as running or not after its leases changed; rebalances threads when that flips. */
export function updateRunning(state: PoolState, entry: Entry): void {
  const running = isRunning(entry);
  if (running === entry.running) return;
  entry.running = running;
  state.running += running ? 1 : -1;
  rebalanceThreads(state);
}

/** Whether `entry` holds a CPU turn: its current instance is local and leased. */
export function isRunning(entry: Entry): boolean {
  return entry.slot.currentRefs > 0 && entry.usesCpu;
}

export function recountRunning(state: PoolState): void {
  let running = 0;
  for (const e of state.entries.values()) if (e.running) running++;
  state.running = running;
}

const NONE_RUNNING: ReadonlyArray<ThreadDemand<Instance>> = [];
const NO_SHARES: readonly number[] = [];

/** Running instances and their demand for threads; undefined when none runs (a release that stops the last one allocates nothing). */
function threadUnits(state: PoolState): Array<ThreadDemand<Instance>> | undefined {
  const total = state.threadTotal;
  let units: Array<ThreadDemand<Instance>> | undefined;
  for (const e of state.entries.values()) {
    const current = e.slot.current;
    if (current !== undefined && e.running) units = withUnit(units, current, e.slot.currentRefs + e.waiters.size, total);
    if (e.retiring.size > 0) for (const inst of e.retiring) if (inst.local !== undefined && !inst.unloading && e.slot.refs(inst) > 0) units = withUnit(units, inst, e.slot.refs(inst), total);
    if (e.candidates.size > 0) for (const inst of e.candidates) if (inst.local !== undefined) units = withUnit(units, inst, 1, total);
  }
  return units;
}

/** Adds a unit; the first makes an array literal of one, where a push into [] would reserve 17 slots. */
function withUnit(units: Array<ThreadDemand<Instance>> | undefined, key: Instance, demand: number, total: number): Array<ThreadDemand<Instance>> {
  const unit = { key, demand, maxThreads: threadCap(key.spec, total) };
  if (units === undefined) return [unit];
  units.push(unit);
  return units;
}

function threadCap(spec: ModelSpec, total: number): number {
  return Math.min(spec.maxThreads ?? total, total);
}

/** Threads a model about to load gets, beside the instances running now. */
export function threadsForNew(state: PoolState, spec: ModelSpec): number {
  const units: Array<ThreadDemand<unknown>> = threadUnits(state) ?? [];
  units.push({ key: spec, demand: 1, maxThreads: threadCap(spec, state.threadTotal) });
  return shareThreads(state.threadTotal, units).at(-1)!;
}

/**
 * Shares the thread budget among running (local) instances and applies changes with setThreads(). It runs
 * whenever a model starts or stops running, on most acquires and releases, so it allocates little:
 * garbage made on the lease path is what sets acquire()'s tail latency (see bench/pool.bench.ts).
 */
export function rebalanceThreads(state: PoolState): void {
  for (const e of state.entries.values()) {
    if (e.slot.current !== undefined) e.slot.current.assigned = 0;
    if (e.retiring.size > 0) for (const inst of e.retiring) inst.assigned = 0;
    if (e.candidates.size > 0) for (const inst of e.candidates) inst.assigned = 0;
  }
  const units = threadUnits(state) ?? NONE_RUNNING;
  const shares = units === NONE_RUNNING ? NO_SHARES : shareThreads(state.threadTotal, units);
  for (let i = 0; i < units.length; i++) {
    const inst = units[i]!.key;
    const threads = shares[i]!;
    inst.assigned = threads;
    const local = inst.local!; // only local instances are units
    if (inst.threads !== threads && !local.disposed) {
      try {
        local.setThreads(threads);
        inst.threads = threads;
      } catch {
        // A model being disposed refuses; it does not decode any more either.
      }
    }
  }
  if (state.events.wants('threads')) {
    const assignments: Record<string, number> = {};
    for (let i = 0; i < units.length; i++) {
      const inst = units[i]!.key;
      const name = inst.role === 'current' ? inst.entry.id : `${inst.entry.id}@${inst.spec.version ?? inst.role}`;
      assignments[name] = (assignments[name] ?? 0) + shares[i]!;
    }
    state.emit({ type: 'threads', assignments, total: state.threadTotal });
  }
}
