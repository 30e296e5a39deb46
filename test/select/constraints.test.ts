import { describe, expect, it } from 'vitest';
import { Selector, type Candidate } from '../../src/select/index.js';
import { expectCode } from '../helpers/expect.js';
import { candidate } from './helpers.js';

const GB = 1e9;

describe('Selector.select: hard constraints', () => {
  it('rejects a candidate that does not do the task', async () => {
    const list = [candidate('chatty'), candidate('embedder', { tasks: ['embedding'] })];
    const selector = new Selector({ seed: 1 });
    for (let i = 0; i < 20; i++) expect(selector.select({ task: 'chat' }, list).modelId).toBe('chatty');
    const error = await expectCode(() => selector.select({ task: 'rerank' }, list), 'UNSATISFIABLE', 'request.task');
    expect(error.details).toEqual({
      task: 'rerank',
      rejected: [
        { model: 'chatty', version: '1', constraint: 'task', value: ['chat'], limit: 'rerank' },
        { model: 'embedder', version: '1', constraint: 'task', value: ['embedding'], limit: 'rerank' },
      ],
    });
  });

  it('lists every candidate with the first constraint it failed, and names the one that eliminated most', async () => {
    const list: Candidate[] = [
      candidate('big', { memoryBytes: 40 * GB, contextLength: 8192 }),
      candidate('huge', { memoryBytes: 80 * GB, contextLength: 8192 }),
      candidate('short', { memoryBytes: 1 * GB, contextLength: 2048 }),
      candidate('remote', { local: false, estimatedCostUsd: 0.02, contextLength: 128_000 }),
      candidate('cold', { memoryBytes: 2 * GB, loaded: false, contextLength: 8192 }),
      candidate('tagged', { memoryBytes: 2 * GB, tags: ['vision'], contextLength: 8192 }),
      candidate('other', { tasks: ['embedding'] }),
    ];
    const selector = new Selector({ seed: 2 });
    const error = await expectCode(
      () => selector.select({ task: 'chat', constraints: { maxMemoryBytes: 16 * GB, minContextLength: 4096, localOnly: true, loadedOnly: true, tags: ['code'] }, context: {} }, list),
      'UNSATISFIABLE',
      'request.constraints.tags',
    );
    const rejected = (error.details as { rejected: Array<Record<string, unknown>> }).rejected;
    expect(rejected).toHaveLength(list.length);
    expect(rejected.map((r) => [r.model, r.constraint])).toEqual([
      ['big', 'tags'],
      ['huge', 'tags'],
      ['short', 'tags'],
      ['remote', 'localOnly'],
      ['cold', 'loadedOnly'],
      ['tagged', 'tags'],
      ['other', 'task'],
    ]);
    expect(rejected[5]).toEqual({ model: 'tagged', version: '1', constraint: 'tags', value: ['vision'], limit: ['code'] });
    // Without the tags, memory and context length do the eliminating, with their figures and limits.
    const second = await expectCode(
      () => selector.select({ task: 'chat', constraints: { maxMemoryBytes: 1.5 * GB, minContextLength: 4096, localOnly: true, loadedOnly: true, models: ['big', 'huge', 'short', 'cold', 'tagged'] } }, list),
      'UNSATISFIABLE',
      'request.constraints.maxMemoryBytes',
    );
    expect((second.details as { rejected: unknown[] }).rejected).toEqual([
      { model: 'big', version: '1', constraint: 'maxMemoryBytes', value: 40 * GB, limit: 1.5 * GB },
      { model: 'huge', version: '1', constraint: 'maxMemoryBytes', value: 80 * GB, limit: 1.5 * GB },
      { model: 'short', version: '1', constraint: 'minContextLength', value: 2048, limit: 4096 },
      { model: 'remote', version: '1', constraint: 'models', value: 'remote', limit: ['big', 'huge', 'short', 'cold', 'tagged'] },
      { model: 'cold', version: '1', constraint: 'loadedOnly', value: false, limit: true },
      { model: 'tagged', version: '1', constraint: 'maxMemoryBytes', value: 2 * GB, limit: 1.5 * GB },
      { model: 'other', version: '1', constraint: 'task', value: ['embedding'], limit: 'chat' },
    ]);
    // The survivor is picked when there is one.
    expect(selector.select({ task: 'chat', constraints: { maxMemoryBytes: 16 * GB, minContextLength: 4096 } }, list).modelId).toMatch(/^(cold|tagged)$/);
  });

  it('with no candidates names the list', async () => {
    const error = await expectCode(() => new Selector().select({ task: 'chat' }, []), 'UNSATISFIABLE', 'candidates');
    expect(error.details).toEqual({ task: 'chat', rejected: [] });
  });

  it('reads loaded on every call', () => {
    const warm = candidate('warm', { loaded: false });
    const list = [warm];
    const selector = new Selector({ seed: 3 });
    expect(() => selector.select({ task: 'chat', constraints: { loadedOnly: true } }, list)).toThrow(/loadedOnly/);
    warm.loaded = true;
    expect(selector.select({ task: 'chat', constraints: { loadedOnly: true } }, list).modelId).toBe('warm');
  });

  it('takes the prompt as a floor on context length, which an unknown length passes', async () => {
    const list = [candidate('small', { contextLength: 512 }), candidate('unknown')];
    const selector = new Selector({ seed: 4 });
    for (let i = 0; i < 10; i++) expect(selector.select({ task: 'chat', context: { promptTokens: 1000 } }, list).modelId).toBe('unknown');
    // An explicit minimum is failed by an unknown length (value null).
    const error = await expectCode(() => selector.select({ task: 'chat', constraints: { minContextLength: 256 }, context: { promptTokens: 1000 } }, list), 'UNSATISFIABLE');
    expect((error.details as { rejected: unknown[] }).rejected).toEqual([
      { model: 'small', version: '1', constraint: 'minContextLength', value: 512, limit: 1000 },
      { model: 'unknown', version: '1', constraint: 'minContextLength', value: null, limit: 1000 },
    ]);
  });

  describe('figures: measured, else estimated from the prior, else the candidate fails', () => {
    it('memory: measured before estimated, parameters × bits when no memory, 0 for a remote model', async () => {
      const list: Candidate[] = [
        candidate('measured', { memoryBytes: 1 * GB, stats: { samples: 10, memoryBytes: 9 * GB } }),
        candidate('from-parameters', { parameterCount: 7e9, quantization: 'Q4_0' }), // 3.5 GB
        candidate('unknown'),
        candidate('remote', { local: false, estimatedCostUsd: 0.001 }),
      ];
      const error = await expectCode(() => new Selector().select({ task: 'chat', constraints: { maxMemoryBytes: 3 * GB, localOnly: false } }, list.slice(0, 3)), 'UNSATISFIABLE', 'request.constraints.maxMemoryBytes');
      expect((error.details as { rejected: Array<{ value: unknown }> }).rejected.map((r) => r.value)).toEqual([9 * GB, 3.5 * GB, null]);
      expect(new Selector().select({ task: 'chat', constraints: { maxMemoryBytes: 3 * GB } }, list).modelId).toBe('remote');
    });

    it('cost: observed mean, else the price estimate; a local model with none costs 0, a remote one is unknown', async () => {
      const list: Candidate[] = [
        candidate('priced', { local: false, estimatedCostUsd: 0.05 }),
        candidate('unpriced', { local: false }),
        candidate('local'),
      ];
      const selector = new Selector({ seed: 5 });
      const error = await expectCode(() => selector.select({ task: 'chat', constraints: { maxCostUsd: 0.01, models: ['priced', 'unpriced'] } }, list), 'UNSATISFIABLE', 'request.constraints.maxCostUsd');
      expect((error.details as { rejected: Array<{ value: unknown }> }).rejected.map((r) => r.value)).toEqual([0.05, null, 'local']);
      expect(selector.select({ task: 'chat', constraints: { maxCostUsd: 0.01 } }, list).modelId).toBe('local');
      // Measured costs replace the estimate.
      for (let i = 0; i < 5; i++) selector.observe({ modelId: 'priced', version: '1', task: 'chat', success: true, latencyMs: 100, costUsd: 0.002 });
      const picks = new Set(Array.from({ length: 40 }, () => selector.select({ task: 'chat', constraints: { maxCostUsd: 0.01 } }, list).modelId));
      expect(picks.has('priced')).toBe(true);
      expect(picks.has('unpriced')).toBe(false);
    });

    it('quality: history while nothing is observed, the prior from size when no history, else fails', async () => {
      const list: Candidate[] = [
        candidate('history', { stats: { samples: 40, successRate: 1, quality: 0.9 } }),
        candidate('big', { parameterCount: 70e9, quantization: 'F16' }), // prior 0.75
        candidate('small', { parameterCount: 1e8, quantization: 'Q4_0' }),
        candidate('nothing'),
      ];
      const selector = new Selector({ seed: 6 });
      const error = await expectCode(() => selector.select({ task: 'chat', constraints: { minQuality: 0.95 } }, list), 'UNSATISFIABLE', 'request.constraints.minQuality');
      const values = (error.details as { rejected: Array<{ value: number | null }> }).rejected.map((r) => r.value);
      expect(values[0]).toBeCloseTo(0.9, 10);
      expect(values[1]).toBeCloseTo(0.75, 2);
      expect(values[2]).toBeLessThan(0.4);
      expect(values[3]).toBeNull();
      const picks = new Set(Array.from({ length: 30 }, () => selector.select({ task: 'chat', constraints: { minQuality: 0.7 } }, list).modelId));
      expect([...picks].sort()).toEqual(['big', 'history']);
      // Observed failures pull the measured figure down below the limit.
      for (let i = 0; i < 30; i++) selector.observe({ modelId: 'history', version: '1', task: 'chat', success: false, latencyMs: 100 });
      for (let i = 0; i < 10; i++) expect(selector.select({ task: 'chat', constraints: { minQuality: 0.7 } }, list).modelId).toBe('big');
    });

    it('p95 latency: history while nothing is observed, else the posterior predictive p95', async () => {
      const list: Candidate[] = [
        candidate('measured', { stats: { samples: 100, meanLatencyMs: 400, p95LatencyMs: 900 } }),
        candidate('estimated', { memoryBytes: 0.1 * GB }), // prior median 300 ms, wide
        candidate('remote', { local: false }),
      ];
      const selector = new Selector({ seed: 7 });
      const error = await expectCode(() => selector.select({ task: 'chat', constraints: { maxP95LatencyMs: 500 } }, list), 'UNSATISFIABLE', 'request.constraints.maxP95LatencyMs');
      const values = (error.details as { rejected: Array<{ value: number | null }> }).rejected.map((r) => r.value);
      expect(values[0]).toBe(900);
      expect(values[1]).toBeGreaterThan(1000); // one e-fold of spread assumed before any measurement
      expect(values[2]).toBeNull();
      expect(selector.select({ task: 'chat', constraints: { maxP95LatencyMs: 1000, models: ['measured', 'remote'] } }, list).modelId).toBe('measured');
      // Measurements of the estimated one narrow its p95 until it passes.
      for (let i = 0; i < 40; i++) selector.observe({ modelId: 'estimated', version: '1', task: 'chat', success: true, latencyMs: 200 + (i % 5) * 10 });
      const explained = selector.select({ task: 'chat', constraints: { maxP95LatencyMs: 500 } }, list).candidates();
      expect(explained[1]!.eligible).toBe(true);
      expect(explained[1]!.p95LatencyMs).toBeGreaterThan(220);
      expect(explained[1]!.p95LatencyMs).toBeLessThan(500);
    });
  });
});
