import type { AggregateJson } from './aggregate.js';
import type { PerfStatsJson } from './stats.js';

/**
 * Public types of telemetry (src/telemetry): what a measured request reports, the summaries history
 * serves, and the rows a store keeps. The registry re-exports them from its own types, so
 * `modelpool/registry` names them as before.
 */

/**
 * What a model can do. The named ones are the project's vocabulary; any other string is allowed.
 * Defined here, the lowest room that names it (samples are per task); the registry re-exports it.
 */
export type Task =
  | 'chat'
  | 'completion'
  | 'embedding'
  | 'judge'
  | 'code'
  | 'rerank'
  | 'vision'
  | 'tools'
  | (string & {});

/** One measured request. */
export interface PerformanceSample {
  /** Model id or alias. */
  model: string;
  /** Default: the model's default version. */
  version?: string;
  task: Task;
  /**
   * The caller (1 to 200 characters). A sample with a tenant counts both for that tenant and for all
   * callers; without one, only for all callers.
   */
  tenant?: string;
  totalMs: number;
  success: boolean;
  /** Time the request waited before it was served (admission, pool queue, CPU turn). */
  queueMs?: number;
  ttftMs?: number;
  tokensPerSecond?: number;
  /** Grader or judge score in [0, 1]. */
  quality?: number;
  memoryBytes?: number;
  /** Prompt tokens evaluated. */
  promptTokens?: number;
  /** Tokens generated. */
  generatedTokens?: number;
  /** CPU core-milliseconds spent on the request. */
  cpuMs?: number;
  /** The request's share of memory held × time, in GB·s. */
  memoryGbSeconds?: number;
  costUsd?: number;
  /** Epoch milliseconds; default now. */
  at?: number;
}

/** One recorded sample as history keeps it until it is folded into aggregates: its measures and time. */
export type RecordedSample = Pick<
  PerformanceSample,
  | 'success'
  | 'totalMs'
  | 'ttftMs'
  | 'tokensPerSecond'
  | 'quality'
  | 'memoryBytes'
  | 'costUsd'
  | 'queueMs'
  | 'promptTokens'
  | 'generatedTokens'
  | 'cpuMs'
  | 'memoryGbSeconds'
> & {
  at: number;
};

/** Named windows, or a window length in milliseconds. */
export type PerformanceWindow = 'all' | '1h' | '24h' | number;

export interface MetricSummary {
  /** Samples (plus prior weight) behind the figures. */
  weight: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

export interface PriorInfo {
  /** Version whose aggregates seeded this one. */
  fromVersion: string;
  /** The prior's effective sample count now (it decays like any sample). */
  weight: number;
  /** Prior weight ÷ total decayed weight: 1 with no own samples, towards 0 as own samples arrive. */
  share: number;
}

/** Time-decayed means (EWMA with the configured half-life), including the prior. */
export interface DecayedMeans {
  weight: number;
  successRate?: number;
  ttftMs?: number;
  totalMs?: number;
  tokensPerSecond?: number;
  quality?: number;
  memoryBytes?: number;
  costUsd?: number;
  queueMs?: number;
  promptTokens?: number;
  generatedTokens?: number;
  cpuMs?: number;
  memoryGbSeconds?: number;
}

/**
 * Sums over the window's own samples (the prior is not counted): what the requests consumed. A
 * measure counts only the samples that reported it.
 */
export interface PerformanceTotals {
  /** Own samples in the window (= `samples`). */
  requests: number;
  promptTokens: number;
  generatedTokens: number;
  cpuMs: number;
  memoryGbSeconds: number;
  costUsd: number;
}

export interface PerformanceSummary {
  modelId: string;
  version: string;
  task: Task;
  /** The caller these figures are for; '' for all callers. */
  tenant: string;
  window: PerformanceWindow;
  /** Own samples in the window (the prior is not counted here). */
  samples: number;
  failures: number;
  /** Window figures below include the prior's weight when there is one. */
  successRate?: number;
  ttftMs?: MetricSummary;
  totalMs?: MetricSummary;
  tokensPerSecond?: MetricSummary;
  queueMs?: MetricSummary;
  /** Means over the window. */
  quality?: number;
  memoryBytes?: number;
  promptTokens?: number;
  generatedTokens?: number;
  cpuMs?: number;
  memoryGbSeconds?: number;
  /** Mean (with the prior) and total (own samples only). */
  costUsd?: { mean: number; total: number };
  /** Sums over the window's own samples; absent when the window has none. */
  totals?: PerformanceTotals;
  decayed: DecayedMeans;
  /** Present when this version's history was seeded from the previous version. */
  prior?: PriorInfo;
  firstAt?: number;
  lastAt?: number;
}

// ---------------------------------------------------------------------------------------------
// What a store keeps per (model, version, task, tenant).

export interface PerfKey {
  modelId: string;
  version: string;
  task: string;
  /** The caller; '' for all callers (every sample is folded there, a tenant's also under its own key). */
  tenant: string;
}

export interface PerfStatsRow extends PerfKey {
  stats: PerfStatsJson;
}

export interface PerfBucketRow extends PerfKey {
  /** Bucket start, epoch milliseconds. */
  start: number;
  aggregate: AggregateJson;
}

/** The samples of one (model, version, task, tenant) recorded since the last flush, oldest first. */
export interface PerfFlushKey extends PerfKey {
  samples: readonly RecordedSample[];
}

export interface PerfFlush {
  /** Samples to fold into each key's stats and buckets (creating them as needed). */
  keys: PerfFlushKey[];
  halfLifeMs: number;
  /** Width of the time buckets (ms). */
  bucketMs: number;
  /** Relative accuracy of the sketches of newly created stats and buckets. */
  relativeAccuracy: number;
  /** Drop buckets that started before this (epoch ms). */
  pruneBefore?: number;
}

export interface PerfFlushResult {
  perfSeq: number;
}

/** Where history is flushed: the registry's store, or any store of telemetry rows. */
export interface PerformanceStore {
  /**
   * Folds flushed samples into the stored stats and buckets atomically (one transaction); keys of
   * versions that no longer exist are dropped. Every row it writes gets the flush's perf sequence.
   */
  flushPerformance(flush: PerfFlush): Promise<PerfFlushResult>;
}
