/**
 * Retries of remote calls: exponential backoff with full jitter (a random delay up to base·2^attempt,
 * capped), and the server's Retry-After when it gives one — waited as said, unless it is longer than
 * `maxRetryAfterMs`, when the request fails at once with the figure in its details.
 */
import { ModelpoolError } from '../../errors.js';
import { optionalInteger, plainObject } from '../../validate.js';

export interface RetryOptions {
  /** Attempts after the first. Default 2 (LiteLLM's `num_retries`). */
  maxRetries?: number;
  /** Backoff base, ms. Default 250. */
  baseDelayMs?: number;
  /** Longest backoff, ms. Default 8000. */
  maxDelayMs?: number;
  /** Longest Retry-After that is waited; a longer one fails the request at once. Default 30 000. */
  maxRetryAfterMs?: number;
}

export type ResolvedRetry = Required<RetryOptions> & { random: () => number };

export function resolveRetry(options: RetryOptions | undefined, field: string, random: () => number = Math.random): ResolvedRetry {
  const o = options === undefined ? {} : plainObject(field, options);
  return {
    maxRetries: optionalInteger(`${field}.maxRetries`, o.maxRetries, 0, 20) ?? 2,
    baseDelayMs: optionalInteger(`${field}.baseDelayMs`, o.baseDelayMs, 0) ?? 250,
    maxDelayMs: optionalInteger(`${field}.maxDelayMs`, o.maxDelayMs, 0) ?? 8000,
    maxRetryAfterMs: optionalInteger(`${field}.maxRetryAfterMs`, o.maxRetryAfterMs, 0) ?? 30_000,
    random,
  };
}

/** The delay before retry number `attempt` (0-based), or undefined when Retry-After is too long to wait. */
export function retryDelay(retry: ResolvedRetry, attempt: number, retryAfterMs: number | undefined): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= retry.maxRetryAfterMs ? retryAfterMs : undefined;
  return Math.floor(retry.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt));
}

/** Waits `ms`, or rejects with ABORTED when `signal` fires first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ModelpoolError('ABORTED', 'aborted while waiting to retry', { cause: signal.reason }));
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(new ModelpoolError('ABORTED', 'aborted while waiting to retry', { cause: signal.reason }));
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
