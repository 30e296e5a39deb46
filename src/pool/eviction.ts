/**
 * Cost-aware eviction: which loaded models to unload to make room for another.
 *
 * Evicting a model costs, in expectation, its reload time times the chance it is needed again
 * soon. The chance comes from a decayed use count (recency and frequency in one number, as in
 * LRFU): each use adds 1 and the sum halves every `halfLifeMs`. For uses arriving at rate λ the
 * sum settles at λ·halfLife/ln 2, so λ ≈ score·ln 2 / halfLife, and the chance of at least one use
 * within the horizon is 1 − e^(−λ·horizon). Candidates are taken in order of expected cost per byte
 * freed on the devices that are short, then the set is trimmed of victims it does not need.
 */

export type DeviceBytes = Map<string, number>;

export interface EvictionPolicy {
  /** Half-life of the decayed use count, ms. Default 5 minutes. */
  halfLifeMs: number;
  /** How far ahead "needed again soon" looks, ms. Default: the half-life. */
  horizonMs: number;
  /** Fixed cost added to every reload (first request latency, warm-up), ms. Default 50. */
  reloadOverheadMs: number;
  /** Extra cost factor for a busy model (it must be drained first). Default 4. */
  busyPenalty: number;
}

export const DEFAULT_EVICTION_POLICY: EvictionPolicy = {
  halfLifeMs: 5 * 60_000,
  horizonMs: 5 * 60_000,
  reloadOverheadMs: 50,
  busyPenalty: 4,
};

export interface EvictionCandidate<T = unknown> {
  readonly item: T;
  /** Bytes this model holds per device. */
  readonly bytes: DeviceBytes;
  /** Measured reload time, ms. */
  readonly reloadMs: number;
  /** Decayed use count as of `scoredAt`. */
  readonly useScore: number;
  readonly scoredAt: number;
  /** 0 = unloads after its last release anyway; negative = keep forever. */
  readonly keepAliveMs: number;
  /** Has leases or waiters. */
  readonly busy: boolean;
}

/** The decayed use count after one more use at `now`. */
export function bumpUseScore(score: number, scoredAt: number, now: number, halfLifeMs: number): number {
  return decayUseScore(score, scoredAt, now, halfLifeMs) + 1;
}

export function decayUseScore(score: number, scoredAt: number, now: number, halfLifeMs: number): number {
  const elapsed = Math.max(0, now - scoredAt);
  return score * Math.pow(2, -elapsed / halfLifeMs);
}

/** Probability in [0, 1] that the model is used again within the horizon. */
export function reuseProbability(candidate: EvictionCandidate, now: number, policy: EvictionPolicy): number {
  if (candidate.keepAliveMs === 0) return 0;
  const score = decayUseScore(candidate.useScore, candidate.scoredAt, now, policy.halfLifeMs);
  const rate = (score * Math.LN2) / policy.halfLifeMs;
  return 1 - Math.exp(-rate * policy.horizonMs);
}

/** Expected milliseconds lost by evicting this model now. */
export function evictionCost(candidate: EvictionCandidate, now: number, policy: EvictionPolicy): number {
  const cost = reuseProbability(candidate, now, policy) * (candidate.reloadMs + policy.reloadOverheadMs);
  return candidate.busy ? cost * policy.busyPenalty + policy.reloadOverheadMs : cost;
}

export interface EvictionNeed {
  /** Bytes still missing per device (only positive entries matter). */
  bytes: DeviceBytes;
  /** Models that must go to respect the model-count limit. */
  models: number;
}

export interface EvictionChoice<T> {
  victims: Array<EvictionCandidate<T>>;
  /** Whether the victims together cover the need. */
  covers: boolean;
  /** Sum of the victims' expected costs, ms. */
  cost: number;
}

function relevantBytes(candidate: EvictionCandidate, need: EvictionNeed): number {
  let sum = 0;
  for (const [device, missing] of need.bytes) {
    if (missing > 0) sum += Math.min(missing, candidate.bytes.get(device) ?? 0);
  }
  return sum;
}

function covered(victims: ReadonlyArray<EvictionCandidate>, need: EvictionNeed): boolean {
  if (victims.length < need.models) return false;
  for (const [device, missing] of need.bytes) {
    if (missing <= 0) continue;
    let freed = 0;
    for (const v of victims) freed += v.bytes.get(device) ?? 0;
    if (freed < missing) return false;
  }
  return true;
}

/**
 * Picks the cheapest set of candidates that covers the need: greedy by expected cost per useful
 * byte (or by cost alone when only the model count is short), then drops any victim whose removal
 * still leaves the need covered, most expensive first.
 */
export function chooseVictims<T>(
  candidates: ReadonlyArray<EvictionCandidate<T>>,
  need: EvictionNeed,
  now: number,
  policy: EvictionPolicy = DEFAULT_EVICTION_POLICY,
): EvictionChoice<T> {
  const costs = new Map<EvictionCandidate<T>, number>();
  for (const c of candidates) costs.set(c, evictionCost(c, now, policy));
  const rank = (c: EvictionCandidate<T>): number => {
    const useful = relevantBytes(c, need);
    // Cost per useful byte; a candidate that frees nothing useful only helps the count limit.
    return useful > 0 ? costs.get(c)! / useful : Number.MAX_VALUE / 2 + costs.get(c)!;
  };
  const ordered = [...candidates].sort((a, b) => rank(a) - rank(b) || costs.get(a)! - costs.get(b)!);
  const victims: Array<EvictionCandidate<T>> = [];
  for (const c of ordered) {
    if (covered(victims, need)) break;
    if (relevantBytes(c, need) === 0 && victims.length >= need.models) continue;
    victims.push(c);
  }
  const covers = covered(victims, need);
  if (covers) {
    const byCostDesc = [...victims].sort((a, b) => costs.get(b)! - costs.get(a)!);
    for (const v of byCostDesc) {
      const without = victims.filter((x) => x !== v);
      if (covered(without, need)) victims.splice(victims.indexOf(v), 1);
    }
  }
  let cost = 0;
  for (const v of victims) cost += costs.get(v)!;
  return { victims, covers, cost };
}
