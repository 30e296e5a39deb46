/**
 * One arm of the bandit: a (model, version, task). It keeps the data of every outcome (its global
 * posterior) and, per context key, the data of that context, whose prior is the global posterior at
 * reduced weight (hierarchical back-off: a context with no data behaves like the arm overall, only
 * less certain, and one with data learns its own winner). Derived posteriors are cached and
 * recomputed only after the data change.
 */
import { Data, Posterior, Z95, type PriorBelief } from './posterior.js';
import { NEUTRAL_LATENCY_MS, NEUTRAL_QUALITY, PRIOR_LOG_SIGMA } from './prior.js';
import type { CandidateStats } from './types.js';

/** $ per request that counts as nothing in the log-scaled cost (see prepared.ts). */
export const COST_FLOOR_USD = 1e-6;

/** The cold-start prior of an arm: means, and whether each came from the candidate's own figures. */
export interface ArmPrior {
  quality: number;
  qualityKnown: boolean;
  /** ln(1 + typical ms). */
  logLatency: number;
  latencyKnown: boolean;
}

/** Weights shared by every arm of a selector. */
export interface ArmSettings {
  priorStrength: number;
  contextPriorWeight: number;
  maxHistoryWeight: number;
  maxPredecessorWeight: number;
  /** Each outcome multiplies the arm's earlier data by this (2^(−1/halfLife); 1: never forget). */
  decay: number;
  /** Whether posteriors need quality tables (Thompson sampling). */
  thompson: boolean;
  /** Whether selection reads context posteriors (else the arm-wide one). */
  contextual: boolean;
}

export const NEUTRAL_PRIOR: Readonly<ArmPrior> = {
  quality: NEUTRAL_QUALITY,
  qualityKnown: false,
  logLatency: Math.log1p(NEUTRAL_LATENCY_MS),
  latencyKnown: false,
};

const NO_DATA = new Data();

/** Arms changed, in order, so that views refresh only those (a ring of the last 4096). */
export class ChangeLog {
  static readonly SIZE = 4096;
  /** Changes recorded so far. */
  count = 0;
  readonly ring = new Array<Arm | undefined>(ChangeLog.SIZE).fill(undefined);

  record(arm: Arm): void {
    this.ring[this.count & (ChangeLog.SIZE - 1)] = arm;
    this.count += 1;
  }
}

/** The data and cached posterior of one context of an arm. */
class ArmContext {
  readonly data = new Data();
  readonly posterior = new Posterior();
}

export class Arm {
  /** Bumped on every change of the data; posteriors computed from an older one are stale. */
  revision = 0;
  prior: ArmPrior;
  /** False while the prior is the neutral one of an arm first seen through `observe`. */
  priorFromCandidate: boolean;
  readonly data = new Data();
  costWeight = 0;
  costSum = 0;
  /** Outcomes given to `observe`. */
  observed = 0;
  /** The history figures the data were last seeded from (a new lane over the same list does not re-seed). */
  seededFrom: CandidateStats | undefined;
  /** Figures measured by the history the arm was seeded from; NaN once outcomes arrive. */
  historyQuality = Number.NaN;
  historyP95 = Number.NaN;
  readonly contexts = new Map<number, ArmContext>();
  readonly #global = new Posterior();
  /** The posterior of a context with no data of its own. */
  readonly #emptyContext = new Posterior();
  readonly #belief: PriorBelief = { quality: 0, qualityWeight: 0, logLatency: 0, variance: 0, latencyWeight: 0 };

  constructor(
    readonly modelId: string,
    readonly version: string,
    readonly task: string,
    readonly settings: ArmSettings,
    prior?: ArmPrior,
    readonly log?: ChangeLog,
  ) {
    this.prior = prior ?? { ...NEUTRAL_PRIOR };
    this.priorFromCandidate = prior !== undefined;
  }

  /** Mean dollar cost of the outcomes and history (NaN with none). */
  get costMean(): number {
    return this.costWeight > 0 ? this.costSum / this.costWeight : Number.NaN;
  }

  get qualityKnown(): boolean {
    return this.prior.qualityKnown || this.data.wQ > 0;
  }

  get latencyKnown(): boolean {
    return this.prior.latencyKnown || this.data.wL > 0;
  }

  /** Cold prior plus all data. */
  globalPosterior(): Posterior {
    const posterior = this.#global;
    if (posterior.version !== this.revision) {
      const n0 = this.settings.priorStrength;
      const belief = this.#belief;
      belief.quality = this.prior.quality;
      belief.qualityWeight = n0;
      belief.logLatency = this.prior.logLatency;
      belief.variance = PRIOR_LOG_SIGMA * PRIOR_LOG_SIGMA;
      belief.latencyWeight = n0;
      // Contextual selection draws from context posteriors only: the arm-wide one needs no table then.
      posterior.update(belief, this.data, this.qualityKnown, this.latencyKnown, this.settings.thompson && !this.settings.contextual);
      this.#historyFigures(posterior);
      posterior.version = this.revision;
    }
    return posterior;
  }

  /** The posterior of context `id`: its own data under the global posterior at reduced weight. */
  contextPosterior(id: number): Posterior {
    const context = this.contexts.get(id);
    const posterior = context === undefined ? this.#emptyContext : context.posterior;
    if (posterior.version !== this.revision) {
      const global = this.globalPosterior();
      const belief = global.asPrior(this.settings.contextPriorWeight, this.#belief);
      const data = context === undefined ? NO_DATA : context.data;
      posterior.update(belief, data, this.qualityKnown, this.latencyKnown, this.settings.thompson);
      if (data.wQ === 0 && data.wL === 0) {
        // Nothing of its own: the figures are the arm's (the back-off widens draws, not figures).
        posterior.qualityFigure = global.qualityFigure;
        posterior.p95Figure = global.p95Figure;
      }
      posterior.version = this.revision;
    }
    return posterior;
  }

  /** Records one outcome (reward in [0, 1], x = ln(1 + ms)) globally and in context `contextId`. */
  observe(reward: number, x: number, costUsd: number | undefined, contextId: number | undefined): void {
    const decay = this.settings.decay;
    if (decay < 1) {
      this.data.scale(decay);
      this.costWeight *= decay;
      this.costSum *= decay;
    }
    this.data.add(reward, x);
    if (contextId !== undefined) {
      const context = this.#context(contextId).data;
      if (decay < 1) context.scale(decay);
      context.add(reward, x);
    }
    if (costUsd !== undefined) {
      this.costWeight += 1;
      this.costSum += costUsd;
    }
    this.observed += 1;
    this.historyQuality = Number.NaN;
    this.historyP95 = Number.NaN;
    this.#touch();
  }

  /**
   * Replaces the data with pseudo-observations from the history's figures, counting for at most
   * `maxHistoryWeight`: quality as success rate × graded quality, latency as a log-normal fitted to
   * the mean and p95, cost as the mean. Contexts are left as they are.
   */
  seedFromHistory(stats: CandidateStats): void {
    this.seededFrom = stats;
    const cap = this.settings.maxHistoryWeight;
    const data = this.data;
    data.wQ = data.sR = data.wL = data.sX = data.sXX = 0;
    this.costWeight = this.costSum = 0;
    this.historyQuality = this.historyP95 = Number.NaN;
    // Without own samples (a prior the history carried over from an earlier version), its weight stands.
    const base = stats.samples > 0 ? stats.samples : (stats.qualityWeight ?? 0);
    const weight = Math.min(cap, base);
    if (stats.successRate !== undefined || stats.quality !== undefined) {
      const mean = (stats.successRate ?? 1) * (stats.quality ?? 1);
      const qualityWeight = Math.min(cap, stats.quality !== undefined ? (stats.qualityWeight ?? base) : base);
      if (qualityWeight > 0) {
        data.wQ = qualityWeight;
        data.sR = mean * qualityWeight;
        if (stats.samples > 0) this.historyQuality = mean;
      }
    }
    const fit = logNormalFit(stats.meanLatencyMs, stats.p95LatencyMs);
    if (fit !== undefined && weight > 0) {
      data.wL = weight;
      data.sX = fit.mu * weight;
      data.sXX = (fit.sigma * fit.sigma + fit.mu * fit.mu) * weight;
      if (stats.samples > 0 && stats.p95LatencyMs !== undefined) this.historyP95 = stats.p95LatencyMs;
    }
    if (stats.costUsd !== undefined && weight > 0) {
      this.costWeight = weight;
      this.costSum = stats.costUsd * weight;
    }
    this.#touch();
  }

  /**
   * Seeds the data, globally and per context, from a predecessor's learned data scaled down: by half,
   * and further so that it counts for at most `maxPredecessorWeight` observations.
   */
  seedFromPredecessor(predecessor: Arm): void {
    const weight = Math.max(predecessor.data.wQ, predecessor.data.wL, predecessor.costWeight);
    if (weight <= 0) return;
    const factor = Math.min(0.5, this.settings.maxPredecessorWeight / weight);
    this.data.addScaled(predecessor.data, factor);
    this.costWeight += predecessor.costWeight * factor;
    this.costSum += predecessor.costSum * factor;
    for (const [id, context] of predecessor.contexts) this.seedContext(id, context.data, factor);
    this.#touch();
  }

  /** Adds `data` × `factor` to context `id` (seeding and restoring). */
  seedContext(id: number, data: Data, factor: number): void {
    this.#context(id).data.addScaled(data, factor);
    this.#touch();
  }

  /** Sets the cold-start prior from a candidate (once per arm, or over the neutral one). */
  setPrior(prior: ArmPrior): void {
    this.prior = prior;
    this.priorFromCandidate = true;
    this.#touch();
  }

  /** A new revision: cached posteriors are stale, and views of this arm learn it from the log. */
  #touch(): void {
    this.revision += 1;
    this.log?.record(this);
  }

  #context(id: number): ArmContext {
    let context = this.contexts.get(id);
    if (context === undefined) {
      context = new ArmContext();
      this.contexts.set(id, context);
    }
    return context;
  }

  /** While the data are the history's alone, its measured figures stand for themselves. */
  #historyFigures(posterior: Posterior): void {
    if (this.observed > 0) return;
    if (!Number.isNaN(this.historyQuality)) posterior.qualityFigure = this.historyQuality;
    if (!Number.isNaN(this.historyP95)) posterior.p95Figure = this.historyP95;
  }
}

/**
 * A log-normal over x = ln(1 + ms) matching a mean and a p95: ln(1 + p95) − ln(1 + mean) = z·σ − σ²/2
 * solved for σ (σ ≤ z); with one figure only, σ is the prior's.
 */
function logNormalFit(meanMs: number | undefined, p95Ms: number | undefined): { mu: number; sigma: number } | undefined {
  if (meanMs === undefined && p95Ms === undefined) return undefined;
  if (meanMs === undefined) return { mu: Math.log1p(p95Ms!) - Z95 * PRIOR_LOG_SIGMA, sigma: PRIOR_LOG_SIGMA };
  const mean = Math.log1p(meanMs);
  if (p95Ms === undefined) return { mu: mean - (PRIOR_LOG_SIGMA * PRIOR_LOG_SIGMA) / 2, sigma: PRIOR_LOG_SIGMA };
  const gap = Math.log1p(p95Ms) - mean;
  const disc = Z95 * Z95 - 2 * gap;
  const sigma = gap <= 0 ? 0 : disc <= 0 ? Z95 : Z95 - Math.sqrt(disc);
  return { mu: mean - (sigma * sigma) / 2, sigma };
}
