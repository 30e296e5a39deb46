/**
 * A circuit breaker for one key (a provider, a model): closed → open after failures → half-open when
 * the cooldown ends → closed after successful trials, or open again. State is computed from the
 * injected clock on each access, so a breaker needs no timer and holds nothing alive.
 */
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import { nonEmptyString, optionalNumber } from '../validate.js';
import { summarizeError, type ErrorSummary } from './classify.js';
import { readClock, resolveBreakerOptions, type ResolvedBreakerOptions } from './options.js';
import { RateWindow } from './rate-window.js';
import type { BreakerOptions, BreakerPermit, BreakerSnapshot, BreakerState, BreakerTransition, TransitionReason } from './types.js';

type TransitionListener = (transition: BreakerTransition) => void;

/**
 * One key's breaker. Admit a request with {@link acquire} (a permit, or CIRCUIT_OPEN) or
 * {@link allow} (a boolean), then report its outcome on the permit, or with {@link success} and
 * {@link failure} on the breaker. Only failures the classifier counts move it toward open.
 */
export class CircuitBreaker {
  readonly key: string;
  readonly options: Readonly<ResolvedBreakerOptions>;
  #state: BreakerState = 'closed';
  #since: number;
  #consecutiveFailures = 0;
  /** Times opened: also the epoch of permits, whose outcomes count only within the epoch they were admitted in. */
  #opens = 0;
  /** Openings since the breaker last closed: the exponent of the cooldown's growth. */
  #reopens = 0;
  #cooldownMs: number;
  #openUntil = 0;
  /** Start times of the half-open trials in flight, by permit id. */
  readonly #trials = new Map<number, number>();
  #trialSuccesses = 0;
  #nextPermit = 1;
  readonly #window: RateWindow | undefined;
  #lastFailure: (ErrorSummary & { at: number }) | undefined;
  #lastLatencyMs: number | undefined;
  readonly #listeners = new Set<TransitionListener>();

  /** Throws INVALID_ARGUMENT naming `key` or `options.*`. */
  constructor(key: string, options: BreakerOptions = {}) {
    this.key = nonEmptyString('key', key, 1024);
    this.options = Object.freeze(resolveBreakerOptions(options));
    this.#cooldownMs = this.options.cooldownMs;
    this.#window = this.options.failureRate === undefined ? undefined : new RateWindow(this.options.failureRate.windowMs);
    this.#since = this.#now();
  }

  /** The state now (an open breaker whose cooldown has ended is half-open). */
  get state(): BreakerState {
    this.#refresh();
    return this.#state;
  }

  /**
   * A permit to send one request, or undefined when the breaker is open, or half-open with all its
   * trial places taken.
   */
  tryAcquire(): BreakerPermit | undefined {
    this.#refresh();
    if (this.#state === 'open') return undefined;
    const id = this.#nextPermit++;
    const trial = this.#state === 'half-open';
    if (trial) {
      if (this.#trials.size >= this.options.halfOpenProbes) return undefined;
      this.#trials.set(id, this.#now());
    }
    return this.#permit(id, trial);
  }

  /**
   * A permit to send one request. Throws CIRCUIT_OPEN (details `{ key, state, retryAfterMs }`) when
   * the breaker is open, or half-open with all its trial places taken.
   */
  acquire(): BreakerPermit {
    const permit = this.tryAcquire();
    if (permit !== undefined) return permit;
    const retryAfterMs = this.retryAfterMs();
    const why = this.#state === 'open' ? 'open' : `half-open with ${this.options.halfOpenProbes} trial request(s) already in flight`;
    throw new ModelpoolError('CIRCUIT_OPEN', `The circuit breaker for "${this.key}" is ${why}: retry in ${retryAfterMs} ms`, {
      details: { key: this.key, state: this.#state, retryAfterMs },
    });
  }

  /**
   * Whether a request may be sent now. In half-open state a true answer takes a trial place, which
   * the next {@link success} or {@link failure} (or the trial timeout) frees: use permits
   * ({@link acquire}) when requests overlap.
   */
  allow(): boolean {
    return this.tryAcquire() !== undefined;
  }

  /** Reports a success (of a request admitted by {@link allow}, or seen passively). */
  success(latencyMs?: number): void {
    const ms = checkLatency(latencyMs);
    this.#freeOldestTrial();
    this.#onSuccess(ms, this.#opens);
  }

  /**
   * Reports a failure; `error` goes through the classifier (`options.countsAsFailure`), and a failure
   * it does not count changes nothing (it still frees a trial place). Without an error it counts.
   * Returns whether it counted.
   */
  failure(error?: unknown): boolean {
    this.#freeOldestTrial();
    return this.#onFailure(error, this.#opens);
  }

  /** How long until an open breaker half-opens (ms); in half-open with no place free, until the oldest trial times out (at most the cooldown); else 0. */
  retryAfterMs(): number {
    this.#refresh();
    const now = this.#now();
    if (this.#state === 'open') return Math.max(0, this.#openUntil - now);
    if (this.#state === 'half-open' && this.#trials.size >= this.options.halfOpenProbes) {
      const oldest = Math.min(...this.#trials.values());
      return Math.min(this.#cooldownMs, Math.max(0, oldest + this.options.trialTimeoutMs - now));
    }
    return 0;
  }

  /** Closes the breaker and clears its counters (an operator's override). */
  reset(): void {
    this.#refresh();
    this.#consecutiveFailures = 0;
    this.#reopens = 0;
    this.#cooldownMs = this.options.cooldownMs;
    this.#window?.clear();
    if (this.#state !== 'closed') this.#transition('closed', 'reset', this.#now());
  }

  /** State and counters as plain data. */
  snapshot(): BreakerSnapshot {
    const state = this.state;
    const snapshot: BreakerSnapshot = {
      key: this.key,
      state,
      since: this.#since,
      consecutiveFailures: this.#consecutiveFailures,
      retryAfterMs: state === 'open' ? this.retryAfterMs() : 0,
      cooldownMs: this.#cooldownMs,
      opens: this.#opens,
      trialsInFlight: this.#trials.size,
      trialSuccesses: this.#trialSuccesses,
    };
    if (this.#window !== undefined) {
      const { requests, failures } = this.#window.counts(this.#now());
      snapshot.window = { requests, failures, rate: requests === 0 ? 0 : failures / requests };
    }
    if (this.#lastFailure !== undefined) snapshot.lastFailure = { ...this.#lastFailure };
    if (this.#lastLatencyMs !== undefined) snapshot.lastLatencyMs = this.#lastLatencyMs;
    return snapshot;
  }

  /**
   * Calls `listener` on each change of state (synchronously, during the call that caused it; a
   * listener that throws is reported as a process warning). Returns the function that removes it.
   */
  on(event: 'transition', listener: (transition: BreakerTransition) => void): () => void {
    return subscribe(this.#listeners, event, listener);
  }

  #permit(id: number, trial: boolean): BreakerPermit {
    const epoch = this.#opens;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#trials.delete(id);
      return true;
    };
    return {
      key: this.key,
      trial,
      success: (latencyMs?: number) => {
        const ms = checkLatency(latencyMs);
        if (settle()) this.#onSuccess(ms, epoch);
      },
      failure: (error?: unknown) => (settle() ? this.#onFailure(error, epoch) : false),
      release: () => {
        settle();
      },
    };
  }

  #onSuccess(latencyMs: number | undefined, epoch: number): void {
    if (latencyMs !== undefined) this.#lastLatencyMs = latencyMs;
    // A request admitted before the breaker last opened says nothing about the spell since.
    if (epoch !== this.#opens) return;
    this.#refresh();
    const now = this.#now();
    if (this.#state === 'closed') {
      this.#consecutiveFailures = 0;
      this.#window?.add(now, false);
    } else if (this.#state === 'half-open') {
      this.#consecutiveFailures = 0;
      this.#trialSuccesses += 1;
      if (this.#trialSuccesses >= this.options.successesToClose) {
        this.#reopens = 0;
        this.#cooldownMs = this.options.cooldownMs;
        this.#window?.clear();
        this.#transition('closed', 'recovered', now);
      }
    }
  }

  #onFailure(error: unknown, epoch: number): boolean {
    if (error !== undefined && !this.#counts(error)) return false;
    const now = this.#now();
    const summary = error === undefined ? undefined : summarizeError(error);
    this.#lastFailure = { ...(summary ?? { code: 'UNKNOWN', message: 'a failure was reported without an error' }), at: now };
    if (epoch !== this.#opens) return true;
    this.#refresh();
    this.#consecutiveFailures += 1;
    if (this.#state === 'closed') {
      this.#window?.add(now, true);
      if (this.#consecutiveFailures >= this.options.failureThreshold) this.#open('failures', now, error, summary);
      else if (this.#rateTripped(now)) this.#open('failure-rate', now, error, summary);
    } else if (this.#state === 'half-open') {
      this.#reopens += 1;
      this.#open('trial-failed', now, error, summary);
    }
    return true;
  }

  /** The classifier's verdict on `error` (`options.countsAsFailure`; one that throws counts it, with a process warning). */
  countsAsFailure(error: unknown): boolean {
    return this.#counts(error);
  }

  #counts(error: unknown): boolean {
    try {
      return this.options.countsAsFailure(error) === true;
    } catch (thrown) {
      process.emitWarning(`modelpool: the countsAsFailure classifier of breaker "${this.key}" threw: ${String(thrown)}; the failure counts`);
      return true;
    }
  }

  #rateTripped(now: number): boolean {
    const rate = this.options.failureRate;
    if (rate === undefined) return false;
    const { requests, failures } = this.#window!.counts(now);
    return requests >= rate.minRequests && failures / requests >= rate.threshold;
  }

  #open(reason: TransitionReason, now: number, error: unknown, summary: ErrorSummary | undefined): void {
    const { cooldownMs, cooldownGrowth, maxCooldownMs } = this.options;
    let cooldown = Math.min(maxCooldownMs, cooldownMs * Math.pow(cooldownGrowth, this.#reopens));
    // A provider that said when to come back (429 Retry-After) is not asked sooner.
    const retryAfter = isModelpoolError(error) ? error.details?.retryAfterMs : undefined;
    if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter > cooldown) cooldown = Math.min(maxCooldownMs, retryAfter);
    this.#cooldownMs = Math.round(cooldown);
    this.#openUntil = now + this.#cooldownMs;
    this.#opens += 1;
    this.#transition('open', reason, now, summary);
  }

  /** Open → half-open once the cooldown has passed; frees trial places whose requests were never reported. */
  #refresh(): void {
    const now = this.#now();
    if (this.#state === 'open' && now >= this.#openUntil) this.#transition('half-open', 'cooldown-elapsed', this.#openUntil);
    if (this.#state === 'half-open') {
      for (const [id, startedAt] of this.#trials) if (now - startedAt >= this.options.trialTimeoutMs) this.#trials.delete(id);
    }
  }

  #freeOldestTrial(): void {
    const oldest = this.#trials.keys().next();
    if (oldest.done !== true) this.#trials.delete(oldest.value);
  }

  #transition(to: BreakerState, reason: TransitionReason, at: number, error?: ErrorSummary): void {
    const from = this.#state;
    this.#state = to;
    this.#since = at;
    this.#trials.clear();
    this.#trialSuccesses = 0;
    if (to === 'closed') this.#consecutiveFailures = 0;
    if (this.#listeners.size === 0) return;
    const event: BreakerTransition = { key: this.key, from, to, at, reason };
    if (to === 'open') event.cooldownMs = this.#cooldownMs;
    if (error !== undefined) event.error = { ...error };
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (thrown) {
        process.emitWarning(`modelpool: a breaker transition listener threw: ${String(thrown)}`);
      }
    }
  }

  #now(): number {
    return readClock(this.options.now);
  }
}

/** A reported latency: undefined, or a finite number ≥ 0 (INVALID_ARGUMENT naming `latencyMs`). */
function checkLatency(latencyMs: unknown): number | undefined {
  return optionalNumber('latencyMs', latencyMs, 0, Number.MAX_SAFE_INTEGER);
}

/** Adds a 'transition' listener to `listeners` (checked); returns the function that removes it. */
export function subscribe(listeners: Set<(transition: BreakerTransition) => void>, event: string, listener: (transition: BreakerTransition) => void): () => void {
  if (event !== 'transition') throw invalidArgument('event', "'transition'", event);
  if (typeof listener !== 'function') throw invalidArgument('listener', 'a function', listener);
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
