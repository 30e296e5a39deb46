/**
 * Failover over an ordered chain of candidates (keys): the first whose breaker admits a request runs;
 * when it fails by no fault of the caller, the next is tried. Outcomes feed the breakers (and a
 * tracker), so a failing candidate is soon skipped without being tried.
 *
 * Streaming: `run` must throw before it yields its first token for failover to move on. Once output
 * has reached the caller, a failure is the caller's to handle (the front door does).
 */
import { abortedError } from '../core/concurrency.js';
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import { integer, onlyKnownKeys, optionalInteger, optionalSignal, optionalStringArray, plainObject } from '../validate.js';
import { Breakers } from './breakers.js';
import { runBounded } from './bounded.js';
import { isCallerFault, summarizeError } from './classify.js';
import { functionOption } from './options.js';
import { HealthTracker } from './tracker.js';
import type { FailoverAttempt, FailoverOptions, FailoverResult, SkippedCandidate } from './types.js';

/**
 * Runs `run(key, signal)` for the candidates of `chain` in order until one succeeds, and returns its
 * value with the key and every attempt. A candidate whose breaker refuses (open, or half-open with its
 * trial places taken) is skipped. Throws:
 * - the error itself, at once, when it is the caller's fault (`options.isCallerFault`);
 * - ABORTED when `options.signal` aborts (the attempt's signal aborts too);
 * - CIRCUIT_OPEN when every candidate was skipped: details `{ candidates: [{ key, state, retryAfterMs }], retryAfterMs }`
 *   (the soonest any of them admits a request);
 * - when every attempt failed: an error with the last failure's code (PROVIDER_ERROR for an error that
 *   is not a ModelpoolError), listing each, details `{ ...last failure's details, attempts, skipped }`, cause the last failure;
 * - INVALID_ARGUMENT naming `chain`, `run` or `options.*`.
 */
export async function failover<T>(
  chain: readonly string[],
  run: (key: string, signal: AbortSignal) => Promise<T>,
  options: FailoverOptions,
): Promise<FailoverResult<T>> {
  const candidates = optionalStringArray('chain', chain);
  if (candidates === undefined || candidates.length === 0) throw invalidArgument('chain', 'a non-empty array of keys', chain);
  if (typeof run !== 'function') throw invalidArgument('run', 'a function (key, signal) => Promise', run);
  const o = plainObject('options', options);
  onlyKnownKeys('options', o, ['breakers', 'tracker', 'maxAttempts', 'attemptTimeoutMs', 'signal', 'isCallerFault']);
  const { breakers, tracker } = options;
  if (!(breakers instanceof Breakers)) throw invalidArgument('options.breakers', 'a Breakers collection', breakers);
  if (tracker !== undefined && !(tracker instanceof HealthTracker)) throw invalidArgument('options.tracker', 'a HealthTracker', tracker);
  const maxAttempts = integer('options.maxAttempts', options.maxAttempts ?? candidates.length, 1, Number.MAX_SAFE_INTEGER);
  const attemptTimeoutMs = optionalInteger('options.attemptTimeoutMs', options.attemptTimeoutMs, 1, 86_400_000);
  const signal = optionalSignal('options.signal', options.signal);
  const callerFault = functionOption('options.isCallerFault', options.isCallerFault, isCallerFault, 'a function (error) => boolean');
  if (signal?.aborted === true) throw abortedError(signal, 'before it started', 'Failover');

  const attempts: FailoverAttempt[] = [];
  const skipped: SkippedCandidate[] = [];
  let lastError: unknown;
  for (const key of candidates) {
    if (attempts.length >= maxAttempts) break;
    const breaker = breakers.get(key);
    const permit = breaker.tryAcquire();
    if (permit === undefined) {
      skipped.push({ key, state: breaker.state, retryAfterMs: breaker.retryAfterMs() });
      continue;
    }
    const started = performance.now();
    const attempt = runBounded((attemptSignal) => run(key, attemptSignal), {
      ...(attemptTimeoutMs === undefined ? {} : { timeoutMs: attemptTimeoutMs }),
      ...(signal === undefined ? {} : { signal }),
      timeoutError: () => new ModelpoolError('TIMEOUT', `"${key}" did not answer within ${attemptTimeoutMs} ms`, { details: { key, timeoutMs: attemptTimeoutMs } }),
      abortError: () => abortedError(signal!, `while "${key}" ran`, 'The request'),
    });
    try {
      const value = await attempt.result;
      const ms = performance.now() - started;
      permit.success(ms);
      tracker?.success(key, ms);
      attempts.push({ key, ms });
      return { value, key, attempts, skipped };
    } catch (error) {
      const ms = performance.now() - started;
      // runBounded fails the attempt with ABORTED as soon as the caller's signal aborts.
      if (aborted(signal)) {
        permit.release();
        throw error;
      }
      if (judgedCallerFault(callerFault, error)) {
        permit.release();
        throw error;
      }
      if (permit.failure(error)) tracker?.failure(key, error);
      attempts.push({ key, error: summarizeError(error), ms });
      lastError = error;
    }
  }
  if (attempts.length === 0) throw allRefused(skipped);
  throw exhausted(lastError, attempts, skipped);
}

/** Whether the caller's signal has aborted (a function, so the check is not narrowed away across an await). */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** The caller's classifier; one that throws is read as "not the caller's fault", so the request still fails over. */
function judgedCallerFault(classify: (error: unknown) => boolean, error: unknown): boolean {
  try {
    return classify(error) === true;
  } catch {
    return false;
  }
}

function allRefused(skipped: SkippedCandidate[]): ModelpoolError {
  const retryAfterMs = Math.min(...skipped.map((s) => s.retryAfterMs));
  const listed = skipped.map((s) => `"${s.key}" (${s.state}, retry in ${s.retryAfterMs} ms)`).join(', ');
  return new ModelpoolError('CIRCUIT_OPEN', `Every candidate's circuit breaker refused the request: ${listed}`, {
    details: { candidates: skipped.map((s) => ({ ...s })), retryAfterMs },
  });
}

function exhausted(last: unknown, attempts: FailoverAttempt[], skipped: SkippedCandidate[]): ModelpoolError {
  const code = isModelpoolError(last) ? last.code : 'PROVIDER_ERROR';
  const tried = attempts.map((a) => `"${a.key}" (${a.error!.code}: ${a.error!.message})`).join('; ');
  const refused = skipped.length === 0 ? '' : `; skipped ${skipped.map((s) => `"${s.key}" (${s.state})`).join(', ')}`;
  const what = attempts.length === 1 ? 'The only candidate tried failed' : `All ${attempts.length} candidates tried failed`;
  return new ModelpoolError(code, `${what}: ${tried}${refused}`, {
    details: { ...(isModelpoolError(last) ? last.details : {}), attempts, skipped },
    cause: last,
  });
}
