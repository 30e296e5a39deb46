import { Aggregate, type AggregateJson } from './aggregate.js';
import { DecayedSums, type DecayedSumsJson } from './decayed.js';
import type { RecordedSample } from './types.js';

export interface PriorJson {
  fromVersion: string;
  /** When the prior was taken. */
  at: number;
  /** Effective sample count when taken. */
  weight: number;
  aggregate: AggregateJson;
}

/** What a store keeps per (model, version, task, tenant) besides the time buckets. */
export interface PerfStatsJson {
  decayed: DecayedSumsJson;
  all: AggregateJson;
  prior?: PriorJson;
}

/** Start of the time bucket holding `at`. */
export function bucketStart(at: number, bucketMs: number): number {
  return at - (at % bucketMs);
}

/** What a store keeps per key besides buckets, as live objects it can fold samples into. */
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
