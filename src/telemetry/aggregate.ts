import { QuantileSketch, type SketchJson } from './sketch.js';
import type { MetricSummary, RecordedSample } from './types.js';

/**
 * A mergeable aggregate of samples (counts, sums, quantile sketches) for a time bucket, the
 * all-time total or a prior. Merges commutatively, so two processes flushing into one store in any
 * order reach the same result. The JSON form is what stores persist.
 */

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
  /** Queue time; absent in rows written before it was measured. */
  queue?: DistributionJson;
  /**
   * [count, sum] of quality, memoryBytes, costUsd, promptTokens, generatedTokens, cpuMs,
   * memoryGbSeconds, in that order (rows written before the last four have only the first three).
   */
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

/** Metrics with a plain mean and sum in {@link Aggregate.means}, in slot order. Append only. */
const MEAN_METRICS = ['quality', 'memoryBytes', 'costUsd', 'promptTokens', 'generatedTokens', 'cpuMs', 'memoryGbSeconds'] as const;
const MEAN_VALUES = 2 * MEAN_METRICS.length;

/** A metric kept as a plain mean and sum. */
type MeanMetric = (typeof MEAN_METRICS)[number];

/** Index of each plain-mean metric's [count, sum] pair in {@link Aggregate.means}. */
export const MEAN_SLOT = Object.fromEntries(MEAN_METRICS.map((metric, index) => [metric, 2 * index])) as Record<MeanMetric, number>;

/** Counts, sums and sketches of a set of samples (a time bucket, all time, or a prior). */
export class Aggregate {
  count = 0;
  failures = 0;
  firstAt = Number.POSITIVE_INFINITY;
  lastAt = Number.NEGATIVE_INFINITY;
  readonly ttft: Distribution;
  readonly total: Distribution;
  readonly tps: Distribution;
  readonly queue: Distribution;
  /** [count, sum] per plain-mean metric (see {@link MEAN_SLOT}). */
  readonly means = new Float64Array(MEAN_VALUES);

  constructor(relativeAccuracy: number) {
    this.ttft = new Distribution(relativeAccuracy);
    this.total = new Distribution(relativeAccuracy);
    this.tps = new Distribution(relativeAccuracy);
    this.queue = new Distribution(relativeAccuracy);
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
    this.queue.add(sample.queueMs);
    // Named reads, slot by slot in MEAN_METRICS order: this runs for every flushed sample.
    this.addMean(0, sample.quality);
    this.addMean(2, sample.memoryBytes);
    this.addMean(4, sample.costUsd);
    this.addMean(6, sample.promptTokens);
    this.addMean(8, sample.generatedTokens);
    this.addMean(10, sample.cpuMs);
    this.addMean(12, sample.memoryGbSeconds);
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
    this.queue.merge(other.queue, scale);
    for (let index = 0; index < MEAN_VALUES; index++) this.means[index]! += other.means[index]! * scale;
  }

  clone(scale = 1): Aggregate {
    const copy = new Aggregate(this.ttft.sketch.relativeAccuracy);
    copy.merge(this, scale);
    return copy;
  }

  /** Mean of a plain-mean metric, undefined when no sample reported it. */
  mean(slot: number): number | undefined {
    const weight = this.means[slot]!;
    return weight > 0 ? this.means[slot + 1]! / weight : undefined;
  }

  /** Sum of a plain-mean metric (0 when no sample reported it). */
  sum(slot: number): number {
    return this.means[slot + 1]!;
  }

  summaries(): { ttftMs?: MetricSummary; totalMs?: MetricSummary; tokensPerSecond?: MetricSummary; queueMs?: MetricSummary } {
    const result: { ttftMs?: MetricSummary; totalMs?: MetricSummary; tokensPerSecond?: MetricSummary; queueMs?: MetricSummary } = {};
    const ttft = this.ttft.summary();
    if (ttft) result.ttftMs = ttft;
    const total = this.total.summary();
    if (total) result.totalMs = total;
    const tps = this.tps.summary();
    if (tps) result.tokensPerSecond = tps;
    const queue = this.queue.summary();
    if (queue) result.queueMs = queue;
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
      queue: this.queue.toJSON(),
      means: [...this.means],
    };
  }

  /** Reads a stored row; rows written before a metric existed read it as empty. */
  static fromJSON(json: AggregateJson): Aggregate {
    const aggregate = new Aggregate(json.ttft.sketch.a);
    aggregate.count = json.count;
    aggregate.failures = json.failures;
    if (json.firstAt !== null) aggregate.firstAt = json.firstAt;
    if (json.lastAt !== null) aggregate.lastAt = json.lastAt;
    const writable = aggregate as { ttft: Distribution; total: Distribution; tps: Distribution; queue: Distribution };
    writable.ttft = Distribution.fromJSON(json.ttft);
    writable.total = Distribution.fromJSON(json.total);
    writable.tps = Distribution.fromJSON(json.tps);
    if (json.queue !== undefined) writable.queue = Distribution.fromJSON(json.queue);
    aggregate.means.set(json.means.slice(0, MEAN_VALUES));
    return aggregate;
  }
}
