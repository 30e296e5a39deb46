/**
 * What the selector reads from a candidate object, read once: checked, with its static figures
 * (memory, context length, estimated cost, their logarithms) and its cold-start prior. Cached per
 * candidate object (a WeakMap); a new object for the same (model, version) is read again and reaches
 * the same arm.
 */
import type { ArmPrior } from './arm.js';
import { checkCandidate } from './input.js';
import { COST_FLOOR_USD, NEUTRAL_PRIOR } from './arm.js';
import { estimatedBytes, priorLatencyMs, priorQuality } from './prior.js';
import type { Candidate } from './types.js';

/** Floor of the log-scaled memory term: 1 MB counts as nothing (the cost's is COST_FLOOR_USD). */
const MEMORY_FLOOR_BYTES = 1e6;

export class Prepared {
  /** Resident bytes: measured, else estimated, else 0 for a remote model; NaN when unknown. */
  readonly memory: number;
  /** log10(memory + 1 MB); unknown counts as nothing. */
  readonly logMemory: number;
  /** NaN when unknown. */
  readonly contextLength: number;
  /** Cost before any is measured: the price-table estimate, else 0 for a local model; NaN when unknown. */
  readonly estimatedCost: number;
  readonly logEstimatedCost: number;
  readonly prior: ArmPrior;

  constructor(readonly candidate: Candidate) {
    const memory = candidate.stats?.memoryBytes ?? estimatedBytes(candidate) ?? (candidate.local ? Number.NaN : 0);
    this.memory = memory;
    this.logMemory = Math.log10((Number.isNaN(memory) ? 0 : memory) + MEMORY_FLOOR_BYTES);
    this.contextLength = candidate.contextLength ?? Number.NaN;
    this.estimatedCost = candidate.estimatedCostUsd ?? (candidate.local ? 0 : Number.NaN);
    this.logEstimatedCost = logCost(this.estimatedCost);
    const quality = priorQuality(candidate);
    const latency = priorLatencyMs(candidate);
    this.prior = {
      quality: quality ?? NEUTRAL_PRIOR.quality,
      qualityKnown: quality !== undefined,
      logLatency: latency === undefined ? NEUTRAL_PRIOR.logLatency : Math.log1p(latency),
      latencyKnown: latency !== undefined,
    };
  }

  static check(value: unknown, index: number): Prepared {
    return new Prepared(checkCandidate(value, index));
  }
}

/** log10(cost + $1e-6); unknown counts as nothing. */
export function logCost(costUsd: number): number {
  return Math.log10((Number.isNaN(costUsd) ? 0 : costUsd) + COST_FLOOR_USD);
}
