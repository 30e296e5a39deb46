import { describe, expect, it } from 'vitest';
import { topKlDivergence } from '../../src/eval/index.js';
import { klDivergence, quantile, toDistribution } from '../../src/eval/divergence.js';
import type { TopLogprob } from '../../src/model/types.js';
import { seededRandom } from '../helpers/expect.js';

/** A distribution over `n` tokens as evaluate() reports it: most likely first, natural logs. */
function distribution(probs: number[]): TopLogprob[] {
  return probs.map((p, id) => ({ id, text: String(id), logprob: Math.log(p) })).sort((a, b) => b.logprob - a.logprob);
}

function randomProbs(n: number, random: () => number, sharpness = 3): number[] {
  const w = Array.from({ length: n }, () => Math.exp(sharpness * random()));
  const total = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / total);
}

const exactKl = (p: number[], q: number[]) => p.reduce((s, pi, i) => s + pi * Math.log(pi / q[i]!), 0);

describe('KL divergence over top-k lists', () => {
  it('is the exact KL when both lists hold the whole vocabulary', () => {
    const p = [0.5, 0.25, 0.125, 0.125];
    const q = [0.25, 0.25, 0.25, 0.25];
    expect(topKlDivergence(distribution(p), distribution(q), 4)).toBeCloseTo(exactKl(p, q), 12);
    expect(topKlDivergence(distribution(q), distribution(p), 4)).toBeCloseTo(exactKl(q, p), 12);
    expect(topKlDivergence(distribution(p), distribution(p), 4)).toBe(0);
  });

  it('never exceeds the exact KL when the lists are truncated, and tightens as k grows', () => {
    const random = seededRandom(7);
    for (let trial = 0; trial < 50; trial++) {
      const n = 64;
      const p = randomProbs(n, random);
      const q = randomProbs(n, random);
      const full = exactKl(p, q);
      // Top-k sets are nested, so a larger k refines the partition: the bound only grows.
      let previous = 0;
      for (const k of [1, 2, 4, 8, 16, 32, 48, 63]) {
        const kl = topKlDivergence(distribution(p).slice(0, k), distribution(q).slice(0, k));
        expect(kl).toBeLessThanOrEqual(full + 1e-12);
        expect(kl).toBeGreaterThanOrEqual(previous - 1e-12);
        previous = kl;
      }
      // Whole lists without the vocabulary size: the rest bucket is empty, so the figure is the exact one.
      expect(topKlDivergence(distribution(p), distribution(q))).toBeCloseTo(full, 9);
    }
  });

  it('puts the tokens outside either list into one rest bucket', () => {
    // P's top 2: tokens 0 and 1; Q's top 2: tokens 0 and 2. Shared: token 0 only.
    const p = [0.6, 0.3, 0.05, 0.05];
    const q = [0.4, 0.1, 0.45, 0.05];
    const kl = topKlDivergence(distribution(p).slice(0, 2), distribution(q).slice(0, 2));
    const expected = 0.6 * Math.log(0.6 / 0.4) + 0.4 * Math.log(0.4 / 0.6);
    expect(kl).toBeCloseTo(expected, 12);
  });

  it('survives a rest mass rounded to nothing on one side', () => {
    const p = toDistribution([{ id: 0, text: 'a', logprob: Math.log(0.5) }]);
    const q = toDistribution([{ id: 0, text: 'a', logprob: 0 }]);
    const kl = klDivergence(p, q);
    expect(Number.isFinite(kl)).toBe(true);
    expect(kl).toBeGreaterThan(1);
  });
});

describe('quantile', () => {
  it('interpolates between order statistics', () => {
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.95)).toBe(5);
    expect(quantile([0, 10], 0.95)).toBeCloseTo(9.5, 12);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
