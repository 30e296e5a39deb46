import type { CostTotals, RequestCost } from './types.js';

/** Totals with every figure 0. */
export function emptyTotals(): CostTotals {
  return {
    requests: 0,
    promptTokens: 0,
    cachedPromptTokens: 0,
    generatedTokens: 0,
    cpuCoreSeconds: 0,
    memoryGbSeconds: 0,
    gpuSeconds: 0,
    energyKwh: 0,
    usd: 0,
  };
}

/** Adds `from` into `into` (in place). */
export function addTotals(into: CostTotals, from: CostTotals): void {
  into.requests += from.requests;
  into.promptTokens += from.promptTokens;
  into.cachedPromptTokens += from.cachedPromptTokens;
  into.generatedTokens += from.generatedTokens;
  into.cpuCoreSeconds += from.cpuCoreSeconds;
  into.memoryGbSeconds += from.memoryGbSeconds;
  into.gpuSeconds += from.gpuSeconds;
  into.energyKwh += from.energyKwh;
  into.usd += from.usd;
}

/** Adds one request's cost into `into` (in place). */
export function addCost(into: CostTotals, cost: RequestCost): void {
  into.requests += 1;
  into.promptTokens += cost.promptTokens;
  into.cachedPromptTokens += cost.cachedPromptTokens;
  into.generatedTokens += cost.generatedTokens;
  into.cpuCoreSeconds += cost.cpuCoreSeconds;
  into.memoryGbSeconds += cost.memoryGbSeconds;
  into.gpuSeconds += cost.gpuSeconds;
  into.energyKwh += cost.energyKwh;
  into.usd += cost.usd;
}

/**
 * Totals in time buckets: bucket i holds the records with floor(at / bucketMs) = i. Memory is bounded
 * by pruning buckets older than the retention.
 */
export class BucketSeries {
  readonly #buckets = new Map<number, CostTotals>();

  get size(): number {
    return this.#buckets.size;
  }

  add(bucket: number, cost: RequestCost): void {
    let totals = this.#buckets.get(bucket);
    if (totals === undefined) this.#buckets.set(bucket, (totals = emptyTotals()));
    addCost(totals, cost);
  }

  /** Adds every bucket ≥ `fromBucket` into `into`. */
  sumInto(into: CostTotals, fromBucket: number): void {
    for (const [bucket, totals] of this.#buckets) if (bucket >= fromBucket) addTotals(into, totals);
  }

  /** Adds every bucket of `other` into this series. */
  merge(other: BucketSeries): void {
    for (const [bucket, totals] of other.#buckets) {
      let into = this.#buckets.get(bucket);
      if (into === undefined) this.#buckets.set(bucket, (into = emptyTotals()));
      addTotals(into, totals);
    }
  }

  /** Drops buckets < `beforeBucket`. */
  prune(beforeBucket: number): void {
    for (const bucket of this.#buckets.keys()) if (bucket < beforeBucket) this.#buckets.delete(bucket);
  }
}
