/**
 * Unloading: an instance is disposed and its memory reservation released once free memory really
 * came back; an idle model is unloaded when its keep-alive runs out.
 */

import type { DeviceMemoryInfo } from './budget.js';
import { sumBytes } from './calibration.js';
import type { DeviceBytes } from './eviction.js';
import { rebalanceThreads, updateRunning } from './running.js';
import { now, type Entry, type Instance, type PoolState } from './state.js';
import type { UnloadReason } from './types.js';

// ---------------------------------------------------------------- keep-alive

export function clearKeepAlive(entry: Entry): void {
  if (entry.keepAliveTimer !== undefined) clearTimeout(entry.keepAliveTimer);
  entry.keepAliveTimer = undefined;
  entry.expiresAt = null;
}

/** Starts the keep-alive clock when a model has become idle. */
export function maybeIdle(state: PoolState, entry: Entry): void {
  if (state.disposed || entry.state !== 'ready' || entry.pinned || entry.swapping || entry.keepAliveTimer !== undefined) return;
  if (entry.slot.currentRefs > 0 || entry.waiters.size > 0) return;
  const ttl = state.keepAliveOf(entry);
  if (ttl < 0) return;
  if (ttl === 0) {
    startUnload(state, entry, 'idle');
    return;
  }
  entry.expiresAt = Date.now() + ttl;
  entry.keepAliveTimer = setTimeout(() => {
    entry.keepAliveTimer = undefined;
    entry.expiresAt = null;
    if (entry.slot.currentRefs === 0 && entry.waiters.size === 0 && !entry.pinned && !entry.swapping) startUnload(state, entry, 'idle');
  }, ttl);
  entry.keepAliveTimer.unref();
}

// ---------------------------------------------------------------- unload

/** Takes a ready model's current instance out of service and unloads it once its leases are done. */
export function startUnload(state: PoolState, entry: Entry, reason: UnloadReason): void {
  const inst = entry.slot.current;
  if (inst === undefined || entry.state !== 'ready') return;
  entry.state = 'unloading';
  entry.drainFor = undefined;
  clearKeepAlive(entry);
  entry.slot.replace(undefined);
  inst.role = 'draining';
  updateRunning(state, entry);
  entry.unloading = state.keepAliveHold.track(
    unloadInstance(state, inst, reason).finally(() => {
      entry.unloading = undefined;
      entry.claimedBy?.victims.delete(entry);
      entry.claimedBy = undefined;
      if (entry.state === 'unloading') entry.state = 'unloaded';
      state.pump();
    }),
  );
}

/** The key of a model version's saved prefixes. */
export function prefixKey(inst: Pick<Instance, 'entry' | 'spec'>): string {
  return `${inst.entry.id}\0${inst.spec.version ?? ''}`;
}

/**
 * Keeps the KV state of a local model's cached sequences for its next load. Not when the pool is
 * going away or the version is being replaced (nothing would load it again); a failure only loses
 * the cache.
 */
async function savePrefixes(state: PoolState, inst: Instance, reason: UnloadReason): Promise<void> {
  const save = inst.local?.savePromptCache;
  if (!state.prefixes.enabled || save === undefined || reason === 'dispose' || reason === 'swap' || reason === 'rollback' || reason === 'remove') return;
  try {
    const states = await save.call(inst.local, state.prefixes.minTokens);
    const kept = await state.prefixes.save(prefixKey(inst), states);
    if (kept.count > 0) {
      const tokens = states.slice(0, kept.count).reduce((n, s) => n + s.tokens.length, 0);
      state.emit({ type: 'prefixes', modelId: inst.entry.id, version: inst.spec.version, action: 'saved', count: kept.count, tokens, bytes: kept.bytes, failed: 0 });
    }
  } catch {
    // The model is going away regardless; its prefixes are only a cache.
  }
}

/**
 * Disposes an instance, then confirms the memory is really back before its reservation is
 * released (re-reading free memory from the provider, bounded by confirmTimeoutMs).
 */
export async function unloadInstance(state: PoolState, inst: Instance, reason: UnloadReason): Promise<void> {
  if (inst.unloading) return;
  inst.unloading = true;
  inst.assigned = 0;
  const bytes = sumBytes(inst.reservation.bytes);
  let confirmed = true;
  try {
    const expected = expectedFreed(state, inst);
    await savePrefixes(state, inst, reason);
    const before = expected.size > 0 ? await readDevices(state) : undefined;
    await inst.model.dispose();
    if (before !== undefined) confirmed = await confirmFreed(state, inst, expected, before);
  } catch (error) {
    // dispose() is idempotent and should not fail; if it does, the memory is unaccounted for.
    confirmed = false;
    process.emitWarning(`modelpool: unloading model "${inst.entry.id}" failed: ${String(error)}`);
  } finally {
    state.reservations.delete(inst.reservation);
    state.emit({ type: 'unload', modelId: inst.entry.id, version: inst.spec.version, reason, bytes, memoryConfirmed: confirmed });
    rebalanceThreads(state);
  }
}

/** Bytes per device that free memory should regain; file-backed (mmap) weights do not count. */
function expectedFreed(state: PoolState, inst: Instance): DeviceBytes {
  const out: DeviceBytes = new Map();
  // Only a local model's memory is measured, and only a provider with devices() can show it back.
  if (state.provider.devices === undefined || inst.local === undefined) return out;
  const mmap = inst.spec.mmap !== false;
  for (const d of inst.local.memory.devices) {
    const bytes = d.total - (mmap && d.device === 'CPU' ? d.weights : 0);
    if (bytes >= state.confirmMinBytes) out.set(d.device, (out.get(d.device) ?? 0) + bytes);
  }
  return out;
}

async function readDevices(state: PoolState): Promise<Map<string, DeviceMemoryInfo>> {
  const list = await state.provider.devices!();
  return new Map(list.map((d) => [d.device, d]));
}

async function confirmFreed(state: PoolState, inst: Instance, expected: DeviceBytes, before: Map<string, DeviceMemoryInfo>): Promise<boolean> {
  const deadline = now() + state.confirmTimeoutMs;
  let last = before;
  for (;;) {
    let ok = true;
    for (const [device, bytes] of expected) {
      const b = before.get(device);
      const a = last.get(device);
      if (b !== undefined && a !== undefined && a.free - b.free < bytes * 0.5) ok = false;
    }
    if (ok) return true;
    if (now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
    last = await readDevices(state);
  }
  for (const [device, bytes] of expected) {
    const b = before.get(device);
    const a = last.get(device);
    if (b !== undefined && a !== undefined) state.emit({ type: 'memory-unconfirmed', modelId: inst.entry.id, device, expected: bytes, observed: a.free - b.free });
  }
  return false;
}
