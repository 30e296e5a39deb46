/**
 * A small DDSketch (Masson, Rim & Lee, VLDB 2019): a quantile sketch with a relative-error
 * guarantee, mergeable, with weighted (fractional) counts.
 *
 * Why not @datadog/sketches-js: its serialisation needs protobufjs at run time (not declared as a
 * dependency) and loses min/max; the registry persists sketches as JSON in SQLite and merges them
 * scaled (priors carry a reduced weight). The algorithm itself is a few lines.
 *
 * Values are non-negative (latencies, rates); values below {@link MIN_INDEXABLE} count as zero.
 */
const MIN_INDEXABLE = 1e-9;

export interface SketchJson {
  /** Relative accuracy. */
  a: number;
  /** Weight of zero values. */
  z: number;
  /** [bin index, weight] pairs. */
  b: Array<[number, number]>;
  min: number | null;
  max: number | null;
}

export class QuantileSketch {
  readonly relativeAccuracy: number;
  private readonly logGamma: number;
  private readonly gamma: number;
  private readonly bins = new Map<number, number>();
  private zeroWeight = 0;
  /** Total weight. */
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(relativeAccuracy = 0.01) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1)) throw new RangeError(`relativeAccuracy must be in (0, 1), got ${relativeAccuracy}`);
    this.relativeAccuracy = relativeAccuracy;
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
  }

  /** Number of non-empty bins (memory use is proportional to it). */
  get binCount(): number {
    return this.bins.size;
  }

  add(value: number, weight = 1): void {
    if (value < MIN_INDEXABLE) {
      this.zeroWeight += weight;
    } else {
      const index = Math.ceil(Math.log(value) / this.logGamma);
      this.bins.set(index, (this.bins.get(index) ?? 0) + weight);
    }
    this.count += weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds `other`'s weights, multiplied by `scale`, into this sketch. */
  merge(other: QuantileSketch, scale = 1): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError(`cannot merge sketches of relative accuracy ${other.relativeAccuracy} and ${this.relativeAccuracy}`);
    }
    if (other.count === 0 || scale <= 0) return;
    for (const [index, weight] of other.bins) this.bins.set(index, (this.bins.get(index) ?? 0) + weight * scale);
    this.zeroWeight += other.zeroWeight * scale;
    this.count += other.count * scale;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  clone(scale = 1): QuantileSketch {
    const copy = new QuantileSketch(this.relativeAccuracy);
    copy.merge(this, scale);
    return copy;
  }

  /** Values at the given quantiles (each in [0, 1]); undefined when the sketch is empty. */
  quantiles(qs: readonly number[]): number[] | undefined {
    if (this.count <= 0) return undefined;
    const indexes = [...this.bins.keys()].sort((left, right) => left - right);
    return qs.map((q) => {
      const rank = Math.min(Math.max(q, 0), 1) * this.count;
      let cumulative = this.zeroWeight;
      if (cumulative > rank || indexes.length === 0) return Math.max(0, this.min);
      for (const index of indexes) {
        cumulative += this.bins.get(index)!;
        if (cumulative >= rank) return this.clamp((2 * Math.pow(this.gamma, index)) / (this.gamma + 1));
      }
      return this.max;
    });
  }

  quantile(q: number): number | undefined {
    return this.quantiles([q])?.[0];
  }

  private clamp(value: number): number {
    return Math.min(Math.max(value, this.min), this.max);
  }

  toJSON(): SketchJson {
    return {
      a: this.relativeAccuracy,
      z: this.zeroWeight,
      b: [...this.bins],
      min: this.count > 0 ? this.min : null,
      max: this.count > 0 ? this.max : null,
    };
  }

  static fromJSON(json: SketchJson): QuantileSketch {
    const sketch = new QuantileSketch(json.a);
    for (const [index, weight] of json.b) {
      sketch.bins.set(index, weight);
      sketch.count += weight;
    }
    sketch.zeroWeight = json.z;
    sketch.count += json.z;
    if (json.min !== null) sketch.min = json.min;
    if (json.max !== null) sketch.max = json.max;
    return sketch;
  }
}
