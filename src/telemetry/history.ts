import { Aggregate, bucketStart, DecayedSums, MEAN_SLOT, type PerfStatsJson, type PriorJson, type RecordedSample } from './aggregate.js';
import type { PerfBucketRow, PerfFlushKey, PerfKey, PerformanceSample, PerformanceStore, PerformanceSummary, PerformanceWindow, PerfStatsRow, Task } from './types.js';

/** Tuning of performance history. */
export interface HistoryOptions {
  /** Half-life of the decayed means (ms). Default 1 hour. */
  halfLifeMs?: number;
  /** Width of the time buckets behind windowed percentiles (ms). Default 15 minutes. */
  bucketMs?: number;
  /** How long buckets are kept, in memory and in the store (ms). Default 24 hours + one bucket. */
  retentionMs?: number;
  /** Background flush period (ms). Default 1000. */
  flushIntervalMs?: number;
  /** Samples that trigger a flush before the timer. Default 1000. */
  flushBatchSize?: number;
  /** A new version's prior weighs this share of the previous version's decayed weight. Default 0.3. */
  priorWeight?: number;
  /** ...and at most this many samples' worth. Default 50. */
  priorMaxSamples?: number;
  /** Relative accuracy of the percentile sketches. Default 0.01 (1%). */
  relativeAccuracy?: number;
}

export type ResolvedHistoryOptions = Required<HistoryOptions>;

export function resolveHistoryOptions(options: HistoryOptions = {}): ResolvedHistoryOptions {
  const bucketMs = options.bucketMs ?? 15 * 60_000;
  return {
    halfLifeMs: options.halfLifeMs ?? 3_600_000,
    bucketMs,
    retentionMs: options.retentionMs ?? 86_400_000 + bucketMs,
    flushIntervalMs: options.flushIntervalMs ?? 1000,
    flushBatchSize: options.flushBatchSize ?? 1000,
    priorWeight: options.priorWeight ?? 0.3,
    priorMaxSamples: options.priorMaxSamples ?? 50,
    relativeAccuracy: options.relativeAccuracy ?? 0.01,
  };
}

interface Prior {
  json: PriorJson;
  aggregate: Aggregate;
}

/** Decayed sums, all-time aggregate and time buckets: what is stored per key, and the shape of a flush delta. */
class Aggregates {
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
 * What this process knows of one (model, version, task), in three layers: `stored` (the store's
 * rows as last read, plus this process's committed flushes), `inflight` (a flush being written)
 * and `overlay` (samples recorded since, folded lazily). Recording only appends to `pending`; the
 * overlay folds new samples in when the key is read or flushed, so the hot path does no sketch work.
 */
class KeyState {
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
}

const SUMMARY_CACHE_MS = 1000;
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Performance history per (model, version, task): decayed means, all-time and bucketed aggregates
 * with percentile sketches, and priors carried over from the previous version. Recording touches
 * memory only; {@link flush} merges what was recorded into the store in one transaction. The
 * registry serialises flushes with its other store work.
 *
 * Invariant: a view holds every stored row this process has read (up to the registry's perf
 * cursor) plus every sample recorded here. So a flush needs no answer from the store, and rows
 * read back later (own or another process's) replace the stored part without double counting.
 */
export class PerformanceHistory {
  /** modelId → version → task → state. */
  private readonly states = new Map<string, Map<string, Map<string, KeyState>>>();
  private readonly dirty = new Set<KeyState>();
  private pendingSamples = 0;
  /** When old buckets were last pruned (the store prunes with a flush, at most once a minute). */
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(readonly options: ResolvedHistoryOptions) {}

  /** Samples recorded and not yet flushed. */
  get pending(): number {
    return this.pendingSamples;
  }

  private find(modelId: string, version: string, task: string): KeyState | undefined {
    return this.states.get(modelId)?.get(version)?.get(task);
  }

  private state(modelId: string, version: string, task: string): KeyState {
    let versions = this.states.get(modelId);
    if (versions === undefined) this.states.set(modelId, (versions = new Map()));
    let tasks = versions.get(version);
    if (tasks === undefined) versions.set(version, (tasks = new Map()));
    let state = tasks.get(task);
    if (state === undefined) tasks.set(task, (state = new KeyState({ modelId, version, task }, this.options)));
    return state;
  }

  /** Records one validated sample (copied). Returns true when enough samples wait for a flush. */
  record(modelId: string, version: string, sample: PerformanceSample, at: number): boolean {
    const state = this.state(modelId, version, sample.task);
    const recorded: RecordedSample = { at, success: sample.success, totalMs: sample.totalMs };
    if (sample.ttftMs !== undefined) recorded.ttftMs = sample.ttftMs;
    if (sample.tokensPerSecond !== undefined) recorded.tokensPerSecond = sample.tokensPerSecond;
    if (sample.quality !== undefined) recorded.quality = sample.quality;
    if (sample.memoryBytes !== undefined) recorded.memoryBytes = sample.memoryBytes;
    if (sample.costUsd !== undefined) recorded.costUsd = sample.costUsd;
    state.pending.push(recorded);
    this.dirty.add(state);
    return ++this.pendingSamples >= this.options.flushBatchSize;
  }

  /** Takes stored rows (at load, or written by this or another process and read back) as the stored layer. */
  applyRows(stats: readonly PerfStatsRow[], buckets: readonly PerfBucketRow[]): void {
    for (const row of stats) {
      const state = this.state(row.modelId, row.version, row.task);
      state.stored.decayed = DecayedSums.fromJSON(row.stats.decayed);
      state.stored.all = Aggregate.fromJSON(row.stats.all);
      state.prior = row.stats.prior === undefined ? undefined : { json: row.stats.prior, aggregate: Aggregate.fromJSON(row.stats.prior.aggregate) };
      state.changes++;
    }
    for (const row of buckets) {
      const state = this.state(row.modelId, row.version, row.task);
      state.stored.buckets.set(row.start, Aggregate.fromJSON(row.aggregate));
      state.changes++;
    }
  }

  /** Forgets all stored state (before a full reload), keeping unflushed samples. */
  reset(): void {
    for (const versions of this.states.values()) {
      for (const tasks of versions.values()) {
        for (const state of tasks.values()) {
          state.stored = new Aggregates(this.options);
          state.prior = undefined;
          state.changes++;
        }
      }
    }
  }

  /** Drops a removed version's history (all versions when `version` is undefined). */
  drop(modelId: string, version?: string): void {
    const versions = this.states.get(modelId);
    if (versions === undefined) return;
    for (const [name, tasks] of versions) {
      if (version !== undefined && name !== version) continue;
      for (const state of tasks.values()) {
        if (this.dirty.delete(state)) this.pendingSamples -= state.pending.length;
      }
      versions.delete(name);
    }
    if (versions.size === 0) this.states.delete(modelId);
  }

  /** Tasks with history for a version. */
  tasks(modelId: string, version: string): Task[] {
    return [...(this.states.get(modelId)?.get(version)?.keys() ?? [])];
  }

  /**
   * Priors for a new version from the previous one's history: per task, the decayed sums and the
   * aggregates scaled down to `priorWeight` of their weight (at most `priorMaxSamples`).
   */
  buildPriors(modelId: string, fromVersion: string, toVersion: string, now: number): PerfStatsRow[] {
    const { halfLifeMs, priorWeight, priorMaxSamples, relativeAccuracy } = this.options;
    const rows: PerfStatsRow[] = [];
    for (const state of this.states.get(modelId)?.get(fromVersion)?.values() ?? []) {
      const combined = state.combined();
      const weight = combined.decayed.weightAt(now, halfLifeMs);
      const target = Math.min(weight * priorWeight, priorMaxSamples);
      if (!(target > 0)) continue;
      const decayed = new DecayedSums();
      decayed.merge(combined.decayed, halfLifeMs, target / weight);
      const aggregate = combined.all.clone();
      if (state.prior) aggregate.merge(state.prior.aggregate, this.priorScale(state.prior, now), false);
      const prior: PriorJson = { fromVersion, at: now, weight: target, aggregate: aggregate.clone(target / aggregate.count).toJSON() };
      const stats: PerfStatsJson = { decayed: decayed.toJSON(), all: new Aggregate(relativeAccuracy).toJSON(), prior };
      rows.push({ modelId, version: toVersion, task: state.key.task, stats });
    }
    return rows;
  }

  /** A prior's aggregate counts `weight`; it decays like the samples it stands for. */
  private priorScale(prior: Prior, now: number): number {
    const elapsed = now - prior.json.at;
    return elapsed <= 0 ? 1 : Math.pow(2, -elapsed / this.options.halfLifeMs);
  }

  /**
   * Writes the unflushed samples through `store`; returns the store's perf sequence, or undefined
   * when nothing was pending. On failure the samples stay pending for the next flush.
   */
  async flush(store: PerformanceStore, now: number): Promise<number | undefined> {
    if (this.dirty.size === 0) return undefined;
    const prune = now - this.prunedAt >= PRUNE_INTERVAL_MS;
    const pruneBefore = now - this.options.retentionMs;
    const taken: KeyState[] = [];
    const keys: PerfFlushKey[] = [];
    for (const state of this.dirty) {
      const samples = state.pending;
      // The store gets the samples themselves: no per-key delta aggregates to build, encode and merge.
      // An overlay folded up to date (the key was read) is exactly their aggregate: keep it as the in-flight layer.
      state.inflight = state.overlay !== undefined && state.folded === samples.length ? state.overlay : undefined;
      state.inflightSamples = samples;
      state.overlay = undefined;
      state.pending = [];
      state.folded = 0;
      taken.push(state);
      keys.push({ modelId: state.key.modelId, version: state.key.version, task: state.key.task, samples });
    }
    if (prune) {
      for (const versions of this.states.values()) {
        for (const tasks of versions.values()) {
          for (const state of tasks.values()) for (const start of state.stored.buckets.keys()) if (start < pruneBefore) state.stored.buckets.delete(start);
        }
      }
    }
    this.dirty.clear();
    const pending = this.pendingSamples;
    this.pendingSamples = 0;
    let perfSeq: number;
    try {
      const { halfLifeMs, bucketMs, relativeAccuracy } = this.options;
      perfSeq = (await store.flushPerformance({ keys, halfLifeMs, bucketMs, relativeAccuracy, ...(prune ? { pruneBefore } : {}) })).perfSeq;
    } catch (error) {
      // Put the samples back in front of anything recorded meanwhile; the overlay is rebuilt on the next read.
      for (const state of taken) {
        const samples = state.inflightSamples!;
        state.inflight = undefined;
        state.inflightSamples = undefined;
        if (this.find(state.key.modelId, state.key.version, state.key.task) !== state) continue; // dropped meanwhile
        state.pending = samples.concat(state.pending);
        state.overlay = undefined;
        state.folded = 0;
        state.changes++;
        this.dirty.add(state);
      }
      this.pendingSamples += pending;
      throw error;
    }
    for (const state of taken) {
      // Fold in place: no new objects for a key that already has history.
      if (state.inflight !== undefined) state.stored.merge(state.inflight);
      else state.stored.fold(state.inflightSamples!);
      state.inflight = undefined;
      state.inflightSamples = undefined;
    }
    if (prune) this.prunedAt = now;
    return perfSeq;
  }

  summary(modelId: string, version: string, task: string, window: PerformanceWindow, windowMs: number, now: number): PerformanceSummary | undefined {
    const state = this.find(modelId, version, task);
    if (state === undefined) return undefined;
    const layers = state.layers();
    const cached = state.cache.get(window);
    if (cached !== undefined && cached.changes === state.changes && now >= cached.at && now - cached.at < SUMMARY_CACHE_MS) return cached.summary;

    const { halfLifeMs, bucketMs } = this.options;
    const combined = state.combined();
    let aggregate: Aggregate;
    if (windowMs === Number.POSITIVE_INFINITY) {
      aggregate = combined.all.clone();
    } else {
      aggregate = new Aggregate(this.options.relativeAccuracy);
      const since = now - windowMs;
      for (const layer of layers) {
        for (const [start, bucket] of layer.buckets) if (start + bucketMs > since && start <= now) aggregate.merge(bucket);
      }
    }
    const { count: samples, failures, firstAt, lastAt } = aggregate;
    const costTotal = aggregate.means[MEAN_SLOT.cost + 1]!;
    const summary: PerformanceSummary = { modelId, version, task, window, samples, failures, decayed: combined.decayed.means(now, halfLifeMs) };
    if (state.prior) {
      const scale = this.priorScale(state.prior, now);
      const weight = state.prior.json.weight * scale;
      aggregate.merge(state.prior.aggregate, scale, false);
      const total = Math.max(combined.decayed.weightAt(now, halfLifeMs), weight);
      summary.prior = { fromVersion: state.prior.json.fromVersion, weight, share: total > 0 ? weight / total : 0 };
    }
    if (aggregate.count > 0) summary.successRate = 1 - aggregate.failures / aggregate.count;
    Object.assign(summary, aggregate.summaries());
    const quality = aggregate.mean(MEAN_SLOT.quality);
    if (quality !== undefined) summary.quality = quality;
    const memory = aggregate.mean(MEAN_SLOT.memory);
    if (memory !== undefined) summary.memoryBytes = memory;
    const cost = aggregate.mean(MEAN_SLOT.cost);
    if (cost !== undefined) summary.costUsd = { mean: cost, total: costTotal };
    if (Number.isFinite(firstAt)) summary.firstAt = firstAt;
    if (Number.isFinite(lastAt)) summary.lastAt = lastAt;
    Object.freeze(summary);
    state.cache.set(window, { changes: state.changes, at: now, summary });
    return summary;
  }
}
