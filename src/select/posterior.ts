/**
 * Posterior arithmetic of one arm in one context, kept as sufficient statistics:
 *
 * - quality: a Beta over fractional success (a success of quality q adds q to α and 1 − q to β, a
 *   failure adds 1 to β);
 * - latency: a Normal on x = ln(1 + ms) (log-normal latency) with its mean unknown and its variance
 *   estimated from the data and the prior (a known-variance update with the variance plugged in).
 *
 * A `Posterior` is the derived form Thompson sampling reads: the Beta's parameters, mean and quantile
 * table (quantiles.ts), the mean and spread of the log latency's mean, and the figures the constraints
 * are checked against. It is recomputed only when the arm's data change.
 */
import { PRIOR_LOG_SIGMA } from './prior.js';
import { fillQualityTable } from './beta.js';

import { TABLE_STEPS } from './quantiles.js';

/**
 * The step, in log scale, of the grid the quality table's Beta parameters are rounded to: 2% while the
 * smaller shape is at most 6.25, then halved each time its square root doubles. Rounding each shape by
 * up to e (half a step) moves the Beta's mean by at most about 2e·√(smaller shape) of its sd and its sd
 * by about e, so the table's mean stays within 5% of an sd of the exact one and its spread within 2%
 * (test/select/quantiles.test.ts) — where a fixed 0.5% grid refilled the table after nearly every
 * outcome of a model with few failures, for no difference a draw could show.
 */
function gridStep(a: number, b: number): number {
  const root = Math.sqrt(a < b ? a : b);
  let step = 0.02;
  for (let limit = 2.5; root > limit && step > 1e-5; limit *= 2) step /= 2;
  return step;
}

/** z of the 95th percentile of a standard normal. */
export const Z95 = 1.6448536269514722;

/**
 * Sufficient statistics of observations: quality weight and Σ quality; latency weight, Σ x and Σ x²
 * (x = ln(1 + ms)). Weights are fractional: history and predecessors enter as scaled pseudo-observations.
 */
export class Data {
  wQ = 0;
  sR = 0;
  wL = 0;
  sX = 0;
  sXX = 0;

  add(reward: number, x: number): void {
    this.wQ += 1;
    this.sR += reward;
    this.wL += 1;
    this.sX += x;
    this.sXX += x * x;
  }

  /** Multiplies every sum by `factor` (forgetting). */
  scale(factor: number): void {
    this.wQ *= factor;
    this.sR *= factor;
    this.wL *= factor;
    this.sX *= factor;
    this.sXX *= factor;
  }

  /** Adds `other` scaled by `factor`. */
  addScaled(other: Data, factor: number): void {
    this.wQ += other.wQ * factor;
    this.sR += other.sR * factor;
    this.wL += other.wL * factor;
    this.sX += other.sX * factor;
    this.sXX += other.sXX * factor;
  }

  toArray(): number[] {
    return [this.wQ, this.sR, this.wL, this.sX, this.sXX];
  }

  static fromArray(values: readonly number[]): Data {
    const data = new Data();
    data.wQ = values[0]!;
    data.sR = values[1]!;
    data.wL = values[2]!;
    data.sX = values[3]!;
    data.sXX = values[4]!;
    return data;
  }

  /** Σ (x − x̄)², never negative. */
  get squares(): number {
    return this.wL > 0 ? Math.max(0, this.sXX - (this.sX * this.sX) / this.wL) : 0;
  }
}

/** A prior, or a parent posterior acting as one: means and the weight they count for. */
export interface PriorBelief {
  quality: number;
  qualityWeight: number;
  logLatency: number;
  /** Variance of one observation of x. */
  variance: number;
  latencyWeight: number;
}

/** The derived posterior that selection reads. Fields are plain numbers (NaN when unknown). */
export class Posterior {
  /** Data version it was computed from. */
  version = -1;
  a = 1;
  b = 1;
  qualityMean = 0.5;
  /** Quantiles of the quality posterior at the table nodes (filled for Thompson sampling only). */
  readonly table = new Float64Array(TABLE_STEPS + 1);
  /** The grid points (see gridStep) of the Beta parameters the table was filled for, and the step (NaN: never filled). */
  tableA = Number.NaN;
  tableB = Number.NaN;
  tableStep = Number.NaN;
  /** Posterior mean of x = ln(1 + ms), its standard deviation, and one observation's. */
  mu = 0;
  muSd = 1;
  sigma = PRIOR_LOG_SIGMA;
  /** Figures for constraints: expected quality and p95 latency (ms); NaN when unknown. */
  qualityFigure = Number.NaN;
  p95Figure = Number.NaN;

  /**
   * Sets this to the posterior of `data` under `prior`. The figures are the posterior's: expected
   * quality, and the predictive 95th percentile of the next request's latency; NaN unless known.
   */
  update(prior: PriorBelief, data: Data, qualityKnown: boolean, latencyKnown: boolean, withDraws: boolean): void {
    const a = prior.quality * prior.qualityWeight + data.sR;
    const b = (1 - prior.quality) * prior.qualityWeight + Math.max(0, data.wQ - data.sR);
    // Guard against a zero-weight prior with no data: an even Beta(1, 1).
    this.a = a > 0 ? a : 1;
    this.b = b > 0 ? b : 1;
    this.qualityMean = this.a / (this.a + this.b);
    // The table holds the exact quantiles of Beta(â, b̂), â and b̂ being a and b rounded to a grid in
    // log scale (gridStep: within 5% of an sd). Filling it (65 quantiles, a few microseconds between two
    // requests) then happens when a count crosses a grid point, not after every observation. The grid
    // depends on the counts alone, so a selector restored from JSON draws exactly as the original.
    if (withDraws) {
      const step = gridStep(this.a, this.b);
      const ga = Math.round(Math.log(this.a) / step);
      const gb = Math.round(Math.log(this.b) / step);
      if (ga !== this.tableA || gb !== this.tableB || step !== this.tableStep) {
        fillQualityTable(Math.exp(ga * step), Math.exp(gb * step), this.table);
        this.tableA = ga;
        this.tableB = gb;
        this.tableStep = step;
      }
    }

    const k0 = prior.latencyWeight;
    const w = data.wL;
    // k0 > 0 always (priorStrength and contextPriorWeight are positive), so kappa > 0.
    const kappa = k0 + w;
    const mean = w > 0 ? data.sX / w : prior.logLatency;
    this.mu = (k0 * prior.logLatency + data.sX) / kappa;
    const shift = mean - prior.logLatency;
    const variance = (k0 * prior.variance + data.squares + ((k0 * w) / kappa) * shift * shift) / kappa;
    this.sigma = Math.sqrt(variance);
    this.muSd = Math.sqrt(variance / kappa);
    this.qualityFigure = qualityKnown ? this.qualityMean : Number.NaN;
    this.p95Figure = latencyKnown ? Math.expm1(this.mu + Z95 * Math.sqrt(this.sigma * this.sigma + this.muSd * this.muSd)) : Number.NaN;
  }

  /** This posterior as the prior of a child (a context), counting for at most `weight` observations. */
  asPrior(weight: number, out: PriorBelief): PriorBelief {
    out.quality = this.qualityMean;
    out.qualityWeight = Math.min(weight, this.a + this.b);
    out.logLatency = this.mu;
    out.variance = this.sigma * this.sigma;
    out.latencyWeight = weight;
    return out;
  }
}
