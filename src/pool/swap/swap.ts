/**
 * Zero-downtime version swaps.
 *
 * Strategy `beside` (the default when memory allows): the new version loads next to the old one
 * while the old keeps serving; it is warmed up, health-checked with a real generation and,
 * optionally, compared with the old one on a canary prompt set; then the model's slot switches to
 * it in one synchronous step. Leases taken before the switch finish on the old version, which is
 * unloaded when its last lease is released.
 *
 * Strategy `sequential` (when the new version does not fit beside the old, or when asked): new
 * requests are held in the model's queue (not refused), in-flight leases finish, the old version
 * is unloaded, the new one loaded and checked, and the queue resumes on it. If the new version
 * fails, the old spec stays and the held requests load the old version again.
 *
 * `cold` (the model was not loaded): the new version is loaded and checked before it becomes the
 * model's version, so a broken version is never installed.
 *
 * Any failure — load, health check, canary, abort — rolls back: the candidate is unloaded, the old
 * version keeps (or resumes) serving, a `rollback` event is emitted and the call rejects with
 * ROLLED_BACK (ABORTED when the caller's signal fired). No accepted request fails because of a
 * swap; requests held by `sequential` only wait.
 */

import { ModelpoolError, invalidArgument, isModelpoolError } from '../../errors.js';
import type { ModelHandle } from '../../model/handle.js';
import type { ModelSpec, PoolEvent, UnloadReason } from '../types.js';
import { validateSpec } from '../spec.js';
import { optionalInteger, optionalSignal, plainObject } from '../../validate.js';
import {
  compareCanary,
  healthCheck,
  measureCanaries,
  measureCanary,
  validateCanaryOptions,
  validateHealthOptions,
  type CanaryComparison,
  type CanaryMeasurement,
  type CanaryOptions,
  type HealthCheckOptions,
  type HealthReport,
} from './checks.js';

export type SwapStrategy = 'beside' | 'sequential' | 'cold';

export interface SwapOptions {
  /** 'auto' (default): beside when the new version fits next to the old, else sequential. */
  strategy?: 'auto' | 'beside' | 'sequential';
  /**
   * Warm-up before the switch. Default true: the health-check generation is the warm-up (it runs
   * the first decode, builds the graph, touches the weights). `{ prompt, maxTokens }` runs an extra
   * warm-up generation first; false skips it (the health check still runs).
   */
  warmup?: boolean | { prompt?: string; maxTokens?: number };
  healthCheck?: HealthCheckOptions;
  /** Compare the new version with the old one before switching (not in a cold swap). */
  canary?: CanaryOptions;
  /** Sequential only: how long to wait for in-flight leases before giving up. Default 30 000 ms. */
  drainTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface SwapResult {
  modelId: string;
  from: string | undefined;
  to: string | undefined;
  strategy: SwapStrategy;
  loadMs: number;
  health: HealthReport;
  canary: CanaryComparison | undefined;
  /** How long new requests were held (sequential only), ms. */
  pausedMs: number;
  totalMs: number;
}

/** One swap's view of the pool (the pool implements it in ../swap-host.ts). */
export interface SwapSession {
  readonly modelId: string;
  readonly currentSpec: ModelSpec;
  /** The version serving now; undefined when the model is not loaded. */
  readonly current: ModelHandle | undefined;
  /**
   * Reserves memory and loads `spec` as a candidate. 'beside' keeps the current version and may
   * only evict idle models (INSUFFICIENT_MEMORY otherwise); the other modes may wait for busy ones.
   */
  loadCandidate(spec: ModelSpec, mode: 'beside' | 'after-unload' | 'cold', signal?: AbortSignal): Promise<ModelHandle>;
  discard(candidate: ModelHandle, reason: UnloadReason): Promise<void>;
  /** Holds new leases in the queue. */
  pause(): void;
  resume(): void;
  /** Waits until the current version has no leases (TIMEOUT after `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
  unloadCurrent(): Promise<void>;
  /** Makes the candidate the current version atomically; the old one drains then unloads. */
  publish(candidate: ModelHandle, spec: ModelSpec): void;
  /** Ends the session (resumes, drops leftover candidates). */
  end(): void;
  emit(event: PoolEvent): void;
}

export interface SwapHost {
  disposed(): boolean;
  /** Starts a swap on `modelId` (MODEL_NOT_FOUND; IN_USE while another swap runs). */
  begin(modelId: string): Promise<SwapSession>;
}

interface ValidSwapOptions {
  strategy: 'auto' | 'beside' | 'sequential';
  /** An extra generation before the health check, or none. */
  warmup: false | { prompt: string; maxTokens: number };
  healthCheck: HealthCheckOptions;
  canary: CanaryOptions | undefined;
  drainTimeoutMs: number;
  signal: AbortSignal | undefined;
}

export function validateSwapOptions(value: unknown): ValidSwapOptions {
  const o = (value === undefined ? {} : plainObject('options', value)) as SwapOptions;
  const strategy = o.strategy ?? 'auto';
  if (strategy !== 'auto' && strategy !== 'beside' && strategy !== 'sequential') {
    throw invalidArgument('options.strategy', '"auto", "beside" or "sequential"', o.strategy);
  }
  // Every swap health-checks with a real generation, which is also the warm-up; a separate warm-up
  // generation would only add CPU work while the old version is serving.
  let warmup: ValidSwapOptions['warmup'] = false;
  if (typeof o.warmup === 'object' && o.warmup !== null) {
    if (o.warmup.prompt !== undefined && typeof o.warmup.prompt !== 'string') throw invalidArgument('options.warmup.prompt', 'a string', o.warmup.prompt);
    warmup = { prompt: o.warmup.prompt ?? 'Once upon a time', maxTokens: optionalInteger('options.warmup.maxTokens', o.warmup.maxTokens, 1) ?? 4 };
  } else if (o.warmup !== undefined && typeof o.warmup !== 'boolean') throw invalidArgument('options.warmup', 'a boolean or { prompt, maxTokens }', o.warmup);
  return {
    strategy,
    warmup,
    healthCheck: validateHealthOptions(o.healthCheck),
    canary: validateCanaryOptions(o.canary),
    drainTimeoutMs: optionalInteger('options.drainTimeoutMs', o.drainTimeoutMs, 0) ?? 30_000,
    signal: optionalSignal('options.signal', o.signal),
  };
}

type RollbackReason = 'load-failed' | 'health-check' | 'canary' | 'aborted';

class Rollback extends Error {
  constructor(
    readonly reason: RollbackReason,
    readonly error: ModelpoolError,
    readonly health?: HealthReport,
    readonly canary?: CanaryComparison,
  ) {
    super(error.message);
  }
}

function asError(error: unknown, fallback: string): ModelpoolError {
  return isModelpoolError(error) ? error : new ModelpoolError('LOAD_FAILED', `${fallback}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Runs one swap on the host. See the module comment for the strategies. */
export async function runSwap(host: SwapHost, modelId: string, specInput: ModelSpec, options?: SwapOptions): Promise<SwapResult> {
  const spec = validateSpec(specInput);
  const opts = validateSwapOptions(options);
  const { signal } = opts;
  if (signal?.aborted === true) throw new ModelpoolError('ABORTED', `Swap of model "${modelId}" was aborted before it started`, { cause: signal.reason });
  const started = performance.now();
  const session = await host.begin(modelId);
  const from = session.currentSpec.version;
  const to = spec.version;
  let strategy: SwapStrategy = session.current === undefined ? 'cold' : opts.strategy === 'sequential' ? 'sequential' : 'beside';
  let candidate: ModelHandle | undefined;
  let pausedAt: number | undefined;
  let baseline: CanaryMeasurement | undefined;

  const checkAbort = (): void => {
    if (signal?.aborted === true) {
      throw new Rollback('aborted', new ModelpoolError('ABORTED', `Swap of model "${modelId}" was aborted`, { cause: signal.reason }));
    }
  };
  const load = async (mode: 'beside' | 'after-unload' | 'cold'): Promise<ModelHandle> => {
    try {
      return await session.loadCandidate(spec, mode, signal);
    } catch (error) {
      if (host.disposed()) throw error;
      if (signal?.aborted === true) checkAbort();
      throw new Rollback('load-failed', asError(error, `Version ${to ?? '(unnamed)'} of model "${modelId}" failed to load`));
    }
  };

  try {
    if (strategy === 'beside') {
      try {
        candidate = await session.loadCandidate(spec, 'beside', signal);
      } catch (error) {
        if (host.disposed()) throw error;
        checkAbort();
        if (!(opts.strategy === 'auto' && isModelpoolError(error, 'INSUFFICIENT_MEMORY'))) {
          throw new Rollback('load-failed', asError(error, `Version ${to ?? '(unnamed)'} of model "${modelId}" failed to load`));
        }
        strategy = 'sequential';
      }
    }
    if (strategy === 'sequential') {
      const old = session.current!;
      // The baseline is measured before requests are held, so the pause stays short.
      if (opts.canary !== undefined) baseline = await measureCanary(old, opts.canary, signal);
      checkAbort();
      session.pause();
      pausedAt = performance.now();
      await session.drain(opts.drainTimeoutMs);
      checkAbort();
      await session.unloadCurrent();
      candidate = await load('after-unload');
    }
    if (strategy === 'cold') candidate = await load('cold');
    const model = candidate!;

    checkAbort();
    if (opts.warmup !== false) {
      try {
        await model.complete({ prompt: opts.warmup.prompt, maxTokens: opts.warmup.maxTokens, temperature: 0, ...(signal === undefined ? {} : { signal }) });
      } catch (error) {
        checkAbort();
        const failure = asError(error, 'The warm-up generation failed');
        throw new Rollback('health-check', failure, { ok: false, ms: 0, text: '', generatedTokens: 0, error: failure });
      }
    }
    checkAbort();
    const health = await healthCheck(model, opts.healthCheck, signal);
    checkAbort();
    if (!health.ok) throw new Rollback('health-check', health.error!, health);

    let canary: CanaryComparison | undefined;
    if (opts.canary !== undefined && strategy !== 'cold') {
      let measured: CanaryMeasurement;
      if (baseline === undefined) {
        // Beside: both versions are loaded, so their runs are interleaved (see measureCanaries).
        [baseline, measured] = (await measureCanaries([session.current!, model], opts.canary, signal)) as [CanaryMeasurement, CanaryMeasurement];
      } else {
        measured = await measureCanary(model, opts.canary, signal);
      }
      canary = compareCanary(baseline, measured, opts.canary);
      if (!canary.pass) {
        throw new Rollback(
          'canary',
          new ModelpoolError('GENERATION_FAILED', `Version ${to ?? '(unnamed)'} of model "${modelId}" failed the canary: ${canary.reasons.join('; ')}`, { details: { canary } }),
          health,
          canary,
        );
      }
    }
    checkAbort();
    session.publish(model, spec);
    const pausedMs = pausedAt === undefined ? 0 : performance.now() - pausedAt;
    session.resume();
    session.emit({ type: 'swap', modelId, from, to, strategy, pausedMs });
    return { modelId, from, to, strategy, loadMs: model.loadMs, health, canary, pausedMs, totalMs: performance.now() - started };
  } catch (error) {
    if (candidate !== undefined) await session.discard(candidate, 'rollback').catch(() => undefined);
    if (host.disposed()) throw new ModelpoolError('DISPOSED', `The pool was disposed during the swap of model "${modelId}"`, { cause: error });
    if (!(error instanceof Rollback)) throw error;
    session.emit({ type: 'rollback', modelId, from, to, reason: error.reason, error: error.error });
    if (error.reason === 'aborted') throw error.error;
    throw new ModelpoolError('ROLLED_BACK', `Swap of model "${modelId}" to version ${to ?? '(unnamed)'} was rolled back (${error.reason}): ${error.error.message}`, {
      cause: error.error,
      details: { modelId, from, to, reason: error.reason, strategy, health: error.health, canary: error.canary },
    });
  } finally {
    session.end();
  }
}
