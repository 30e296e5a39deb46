import { describe, expect, it } from 'vitest';
import { Selector, priorLatencyMs, priorQuality, quantizationBits, type Candidate } from '../../src/select/index.js';
import { candidate } from './helpers.js';

describe('cold-start priors', () => {
  it('reads the bits of weight types', () => {
    expect(['F32', 'F16', 'BF16', 'Q8_0', 'Q6_K', 'Q5_1', 'Q4_K_M', 'MOSTLY_Q4_0', 'IQ2_XXS', 'TQ1_0', 'MXFP4', 'F64'].map(quantizationBits)).toEqual([32, 16, 16, 8, 6, 5, 4, 4, 2, 1, 4, 64]);
    expect(quantizationBits('weird')).toBeUndefined();
    expect(quantizationBits(undefined)).toBeUndefined();
  });

  it('expects more quality from bigger, less quantised models', () => {
    const q = (parameterCount: number, quantization?: string) => priorQuality(candidate('m', { parameterCount, ...(quantization ? { quantization } : {}) }))!;
    expect(q(1e9, 'F16')).toBeCloseTo(0.5, 6);
    expect(q(7e9, 'F16')).toBeGreaterThan(q(1e9, 'F16'));
    expect(q(70e9, 'F16')).toBeGreaterThan(q(7e9, 'F16'));
    expect(q(7e9, 'Q8_0')).toBe(q(7e9, 'F16'));
    expect(q(7e9, 'Q4_0')).toBeLessThan(q(7e9, 'Q8_0'));
    expect(q(7e9, 'IQ2_XXS')).toBeLessThan(q(7e9, 'Q4_0'));
    expect(q(2.6e5)).toBeGreaterThan(0.1);
    expect(q(1e13)).toBeLessThan(0.9);
    // Memory stands in for the parameter count.
    expect(priorQuality(candidate('m', { memoryBytes: 2e9 }))).toBeCloseTo(q(1e9, 'F16'), 6);
    expect(priorQuality(candidate('m'))).toBeUndefined();
  });

  it('expects bigger models to be slower', () => {
    expect(priorLatencyMs(candidate('m', { memoryBytes: 1e9 }))).toBe(2100);
    expect(priorLatencyMs(candidate('m', { parameterCount: 7e9, quantization: 'Q4_0' }))).toBe(100 + 2000 * 3.5);
    expect(priorLatencyMs(candidate('m'))).toBeUndefined();
  });

  it('prefers the bigger model with no history, yet tries the smaller one', () => {
    const list = [candidate('tiny', { parameterCount: 1e8 }), candidate('large', { parameterCount: 3e10 })];
    const greedy = new Selector({ exploration: 'greedy', objective: { latency: 0, memory: 0 } });
    expect(greedy.select({ task: 'chat' }, list).modelId).toBe('large');
    const thompson = new Selector({ seed: 1, objective: { latency: 0, memory: 0 } });
    const picks = Array.from({ length: 200 }, () => thompson.select({ task: 'chat' }, list).modelId);
    const tiny = picks.filter((p) => p === 'tiny').length;
    expect(tiny).toBeGreaterThan(5); // a fair trial: the prior is weak
    expect(tiny).toBeLessThan(100);
  });
});

describe('history and predecessors', () => {
  const explainOf = (selector: Selector, list: readonly Candidate[], id: string) => selector.select({ task: 'chat' }, list).candidates().find((e) => e.modelId === id)!;

  it('starts from history with a capped weight that outcomes then outweigh', () => {
    const list = [candidate('m', { stats: { samples: 10_000, successRate: 1, quality: 0.9 } })];
    const selector = new Selector({ seed: 1, exploration: 'greedy', contextual: false });
    expect(explainOf(selector, list, 'm').meanQuality).toBeGreaterThan(0.85);
    // 50 failures against a history of 10,000 capped at 50 pseudo-observations: the mean about halves.
    for (let i = 0; i < 50; i++) selector.observe({ modelId: 'm', version: '1', task: 'chat', success: false, latencyMs: 10 });
    const mean = explainOf(selector, list, 'm').meanQuality!;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.5);
  });

  it('takes cost and latency from the history', () => {
    const list = [candidate('remote', { local: false, estimatedCostUsd: 0.5, stats: { samples: 10, costUsd: 0.003, meanLatencyMs: 700 } })];
    const explained = new Selector({ exploration: 'greedy' }).select({ task: 'chat' }, list).candidates()[0]!;
    expect(explained.costUsd).toBeCloseTo(0.003, 12);
    // A log-normal with the prior's spread fitted to the mean: the median lies below it.
    expect(explained.medianLatencyMs).toBeGreaterThan(300);
    expect(explained.medianLatencyMs).toBeLessThan(700);
  });

  it('follows the history while it observes nothing itself', () => {
    const selector = new Selector({ exploration: 'greedy' });
    const first = [candidate('m', { stats: { samples: 20, quality: 0.3 } })];
    expect(explainOf(selector, first, 'm').meanQuality).toBeLessThan(0.35);
    const later = [candidate('m', { stats: { samples: 40, quality: 0.8 } })];
    expect(explainOf(selector, later, 'm').meanQuality).toBeGreaterThan(0.75);
  });

  it('a prior the history carried over from an earlier version (no samples of its own) counts its weight', () => {
    // What the registry hands a new version: its predecessor's quality at a weight, no samples yet.
    const list = [candidate('m', { stats: { samples: 0, quality: 0.9, qualityWeight: 20 } }), candidate('fresh')];
    const explained = new Selector({ exploration: 'greedy' }).select({ task: 'chat' }, list).candidates();
    // (0.9 × 20 + 0.5 × 2) / 22 with the cold prior's 2 pseudo-observations at 0.5.
    expect(explained[0]!.meanQuality).toBeCloseTo((0.9 * 20 + 0.5 * 2) / 22, 6);
    expect(explained[1]!.meanQuality).toBeCloseTo(0.5, 6);
  });

  it('a selector without contexts keeps no context data', () => {
    const selector = new Selector({ contextual: false });
    selector.observe({ modelId: 'm', version: '1', task: 'chat', context: { promptTokens: 10, tags: ['code'] }, success: true, latencyMs: 10 });
    expect(selector.toJSON().arms[0]!.contexts).toEqual({});
    const contextual = new Selector();
    contextual.observe({ modelId: 'm', version: '1', task: 'chat', context: { promptTokens: 10, tags: ['code'] }, success: true, latencyMs: 10 });
    expect(Object.keys(contextual.toJSON().arms[0]!.contexts)).toHaveLength(1);
  });

  it('seeds a new version from its predecessor, scaled down', () => {
    const v1 = candidate('m', { version: '1', parameterCount: 1e9 });
    const selector = new Selector({ seed: 2, exploration: 'greedy' });
    selector.select({ task: 'chat' }, [v1]);
    for (let i = 0; i < 100; i++) selector.observe({ modelId: 'm', version: '1', task: 'chat', context: { promptTokens: 10 }, success: i % 10 === 0, quality: 1, latencyMs: 100 });
    const v2 = candidate('m', { version: '2', parameterCount: 1e9, predecessor: '1' });
    const fresh = candidate('other', { parameterCount: 1e9 });
    const explained = selector.select({ task: 'chat' }, [v1, v2, fresh]).candidates();
    const [one, two, other] = explained;
    // v2 inherits v1's poor record (0.1), at 10 pseudo-observations: between the prior (0.5) and v1.
    expect(one!.meanQuality).toBeLessThan(0.15);
    expect(two!.meanQuality).toBeGreaterThan(one!.meanQuality!);
    expect(two!.meanQuality).toBeLessThan(0.3);
    expect(other!.meanQuality).toBeCloseTo(0.5, 6);
    expect(two!.observed).toBe(0);
    // Its contexts are carried too, at the same scale (100 outcomes → 10).
    const inContext = selector.select({ task: 'chat', context: { promptTokens: 10 } }, [v1, v2, fresh]).candidates()[1]!;
    expect(inContext.contextObserved).toBeCloseTo(10, 6);
  });
});
