/** ModelPool.status(): a snapshot of budgets, models, leases, queues and threads (like Ollama's /api/ps). */

import { performance } from 'node:perf_hooks';
import { sumBytes } from './calibration.js';
import { loadsInFlight } from './memory.js';
import { bytesRecord, type PoolState } from './state.js';
import type { InstanceStatus, ModelStatus, PoolStatus } from './types.js';

/** Converts a performance.now() time to epoch ms for status output. */
const toEpoch = (t: number): number => Math.round(Date.now() - (performance.now() - t));

export function poolStatus(state: PoolState): PoolStatus {
  const used = state.used();
  const devices = new Set([...state.budgets.keys(), ...used.keys()]);
  const models: ModelStatus[] = [];
  let assigned = 0;
  for (const entry of state.entries.values()) {
    const current = entry.slot.current;
    const instances: InstanceStatus[] = [];
    for (const inst of [current, ...entry.retiring, ...entry.candidates]) {
      if (inst === undefined) continue;
      assigned += inst.assigned;
      instances.push({
        version: inst.spec.version,
        role: inst.role,
        architecture: inst.architecture,
        contextSize: inst.model.info.contextSize,
        parallel: inst.parallel,
        memory: bytesRecord(inst.reservation.bytes),
        measuredBytes: sumBytes(inst.reservation.bytes),
        reclaimableBytes: inst.local?.memory.reclaimable ?? 0,
        estimatedBytes: inst.estimatedBytes,
        estimateError: inst.estimateError,
        loadMs: inst.model.loadMs,
        leases: entry.slot.refs(inst),
        threads: inst.threads,
        loadedAt: inst.loadedAt,
      });
    }
    const status: ModelStatus = {
      id: entry.id,
      version: current?.spec.version ?? entry.spec.version,
      state: entry.state,
      pinned: entry.pinned,
      keepAliveMs: state.keepAliveOf(entry),
      expiresAt: entry.expiresAt,
      leases: entry.slot.currentRefs,
      queued: entry.waiters.size,
      concurrency: entry.concurrency,
      threads: current?.assigned ?? 0,
      sizeBytes: current === undefined ? 0 : sumBytes(current.reservation.bytes),
      draining: entry.drainFor !== undefined || entry.pausedBy > 0,
      swapping: entry.swapping,
      uses: entry.uses,
      lastUsedAt: entry.lastUsedAt === null ? null : toEpoch(entry.lastUsedAt),
      reloadMs: entry.reloadMs,
      instances,
    };
    if (entry.lastError !== undefined) status.lastError = { code: entry.lastError.code, message: entry.lastError.message };
    models.push(status);
  }
  return {
    devices: [...devices].map((device) => ({ device, budget: state.budgets.get(device), used: used.get(device) ?? 0 })),
    threads: { total: state.threadTotal, assigned, running: state.running },
    loadedModels: state.reservations.size,
    maxLoadedModels: Number.isFinite(state.maxLoaded) ? state.maxLoaded : null,
    queued: state.queued,
    loadsInFlight: loadsInFlight(state),
    models,
    calibration: state.calibrator.stats(),
    disposed: state.disposed,
  };
}
