/** The shapes the health room takes and gives: options, snapshots, events, results. */
import type { Breakers } from './breakers.js';
import type { ErrorSummary } from './classify.js';
import type { HealthTracker } from './tracker.js';

/** A breaker's states, in the order a failing key goes through them. */
export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** `closed`: requests pass. `open`: they fail fast until the cooldown ends. `half-open`: a few trial requests decide. */
export type BreakerState = (typeof BREAKER_STATES)[number];

/** Opening on a failure rate over a sliding time window, as well as on consecutive failures. */
export interface FailureRateOptions {
  /** Share of failed requests in the window that opens the breaker, in (0, 1]. Default 0.5. */
  threshold?: number;
  /** Fewest requests in the window before the rate is judged. Default 10. */
  minRequests?: number;
  /** Width of the window (ms), counted in tenths of it. Default 30 000. */
  windowMs?: number;
}

/** How a {@link CircuitBreaker} opens, cools down and closes again. */
export interface BreakerOptions {
  /** Consecutive counted failures that open a closed breaker. Default 3. */
  failureThreshold?: number;
  /** Also open on a failure rate over a window; off when absent. */
  failureRate?: FailureRateOptions;
  /** How long an opened breaker refuses requests before it half-opens (ms). Default 5000. */
  cooldownMs?: number;
  /** Factor the cooldown grows by each time a half-open trial fails, in [1, 10]. Default 1 (no growth). */
  cooldownGrowth?: number;
  /** Longest cooldown, whatever the growth or a provider's Retry-After (ms). Default max(60 000, cooldownMs). */
  maxCooldownMs?: number;
  /** Trial requests a half-open breaker admits at once. Default 1. */
  halfOpenProbes?: number;
  /** Successful trials that close a half-open breaker. Default 1. */
  successesToClose?: number;
  /** A trial not reported within this time frees its place for another (ms). Default 60 000. */
  trialTimeoutMs?: number;
  /** Which errors count as failures. Default {@link countsAsFailure}. */
  countsAsFailure?: (error: unknown) => boolean;
  /** The clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/** Why a breaker changed state. */
export type TransitionReason = 'failures' | 'failure-rate' | 'cooldown-elapsed' | 'trial-failed' | 'recovered' | 'reset';

/** One change of a breaker's state, as `'transition'` listeners receive it. */
export interface BreakerTransition {
  key: string;
  from: BreakerState;
  to: BreakerState;
  /** When it happened (epoch ms); for `cooldown-elapsed`, the end of the cooldown. */
  at: number;
  reason: TransitionReason;
  /** The cooldown begun, for transitions to `open`. */
  cooldownMs?: number;
  /** The failure that opened it, for transitions to `open` on a failure. */
  error?: ErrorSummary;
}

/** A breaker's state and counters, for status pages and dashboards (plain data). */
export interface BreakerSnapshot {
  key: string;
  state: BreakerState;
  /** Since when it is in this state (epoch ms). */
  since: number;
  /** Counted failures since the last success. */
  consecutiveFailures: number;
  /** How long until an open breaker half-opens (ms); 0 when it is not open. */
  retryAfterMs: number;
  /** The cooldown of the current or next opening (ms). */
  cooldownMs: number;
  /** Times it has opened. */
  opens: number;
  /** Trial requests in flight (half-open only). */
  trialsInFlight: number;
  /** Successful trials so far in this half-open spell. */
  trialSuccesses: number;
  /** The failure-rate window (only with `failureRate`). */
  window?: { requests: number; failures: number; rate: number };
  lastFailure?: ErrorSummary & { at: number };
  /** Latency of the last reported success (ms), when one was given. */
  lastLatencyMs?: number;
}

/**
 * Leave to send one request through a breaker. Report its outcome once: success, failure, or
 * release (neither: the caller gave up, or it failed by its own fault). Later reports are ignored, as
 * are the outcomes of requests admitted before the breaker last opened.
 */
export interface BreakerPermit {
  readonly key: string;
  /** Whether it was one of a half-open breaker's trial requests. */
  readonly trial: boolean;
  success(latencyMs?: number): void;
  /** Returns whether the failure counted (the classifier's verdict on `error`; true without one). */
  failure(error?: unknown): boolean;
  release(): void;
}

/** A keyed collection of breakers ({@link Breakers}). */
export interface BreakersOptions {
  /** Options of every breaker (each field may be overridden per key). */
  defaults?: BreakerOptions;
  /** Per-key overrides of `defaults`. */
  overrides?: Record<string, BreakerOptions>;
  /** Most keys kept; the least recently used one not open is dropped past it. Default 10 000. */
  maxKeys?: number;
  /** A key not used for this long and not open is dropped (ms). Default 600 000 (10 min). */
  idleMs?: number;
  /** The clock of the collection and its breakers (epoch ms). Default Date.now. */
  now?: () => number;
}

/** Tuning of a {@link HealthTracker}. */
export interface TrackerOptions {
  /** Most recent requests per key behind the error rate and p50/p95. Default 100. */
  windowSize?: number;
  /** ...of which only those of the last windowMs count (ms). Default 300 000 (5 min). */
  windowMs?: number;
  /** Weight of the newest latency in the moving average, in (0, 1]. Default 0.2. */
  ewmaAlpha?: number;
  /** Most keys kept; the least recently used is dropped past it. Default 10 000. */
  maxKeys?: number;
  /** A key not recorded for this long is dropped (ms). Default 3 600 000 (1 h). */
  idleMs?: number;
  /** The clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/** What a {@link HealthTracker} knows of one key. Latencies are ms, of successful requests only. */
export interface HealthFigures {
  key: string;
  /** Requests in the window (the last windowSize, within windowMs). */
  requests: number;
  /** Failures among them. */
  failures: number;
  /** failures / requests; 0 with no requests. */
  errorRate: number;
  /** Exponentially weighted moving average of latency; undefined before the first success. */
  latencyEwma?: number;
  /** Median latency of the successes in the window. */
  p50?: number;
  /** 95th percentile latency of the successes in the window. */
  p95?: number;
  /** Failures since the last success. */
  consecutiveFailures: number;
  /** Requests and failures ever recorded for the key (since it was last dropped). */
  totalRequests: number;
  totalFailures: number;
  lastSuccessAt?: number;
  lastError?: ErrorSummary & { at: number };
}

/** A probe: a tiny real request. It should stop when `signal` aborts (timeout or close). */
export type Probe = (signal: AbortSignal) => Promise<unknown>;

/** How often a probe runs and how long it may take. */
export interface ProbeOptions {
  /** Time between the end of one run and the start of the next (ms), ±jitter. Default 30 000. */
  intervalMs?: number;
  /** A run longer than this fails with TIMEOUT and its signal aborts (ms). Default 10 000. */
  timeoutMs?: number;
  /** Spread of the interval, in [0, 0.5]: ±10% by default, so probes do not align. */
  jitter?: number;
  /** Run the first probe at once (default) rather than after one interval. */
  immediate?: boolean;
}

/** Options of a {@link HealthMonitor}. */
export interface MonitorOptions {
  /** Breakers fed by the probes; shared with failover. Default a new collection with default options. */
  breakers?: Breakers;
  /** Tracker fed by the probes. Default a new one. */
  tracker?: HealthTracker;
  /** Defaults of every add(). */
  probe?: ProbeOptions;
  /** Clock of the `at` times (epoch ms). Default Date.now. */
  now?: () => number;
  /** Source of jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}

/** One run of a probe. */
export interface ProbeResult {
  ok: boolean;
  /** When it started (epoch ms). */
  at: number;
  /** How long it took (ms). */
  ms: number;
  error?: ErrorSummary;
}

/** The health of one monitored key. */
export interface HealthStatus {
  key: string;
  /** The breaker's state. */
  state: BreakerState;
  /** The last probe succeeded and the breaker is not open. */
  ready: boolean;
  /** The last completed probe; undefined before the first. */
  lastProbe?: ProbeResult;
  errorRate: number;
  /** Latency percentiles (ms) from the tracker; undefined with no success in its window. */
  p50?: number;
  p95?: number;
  consecutiveFailures: number;
}

/** One candidate tried by {@link failover}. */
export interface FailoverAttempt {
  key: string;
  /** Why it failed; absent for the one that succeeded. */
  error?: ErrorSummary;
  ms: number;
}

/** A candidate failover skipped because its breaker refused. */
export interface SkippedCandidate {
  key: string;
  state: BreakerState;
  retryAfterMs: number;
}

/** What {@link failover} returns: the value, the key that produced it, and every attempt in order. */
export interface FailoverResult<T> {
  value: T;
  key: string;
  attempts: FailoverAttempt[];
  skipped: SkippedCandidate[];
}

/** Options of {@link failover}. */
export interface FailoverOptions {
  /** Breakers of the candidates: open ones are skipped, outcomes recorded. */
  breakers: Breakers;
  /** Tracker that records each attempt's outcome. */
  tracker?: HealthTracker;
  /** Most candidates tried (skipped ones do not count). Default the chain's length. */
  maxAttempts?: number;
  /** Each attempt's signal aborts after this long and the attempt fails with TIMEOUT (ms). Default none. */
  attemptTimeoutMs?: number;
  /** The caller's signal: when it aborts, failover stops with ABORTED. */
  signal?: AbortSignal;
  /** Errors thrown at once, without trying another candidate. Default {@link isCallerFault}. */
  isCallerFault?: (error: unknown) => boolean;
}
