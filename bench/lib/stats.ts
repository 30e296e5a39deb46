/** Order statistics for benchmark samples: a figure is a median, never one sample, and always comes with its spread. */

export interface Summary {
  n: number;
  median: number;
  /** 25th and 75th percentiles (linear interpolation between order statistics). */
  q1: number;
  q3: number;
  min: number;
  max: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75),
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

export const fmt = (value: number): string =>
  !Number.isFinite(value) ? 'n/a' : Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2);

/** "1234 (IQR 1200–1300, 1100–1400, n=15)": the median, its interquartile range, the extremes and the count. */
export function formatSummary(s: Summary): string {
  if (s.n === 0) return 'n/a';
  return `${fmt(s.median)} (IQR ${fmt(s.q1)}–${fmt(s.q3)}, range ${fmt(s.min)}–${fmt(s.max)}, n=${s.n})`;
}

/** The ratio of two medians, "0.97x", or '-' when either is missing. */
export function ratioOfMedians(a: Summary, b: Summary): number {
  return a.n > 0 && b.n > 0 && b.median > 0 ? a.median / b.median : Number.NaN;
}

/** Relative half-width of the interquartile range: how far a figure can be trusted, as a fraction of it. */
export function relativeIqr(s: Summary): number {
  return s.n > 0 && s.median > 0 ? (s.q3 - s.q1) / 2 / s.median : Number.NaN;
}
