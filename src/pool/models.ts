/**
 * The models a pool knows: defining them, resolving names it does not know (the `resolve` option),
 * acquiring leases on them, and unloading or removing them.
 */

import { ModelpoolError } from '../errors.js';
import { integer, nonEmptyString } from '../validate.js';
import { canGrantNow, grantLease } from './lease.js';
import { failJob } from './memory.js';
import { validateAcquireOptions, validateSpec } from './spec.js';
import { CANCELLED, Entry, abortedError, disposedError, notFound, type Instance, type PoolState } from './state.js';
import type { AcquireOptions, Lease, ModelSpec, UnloadReason } from './types.js';
import { clearKeepAlive, maybeIdle, startUnload } from './unload.js';
import { emitQueue, enqueue, settleWaiter } from './waiters.js';

/** Adds a model, or updates its spec (a loaded model gets it at its next load). */
export function defineModel(state: PoolState, spec: ModelSpec): void {
  state.checkOpen();
  const valid = validateSpec(spec);
  // A provider the pool does not have is the spec's error, now rather than at its first load.
  state.provider.of(valid);
  const entry = state.entries.get(valid.id);
  if (entry === undefined) {
    state.entries.set(valid.id, new Entry(valid));
    return;
  }
  entry.spec = valid;
  if (valid.pinned !== undefined) pinModel(state, valid.id, valid.pinned);
}

export function pinModel(state: PoolState, modelId: string, pinned: boolean): void {
  state.checkOpen();
  const entry = state.entry(modelId);
  entry.pinned = pinned;
  if (pinned) clearKeepAlive(entry);
  else maybeIdle(state, entry);
}

/**
 * Sets a model's keep-alive from now on (`undefined`: back to its spec's, else the pool's): an idle
 * model's clock starts again with it (0 unloads it now).
 */
export function setKeepAlive(state: PoolState, modelId: string, keepAliveMs: number | undefined): void {
  state.checkOpen();
  const ms = keepAliveMs === undefined ? undefined : integer('keepAliveMs', keepAliveMs, Number.MIN_SAFE_INTEGER);
  const entry = state.entry(modelId);
  entry.keepAliveOverride = ms;
  clearKeepAlive(entry);
  maybeIdle(state, entry);
}

/** The entry for a name the pool does not know yet, through the `resolve` option (one call per name at a time). */
export function resolveEntry(state: PoolState, modelId: string): Promise<Entry> {
  const resolver = state.options.resolve;
  if (resolver === undefined) return Promise.reject(notFound(modelId));
  let pending = state.resolving.get(modelId);
  if (pending === undefined) {
    pending = (async () => {
      try {
        const spec = await resolver(modelId);
        if (state.disposed) throw disposedError();
        if (spec === undefined) throw notFound(modelId);
        // The spec's id is the pool's key; the name asked for becomes an alias of it, so every
        // name of one registered model shares one loaded instance.
        const id = typeof spec.id === 'string' && spec.id.length > 0 ? spec.id : modelId;
        if (id !== modelId) state.aliases.set(modelId, id);
        const existing = state.entries.get(id);
        if (existing !== undefined) return existing;
        defineModel(state, { ...spec, id });
        return state.entries.get(id)!;
      } finally {
        state.resolving.delete(modelId);
      }
    })();
    state.resolving.set(modelId, pending);
  }
  return pending;
}

/** ModelPool.acquire: a lease at once when the model is ready and nobody is ahead, else a place in its queue. */
export function acquireLease(state: PoolState, modelId: string, options: AcquireOptions | undefined): Promise<Lease> {
  if (state.disposed) return Promise.reject(disposedError());
  let opts;
  try {
    nonEmptyString('modelId', modelId);
    opts = validateAcquireOptions(options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (opts.signal?.aborted === true) return Promise.reject(abortedError(modelId, opts.signal, 'before it was queued'));
  const entry = state.lookup(modelId);
  if (entry !== undefined) {
    if (canGrantNow(state, entry)) return Promise.resolve(grantLease(state, entry, 0, opts.signal));
    return enqueue(state, entry, opts.priority, opts.timeoutMs, opts.signal);
  }
  return resolveEntry(state, modelId).then((resolved) => enqueue(state, resolved, opts.priority, opts.timeoutMs, opts.signal));
}

/**
 * Unloads a model: queued requests get ABORTED, a load in progress is aborted, leases are waited
 * for (never cut short), then the current instance and any retiring ones are unloaded.
 */
async function unloadEntry(state: PoolState, entry: Entry, reason: UnloadReason): Promise<void> {
  const error = new ModelpoolError('ABORTED', `Model "${entry.id}" was unloaded (${reason}) while the request waited`, { details: { modelId: entry.id, reason } });
  for (const w of entry.waiters.drain()) settleWaiter(state, w, error);
  emitQueue(state, entry);
  for (const job of [...state.jobs]) if (job.entry === entry) failJob(state, job, job.kind === 'load' ? CANCELLED : error);
  entry.loadAbort?.abort(error);
  await entry.loading;
  if (entry.slot.currentRefs > 0) {
    entry.pausedBy++;
    try {
      await new Promise<void>((resolve) => entry.idleWaiters.push(resolve));
    } finally {
      entry.pausedBy--;
    }
  }
  if (state.disposed) return;
  if (entry.state === 'ready') startUnload(state, entry, reason);
  await entry.unloading;
  await Promise.all([...entry.retiring].map((inst) => waitRetired(state, entry, inst)));
}

function waitRetired(state: PoolState, entry: Entry, inst: Instance): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!entry.retiring.has(inst) || state.disposed) resolve();
      else setTimeout(check, 10).unref();
    };
    check();
  });
}

/** ModelPool.unload: unloads a model; later acquires load it again. */
export function unloadModel(state: PoolState, modelId: string): Promise<void> {
  state.checkOpen();
  const entry = state.entry(modelId);
  return state.keepAliveHold.track(unloadEntry(state, entry, 'explicit'));
}

/** Forgets a model (and the names that led to it), then unloads it. */
export function removeModel(state: PoolState, modelId: string): Promise<void> {
  state.checkOpen();
  const entry = state.entry(modelId);
  entry.removed = true;
  state.entries.delete(entry.id);
  for (const [name, id] of state.aliases) if (id === entry.id) state.aliases.delete(name);
  return state.keepAliveHold.track(unloadEntry(state, entry, 'remove'));
}
