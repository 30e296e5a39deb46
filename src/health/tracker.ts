/**
 * Passive health figures per key, from the outcomes of real requests (and probes): error rate and
 * latency percentiles over a small window of recent requests, a moving average of latency,
 * consecutive failures, the last error and the last success. Each key holds a fixed-size ring of
 * outcomes, and keys are bounded, so memory does not grow with traffic.
 */
import { finiteNumber, nonEmptyString } from '../validate.js';
import { summarizeError, type ErrorSummary } from './classify.js';
import { KeyedStore } from './keyed.js';
import { readClock, resolveTrackerOptions, type ResolvedTrackerOptions } from './options.js';
import type { HealthFigures, TrackerOptions } from './types.js';

/** One key's recent outcomes (a ring) and running figures. */
class KeyHealth {
  readonly at: Float64Array;
  /** Latency of a success; NaN for a failure. */
  readonly ms: Float64Array;
  /** Next slot to write. */
  head = 0;
  count = 0;
  latencyEwma: number | undefined;
  consecutiveFailures = 0;
  totalRequests = 0;
  totalFailures = 0;
  lastSuccessAt: number | undefined;
  lastError: (ErrorSummary & { at: number }) | undefined;

  constructor(size: number) {
    this.at = new Float64Array(size);
    this.ms = new Float64Array(size);
  }

  push(at: number, ms: number): void {
    this.at[this.head] = at;
    this.ms[this.head] = ms;
    this.head = (this.head + 1) % this.at.length;
    this.count = Math.min(this.count + 1, this.at.length);
  }
}

/** Error rate, latency and last error per key, from reported outcomes. */
export class HealthTracker {
  readonly options: Readonly<ResolvedTrackerOptions>;
  readonly #store: KeyedStore<KeyHealth>;

  /** Throws INVALID_ARGUMENT naming `options.*`. */
  constructor(options: TrackerOptions = {}) {
    this.options = Object.freeze(resolveTrackerOptions(options));
    this.#store = new KeyedStore(this.options.maxKeys, this.options.idleMs);
  }

  /** Records a successful request of `key` that took `latencyMs`. Throws INVALID_ARGUMENT naming `key` or `latencyMs`. */
  success(key: string, latencyMs: number): void {
    const ms = finiteNumber('latencyMs', latencyMs, 0, Number.MAX_SAFE_INTEGER);
    const now = this.#now();
    const health = this.#use(key, now);
    health.push(now, ms);
    health.totalRequests += 1;
    health.consecutiveFailures = 0;
    health.lastSuccessAt = now;
    health.latencyEwma = health.latencyEwma === undefined ? ms : health.latencyEwma + this.options.ewmaAlpha * (ms - health.latencyEwma);
  }

  /**
   * Records a failed request of `key`. Only the error's code and a short masked message are kept
   * (see summarizeError). The tracker does not classify: report only the failures that are the model's.
   */
  failure(key: string, error?: unknown): void {
    const now = this.#now();
    const health = this.#use(key, now);
    health.push(now, Number.NaN);
    health.totalRequests += 1;
    health.totalFailures += 1;
    health.consecutiveFailures += 1;
    const summary = error === undefined ? { code: 'UNKNOWN', message: 'a failure was reported without an error' } : summarizeError(error);
    health.lastError = { ...summary, at: now };
  }

  /** The figures of `key`, or undefined when nothing was recorded for it (or it was dropped). */
  get(key: string): HealthFigures | undefined {
    const health = this.#store.peek(key);
    return health === undefined ? undefined : this.#figures(key, health, this.#now());
  }

  /** The figures of every key, by key. */
  snapshot(): HealthFigures[] {
    const now = this.#now();
    return this.#store
      .keys()
      .sort()
      .map((key) => this.#figures(key, this.#store.peek(key)!, now));
  }

  /** Forgets `key`; false when there was nothing of it. */
  delete(key: string): boolean {
    return this.#store.delete(key);
  }

  /** Keys with figures now. */
  get size(): number {
    return this.#store.size;
  }

  #use(key: string, now: number): KeyHealth {
    nonEmptyString('key', key, 1024);
    return this.#store.use(key, now, () => new KeyHealth(this.options.windowSize));
  }

  #figures(key: string, health: KeyHealth, now: number): HealthFigures {
    const from = now - this.options.windowMs;
    const latencies: number[] = [];
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < health.count; i++) {
      if (health.at[i]! < from) continue;
      requests += 1;
      const ms = health.ms[i]!;
      if (Number.isNaN(ms)) failures += 1;
      else latencies.push(ms);
    }
    latencies.sort((a, b) => a - b);
    const figures: HealthFigures = {
      key,
      requests,
      failures,
      errorRate: requests === 0 ? 0 : failures / requests,
      consecutiveFailures: health.consecutiveFailures,
      totalRequests: health.totalRequests,
      totalFailures: health.totalFailures,
    };
    if (health.latencyEwma !== undefined) figures.latencyEwma = health.latencyEwma;
    if (latencies.length > 0) {
      figures.p50 = nearestRank(latencies, 0.5);
      figures.p95 = nearestRank(latencies, 0.95);
    }
    if (health.lastSuccessAt !== undefined) figures.lastSuccessAt = health.lastSuccessAt;
    if (health.lastError !== undefined) figures.lastError = { ...health.lastError };
    return figures;
  }

  #now(): number {
    return readClock(this.options.now);
  }
}

/** The nearest-rank percentile of sorted values: the smallest value with at least q of them at or below it. */
function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}
