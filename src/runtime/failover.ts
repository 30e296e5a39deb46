/**
 * Failover of the front door: its options, the record a result carries of the models it left, and the
 * errors of a request that failed over or found every breaker open.
 */
import { ModelpoolError, isModelpoolError } from '../errors.js';
import type { BreakersOptions } from '../health/index.js';
import { optionalInteger, optionalStringArray, plainObject } from '../validate.js';

/** The models a request left before the one that answered. */
export interface FailoverInfo {
  attempts: Array<{ model: string; version: string | undefined; error: { code: string; message: string } }>;
  /**
   * Skipped without a try: their circuit breaker was open, or (a fallback) the rate limits of its model
   * were spent; `retryAfterMs` until the breaker or the limit would let it run.
   */
  skipped: Array<{ model: string; version: string | undefined; retryAfterMs: number; reason: 'circuit-open' | 'rate-limited' }>;
}

/**
 * Failover: when a model fails before its first token (by no fault of the request), the next one is
 * tried — a named model's configured fallbacks, or a selection's next-best candidates. A circuit breaker
 * per pool model (closed / open / half-open) skips one that keeps failing.
 */
export interface FailoverOptions {
  /** Fallbacks of a named model (registry id or alias, or pool id), in order: local → remote, remote → local, across providers. */
  chains?: Record<string, string[]>;
  /** Next-best candidates a selected request may fall back to. Default 2. */
  selectedFallbacks?: number;
  /** Models tried per request at most (the first included). Default 3. */
  maxAttempts?: number;
  /** The breakers' options (defaults: open after 3 failures, 5 s cooldown, one half-open trial). */
  breakers?: BreakersOptions;
}

/** Failover options with defaults. */
export interface ResolvedFailover {
  chains: Map<string, string[]>;
  selectedFallbacks: number;
  maxAttempts: number;
}

export function failoverOf(options: FailoverOptions | undefined): ResolvedFailover {
  const o = options === undefined ? {} : plainObject('options.failover', options);
  const chains = new Map<string, string[]>();
  if (o.chains !== undefined) {
    for (const [name, list] of Object.entries(plainObject('options.failover.chains', o.chains))) {
      const fallbacks = optionalStringArray(`options.failover.chains.${name}`, list);
      if (fallbacks !== undefined) chains.set(name, fallbacks);
    }
  }
  return {
    chains,
    selectedFallbacks: optionalInteger('options.failover.selectedFallbacks', o.selectedFallbacks, 0, 100) ?? 2,
    maxAttempts: optionalInteger('options.failover.maxAttempts', o.maxAttempts, 1, 100) ?? 3,
  };
}

/** The error of a request that failed over, with the models it left (details.failover). */
export function withFailover(error: unknown, failover: FailoverInfo | undefined): unknown {
  if (failover === undefined || failover.attempts.length + failover.skipped.length === 0 || !isModelpoolError(error)) return error;
  const tried = failover.attempts.map((a) => a.model).join(', ');
  return new ModelpoolError(error.code, `${error.message} (after failing over from ${tried || 'models whose breakers were open'})`, {
    ...(error.field !== undefined ? { field: error.field } : {}),
    ...(error.value !== undefined ? { value: error.value } : {}),
    cause: error,
    details: { ...error.details, failover },
  });
}

/** Every candidate was skipped: the first one's breaker is open, and each fallback's too or its model's rate limits spent. */
export function circuitOpen(failover: FailoverInfo): ModelpoolError {
  const retryAfterMs = Math.min(...failover.skipped.map((s) => s.retryAfterMs));
  const models = failover.skipped.map((s) => (s.reason === 'circuit-open' ? s.model : `${s.model}: rate limited`)).join(', ');
  return new ModelpoolError('CIRCUIT_OPEN', `Every model for this request has an open circuit breaker or spent rate limits (${models}): retry in ${retryAfterMs} ms`, {
    details: { failover, retryAfterMs },
  });
}
