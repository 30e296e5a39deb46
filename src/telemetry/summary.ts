import { Aggregate, MEAN_SLOT } from './aggregate.js';
import type { KeyState } from './key-state.js';
import type { ResolvedHistoryOptions } from './options.js';
import type { PerformanceSummary, PerformanceTotals, PerformanceWindow } from './types.js';

/** How long a summary is served from the cache while nothing changes (ms). */
const SUMMARY_CACHE_MS = 1000;

/** Metrics with a window mean on the summary, by the summary field that holds it. */
const WINDOW_MEANS = ['quality', 'memoryBytes', 'promptTokens', 'generatedTokens', 'cpuMs', 'memoryGbSeconds'] as const;

/**
 * The summary of one key over a window: own samples from the all-time aggregate or the buckets in
 * the window, the prior merged in at its decayed weight, decayed means over every layer. Frozen and
 * cached on the key for up to a second while nothing changes.
 */
export function summarize(state: KeyState, options: ResolvedHistoryOptions, window: PerformanceWindow, windowMs: number, now: number): PerformanceSummary {
  const layers = state.layers();
  const cached = state.cache.get(window);
  if (cached !== undefined && cached.changes === state.changes && now >= cached.at && now - cached.at < SUMMARY_CACHE_MS) return cached.summary;

  const { halfLifeMs, bucketMs } = options;
  const combined = state.combined();
  let aggregate: Aggregate;
  if (windowMs === Number.POSITIVE_INFINITY) {
    aggregate = combined.all.clone();
  } else {
    aggregate = new Aggregate(options.relativeAccuracy);
    const since = now - windowMs;
    for (const layer of layers) {
      for (const [start, bucket] of layer.buckets) if (start + bucketMs > since && start <= now) aggregate.merge(bucket);
    }
  }
  const { count: samples, failures, firstAt, lastAt } = aggregate;
  const { modelId, version, task, tenant } = state.key;
  const summary: PerformanceSummary = { modelId, version, task, tenant, window, samples, failures, decayed: combined.decayed.means(now, halfLifeMs) };
  // Totals are what the own samples consumed: taken before the prior is merged in.
  const totals: PerformanceTotals | undefined =
    samples > 0
      ? {
          requests: samples,
          promptTokens: aggregate.sum(MEAN_SLOT.promptTokens),
          generatedTokens: aggregate.sum(MEAN_SLOT.generatedTokens),
          cpuMs: aggregate.sum(MEAN_SLOT.cpuMs),
          memoryGbSeconds: aggregate.sum(MEAN_SLOT.memoryGbSeconds),
          costUsd: aggregate.sum(MEAN_SLOT.costUsd),
        }
      : undefined;
  if (state.prior) {
    const scale = state.priorScale(now);
    const weight = state.prior.json.weight * scale;
    aggregate.merge(state.prior.aggregate, scale, false);
    const total = Math.max(combined.decayed.weightAt(now, halfLifeMs), weight);
    summary.prior = { fromVersion: state.prior.json.fromVersion, weight, share: total > 0 ? weight / total : 0 };
  }
  if (aggregate.count > 0) summary.successRate = 1 - aggregate.failures / aggregate.count;
  Object.assign(summary, aggregate.summaries());
  for (const metric of WINDOW_MEANS) {
    const mean = aggregate.mean(MEAN_SLOT[metric]);
    if (mean !== undefined) summary[metric] = mean;
  }
  const cost = aggregate.mean(MEAN_SLOT.costUsd);
  if (cost !== undefined) summary.costUsd = { mean: cost, total: totals?.costUsd ?? 0 };
  if (totals !== undefined) summary.totals = Object.freeze(totals);
  if (Number.isFinite(firstAt)) summary.firstAt = firstAt;
  if (Number.isFinite(lastAt)) summary.lastAt = lastAt;
  Object.freeze(summary);
  state.cache.set(window, { changes: state.changes, at: now, summary });
  return summary;
}
