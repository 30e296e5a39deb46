import { QuantileSketch, type SketchJson } from './sketch.js';
import type { DecayedMeans, MetricSummary, PerformanceSample } from './types.js';

/** One recorded sample as history keeps it until it is folded into aggregates. */
export type RecordedSample = Pick<PerformanceSample, 'success' | 'totalMs' | 'ttftMs' | 'tokensPerSecond' | 'quality' | 'memoryBytes' | 'costUsd'> & {
  at: number;
};

/**
 * The building blocks of performance history: a time-decayed mean (EWMA by half-life) over every
 * metric, and a mergeable aggregate (counts, sums, quantile sketches) for a time bucket, the
 * all-time total or a prior. Both merge commutatively, so two processes flushing into one store in
 * any order reach the same result. JSON forms are what stores persist.
 */

/** Metric slots of {@link DecayedSums}. */
const SUCCESS = 0;
const TTFT = 1;
const TOTAL = 2;
const TPS = 3;
const QUALITY = 4;
const MEMORY = 5;
const COST = 6;
const DECAYED_METRICS = 7;

export interface DecayedSumsJson {
  at: number;
  w: number[];
  s: number[];
}

function decay(elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? 1 : Math.pow(2, -elapsedMs / halfLifeMs);
}

/**
 * Exponentially decayed weights and sums, anchored at `at`: a sample's weight halves every
 * half-life. Each metric has its own weight, since optional metrics are not in every sample.
 */
export class DecayedSums {
  at = 0;
  readonly w = new Float64Array(DECAYED_METRICS);
  readonly s = new Float64Array(DECAYED_METRICS);

  private rebase(at: number, halfLifeMs: number): void {
    if (at <= this.at) return;
    const factor = decay(at - this.at, halfLifeMs);
    for (let index = 0; index < DECAYED_METRICS; index++) {
      this.w[index]! *= factor;
      this.s[index]! *= factor;
    }
    this.at = at;
  }

  private put(index: number, value: number | undefined, weight: number): void {
    if (value === undefined) return;
    this.w[index]! += weight;
    this.s[index]! += weight * value;
  }

  add(sample: RecordedSample, halfLifeMs: number): void {
    const at = sample.at;
    this.rebase(at, halfLifeMs);
    const weight = decay(this.at - at, halfLifeMs);
    this.put(SUCCESS, sample.success ? 1 : 0, weight);
    this.put(TTFT, sample.ttftMs, weight);
    this.put(TOTAL, sample.totalMs, weight);
    this.put(TPS, sample.tokensPerSecond, weight);
    this.put(QUALITY, sample.quality, weight);
    this.put(MEMORY, sample.memoryBytes, weight);
    this.put(COST, sample.costUsd, weight);
  }

  merge(other: DecayedSums, halfLifeMs: number, scale = 1): void {
    if (other.w[SUCCESS] === 0 && other.w[TTFT] === 0 && other.w[TOTAL] === 0) return;
    this.rebase(other.at, halfLifeMs);
    const factor = scale * decay(this.at - other.at, halfLifeMs);
    for (let index = 0; index < DECAYED_METRICS; index++) {
      this.w[index]! += other.w[index]! * factor;
      this.s[index]! += other.s[index]! * factor;
    }
  }

  /** Total decayed weight at `now`. */
  weightAt(now: number, halfLifeMs: number): number {
    return this.w[SUCCESS]! * decay(now - this.at, halfLifeMs);
  }

  means(now: number, halfLifeMs: number): DecayedMeans {
    const result: DecayedMeans = { weight: this.weightAt(now, halfLifeMs) };
    const mean = (index: number): number | undefined => (this.w[index]! > 0 ? this.s[index]! / this.w[index]! : undefined);
    const set = <K extends keyof DecayedMeans>(key: K, value: DecayedMeans[K] | undefined): void => {
      if (value !== undefined) result[key] = value;
    };
    set('successRate', mean(SUCCESS));
    set('ttftMs', mean(TTFT));
    set('totalMs', mean(TOTAL));
    set('tokensPerSecond', mean(TPS));
    set('quality', mean(QUALITY));
    set('memoryBytes', mean(MEMORY));
    set('costUsd', mean(COST));
    return result;
  }

  toJSON(): DecayedSumsJson {
    return { at: this.at, w: [...this.w], s: [...this.s] };
  }

  static fromJSON(json: DecayedSumsJson): DecayedSums {
    const sums = new DecayedSums();
    sums.at = json.at;
    sums.w.set(json.w.slice(0, DECAYED_METRICS));
    sums.s.set(json.s.slice(0, DECAYED_METRICS));
    return sums;
  }
}

export interface DistributionJson {
  sum: number;
  sketch: SketchJson;
}

export interface AggregateJson {
  count: number;
  failures: number;
  firstAt: number | null;
  lastAt: number | null;
  ttft: DistributionJson;
  total: DistributionJson;
  tps: DistributionJson;
  /** [weight, sum] of quality, memory, cost. */
  means: number[];
}

/** A metric with a mean and percentiles. */
class Distribution {
  sum = 0;
  readonly sketch: QuantileSketch;

  constructor(relativeAccuracy: number) {
    this.sketch = new QuantileSketch(relativeAccuracy);
  }

  add(value: number | undefined): void {
    if (value === undefined) return;
    this.sum += value;
    this.sketch.add(value);
  }

  merge(other: Distribution, scale: number): void {
    this.sum += other.sum * scale;
    this.sketch.merge(other.sketch, scale);
  }

  summary(): MetricSummary | undefined {
    const quantiles = this.sketch.quantiles([0.5, 0.9, 0.95, 0.99]);
    if (quantiles === undefined) return undefined;
    const [p50, p90, p95, p99] = quantiles as [number, number, number, number];
    const weight = this.sketch.count;
    return { weight, mean: this.sum / weight, p50, p90, p95, p99, min: this.sketch.min, max: this.sketch.max };
  }

  toJSON(): DistributionJson {
    return { sum: this.sum, sketch: this.sketch.toJSON() };
  }

  static fromJSON(json: DistributionJson): Distribution {
    const distribution = new Distribution(json.sketch.a);
    (distribution as { sketch: QuantileSketch }).sketch = QuantileSketch.fromJSON(json.sketch);
    distribution.sum = json.sum;
    return distribution;
  }
}

/** Counts, sums and sketches of a set of samples (a time bucket, all time, or a prior). */
export class Aggregate {
  count = 0;
  failures = 0;
  firstAt = Number.POSITIVE_INFINITY;
  lastAt = Number.NEGATIVE_INFINITY;
  readonly ttft: Distribution;
  readonly total: Distribution;
  readonly tps: Distribution;
  /** [weight, sum] × quality, memory, cost. */
  readonly means = new Float64Array(6);

  constructor(relativeAccuracy: number) {
    this.ttft = new Distribution(relativeAccuracy);
    this.total = new Distribution(relativeAccuracy);
    this.tps = new Distribution(relativeAccuracy);
  }

  add(sample: RecordedSample): void {
    const at = sample.at;
    this.count++;
    if (!sample.success) this.failures++;
    if (at < this.firstAt) this.firstAt = at;
    if (at > this.lastAt) this.lastAt = at;
    this.ttft.add(sample.ttftMs);
    this.total.add(sample.totalMs);
    this.tps.add(sample.tokensPerSecond);
    this.addMean(0, sample.quality);
    this.addMean(2, sample.memoryBytes);
    this.addMean(4, sample.costUsd);
  }

  private addMean(slot: number, value: number | undefined): void {
    if (value === undefined) return;
    this.means[slot]! += 1;
    this.means[slot + 1]! += value;
  }

  /** Adds `other` scaled by `scale`; `withTimes` false keeps first/last sample times (for priors). */
  merge(other: Aggregate, scale = 1, withTimes = true): void {
    if (other.count === 0 || scale <= 0) return;
    this.count += other.count * scale;
    this.failures += other.failures * scale;
    if (withTimes) {
      if (other.firstAt < this.firstAt) this.firstAt = other.firstAt;
      if (other.lastAt > this.lastAt) this.lastAt = other.lastAt;
    }
    this.ttft.merge(other.ttft, scale);
    this.total.merge(other.total, scale);
    this.tps.merge(other.tps, scale);
    for (let index = 0; index < 6; index++) this.means[index]! += other.means[index]! * scale;
  }

  clone(scale = 1): Aggregate {
    const copy = new Aggregate(this.ttft.sketch.relativeAccuracy);
    copy.merge(this, scale);
    return copy;
  }

  mean(slot: 0 | 2 | 4): number | undefined {
    const weight = this.means[slot]!;
    return weight > 0 ? this.means[slot + 1]! / weight : undefined;
  }

  summaries(): { ttftMs?: MetricSummary; totalMs?: MetricSummary; tokensPerSecond?: MetricSummary } {
    const result: { ttftMs?: MetricSummary; totalMs?: MetricSummary; tokensPerSecond?: MetricSummary } = {};
    const ttft = this.ttft.summary();
    if (ttft) result.ttftMs = ttft;
    const total = this.total.summary();
    if (total) result.totalMs = total;
    const tps = this.tps.summary();
    if (tps) result.tokensPerSecond = tps;
    return result;
  }

  toJSON(): AggregateJson {
    return {
      count: this.count,
      failures: this.failures,
      firstAt: Number.isFinite(this.firstAt) ? this.firstAt : null,
      lastAt: Number.isFinite(this.lastAt) ? this.lastAt : null,
      ttft: this.ttft.toJSON(),
      total: this.total.toJSON(),
      tps: this.tps.toJSON(),
      means: [...this.means],
    };
  }

  static fromJSON(json: AggregateJson): Aggregate {
    const aggregate = new Aggregate(json.ttft.sketch.a);
    aggregate.count = json.count;
    aggregate.failures = json.failures;
    if (json.firstAt !== null) aggregate.firstAt = json.firstAt;
    if (json.lastAt !== null) aggregate.lastAt = json.lastAt;
    const writable = aggregate as { ttft: Distribution; total: Distribution; tps: Distribution };
    writable.ttft = Distribution.fromJSON(json.ttft);
    writable.total = Distribution.fromJSON(json.total);
    writable.tps = Distribution.fromJSON(json.tps);
    aggregate.means.set(json.means.slice(0, 6));
    return aggregate;
  }
}

/** Index of quality/memory/cost in {@link Aggregate.mean}. */
export const MEAN_SLOT = { quality: 0, memory: 2, cost: 4 } as const;

export interface PriorJson {
  fromVersion: string;
  /** When the prior was taken. */
  at: number;
  /** Effective sample count when taken. */
  weight: number;
  aggregate: AggregateJson;
}

/** What a store keeps per (model, version, task) besides the time buckets. */
export interface PerfStatsJson {
  decayed: DecayedSumsJson;
  all: AggregateJson;
  prior?: PriorJson;
}

/** Start of the time bucket holding `at`. */
export function bucketStart(at: number, bucketMs: number): number {
  return at - (at % bucketMs);
}

/** What a store keeps per (model, version, task) besides buckets, as live objects it can fold samples into. */
export interface LiveStats {
  decayed: DecayedSums;
  all: Aggregate;
  prior?: PriorJson;
}

export function liveStatsFromJSON(json: PerfStatsJson): LiveStats {
  const live: LiveStats = { decayed: DecayedSums.fromJSON(json.decayed), all: Aggregate.fromJSON(json.all) };
  if (json.prior !== undefined) live.prior = structuredClone(json.prior);
  return live;
}

export function liveStatsToJSON(live: LiveStats): PerfStatsJson {
  const json: PerfStatsJson = { decayed: live.decayed.toJSON(), all: live.all.toJSON() };
  if (live.prior !== undefined) json.prior = structuredClone(live.prior);
  return json;
}

/** Folds flushed samples into a store's live stats (decayed sums and all-time aggregate), in place. */
export function foldStats(stats: LiveStats, samples: readonly RecordedSample[], halfLifeMs: number): void {
  for (const sample of samples) {
    stats.decayed.add(sample, halfLifeMs);
    stats.all.add(sample);
  }
}

/** Flushed samples grouped by the start of their time bucket. */
export function groupByBucket(samples: readonly RecordedSample[], bucketMs: number): Map<number, RecordedSample[]> {
  const groups = new Map<number, RecordedSample[]>();
  for (const sample of samples) {
    const start = bucketStart(sample.at, bucketMs);
    const group = groups.get(start);
    if (group === undefined) groups.set(start, [sample]);
    else group.push(sample);
  }
  return groups;
}

/** Folds samples into a bucket's aggregate, in place. */
export function foldAggregate(aggregate: Aggregate, samples: readonly RecordedSample[]): void {
  for (const sample of samples) aggregate.add(sample);
}
