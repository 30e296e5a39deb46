/**
 * Rank statistics for calibrating a judge against labels: Spearman's rho on average ranks (tied
 * values share the mean of the ranks they span) and Kendall's tau-b (corrected for ties in either
 * variable). Both are null when undefined: fewer than two pairs, or a variable without variation.
 */
import { invalidArgument } from '../errors.js';

function checkPairs(x: readonly number[], y: readonly number[]): void {
  if (!Array.isArray(x) || !x.every(Number.isFinite)) throw invalidArgument('x', 'an array of finite numbers', x);
  if (!Array.isArray(y) || !y.every(Number.isFinite) || y.length !== x.length) throw invalidArgument('y', `an array of ${x.length} finite numbers`, y);
}

/** 1-based ranks, ties given the average of the ranks they span: [10, 20, 20, 30] → [1, 2.5, 2.5, 4]. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]!.value === order[start]!.value) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!.index] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Pearson's correlation; null when n < 2 or either variable is constant. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rho: Pearson's correlation of the average ranks. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * Kendall's tau-b: (concordant − discordant) / √((n0 − n1)(n0 − n2)), where n0 = n(n−1)/2 and n1, n2
 * count the pairs tied in x and in y. O(n²), plenty for labelled sets.
 */
export function kendallTau(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  const n = x.length;
  if (n < 2) return null;
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const denominator = Math.sqrt((n0 - tiedX) * (n0 - tiedY));
  return denominator === 0 ? null : (concordant - discordant) / denominator;
}
