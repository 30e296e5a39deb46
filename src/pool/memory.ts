/**
 * Memory jobs: a load or swap that needs memory waits here as a job until it can reserve its bytes,
 * evicting idle models (cheapest expected reload cost per byte first) or, after `swapDelayMs`,
 * draining busy ones. Every wait is bounded by `memoryWaitMs`.
 */

import { sumBytes } from './calibration.js';
import { chooseVictims, evictionCost, type DeviceBytes, type EvictionCandidate, type EvictionNeed } from './eviction.js';
import { insufficient } from './planner.js';
import { queueKey } from './queue.js';
import { now, type Entry, type MemoryJob, type PoolState, type Reservation } from './state.js';
import { startUnload } from './unload.js';

/** Waits until `need` is reserved for `entry` (evicting or draining others), bounded by memoryWaitMs. */
export function reserve(state: PoolState, entry: Entry, need: DeviceBytes, kind: 'load' | 'swap', allowBusy: boolean): Promise<Reservation> {
  return new Promise<Reservation>((resolve, reject) => {
    const createdAt = now();
    const job: MemoryJob = {
      entry,
      need,
      kind,
      createdAt,
      allowBusy,
      // A swap goes ahead of ordinary loads: its requests are already being served.
      fixedKey: kind === 'swap' ? queueKey(createdAt, 'high', state.priorityStepMs) : undefined,
      victims: new Set(),
      resolve,
      reject,
      timer: undefined,
      wakeTimer: undefined,
      releaseHold: state.keepAliveHold.hold(),
      done: false,
    };
    job.timer = setTimeout(() => failJob(state, job, insufficient(state, entry, need, false, now() - createdAt)), state.memoryWaitMs);
    job.timer.unref();
    state.jobs.add(job);
    state.pump();
  });
}

function jobKey(job: MemoryJob): number {
  if (job.fixedKey !== undefined) return job.fixedKey;
  const head = job.entry.headKey();
  return Number.isFinite(head) ? head : job.createdAt;
}

function endJob(state: PoolState, job: MemoryJob): boolean {
  if (job.done) return false;
  job.done = true;
  state.jobs.delete(job);
  job.releaseHold();
  if (job.timer !== undefined) clearTimeout(job.timer);
  if (job.wakeTimer !== undefined) clearTimeout(job.wakeTimer);
  for (const victim of job.victims) {
    if (victim.drainFor === job) victim.drainFor = undefined;
    if (victim.claimedBy === job && victim.state !== 'unloading') victim.claimedBy = undefined;
  }
  return true;
}

export function failJob(state: PoolState, job: MemoryJob, error: unknown): void {
  if (!endJob(state, job)) return;
  job.reject(error);
  // Victims released from draining can serve again.
  if (!state.disposed) queueMicrotask(() => state.pump());
}

export function loadsInFlight(state: PoolState): number {
  let n = 0;
  for (const r of state.reservations) if (r.loading) n++;
  return n;
}

/**
 * Gives memory to waiting loads in key order. A job that fits takes its reservation; one that
 * does not evicts idle models (cheapest expected reload cost per byte first); if only busy
 * models could make room, it waits until its oldest request has waited `swapDelayMs` — so
 * requests for loaded models are served first and two models do not thrash — then drains them.
 */
export function processJobs(state: PoolState): void {
  if (state.jobs.size === 0) return;
  const jobs = [...state.jobs].sort((a, b) => jobKey(a) - jobKey(b));
  const t = now();
  for (const job of jobs) {
    if (job.done) continue;
    if (loadsInFlight(state) >= state.maxConcurrentLoads) return;
    const short = shortfall(state, job.need);
    if (short === undefined) {
      const reservation: Reservation = { entry: job.entry, bytes: new Map(job.need), loading: true };
      state.reservations.add(reservation);
      endJob(state, job);
      job.resolve(reservation);
      continue;
    }
    // Memory already on its way back from this job's victims.
    for (const v of job.victims) {
      const inst = v.slot.current;
      if (inst === undefined && v.state !== 'unloading') continue;
      short.models--;
      const reservation = inst?.reservation ?? unloadingReservation(state, v);
      for (const [d, b] of reservation?.bytes ?? []) short.bytes.set(d, (short.bytes.get(d) ?? 0) - b);
    }
    if (!hasShortfall(short)) continue;
    const key = jobKey(job);
    const idle = chooseVictims(victimCandidates(state, job.entry, false, key), short, t, state.policy);
    if (idle.covers) {
      for (const v of idle.victims) claim(state, job, v, short, t);
      continue;
    }
    if (!job.allowBusy) {
      failJob(state, job, insufficient(state, job.entry, job.need, true));
      continue;
    }
    const any = chooseVictims(victimCandidates(state, job.entry, true, key), short, t, state.policy);
    if (!any.covers) continue; // others' loads, drains or claims hold the memory; the job timer bounds the wait
    const waited = t - key;
    if (waited >= state.swapDelayMs) {
      for (const v of any.victims) claim(state, job, v, short, t);
    } else if (job.wakeTimer === undefined) {
      job.wakeTimer = setTimeout(() => {
        job.wakeTimer = undefined;
        state.pump();
      }, state.swapDelayMs - waited + 1);
      job.wakeTimer.unref();
    }
  }
}

function unloadingReservation(state: PoolState, entry: Entry): Reservation | undefined {
  for (const r of state.reservations) if (r.entry === entry) return r;
  return undefined;
}

/** Missing bytes per device and models over the count limit, or undefined when `need` fits now. */
function shortfall(state: PoolState, need: DeviceBytes): EvictionNeed | undefined {
  const used = state.used();
  const bytes: DeviceBytes = new Map();
  let any = false;
  for (const [device, b] of need) {
    const budget = state.budgets.get(device);
    if (budget === undefined) continue;
    const missing = (used.get(device) ?? 0) + b - budget;
    if (missing > 0) {
      bytes.set(device, missing);
      any = true;
    }
  }
  const models = Math.max(0, state.reservations.size + 1 - state.maxLoaded);
  if (!any && models === 0) return undefined;
  return { bytes, models };
}

function hasShortfall(need: EvictionNeed): boolean {
  if (need.models > 0) return true;
  for (const b of need.bytes.values()) if (b > 0) return true;
  return false;
}

/**
 * Models that may be evicted for `exclude`: ready, not pinned, not swapping, not claimed; busy
 * ones only when asked, and never one whose oldest waiter is older than `olderThan` (it is ahead
 * in line). Busy means leases or waiters — or a release within the last swapDelayMs: a model
 * used back to back is idle only for an instant between requests, and evicting it then is how
 * two models thrash.
 */
export function victimCandidates(state: PoolState, exclude: Entry, includeBusy: boolean, olderThan: number, protectRecent = true): Array<EvictionCandidate<Entry>> {
  const out: Array<EvictionCandidate<Entry>> = [];
  const t = now();
  const recent = protectRecent ? state.swapDelayMs : 0;
  for (const e of state.entries.values()) {
    if (e === exclude || e.state !== 'ready' || e.pinned || e.swapping || e.claimedBy !== undefined) continue;
    const inst = e.slot.current!;
    const busy = e.slot.currentRefs > 0 || e.waiters.size > 0 || t - e.lastReleasedAt < recent;
    if (busy && (!includeBusy || e.headKey() < olderThan)) continue;
    out.push({
      item: e,
      bytes: inst.reservation.bytes,
      reloadMs: e.reloadMs ?? inst.model.loadMs,
      useScore: e.useScore,
      scoredAt: e.scoredAt,
      keepAliveMs: state.keepAliveOf(e),
      busy,
    });
  }
  return out;
}

function claim(state: PoolState, job: MemoryJob, candidate: EvictionCandidate<Entry>, short: EvictionNeed, t: number): void {
  const victim = candidate.item;
  victim.claimedBy = job;
  job.victims.add(victim);
  state.emit({
    type: 'evict',
    modelId: victim.id,
    version: victim.slot.current?.spec.version,
    forModel: job.entry.id,
    reason: [...short.bytes.values()].some((b) => b > 0) ? 'memory' : 'max-models',
    bytes: sumBytes(candidate.bytes),
    cost: evictionCost(candidate, t, state.policy),
    busy: candidate.busy,
  });
  if (candidate.busy) victim.drainFor = job;
  else startUnload(state, victim, 'evict');
}

/** Unloads models drained for a memory job once their last lease is released. */
export function unloadDrainedVictims(state: PoolState): void {
  for (const e of state.entries.values()) {
    if (e.drainFor !== undefined && e.state === 'ready' && e.slot.currentRefs === 0) startUnload(state, e, 'evict');
  }
}
