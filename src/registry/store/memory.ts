import { ModelpoolError } from '../../errors.js';
import { Aggregate, DecayedSums, foldAggregate, foldStats, groupByBucket, liveStatsFromJSON, liveStatsToJSON, type LiveStats } from '../../telemetry/index.js';
import {
  conflict,
  lastTransitions,
  nameTaken,
  type LoadOptions,
  type ModelDocument,
  type ModelWrite,
  type PerfBucketRow,
  type PerfFlush,
  type PerfFlushResult,
  type PerfKey,
  type PerfStatsRow,
  type RegistryStore,
  type StoreChanges,
  type StoreCursor,
  type StoreSnapshot,
  type StoredTransition,
  type WriteResult,
} from './store.js';

/** Model ids, versions and tasks have no line breaks, so the tenant (last) may hold any character. */
function perfKey(key: PerfKey): string {
  return `${key.modelId}\n${key.version}\n${key.task}\n${key.tenant}`;
}

interface StoredModel {
  json: string;
  transitions: StoredTransition[];
}

interface StoredStats {
  seq: number;
  key: PerfKey;
  live: LiveStats;
  /** The key's time buckets by start. */
  buckets: Map<number, StoredBucket>;
}

interface StoredBucket {
  seq: number;
  key: PerfKey;
  start: number;
  aggregate: Aggregate;
}

const CHANGE_LOG_LIMIT = 10_000;

/**
 * A store in this process's memory: for ephemeral registries and tests. Several registries may
 * share one instance; they then behave like processes sharing a SQLite file. Documents are kept
 * as JSON so that nothing a caller holds aliases stored state. Performance rows are keyed by
 * (model, version, task, tenant), like the SQLite store's.
 */
export class MemoryRegistryStore implements RegistryStore {
  readonly location = ':memory:';
  private readonly models = new Map<string, StoredModel>();
  private readonly names = new Map<string, { owner: string; isAlias: boolean }>();
  /** Version names per model, for the flush's existence check. */
  private readonly versions = new Map<string, Set<string>>();
  private changes: Array<{ seq: number; modelId: string }> = [];
  private modelSeq = 0;
  private perfSeq = 0;
  /** Kept as live objects that flushes fold samples into (buckets under their key); read out as fresh JSON. */
  private readonly stats = new Map<string, StoredStats>();

  private *allBuckets(): Generator<StoredBucket> {
    for (const stored of this.stats.values()) yield* stored.buckets.values();
  }
  private closed = false;

  private assertOpen(): void {
    if (this.closed) throw new ModelpoolError('DISPOSED', 'The memory registry store is closed');
  }

  private document(id: string, limit: number): ModelDocument | null {
    const stored = this.models.get(id);
    if (stored === undefined) return null;
    const document = JSON.parse(stored.json) as ModelDocument;
    document.transitions = lastTransitions(stored.transitions, limit).map((transition) => ({ ...transition }));
    return document;
  }

  async load(options: LoadOptions): Promise<StoreSnapshot> {
    this.assertOpen();
    return {
      cursor: { models: this.modelSeq, perf: this.perfSeq },
      models: [...this.models.keys()].map((id) => this.document(id, options.transitionLimit)!),
      stats: [...this.stats.values()].map(statsRow),
      buckets: [...this.allBuckets()].filter((stored) => stored.start >= options.bucketsSince).map(bucketRow),
    };
  }

  async changesSince(cursor: StoreCursor, options: LoadOptions): Promise<StoreChanges | undefined> {
    this.assertOpen();
    if (cursor.models >= this.modelSeq && cursor.perf >= this.perfSeq) return undefined;
    const next: StoreCursor = { models: this.modelSeq, perf: this.perfSeq };
    const oldest = this.changes[0]?.seq ?? this.modelSeq + 1;
    if (cursor.models + 1 < oldest && cursor.models < this.modelSeq) {
      return { cursor: next, snapshot: await this.load(options), models: [], stats: [], buckets: [] };
    }
    const ids = new Set(this.changes.filter((change) => change.seq > cursor.models).map((change) => change.modelId));
    return {
      cursor: next,
      models: [...ids].map((id) => ({ id, document: this.document(id, options.transitionLimit) })),
      stats: [...this.stats.values()].filter((stored) => stored.seq > cursor.perf).map(statsRow),
      buckets: [...this.allBuckets()].filter((stored) => stored.seq > cursor.perf && stored.start >= options.bucketsSince).map(bucketRow),
    };
  }

  async writeModel(write: ModelWrite): Promise<WriteResult> {
    this.assertOpen();
    const stored = this.models.get(write.modelId);
    const previous = stored === undefined ? undefined : (JSON.parse(stored.json) as ModelDocument).model;
    const current = previous?.revision ?? 0;
    if (current !== write.expectedRevision) throw conflict(write.modelId, write.expectedRevision, current);
    // Check every name before touching anything: a refused write changes nothing.
    const document = write.document;
    const names = document === null ? [] : [document.model.id, ...document.model.aliases];
    names.forEach((name, index) => {
      const owner = this.names.get(name);
      if (owner !== undefined && owner.owner !== write.modelId) throw nameTaken(name, owner.owner, index > 0);
    });

    if (previous !== undefined) for (const name of [previous.id, ...previous.aliases]) this.names.delete(name);
    const removedVersions = new Set(write.removedVersions);
    const dropPerf = (modelId: string, version?: string): void => {
      for (const [key, value] of this.stats) {
        if (value.key.modelId === modelId && (version === undefined || value.key.version === version)) this.stats.delete(key);
      }
    };
    if (document === null) {
      this.models.delete(write.modelId);
      this.versions.delete(write.modelId);
      dropPerf(write.modelId);
    } else {
      names.forEach((name, index) => this.names.set(name, { owner: write.modelId, isAlias: index > 0 }));
      const transitions = (stored?.transitions ?? []).filter((transition) => !removedVersions.has(transition.version));
      transitions.push(...write.newTransitions.map((transition) => ({ ...transition })));
      this.models.set(write.modelId, { json: JSON.stringify({ ...document, transitions: [] }), transitions });
      this.versions.set(write.modelId, new Set(document.versions.map((version) => version.version)));
      for (const version of removedVersions) dropPerf(write.modelId, version);
    }
    const result: WriteResult = { modelSeq: ++this.modelSeq };
    if (write.priors.length > 0) {
      result.perfSeq = ++this.perfSeq;
      for (const prior of write.priors) {
        const id = perfKey(prior);
        this.stats.set(id, { seq: this.perfSeq, key: pickKey(prior), live: liveStatsFromJSON(prior.stats), buckets: this.stats.get(id)?.buckets ?? new Map() });
      }
    }
    this.changes.push({ seq: this.modelSeq, modelId: write.modelId });
    if (this.changes.length > CHANGE_LOG_LIMIT) this.changes = this.changes.slice(-CHANGE_LOG_LIMIT);
    return result;
  }

  async flushPerformance(flush: PerfFlush): Promise<PerfFlushResult> {
    this.assertOpen();
    const perfSeq = ++this.perfSeq;
    const exists = (key: PerfKey): boolean => this.versions.get(key.modelId)?.has(key.version) === true;
    for (const flushed of flush.keys) {
      if (!exists(flushed)) continue;
      const id = perfKey(flushed);
      let stored = this.stats.get(id);
      if (stored === undefined) {
        const live: LiveStats = { decayed: new DecayedSums(), all: new Aggregate(flush.relativeAccuracy) };
        this.stats.set(id, (stored = { seq: perfSeq, key: pickKey(flushed), live, buckets: new Map() }));
      }
      stored.seq = perfSeq;
      foldStats(stored.live, flushed.samples, flush.halfLifeMs);
      for (const [start, samples] of groupByBucket(flushed.samples, flush.bucketMs)) {
        let bucket = stored.buckets.get(start);
        if (bucket === undefined) stored.buckets.set(start, (bucket = { seq: perfSeq, key: stored.key, start, aggregate: new Aggregate(flush.relativeAccuracy) }));
        bucket.seq = perfSeq;
        foldAggregate(bucket.aggregate, samples);
      }
    }
    if (flush.pruneBefore !== undefined) {
      for (const stored of this.stats.values()) for (const start of stored.buckets.keys()) if (start < flush.pruneBefore) stored.buckets.delete(start);
    }
    return { perfSeq };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function statsRow(stored: StoredStats): PerfStatsRow {
  return { ...stored.key, stats: liveStatsToJSON(stored.live) };
}

function bucketRow(stored: StoredBucket): PerfBucketRow {
  return { ...stored.key, start: stored.start, aggregate: stored.aggregate.toJSON() };
}

function pickKey(key: PerfKey): PerfKey {
  return { modelId: key.modelId, version: key.version, task: key.task, tenant: key.tenant };
}
