import { describe, expect, it } from 'vitest';
import { DEFAULT_OBJECTIVE, Selector, type Candidate } from '../../src/select/index.js';
import { candidate } from './helpers.js';

const GB = 1e9;

/** The order of the candidates by their greedy score. */
function order(selector: Selector, list: readonly Candidate[], objective?: Parameters<Selector['select']>[0]['objective']): string[] {
  const explained = selector.select({ task: 'chat', ...(objective === undefined ? {} : { objective }) }, list).candidates();
  return explained
    .filter((e) => e.eligible)
    .sort((a, b) => b.score! - a.score!)
    .map((e) => e.modelId);
}

describe('Selector: objective', () => {
  // Same history of quality and latency for all but one figure each.
  const stats = (quality: number, latency: number) => ({ samples: 50, successRate: 1, quality, meanLatencyMs: latency, p95LatencyMs: latency * 2 });
  const list: Candidate[] = [
    candidate('accurate', { memoryBytes: 8 * GB, stats: stats(0.9, 1000) }),
    candidate('quick', { memoryBytes: 8 * GB, stats: stats(0.6, 50) }),
    candidate('cheap', { local: false, estimatedCostUsd: 1e-5, stats: stats(0.6, 1000) }),
    candidate('pricey', { local: false, estimatedCostUsd: 0.1, stats: stats(0.6, 1000) }),
    candidate('lean', { memoryBytes: 0.01 * GB, stats: stats(0.6, 1000) }),
  ];

  it('defaults to a quality-heavy objective', () => {
    expect(DEFAULT_OBJECTIVE).toEqual({ quality: 1, latency: 0.1, cost: 0.05, memory: 0.02 });
    expect(order(new Selector({ exploration: 'greedy' }), list)[0]).toBe('accurate');
  });

  it('orders by each weight alone', () => {
    const selector = new Selector({ exploration: 'greedy' });
    expect(order(selector, list, { quality: 1, latency: 0, cost: 0, memory: 0 })[0]).toBe('accurate');
    expect(order(selector, list, { quality: 0, latency: 1, cost: 0, memory: 0 })[0]).toBe('quick');
    // Remote models hold no local memory; among the local ones the lean one wins.
    const byMemory = order(selector, list, { quality: 0, latency: 0, cost: 0, memory: 1 });
    expect(byMemory.indexOf('lean')).toBeLessThan(byMemory.indexOf('accurate'));
    expect(byMemory.slice(-2).sort()).toEqual(['accurate', 'quick']);
    // Local models cost nothing per request; the cheap remote one beats the pricey one.
    const byCost = order(selector, list, { quality: 0, latency: 0, cost: 1, memory: 0 });
    expect(byCost[byCost.length - 1]).toBe('pricey');
    expect(byCost.indexOf('cheap')).toBeLessThan(byCost.indexOf('pricey'));
  });

  it('counts latency, cost and memory per decade, so weights are comparable to quality', () => {
    // quick is 20× faster (1.3 decades) and 0.3 worse: the break-even latency weight is 0.3 / 1.3 = 0.23.
    const selector = new Selector({ exploration: 'greedy' });
    const two = list.slice(0, 2);
    expect(order(selector, two, { quality: 1, latency: 0.2, cost: 0, memory: 0 })[0]).toBe('accurate');
    expect(order(selector, two, { quality: 1, latency: 0.26, cost: 0, memory: 0 })[0]).toBe('quick');
  });

  it('takes the request objective weight by weight over the selector one', () => {
    const selector = new Selector({ exploration: 'greedy', objective: { quality: 0, latency: 1, cost: 0, memory: 0 } });
    expect(order(selector, list)[0]).toBe('quick');
    expect(order(selector, list, { quality: 5 })[0]).toBe('accurate');
  });
});
