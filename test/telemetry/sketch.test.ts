import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../src/telemetry/index.js';
import { seededRandom as random } from '../helpers/expect.js';


function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe('QuantileSketch', () => {
  it('answers quantiles within its relative accuracy on a long-tailed distribution', () => {
    const next = random(7);
    const sketch = new QuantileSketch(0.01);
    const values: number[] = [];
    for (let index = 0; index < 20_000; index++) {
      const value = Math.exp(next() * 8) * 3; // 3 ms .. ~9 s, log-uniform
      values.push(value);
      sketch.add(value);
    }
    values.sort((left, right) => left - right);
    for (const q of [0, 0.1, 0.5, 0.9, 0.95, 0.99, 1]) {
      const exact = exactQuantile(values, q);
      expect(Math.abs(sketch.quantile(q)! - exact) / exact).toBeLessThanOrEqual(0.0201);
    }
    expect(sketch.count).toBe(20_000);
    expect(sketch.min).toBe(values[0]);
    expect(sketch.max).toBe(values.at(-1));
    expect(sketch.binCount).toBeLessThan(500);
  });

  it('merges (scaled) and round-trips through JSON', () => {
    const left = new QuantileSketch();
    const right = new QuantileSketch();
    const both = new QuantileSketch();
    for (let value = 1; value <= 100; value++) {
      (value % 2 === 0 ? left : right).add(value);
      both.add(value);
    }
    const merged = left.clone();
    merged.merge(right);
    expect(merged.quantiles([0.25, 0.5, 0.75])).toEqual(both.quantiles([0.25, 0.5, 0.75]));
    const half = both.clone(0.5);
    expect(half.count).toBe(50);
    expect(half.quantile(0.5)).toBe(both.quantile(0.5));
    const copy = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(both)));
    expect(copy.quantiles([0, 0.5, 0.99, 1])).toEqual(both.quantiles([0, 0.5, 0.99, 1]));
    expect(copy.count).toBe(both.count);
    // Merging an empty sketch, or with a zero scale, changes nothing.
    merged.merge(new QuantileSketch());
    merged.merge(both, 0);
    expect(merged.count).toBe(100);
    expect(() => merged.merge(new QuantileSketch(0.05))).toThrow(RangeError);
    expect(() => new QuantileSketch(0)).toThrow(RangeError);
  });

  it('handles zeros, weights and emptiness', () => {
    const sketch = new QuantileSketch();
    expect(sketch.quantile(0.5)).toBeUndefined();
    expect(sketch.toJSON()).toMatchObject({ min: null, max: null });
    expect(QuantileSketch.fromJSON(sketch.toJSON()).count).toBe(0);
    sketch.add(0, 3);
    sketch.add(10, 1);
    expect(sketch.count).toBe(4);
    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(1)).toBeCloseTo(10, 0);
    const zeros = new QuantileSketch();
    zeros.add(0);
    expect(zeros.quantiles([0, 1])).toEqual([0, 0]);
  });
});
