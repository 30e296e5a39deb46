import { describe, expect, it } from 'vitest';
import { Selector, priorQuality, type Candidate } from '../../src/select/index.js';
import { seededRandom } from '../helpers/expect.js';
import { candidate } from './helpers.js';

const list: Candidate[] = [
  candidate('a', { parameterCount: 1e9, memoryBytes: 2e9, contextLength: 4096 }),
  candidate('b', { parameterCount: 7e9, quantization: 'Q4_0', contextLength: 8192, stats: { samples: 30, successRate: 0.9, quality: 0.8, meanLatencyMs: 800, p95LatencyMs: 2000 } }),
  candidate('c', { local: false, estimatedCostUsd: 0.004 }),
  candidate('e', { tasks: ['embedding'] }),
];

describe('Selection.candidates()', () => {
  it('explains every candidate: its rejection, or its score, draws, means and figures', () => {
    const selector = new Selector({ seed: 4 });
    const selection = selector.select({ task: 'chat', constraints: { localOnly: true } }, list);
    const explained = selection.candidates();
    expect(explained.map((e) => [e.modelId, e.eligible, e.rejected?.constraint])).toEqual([
      ['a', true, undefined],
      ['b', true, undefined],
      ['c', false, 'localOnly'],
      ['e', false, 'task'],
    ]);
    const chosen = explained.filter((e) => e.chosen);
    expect(chosen).toHaveLength(1);
    expect(chosen[0]!.modelId).toBe(selection.modelId);
    expect(chosen[0]!.score).toBe(selection.score);
    for (const e of explained.filter((x) => x.eligible)) {
      expect(e.score).toBeLessThanOrEqual(selection.score);
      expect(e.sampledQuality).toBeGreaterThanOrEqual(0);
      expect(e.sampledQuality).toBeLessThanOrEqual(1);
      expect(e.sampledLatencyMs).toBeGreaterThan(0);
      expect(e.p95LatencyMs).toBeGreaterThan(e.medianLatencyMs!);
      expect(e.costUsd).toBe(0);
      expect(e.observed).toBe(0);
    }
    expect(explained[0]!.memoryBytes).toBe(2e9);
    // 30 samples of history at 0.9 × 0.8 = 0.72 beside the cold prior's 2 pseudo-observations of its size and type.
    expect(explained[1]!.meanQuality).toBeCloseTo((0.72 * 30 + 2 * priorQuality(list[1]!)) / 32, 6);
    expect(explained[1]!.p95LatencyMs).toBe(2000);
    // Recomputed, not stored: the same until outcomes arrive.
    expect(selection.candidates()).toEqual(explained);
  });

  it('keeps the pick as it was after outcomes change the posteriors', () => {
    const selector = new Selector({ seed: 5 });
    const selection = selector.select({ task: 'chat' }, list);
    for (let i = 0; i < 20; i++) selector.observe({ modelId: selection.modelId, version: '1', task: 'chat', success: false, latencyMs: 50 });
    const chosen = selection.candidates().find((e) => e.chosen)!;
    expect(chosen.modelId).toBe(selection.modelId);
    expect(chosen.score).toBe(selection.score);
    expect(chosen.observed).toBe(20);
  });

  it('explains greedy selections with the posterior means as draws', () => {
    const selection = new Selector({ exploration: 'greedy' }).select({ task: 'chat' }, list);
    expect(selection.explored).toBe(false);
    for (const e of selection.candidates().filter((x) => x.eligible)) {
      expect(e.sampledQuality).toBe(e.meanQuality);
      expect(e.sampledLatencyMs).toBeCloseTo(e.medianLatencyMs!, 6);
    }
  });

  it('reuses what it read from a list, also through a new array of the same objects', () => {
    const selector = new Selector({ seed: 6 });
    const first = selector.select({ task: 'chat' }, list);
    const again = selector.select({ task: 'chat' }, [...list]);
    expect(again.candidates().map((e) => e.modelId)).toEqual(first.candidates().map((e) => e.modelId));
    // A different list is read afresh.
    const other = selector.select({ task: 'chat' }, [list[1]!]);
    expect(other.modelId).toBe('b');
  });
});

describe('Selector: lists and lanes', () => {
  it.each(['greedy', 'thompson'] as const)('agrees with its explanation on every random request (%s): the pick is the best eligible candidate', (exploration) => {
    const next = seededRandom(77);
    const pool: Candidate[] = Array.from({ length: 40 }, (_, i) =>
      candidate(`m${i}`, {
        local: next() < 0.7,
        loaded: next() < 0.5,
        tags: next() < 0.5 ? ['x'] : ['y'],
        ...(next() < 0.8 ? { contextLength: 1024 * Math.ceil(next() * 8) } : {}),
        ...(next() < 0.8 ? { memoryBytes: next() * 1e10 } : {}),
        ...(next() < 0.5 ? { estimatedCostUsd: next() * 0.01 } : {}),
        ...(next() < 0.5 ? { parameterCount: 1e8 + next() * 1e10 } : {}),
        ...(next() < 0.5 ? { stats: { samples: 5 + Math.floor(next() * 50), quality: next(), meanLatencyMs: 100 + next() * 900, p95LatencyMs: 1500 } } : {}),
      }),
    );
    const selector = new Selector({ seed: 3, exploration });
    let unsatisfiable = 0;
    for (let round = 0; round < 300; round++) {
      const pick = <T>(value: T): T | undefined => (next() < 0.3 ? value : undefined);
      const constraints = {
        maxMemoryBytes: pick(next() * 1e10),
        maxCostUsd: pick(next() * 0.01),
        maxP95LatencyMs: pick(500 + next() * 3000),
        minQuality: pick(next() * 0.8),
        minContextLength: pick(Math.floor(next() * 8000)),
        localOnly: pick(true),
        loadedOnly: pick(true),
        tags: pick(['x']),
      };
      const request = { task: 'chat', constraints: Object.fromEntries(Object.entries(constraints).filter(([, v]) => v !== undefined)), context: { promptTokens: Math.floor(next() * 4000) } };
      try {
        const selection = selector.select(request, pool);
        const eligible = selection.candidates().filter((e) => e.eligible);
        const best = eligible.reduce((a, b) => (b.score! > a.score! ? b : a));
        expect(selection.modelId).toBe(best.modelId);
        // The explanation recomputes the other candidates' draws: exactly those the selection made.
        expect(eligible.filter((e) => e.score === selection.score)).toHaveLength(1);
      } catch (error) {
        const rejected = (error as { details: { rejected: unknown[] } }).details.rejected;
        expect(rejected).toHaveLength(pool.length);
        unsatisfiable += 1;
      }
      if (round % 3 === 0) selector.observe({ modelId: pool[round % 40]!.modelId, version: '1', task: 'chat', success: next() < 0.8, quality: next(), latencyMs: next() * 3000, costUsd: next() * 0.01 });
    }
    expect(unsatisfiable).toBeGreaterThan(0);
    expect(unsatisfiable).toBeLessThan(300);
  });

  it('catches up after more outcomes than its change log holds', () => {
    const pair = [candidate('a'), candidate('b')];
    const selector = new Selector({ exploration: 'greedy', contextual: false });
    expect(selector.select({ task: 'chat' }, pair).candidates()[1]!.observed).toBe(0);
    for (let i = 0; i < 5000; i++) selector.observe({ modelId: i % 2 === 0 ? 'b' : 'c', version: '1', task: 'chat', success: true, quality: 1, latencyMs: 10 });
    const selection = selector.select({ task: 'chat' }, pair);
    expect(selection.modelId).toBe('b');
    expect(selection.candidates()[1]!.observed).toBe(2500);
  });

  it('scores a version listed twice the same way in both places', () => {
    const a = candidate('a');
    const selector = new Selector({ exploration: 'greedy' });
    const list = [a, candidate('b'), { ...a }];
    selector.select({ task: 'chat' }, list);
    selector.observe({ modelId: 'a', version: '1', task: 'chat', success: true, quality: 1, latencyMs: 10 });
    const explained = selector.select({ task: 'chat' }, list).candidates();
    expect(explained[0]!.score).toBe(explained[2]!.score);
    expect(explained[0]!.observed).toBe(1);
  });

  it('keeps working past its cap of lanes per list, with what it learned', () => {
    const selector = new Selector({ seed: 1, exploration: 'greedy' });
    for (let i = 0; i < 20; i++) selector.observe({ modelId: 'a', version: '1', task: 'chat', context: { tags: ['t0'] }, success: true, quality: 1, latencyMs: 10 });
    const before = selector.select({ task: 'chat', context: { tags: ['t0'] } }, list).candidates()[0]!;
    for (let i = 0; i < 300; i++) selector.select({ task: 'chat', context: { tags: [`t${i}`] } }, list);
    const after = selector.select({ task: 'chat', context: { tags: ['t0'] } }, list);
    expect(after.contextKey).toBe('chat||t0'.replace('||', '|*|'));
    // The lanes were rebuilt past the cap; the posteriors are the arms', not the lanes'.
    expect(after.candidates()[0]!.meanQuality).toBe(before.meanQuality);
    expect(after.candidates()[0]!.contextObserved).toBe(before.contextObserved);
  });
});
