/**
 * Telemetry: how models performed. Performance history per (model, version, task, tenant) with
 * time decay, windowed percentiles, cost totals and priors carried across versions; the mergeable
 * aggregates and quantile sketches behind it; and the rows a store keeps of them. It knows nothing
 * of the catalog: the registry (and later cost tracking and selection) build on it, never the
 * other way round.
 */
export { PerformanceHistory, resolveHistoryOptions, type HistoryOptions, type ResolvedHistoryOptions } from './history.js';
export { QuantileSketch, type SketchJson } from './sketch.js';
export { queryTenant, checkSample, TENANT_MAX_LENGTH } from './sample.js';
/** For stores: the aggregates they persist as JSON and fold flushed samples into. */
export { Aggregate, type AggregateJson, type DistributionJson } from './aggregate.js';
export { DecayedSums, type DecayedSumsJson } from './decayed.js';
export {
  foldAggregate,
  foldStats,
  groupByBucket,
  liveStatsFromJSON,
  liveStatsToJSON,
  type LiveStats,
  type PerfStatsJson,
  type PriorJson,
} from './stats.js';
export type * from './types.js';
