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
