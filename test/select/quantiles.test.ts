import { describe, expect, it } from 'vitest';
import { digamma, exactLogits, fillQualityTable, trigamma } from '../../src/select/beta.js';
import { TABLE_STEPS, drawBits, normalDraw, normalQuantile, tableDraw } from '../../src/select/quantiles.js';
import { Random } from '../../src/select/random.js';

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
