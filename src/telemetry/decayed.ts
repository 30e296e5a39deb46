import type { DecayedMeans, RecordedSample } from './types.js';

/**
 * Time-decayed means (EWMA by half-life) over every metric of a sample. Merges commutatively, so
 * two processes flushing into one store in any order reach the same result. The JSON form is what
 * stores persist.
 */

/**
 * The metrics of {@link DecayedSums}, in slot order; slot 0 is success (1 or 0). Append only: stored
 * rows name metrics by slot, and rows written before a metric existed have fewer slots (read as 0).
 */
const METRICS = [
  'success',
  'ttftMs',
  'totalMs',
  'tokensPerSecond',
  'quality',
  'memoryBytes',
  'costUsd',
  'queueMs',
  'promptTokens',
  'generatedTokens',
  'cpuMs',
  'memoryGbSeconds',
] as const;
const SUCCESS = 0;
const TTFT = 1;
const TOTAL = 2;
const DECAYED_METRICS = METRICS.length;

export interface DecayedSumsJson {
  at: number;
  /** Decayed weight per metric slot (older rows have fewer slots). */
  w: number[];
  /** Decayed weighted sum per metric slot. */
  s: number[];
}

/** Weight factor of a sample `elapsedMs` old. */
export function decay(elapsedMs: number, halfLifeMs: number): number {
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
    // Named reads, slot by slot in METRICS order: this runs for every flushed sample.
    this.put(SUCCESS, sample.success ? 1 : 0, weight);
    this.put(TTFT, sample.ttftMs, weight);
    this.put(TOTAL, sample.totalMs, weight);
    this.put(3, sample.tokensPerSecond, weight);
    this.put(4, sample.quality, weight);
    this.put(5, sample.memoryBytes, weight);
    this.put(6, sample.costUsd, weight);
    this.put(7, sample.queueMs, weight);
    this.put(8, sample.promptTokens, weight);
    this.put(9, sample.generatedTokens, weight);
    this.put(10, sample.cpuMs, weight);
    this.put(11, sample.memoryGbSeconds, weight);
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
    for (let index = 0; index < DECAYED_METRICS; index++) {
      if (!(this.w[index]! > 0)) continue;
      const metric = METRICS[index]!;
      result[metric === 'success' ? 'successRate' : metric] = this.s[index]! / this.w[index]!;
    }
    return result;
  }

  toJSON(): DecayedSumsJson {
    return { at: this.at, w: [...this.w], s: [...this.s] };
  }

  /** Reads a stored row; slots it lacks (written before their metric existed) stay 0. */
  static fromJSON(json: DecayedSumsJson): DecayedSums {
    const sums = new DecayedSums();
    sums.at = json.at;
    sums.w.set(json.w.slice(0, DECAYED_METRICS));
    sums.s.set(json.s.slice(0, DECAYED_METRICS));
    return sums;
  }
}
