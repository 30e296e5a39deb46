import { Aggregate } from './aggregate.js';
import { DecayedSums, decay } from './decayed.js';
import type { ResolvedHistoryOptions } from './options.js';
import { bucketStart, type PriorJson } from './stats.js';
import type { PerfKey, PerformanceSummary, PerformanceWindow, RecordedSample } from './types.js';

/** A prior as history holds it: the stored JSON and its aggregate, parsed once. */
export interface Prior {
  json: PriorJson;
  aggregate: Aggregate;
}

/** Decayed sums, all-time aggregate and time buckets: what is stored per key, and the shape of a flush delta. */
export class Aggregates {
  decayed = new DecayedSums();
  all: Aggregate;
  readonly buckets = new Map<number, Aggregate>();

  constructor(private readonly options: ResolvedHistoryOptions) {
    this.all = new Aggregate(options.relativeAccuracy);
  }

  bucket(start: number): Aggregate {
    let bucket = this.buckets.get(start);
    if (bucket === undefined) this.buckets.set(start, (bucket = new Aggregate(this.options.relativeAccuracy)));
    return bucket;
  }

  fold(samples: readonly RecordedSample[], from = 0): void {
    const { halfLifeMs, bucketMs } = this.options;
    for (let index = from; index < samples.length; index++) {
      const sample = samples[index]!;
      this.decayed.add(sample, halfLifeMs);
      this.all.add(sample);
      this.bucket(bucketStart(sample.at, bucketMs)).add(sample);
    }
  }

  merge(other: Aggregates): void {
    this.decayed.merge(other.decayed, this.options.halfLifeMs);
    this.all.merge(other.all);
    for (const [start, bucket] of other.buckets) this.bucket(start).merge(bucket);
  }
}

/**
 * What this process knows of one (model, version, task, tenant), in three layers: `stored` (the
 * store's rows as last read, plus this process's committed flushes), `inflight` (a flush being
 * written) and `overlay` (samples recorded since, folded lazily). Recording only appends to
 * `pending`; the overlay folds new samples in when the key is read or flushed, so the hot path does
 * no sketch work.
 */
export class KeyState {
  stored: Aggregates;
  /** Samples of a flush being written, and (built on demand) their aggregates. */
  inflightSamples: RecordedSample[] | undefined;
  inflight: Aggregates | undefined;
  overlay: Aggregates | undefined;
  prior: Prior | undefined;
  /** Samples not yet flushed; the first `folded` are in the overlay. */
  pending: RecordedSample[] = [];
  folded = 0;
  /** Bumped when any layer changes; summaries are cached against it. */
  changes = 0;
  readonly cache = new Map<PerformanceWindow, { changes: number; at: number; summary: PerformanceSummary }>();

  constructor(
    readonly key: PerfKey,
    private readonly options: ResolvedHistoryOptions,
  ) {
    this.stored = new Aggregates(options);
  }

  /** Folds newly recorded samples into the overlay. */
  catchUp(): void {
    if (this.folded === this.pending.length) return;
    this.overlay ??= new Aggregates(this.options);
    this.overlay.fold(this.pending, this.folded);
    this.folded = this.pending.length;
    this.changes++;
  }

  /** The layers, bottom to top. */
  layers(): Aggregates[] {
    this.catchUp();
    const layers = [this.stored];
    if (this.inflightSamples !== undefined) {
      if (this.inflight === undefined) (this.inflight = new Aggregates(this.options)).fold(this.inflightSamples);
      layers.push(this.inflight);
    }
    if (this.overlay) layers.push(this.overlay);
    return layers;
  }

  /** Decayed sums and all-time aggregate over every layer. */
  combined(): { decayed: DecayedSums; all: Aggregate } {
    const [bottom, ...rest] = this.layers() as [Aggregates, ...Aggregates[]];
    if (rest.length === 0) return { decayed: bottom.decayed, all: bottom.all };
    const decayed = new DecayedSums();
    const all = new Aggregate(this.options.relativeAccuracy);
    for (const layer of [bottom, ...rest]) {
      decayed.merge(layer.decayed, this.options.halfLifeMs);
      all.merge(layer.all);
    }
    return { decayed, all };
  }

  /** A prior's aggregate counts its `weight` when taken; it decays like the samples it stands for. */
  priorScale(now: number): number {
    return decay(now - this.prior!.json.at, this.options.halfLifeMs);
  }
}
