import { Aggregate } from './aggregate.js';
import { DecayedSums } from './decayed.js';
import { Aggregates, KeyState } from './key-state.js';
import type { ResolvedHistoryOptions } from './options.js';
import type { PerfStatsJson, PriorJson } from './stats.js';
import { summarize } from './summary.js';
import type { PerfBucketRow, PerfFlushKey, PerformanceSample, PerformanceStore, PerformanceSummary, PerformanceWindow, PerfStatsRow, RecordedSample, Task } from './types.js';

export { resolveHistoryOptions, type HistoryOptions, type ResolvedHistoryOptions } from './options.js';

const PRUNE_INTERVAL_MS = 60_000;

/** The tenant key of all callers. */
const ALL_CALLERS = '';

/** task → tenant → state. */
type TaskStates = Map<string, Map<string, KeyState>>;

/**
 * Performance history per (model, version, task, tenant): decayed means, all-time and bucketed
 * aggregates with percentile sketches, and priors carried over from the previous version. Tenant
 * '' is all callers: every sample is folded there, a sample with a tenant also under its tenant.
 * Recording touches memory only; {@link flush} merges what was recorded into the store in one
 * transaction. The registry serialises flushes with its other store work.
 *
 * Invariant: a view holds every stored row this process has read (up to the registry's perf
 * cursor) plus every sample recorded here. So a flush needs no answer from the store, and rows
 * read back later (own or another process's) replace the stored part without double counting.
 */
export class PerformanceHistory {
  /** modelId → version → task → tenant → state. */
  private readonly states = new Map<string, Map<string, TaskStates>>();
  private readonly dirty = new Set<KeyState>();
  /** Requests recorded and not yet flushed (each is pending once under tenant '', whatever its tenant). */
  private pendingSamples = 0;
  /** The state state() returned last (dropped with its version). */
  private last: KeyState | undefined;
  /** When old buckets were last pruned (the store prunes with a flush, at most once a minute). */
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(readonly options: ResolvedHistoryOptions) {}

  /** Samples recorded and not yet flushed. */
  get pending(): number {
    return this.pendingSamples;
  }

  private find(modelId: string, version: string, task: string, tenant: string): KeyState | undefined {
    return this.states.get(modelId)?.get(version)?.get(task)?.get(tenant);
  }

  private state(modelId: string, version: string, task: string, tenant: string): KeyState {
    // The state used last: requests of one model, task and tenant in a row cost no map lookup.
    const last = this.last;
    if (last !== undefined && last.key.modelId === modelId && last.key.version === version && last.key.task === task && last.key.tenant === tenant) return last;
    const state = this.lookup(modelId, version, task, tenant);
    this.last = state;
    return state;
  }

  private lookup(modelId: string, version: string, task: string, tenant: string): KeyState {
    let versions = this.states.get(modelId);
    if (versions === undefined) this.states.set(modelId, (versions = new Map()));
    let tasks = versions.get(version);
    if (tasks === undefined) versions.set(version, (tasks = new Map()));
    let tenants = tasks.get(task);
    if (tenants === undefined) tasks.set(task, (tenants = new Map()));
    let state = tenants.get(tenant);
    if (state === undefined) tenants.set(tenant, (state = new KeyState({ modelId, version, task, tenant }, this.options)));
    return state;
  }

  /** Every state of a model (of one version when given), or of every model. */
  private *statesOf(modelId?: string, version?: string): Generator<KeyState> {
    const models = modelId === undefined ? [...this.states.values()] : [this.states.get(modelId)];
    for (const versions of models) {
      if (versions === undefined) continue;
      const tasksList = version === undefined ? [...versions.values()] : [versions.get(version)];
      for (const tasks of tasksList) {
        if (tasks === undefined) continue;
        for (const tenants of tasks.values()) yield* tenants.values();
      }
    }
  }

  /**
   * Records one validated sample (copied) under tenant '' and, when it names one, its tenant.
   * Returns true when enough samples wait for a flush.
   */
  record(modelId: string, version: string, sample: PerformanceSample, at: number): boolean {
    const recorded: RecordedSample = { at, success: sample.success, totalMs: sample.totalMs };
    // Named reads and writes: the hot path of every request.
    if (sample.ttftMs !== undefined) recorded.ttftMs = sample.ttftMs;
    if (sample.tokensPerSecond !== undefined) recorded.tokensPerSecond = sample.tokensPerSecond;
    if (sample.quality !== undefined) recorded.quality = sample.quality;
    if (sample.memoryBytes !== undefined) recorded.memoryBytes = sample.memoryBytes;
    if (sample.costUsd !== undefined) recorded.costUsd = sample.costUsd;
    if (sample.queueMs !== undefined) recorded.queueMs = sample.queueMs;
    if (sample.promptTokens !== undefined) recorded.promptTokens = sample.promptTokens;
    if (sample.generatedTokens !== undefined) recorded.generatedTokens = sample.generatedTokens;
    if (sample.cpuMs !== undefined) recorded.cpuMs = sample.cpuMs;
    if (sample.memoryGbSeconds !== undefined) recorded.memoryGbSeconds = sample.memoryGbSeconds;
    const all = this.state(modelId, version, sample.task, ALL_CALLERS);
    all.pending.push(recorded);
    this.dirty.add(all);
    if (sample.tenant !== undefined && sample.tenant !== ALL_CALLERS) {
      const own = this.state(modelId, version, sample.task, sample.tenant);
      own.pending.push(recorded);
      this.dirty.add(own);
    }
    return ++this.pendingSamples >= this.options.flushBatchSize;
  }

  /** Takes stored rows (at load, or written by this or another process and read back) as the stored layer. */
  applyRows(stats: readonly PerfStatsRow[], buckets: readonly PerfBucketRow[]): void {
    for (const row of stats) {
      // A store written for keys without tenants gives rows without one: they are all callers' rows.
      const state = this.state(row.modelId, row.version, row.task, row.tenant ?? ALL_CALLERS);
      state.stored.decayed = DecayedSums.fromJSON(row.stats.decayed);
      state.stored.all = Aggregate.fromJSON(row.stats.all);
      state.prior = row.stats.prior === undefined ? undefined : { json: row.stats.prior, aggregate: Aggregate.fromJSON(row.stats.prior.aggregate) };
      state.changes++;
    }
    for (const row of buckets) {
      const state = this.state(row.modelId, row.version, row.task, row.tenant ?? ALL_CALLERS);
      state.stored.buckets.set(row.start, Aggregate.fromJSON(row.aggregate));
      state.changes++;
    }
  }

  /** Forgets all stored state (before a full reload), keeping unflushed samples. */
  reset(): void {
    for (const state of this.statesOf()) {
      state.stored = new Aggregates(this.options);
      state.prior = undefined;
      state.changes++;
    }
  }

  /** Drops a removed version's history (all versions when `version` is undefined). */
  drop(modelId: string, version?: string): void {
    const versions = this.states.get(modelId);
    if (versions === undefined) return;
    this.last = undefined;
    for (const state of this.statesOf(modelId, version)) {
      if (this.dirty.delete(state) && state.key.tenant === ALL_CALLERS) this.pendingSamples -= state.pending.length;
    }
    if (version === undefined) versions.clear();
    else versions.delete(version);
    if (versions.size === 0) this.states.delete(modelId);
  }

  /** Tasks with history for a version. */
  tasks(modelId: string, version: string): Task[] {
    return [...(this.states.get(modelId)?.get(version)?.keys() ?? [])];
  }

  /** Tenants with history for a version (any task), sorted; '' (all callers) is not listed. */
  tenants(modelId: string, version: string): string[] {
    const tenants = new Set<string>();
    for (const state of this.statesOf(modelId, version)) if (state.key.tenant !== ALL_CALLERS) tenants.add(state.key.tenant);
    return [...tenants].sort();
  }

  /**
   * Priors for a new version from the previous one's history: per task and tenant, the decayed
   * sums and the aggregates scaled down to `priorWeight` of their weight (at most `priorMaxSamples`).
   */
  buildPriors(modelId: string, fromVersion: string, toVersion: string, now: number): PerfStatsRow[] {
    const { halfLifeMs, priorWeight, priorMaxSamples, relativeAccuracy } = this.options;
    const rows: PerfStatsRow[] = [];
    for (const state of this.statesOf(modelId, fromVersion)) {
      const combined = state.combined();
      const weight = combined.decayed.weightAt(now, halfLifeMs);
      const target = Math.min(weight * priorWeight, priorMaxSamples);
      if (!(target > 0)) continue;
      const decayed = new DecayedSums();
      decayed.merge(combined.decayed, halfLifeMs, target / weight);
      const aggregate = combined.all.clone();
      if (state.prior) aggregate.merge(state.prior.aggregate, state.priorScale(now), false);
      const prior: PriorJson = { fromVersion, at: now, weight: target, aggregate: aggregate.clone(target / aggregate.count).toJSON() };
      const stats: PerfStatsJson = { decayed: decayed.toJSON(), all: new Aggregate(relativeAccuracy).toJSON(), prior };
      rows.push({ modelId, version: toVersion, task: state.key.task, tenant: state.key.tenant, stats });
    }
    return rows;
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
      keys.push({ ...state.key, samples });
    }
    if (prune) {
      for (const state of this.statesOf()) for (const start of state.stored.buckets.keys()) if (start < pruneBefore) state.stored.buckets.delete(start);
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
        const { modelId, version, task, tenant } = state.key;
        if (this.find(modelId, version, task, tenant) !== state) continue; // dropped meanwhile
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

  /** The summary of one key over a window, or undefined when the key has no history. */
  summary(modelId: string, version: string, task: string, tenant: string, window: PerformanceWindow, windowMs: number, now: number): PerformanceSummary | undefined {
    const state = this.find(modelId, version, task, tenant);
    return state === undefined ? undefined : summarize(state, this.options, window, windowMs, now);
  }
}
