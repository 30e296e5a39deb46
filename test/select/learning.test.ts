import { describe, expect, it } from 'vitest';
import { Selector, type Candidate } from '../../src/select/index.js';
import { candidate, share, simulate, type Truth } from './helpers.js';

const SAME_LATENCY = 500;

describe('Selector: Thompson sampling', () => {
  it('tries a new model with a prior and converges to the truly better one', () => {
    // 'incumbent' has a long, good history; 'newcomer' is untried but truly better.
    const list: Candidate[] = [
      candidate('incumbent', { parameterCount: 7e9, quantization: 'Q4_0', stats: { samples: 500, successRate: 1, quality: 0.7, meanLatencyMs: SAME_LATENCY, p95LatencyMs: SAME_LATENCY * 1.5 } }),
      candidate('newcomer', { parameterCount: 7e9, quantization: 'Q4_0' }),
      candidate('weak', { parameterCount: 7e9, quantization: 'Q4_0' }),
    ];
    const truth: Record<string, Truth> = {
      incumbent: { quality: 0.7, latencyMs: SAME_LATENCY },
      newcomer: { quality: 0.85, latencyMs: SAME_LATENCY },
      weak: { quality: 0.3, latencyMs: SAME_LATENCY },
    };
    const selector = new Selector({ seed: 42 });
    const picks = simulate(selector, list, (id) => truth[id]!, 500);
    // The untried models were tried early, thanks to their priors.
    expect(share(picks.slice(0, 50), 'newcomer')).toBeGreaterThan(0);
    expect(share(picks.slice(0, 50), 'weak')).toBeGreaterThan(0);
    expect(picks.slice(0, 100).some((p) => p.explored)).toBe(true);
    // ... and the better one took over.
    expect(share(picks.slice(-100), 'newcomer')).toBeGreaterThanOrEqual(0.8);
    expect(share(picks.slice(-100), 'weak')).toBeLessThan(0.05);
  });

  it('weighs latency against quality by the objective', () => {
    // 'fast' is 0.1 worse but 200× faster: with latency weight 0.1 per decade that is worth 0.23 of quality.
    const list = [candidate('fast'), candidate('slow')];
    const truth: Record<string, Truth> = { fast: { quality: 0.7, latencyMs: 100 }, slow: { quality: 0.8, latencyMs: 20_000 } };
    const quality = simulate(new Selector({ seed: 3, objective: { latency: 0 } }), list, (id) => truth[id]!, 400);
    expect(share(quality.slice(-100), 'slow')).toBeGreaterThanOrEqual(0.8);
    const balanced = simulate(new Selector({ seed: 3 }), list, (id) => truth[id]!, 400);
    expect(share(balanced.slice(-100), 'fast')).toBeGreaterThanOrEqual(0.8);
  });

  it('is reproducible with a seed', () => {
    const list = [candidate('a'), candidate('b'), candidate('c')];
    const truth = (id: string): Truth => ({ quality: id === 'a' ? 0.6 : 0.5, latencyMs: 300 });
    const first = simulate(new Selector({ seed: 9 }), list, truth, 100).map((p) => p.modelId);
    const second = simulate(new Selector({ seed: 9 }), list, truth, 100).map((p) => p.modelId);
    const other = simulate(new Selector({ seed: 10 }), list, truth, 100).map((p) => p.modelId);
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('greedy never explores and scores posterior means', () => {
    const list = [candidate('a'), candidate('b')];
    const selector = new Selector({ exploration: 'greedy' });
    selector.observe({ modelId: 'b', version: '1', task: 'chat', success: true, quality: 0.9, latencyMs: 100 });
    for (let i = 0; i < 20; i++) {
      const selection = selector.select({ task: 'chat' }, list);
      expect(selection.modelId).toBe('b');
      expect(selection.explored).toBe(false);
    }
  });
});

describe('Selector: contextual learning', () => {
  // 'small' wins short prompts (fast, good enough), 'large' wins long ones (small's quality collapses).
  const list = [candidate('small', { parameterCount: 1e9 }), candidate('large', { parameterCount: 1e9 }), candidate('bad', { parameterCount: 1e9 })];
  const truth = (id: string, context: { promptTokens?: number }): Truth => {
    const long = (context.promptTokens ?? 0) > 1000;
    if (id === 'small') return { quality: long ? 0.3 : 0.75, latencyMs: 200 };
    if (id === 'large') return { quality: long ? 0.85 : 0.8, latencyMs: 3000 };
    return { quality: 0.2, latencyMs: 1000 };
  };
  const contexts = [{ promptTokens: 50 }, { promptTokens: 4000 }];

  it('learns a different winner per prompt-length bucket', () => {
    const picks = simulate(new Selector({ seed: 5 }), list, truth, 1200, contexts);
    const late = picks.slice(-300);
    expect(share(late.filter((p) => p.context.promptTokens === 50), 'small')).toBeGreaterThanOrEqual(0.8);
    expect(share(late.filter((p) => p.context.promptTokens === 4000), 'large')).toBeGreaterThanOrEqual(0.8);
  });

  it('without contexts settles on one model for both', () => {
    const picks = simulate(new Selector({ seed: 5, contextual: false }), list, truth, 1200, contexts);
    const late = picks.slice(-300);
    const short = late.filter((p) => p.context.promptTokens === 50);
    const long = late.filter((p) => p.context.promptTokens === 4000);
    // The same model dominates both buckets: it cannot tell them apart.
    const top = share(late, 'large') >= share(late, 'small') ? 'large' : 'small';
    expect(share(short, top)).toBeGreaterThanOrEqual(0.6);
    expect(share(long, top)).toBeGreaterThanOrEqual(0.6);
  });

  it('names the context it used', () => {
    const selector = new Selector({ seed: 1 });
    expect(selector.select({ task: 'chat', context: { promptTokens: 300, tags: ['b', 'a', 'b'] } }, list).contextKey).toBe('chat|<=1024|a,b');
    expect(selector.select({ task: 'chat' }, list).contextKey).toBe('chat|*|');
    expect(selector.select({ task: 'chat', context: { promptTokens: 64 } }, list).contextKey).toBe('chat|<=64|');
    expect(selector.select({ task: 'chat', context: { promptTokens: 65 } }, list).contextKey).toBe('chat|<=256|');
    expect(selector.select({ task: 'chat', context: { promptTokens: 300, tags: [] } }, list).contextKey).toBe('chat|<=1024|');
    expect(selector.select({ task: 'chat', context: { promptTokens: 0, tags: ['x'] } }, list).contextKey).toBe('chat|<=64|x');
  });

  it('a request without constraints, objective or tags picks as the same request written out in full', () => {
    const candidates = [candidate('a', { contextLength: 100 }), candidate('b', { contextLength: 4096 }), candidate('c')];
    for (const promptTokens of [undefined, 0, 50, 500]) {
      const plain = new Selector({ seed: 5 });
      const full = new Selector({ seed: 5 });
      for (let i = 0; i < 30; i++) {
        const context = promptTokens === undefined ? undefined : { promptTokens };
        const a = plain.select(context === undefined ? { task: 'chat' } : { task: 'chat', context }, candidates);
        const b = full.select({ task: 'chat', context: { ...context, tags: [] }, constraints: {}, objective: {} }, candidates);
        expect([a.modelId, a.index, a.score, a.explored]).toEqual([b.modelId, b.index, b.score, b.explored]);
        expect(candidates[a.index]!.modelId).toBe(a.modelId);
        expect(a.candidates()).toEqual(b.candidates());
        for (const selector of [plain, full]) selector.observe({ modelId: a.modelId, version: '1', task: 'chat', context, success: i % 3 !== 0, latencyMs: 100 + i });
      }
    }
  });
});

describe('Selector: forgetting', () => {
  it('relearns a model whose quality drops, in about its half-life; without forgetting it stays stuck', () => {
    const list = [candidate('a'), candidate('b')];
    // 'a' is better for 600 rounds, then degrades below 'b'.
    let round = 0;
    const truth = (id: string): Truth => {
      round++;
      if (id === 'b') return { quality: 0.6, latencyMs: 300 };
      return { quality: round <= 600 ? 0.9 : 0.3, latencyMs: 300 };
    };
    const forgetting = simulate(new Selector({ seed: 5, halfLife: 40 }), list, truth, 900);
    round = 0;
    const stuck = simulate(new Selector({ seed: 5, halfLife: Infinity }), list, truth, 900);
    expect(share(forgetting.slice(500, 600), 'a')).toBeGreaterThanOrEqual(0.8);
    expect(share(forgetting.slice(-100), 'b')).toBeGreaterThanOrEqual(0.8);
    // Hundreds of good outcomes of 'a' outweigh 300 bad ones when nothing is forgotten.
    expect(share(stuck.slice(-100), 'b')).toBeLessThan(0.5);
  });

  it('checks the half-life and keeps it across toJSON / fromJSON (Infinity as null)', () => {
    expect(() => new Selector({ halfLife: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'options.halfLife' }));
    expect(() => new Selector({ halfLife: Number.NaN })).toThrow(expect.objectContaining({ field: 'options.halfLife' }));
    expect(new Selector().options.halfLife).toBe(1000);
    const never = new Selector({ halfLife: Infinity });
    const json = JSON.parse(JSON.stringify(never.toJSON()));
    expect(json.options.halfLife).toBeNull();
    expect(Selector.fromJSON(json).options.halfLife).toBe(Infinity);
    expect(Selector.fromJSON(JSON.parse(JSON.stringify(new Selector({ halfLife: 250 }).toJSON()))).options.halfLife).toBe(250);
    // A JSON written before forgetting existed (no halfLife) restores a selector that never forgets.
    delete json.options.halfLife;
    expect(Selector.fromJSON(json).options.halfLife).toBe(Infinity);
  });
});
