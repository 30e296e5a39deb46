/**
 * Telemetry: how models performed. Performance history per (model, version, task) with time decay,
 * windowed percentiles and priors carried across versions; the mergeable aggregates and quantile
 * sketches behind it; and the rows a store keeps of them. It knows nothing of the catalog: the
 * registry (and later cost tracking and selection) build on it, never the other way round.
 */
export { PerformanceHistory, resolveHistoryOptions, type HistoryOptions, type ResolvedHistoryOptions } from './history.js';
export { QuantileSketch, type SketchJson } from './sketch.js';
/** For stores: the aggregates they persist as JSON and fold flushed samples into. */
export {
  Aggregate,
  DecayedSums,
  foldAggregate,
  foldStats,
  groupByBucket,
  liveStatsFromJSON,
  liveStatsToJSON,
  type AggregateJson,
  type DecayedSumsJson,
  type DistributionJson,
  type LiveStats,
  type PerfStatsJson,
  type PriorJson,
  type RecordedSample,
} from './aggregate.js';
export type * from './types.js';
