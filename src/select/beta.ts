/**
 * Quantile tables of Beta(a, b) posteriors, made each time a posterior changes, so they must cost about
 * a microsecond.
 *
 * - Both shapes ≥ 30: the logistic-normal approximation (Aitchison & Shen 1980). logit(X) has mean
 *   ψ(a) − ψ(b) and variance ψ′(a) + ψ′(b) exactly and is close to normal there (quantile errors of a
 *   few per cent of the sd), so X ≈ σ(m + s·z).
 * - Otherwise (cold-start priors, arms with few failures or few successes, where the logistic-normal
 *   errs by up to half the sd): exact quantiles, interpolated from a bank of exact tables on a grid of
 *   shapes. logit(X) has the smooth, log-concave density ∝ e^(a·y) / (1 + e^y)^(a+b) for every a, b > 0,
 *   so its quantiles are integrated on a grid in y (exactLogits) and vary smoothly with ln a and
 *   ln(b / a); the bank keeps them per grid cell (made on first use, ~10 µs each) and a table is their
 *   bilinear blend. Beyond the bank's range, the exact integration runs directly.
 */
import { NODE_Z, TABLE_STEPS, nodeProbability } from './quantiles.js';

// Imports as module constants: loops below read them often, and test runners turn imported names into
// property reads on every use.
const STEPS = TABLE_STEPS;
const NODE_NORMALS = NODE_Z;
const nodeP = nodeProbability;

/** Digamma ψ(x) for x > 0: recurrence up to 6, then the asymptotic series. */
export function digamma(x: number): number {
  let result = 0;
  while (x < 6) {
    result -= 1 / x;
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  return result + Math.log(x) - 0.5 * inv - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))));
}

/** Trigamma ψ′(x) for x > 0: recurrence up to 6, then the asymptotic series. */
export function trigamma(x: number): number {
  let result = 0;
  while (x < 6) {
    result += 1 / (x * x);
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  return result + inv + 0.5 * inv2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)));
}

/** Mean and standard deviation of logit(X) for X ~ Beta(a, b): ψ(a) − ψ(b) and √(ψ′(a) + ψ′(b)). */
function logitMoments(a: number, b: number): { mean: number; sd: number } {
  return { mean: digamma(a) - digamma(b), sd: Math.sqrt(trigamma(a) + trigamma(b)) };
}

/** From this smaller shape on, the logistic-normal approximation is used. */
const NORMAL_FROM_SHAPE = 30;

const GRID = 256;
const gridY = new Float64Array(GRID);
const gridCdf = new Float64Array(GRID);

/** ln(1 + e^y) without overflow. */
function softplus(y: number): number {
  return y > 0 ? y + Math.log1p(Math.exp(-y)) : Math.log1p(Math.exp(y));
}

/**
 * Fills `out` (TABLE_STEPS + 1 entries) with logit(Q(p)) of Beta(a, b) at the table nodes, by trapezoid
 * integration of the density of y = logit(X) (mode ln(a / b), a left tail like e^(a·y), a right one like
 * e^(−b·y)). Each side of the mode gets half of a 256-point grid reaching 14 / shape + 4 past it, so the
 * thin side is sampled as finely as the wide one.
 */
export function exactLogits(a: number, b: number, out: Float64Array): void {
  const mode = Math.log(a / b);
  const half = GRID >> 1;
  const left = (14 / a + 4) / half;
  const right = (14 / b + 4) / (GRID - 1 - half);
  let peak = -Infinity;
  for (let i = 0; i < GRID; i++) {
    const y = i <= half ? mode - (half - i) * left : mode + (i - half) * right;
    gridY[i] = y;
    const logDensity = a * y - (a + b) * softplus(y);
    gridCdf[i] = logDensity;
    if (logDensity > peak) peak = logDensity;
  }
  let previous = Math.exp(gridCdf[0]! - peak);
  gridCdf[0] = 0;
  for (let i = 1; i < GRID; i++) {
    const density = Math.exp(gridCdf[i]! - peak);
    gridCdf[i] = gridCdf[i - 1]! + ((previous + density) / 2) * (gridY[i]! - gridY[i - 1]!);
    previous = density;
  }
  const total = gridCdf[GRID - 1]!;
  let j = 1;
  for (let k = 0; k <= STEPS; k++) {
    const target = nodeP(k) * total;
    while (j < GRID - 1 && gridCdf[j]! < target) j++;
    const below = gridCdf[j - 1]!;
    const span = gridCdf[j]! - below;
    out[k] = gridY[j - 1]! + (span > 0 ? (target - below) / span : 0) * (gridY[j]! - gridY[j - 1]!);
  }
}

// The bank: cells at a = e^(U0 + i·U_STEP) (the smaller shape, 0.01 to 30) and b = a·e^(j·V_STEP)
// (b / a from 1 to 1e6).
const U0 = Math.log(0.01);
const U_STEP = Math.log(1.2);
const U_CELLS = Math.ceil((Math.log(NORMAL_FROM_SHAPE) - U0) / U_STEP) + 1;
const V_STEP = Math.log(1.25);
const V_CELLS = Math.ceil(Math.log(1e6) / V_STEP) + 1;
const bank = new Map<number, Float64Array>();

function cell(i: number, j: number): Float64Array {
  const key = i * V_CELLS + j;
  let logits = bank.get(key);
  if (logits === undefined) {
    logits = new Float64Array(STEPS + 1);
    const a = Math.exp(U0 + i * U_STEP);
    exactLogits(a, a * Math.exp(j * V_STEP), logits);
    bank.set(key, logits);
  }
  return logits;
}

const scratch = new Float64Array(STEPS + 1);

/** logit(Q(p)) of Beta(a, b) at the table nodes, into `out`, for a smaller shape below 30. */
function smallShapeLogits(a: number, b: number, out: Float64Array): void {
  // Q_{a,b}(p) = 1 − Q_{b,a}(1 − p): with the smaller shape first, logits reflect.
  const flip = a > b;
  const small = flip ? b : a;
  const large = flip ? a : b;
  const u = (Math.log(small) - U0) / U_STEP;
  const v = Math.log(large / small) / V_STEP;
  const target = flip ? scratch : out;
  if (u < 0 || u >= U_CELLS - 1 || v >= V_CELLS - 1) {
    exactLogits(small, large, target);
  } else {
    const i = Math.floor(u);
    const j = Math.floor(v);
    const fu = u - i;
    const fv = v - j;
    const c00 = cell(i, j);
    const c01 = cell(i, j + 1);
    const c10 = cell(i + 1, j);
    const c11 = cell(i + 1, j + 1);
    const w00 = (1 - fu) * (1 - fv);
    const w01 = (1 - fu) * fv;
    const w10 = fu * (1 - fv);
    const w11 = fu * fv;
    for (let k = 0; k <= STEPS; k++) target[k] = w00 * c00[k]! + w01 * c01[k]! + w10 * c10[k]! + w11 * c11[k]!;
  }
  if (flip) for (let k = 0; k <= STEPS; k++) out[k] = -scratch[STEPS - k]!;
}

/** Fills `out` (TABLE_STEPS + 1 entries) with the quantiles of Beta(a, b) at the table nodes. */
export function fillQualityTable(a: number, b: number, out: Float64Array): void {
  if (a < NORMAL_FROM_SHAPE || b < NORMAL_FROM_SHAPE) {
    smallShapeLogits(a, b, out);
    for (let k = 0; k <= STEPS; k++) out[k] = 1 / (1 + Math.exp(-out[k]!));
    return;
  }
  const { mean, sd } = logitMoments(a, b);
  for (let k = 0; k <= STEPS; k++) out[k] = 1 / (1 + Math.exp(-(mean + sd * NODE_NORMALS[k]!)));
}
