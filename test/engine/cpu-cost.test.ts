/**
 * A request's CPU figure counts only its own model's compute threads: with two models generating at
 * once, neither one's figure may include the other's work (a process-wide CPU clock would count both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { STORIES } from '../helpers/models.js';

const models: Model[] = [];

beforeAll(async () => {
  // Big enough that a generation takes long enough to overlap (8 layers × 256, F32).
  const path = await cachedTestModel({ layers: 8, embeddingSize: 256, feedForwardSize: 512, heads: 4, kvHeads: 2, contextLength: 1024, vocabPath: STORIES });
  for (let i = 0; i < 2; i++) models.push(await loadModel(path, { contextSize: 512, parallel: 2, threads: 1 }));
});

afterAll(async () => {
  await Promise.all(models.map((m) => m.dispose()));
});

describe('Model request cpuMs', () => {
  it('two models generating at once: each figure is bounded by its own threads × its own time', async () => {
    const before = process.cpuUsage();
    const results = await Promise.all(models.map((m) => m.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 200 })));
    const used = process.cpuUsage(before);
    const processCpuMs = (used.user + used.system) / 1000;
    for (const r of results) {
      expect(r.generatedTokens).toBe(200);
      expect(r.cpuMs).toBeGreaterThan(0);
      // One compute thread cannot use more CPU than the wall time of the steps it ran (+ clock slack).
      expect(r.cpuMs).toBeLessThanOrEqual(r.nativeMs * 1.02 + 2);
    }
    // Both figures together are part of what the process used, never more.
    expect(results[0]!.cpuMs + results[1]!.cpuMs).toBeLessThanOrEqual(processCpuMs + 2);
  });

  it('requests batched in one model share each step by their tokens', async () => {
    const [a, b] = await Promise.all([0, 1].map(() => models[0]!.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 100 })));
    // Same prompt and length in the same steps: equal shares, each at most the steps' wall time.
    expect(Math.abs(a!.cpuMs - b!.cpuMs)).toBeLessThanOrEqual(Math.max(a!.cpuMs, b!.cpuMs) * 0.2 + 1);
    expect(a!.cpuMs + b!.cpuMs).toBeLessThanOrEqual(Math.max(a!.nativeMs, b!.nativeMs) * 1.02 + 2);
  });

  it('counts the worker threads of a model that computes with two', async () => {
    const request = { prompt: 'Once upon a time', temperature: 0, maxTokens: 100 };
    const one = await models[1]!.complete(request);
    models[1]!.setThreads(2);
    try {
      const two = await models[1]!.complete(request);
      expect(two.cpuMs).toBeLessThanOrEqual(two.nativeMs * 2 * 1.02 + 2);
      // Splitting the same work over two threads never needs less CPU in total; counting only the
      // scheduler thread would show about half.
      expect(two.cpuMs).toBeGreaterThan(one.cpuMs * 0.8);
    } finally {
      models[1]!.setThreads(1);
    }
  });
});
