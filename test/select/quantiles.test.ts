import { describe, expect, it } from 'vitest';
import { digamma, exactLogits, fillQualityTable, trigamma } from '../../src/select/beta.js';
import { TABLE_STEPS, drawBits, normalDraw, normalQuantile, tableDraw } from '../../src/select/quantiles.js';
import { Random } from '../../src/select/random.js';
import { Data, Posterior } from '../../src/select/posterior.js';

describe('select: draws', () => {
  it('computes digamma, trigamma and normal quantiles', () => {
    const euler = 0.5772156649015329;
    expect(digamma(1)).toBeCloseTo(-euler, 10);
    expect(digamma(0.5)).toBeCloseTo(-euler - 2 * Math.LN2, 10);
    expect(digamma(100)).toBeCloseTo(4.600161852738087, 10);
    expect(trigamma(1)).toBeCloseTo(Math.PI ** 2 / 6, 8);
    expect(trigamma(0.5)).toBeCloseTo(Math.PI ** 2 / 2, 8);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
    expect(normalQuantile(0.5)).toBe(0);
  });

  it('tabulates exact quantiles of Betas, directly and through the bank, reflected or not', () => {
    const logits = new Float64Array(TABLE_STEPS + 1);
    const table = new Float64Array(TABLE_STEPS + 1);
    const sigmoid = (y: number) => 1 / (1 + Math.exp(-y));
    // Beta(a, 1): Q(p) = p^(1/a); Beta(1, b): Q(p) = 1 − (1 − p)^(1/b); Beta(½, ½): Q(p) = sin²(πp/2).
    const cases: Array<[number, number, (p: number) => number]> = [];
    for (const s of [0.2, 0.7, 1.5, 5]) {
      cases.push([s, 1, (p) => p ** (1 / s)]);
      cases.push([1, s, (p) => 1 - (1 - p) ** (1 / s)]);
    }
    cases.push([0.5, 0.5, (p) => Math.sin((Math.PI * p) / 2) ** 2]);
    for (const [a, b, quantile] of cases) {
      exactLogits(a, b, logits);
      fillQualityTable(a, b, table);
      for (const k of [1, 8, 32, 56, 63]) {
        const p = k / TABLE_STEPS;
        expect(Math.abs(sigmoid(logits[k]!) - quantile(p)), `exact Beta(${a}, ${b}) at ${p}`).toBeLessThan(0.002);
        expect(Math.abs(table[k]! - quantile(p)), `table Beta(${a}, ${b}) at ${p}`).toBeLessThan(0.01);
      }
    }
    // Outside the bank (a shape below 0.01, a ratio above 1e6) the integration runs directly.
    fillQualityTable(0.005, 1, table);
    expect(table[32]).toBeCloseTo(0.5 ** 200, 6);
    fillQualityTable(1, 2e6, table);
    expect(table[32]).toBeCloseTo(1 - 0.5 ** (1 / 2e6), 8);
  });

  it('draws quality close to a Beta posterior: its mean and spread, cold-start shapes included', () => {
    // Beta(a, b) has mean a / (a + b) and variance ab / ((a + b)²(a + b + 1)).
    const table = new Float64Array(TABLE_STEPS + 1);
    for (const [a, b] of [[0.2, 1.8], [0.3, 1.7], [1, 1], [1.5, 0.5], [10, 1], [2, 5], [2, 50], [30, 10], [40, 60], [400, 600]] as const) {
      fillQualityTable(a, b, table);
      let sum = 0;
      let squares = 0;
      const n = 40_000;
      for (let i = 0; i < n; i++) {
        const q = tableDraw(table, 0, drawBits(12345, i));
        sum += q;
        squares += q * q;
      }
      const m = sum / n;
      const v = squares / n - m * m;
      const betaMean = a / (a + b);
      const betaSd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
      expect(Math.abs(m - betaMean), `mean of Beta(${a}, ${b})`).toBeLessThan(0.05 * betaSd);
      expect(Math.abs(Math.sqrt(v) / betaSd - 1), `sd of Beta(${a}, ${b})`).toBeLessThan(0.08);
    }
  });

  it('draws standard normals and uncorrelated bits', () => {
    let sum = 0;
    let squares = 0;
    let cross = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const bits = drawBits(99, i);
      const z = normalDraw(bits);
      const u = (bits & 4095) / 4096 - 0.5;
      sum += z;
      squares += z * z;
      cross += z * u;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.03);
    expect(Math.abs(cross / n)).toBeLessThan(0.01);
  });

  it('Random: seeded, restorable, never stuck at zero', () => {
    const a = new Random(7);
    const b = new Random(7);
    const words = Array.from({ length: 5 }, () => a.int32());
    expect(Array.from({ length: 5 }, () => b.int32())).toEqual(words);
    const c = new Random(1);
    c.state = a.state;
    expect(c.int32()).toBe(a.int32());
    c.state = [0, 0, 0, 0];
    expect(new Set(Array.from({ length: 10 }, () => c.int32())).size).toBeGreaterThan(5);
  });
});

describe('select: quality tables on a grid of the Beta shapes', () => {
  const beta = (a: number, b: number) => ({ mean: a / (a + b), sd: Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1))) });
  const tableMoments = (table: Float64Array) => {
    // The mean and sd of a draw: the table's interpolation integrated over uniform bits.
    let m = 0;
    let s = 0;
    const n = 64 * 64;
    for (let i = 0; i < n; i++) {
      const q = tableDraw(table, 0, Math.floor(((i + 0.5) / n) * 65536));
      m += q;
      s += q * q;
    }
    return { mean: m / n, sd: Math.sqrt(Math.max(0, s / n - (m / n) ** 2)) };
  };

  it("a posterior's table is within 5% of an sd of the exact Beta's (mean) and 2% (spread), cold shapes to thousands", () => {
    const exact = new Float64Array(TABLE_STEPS + 1);
    for (const a of [0.02, 0.1, 0.5, 1, 3, 10, 30, 100, 500, 1400]) {
      for (const b of [0.0123, 0.1, 0.7, 2, 9, 31, 120, 480, 1300]) {
        const data = new Data();
        data.wQ = a + b;
        data.sR = a;
        const posterior = new Posterior();
        posterior.update({ quality: 0.5, qualityWeight: 0, logLatency: 0, variance: 1, latencyWeight: 1 }, data, true, true, true);
        fillQualityTable(a, b, exact);
        const { sd } = beta(a, b);
        const gridded = tableMoments(posterior.table);
        const reference = tableMoments(exact);
        expect(Math.abs(gridded.mean - reference.mean) / sd, `mean of Beta(${a}, ${b})`).toBeLessThan(0.05);
        expect(Math.abs(gridded.sd / reference.sd - 1), `sd of Beta(${a}, ${b})`).toBeLessThan(0.02);
      }
    }
  });

  it('is refilled when a shape crosses a grid point, not after every outcome of a model that rarely fails', () => {
    const posterior = new Posterior();
    const data = new Data();
    const prior = { quality: 0.98, qualityWeight: 4, logLatency: 0, variance: 1, latencyWeight: 1 };
    let fills = 0;
    let last = posterior.table.slice();
    for (let i = 0; i < 400; i++) {
      data.add(1, 1);
      posterior.update(prior, data, true, true, true);
      if (i >= 200 && posterior.table.some((q, k) => q !== last[k])) fills++;
      last = posterior.table.slice();
    }
    // From the 200th outcome on, a grows from ~200 to ~400 (ln 2 = 35 steps of 2%) and b stays 0.08:
    // a fixed 0.5% grid would refill ~140 times of 200.
    expect(fills).toBeGreaterThan(20);
    expect(fills).toBeLessThan(50);
  });
});
