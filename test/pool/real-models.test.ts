/**
 * The pool on real models through the real engine (default loader): stories260K and generated
 * llama models of different sizes, with budgets that force eviction, and the 1,000-request stress.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { estimateMemory } from '../../src/engine/index.js';
import { isModelpoolError, type ModelpoolError } from '../../src/errors.js';
import { ModelPool, createEngineLoader } from '../../src/pool/index.js';
import type { ModelSpec, PoolEvent } from '../../src/pool/types.js';
import { SMALL_LOAD, realModels, type RealModels } from './real-fixtures.js';

let models: RealModels;
const size = new Map<string, number>();

beforeAll(async () => {
  models = await realModels();
  for (const [name, path] of Object.entries(models)) size.set(name, (await estimateMemory(path, SMALL_LOAD)).total);
});

const spec = (id: keyof RealModels, extra: Partial<ModelSpec> = {}): ModelSpec => ({ id, source: models[id], version: '1', ...SMALL_LOAD, ...extra });

describe('ModelPool on real models', () => {
  it('loads stories260K on demand with the default engine loader and generates real text', async () => {
    const pool = new ModelPool({ models: [spec('stories', { keepAliveMs: -1 })] });
    const events: PoolEvent[] = [];
    pool.on('*', (e) => events.push(e));
    try {
      const result = await pool.use('stories', (lease) => lease.model.complete({ prompt: 'Once upon a time', maxTokens: 12, temperature: 0 }));
      expect(result.text).toContain('there was a little girl');
      const status = pool.status();
      const cpu = status.devices.find((d) => d.device === 'CPU')!;
      expect(cpu.budget).toBeGreaterThan(0);
      expect(cpu.used).toBe(size.get('stories'));
      const stories = status.models[0]!;
      expect(stories.state).toBe('ready');
      expect(stories.instances[0]!.architecture).toBe('llama');
      expect(stories.instances[0]!.contextSize).toBe(256);
      // The engine's dry-run estimate is exact; the calibrator keeps it so.
      expect(stories.instances[0]!.estimateError).toBe(0);
      expect(status.calibration[0]).toMatchObject({ architecture: 'llama', samples: 1, lastError: 0 });
      // Threads: within the budget (cores − 1; 1 on a 2-core machine).
      expect(stories.instances[0]!.threads).toBeLessThanOrEqual(status.threads.total);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['load', 'ready']));
    } finally {
      await pool.dispose();
    }
  });

  it('evicts by cost under a budget that holds two of three real models, and frees them', async () => {
    const budget = size.get('medium')! + size.get('stories')! + Math.floor(size.get('small')! / 2);
    const pool = new ModelPool({
      loader: createEngineLoader(),
      models: [spec('stories'), spec('small'), spec('medium')],
      memory: { budgets: { CPU: budget } },
      keepAliveMs: -1,
      swapDelayMs: 10,
    });
    const events: PoolEvent[] = [];
    pool.on('*', (e) => events.push(e));
    try {
      const texts: string[] = [];
      const disposedAfter = new Map<string, () => boolean>();
      for (const id of ['stories', 'small', 'medium'] as const) {
        await pool.use(id, async (lease) => {
          texts.push((await lease.model.complete({ prompt: 'Once upon a time', maxTokens: 4, temperature: 0 })).text);
          const model = lease.model;
          disposedAfter.set(id, () => model.disposed);
        });
        await new Promise((r) => setTimeout(r, 15));
      }
      expect(texts.every((t) => t.length > 0)).toBe(true);
      const evict = events.find((e): e is Extract<PoolEvent, { type: 'evict' }> => e.type === 'evict')!;
      expect(evict.forModel).toBe('medium');
      expect(['stories', 'small']).toContain(evict.modelId);
      expect(disposedAfter.get(evict.modelId as 'stories')!()).toBe(true);
      const status = pool.status();
      expect(status.models.filter((m) => m.state === 'ready')).toHaveLength(2);
      expect(status.devices[0]!.used).toBeLessThanOrEqual(budget);
      expect(events.find((e) => e.type === 'unload')).toMatchObject({ reason: 'evict', memoryConfirmed: true });
    } finally {
      await pool.dispose();
    }
  });

  it('refuses a real model larger than the budget, and shrinks the context when allowed', async () => {
    const at512 = (await estimateMemory(models.stories, { contextSize: 512, batchSize: 64 })).total;
    const pool = new ModelPool({
      models: [spec('stories', { contextSize: 2048, minContextSize: 128 }), spec('large')],
      memory: { budgets: { CPU: at512 + 1 } },
    });
    try {
      const error = await pool.acquire('large').catch((e: ModelpoolError) => e);
      expect(isModelpoolError(error, 'INSUFFICIENT_MEMORY')).toBe(true);
      const lease = await pool.acquire('stories');
      expect(lease.model.info.contextSize).toBe(512);
      expect((await lease.model.complete({ prompt: 'Once upon a time', maxTokens: 4, temperature: 0 })).text.length).toBeGreaterThan(0);
      lease.release();
    } finally {
      await pool.dispose();
    }
  });

  it('aborts: a generation through the lease signal, a queued request, and a load cut short by dispose', async () => {
    const pool = new ModelPool({ models: [spec('stories'), spec('large')], keepAliveMs: -1 });
    try {
      const controller = new AbortController();
      const lease = await pool.acquire('stories', { signal: controller.signal });
      const queued = pool.acquire('stories', { signal: controller.signal }).catch((e: unknown) => e);
      const generation = lease.model.complete({ prompt: 'Once upon a time', maxTokens: 2000, temperature: 0, signal: lease.signal! });
      setTimeout(() => controller.abort(), 5);
      await expect(generation).rejects.toMatchObject({ code: 'ABORTED' });
      expect(await queued).toMatchObject({ code: 'ABORTED' });
      lease.release();
      const loading = pool.acquire('large').catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 1));
      await pool.dispose();
      expect(await loading).toMatchObject({ code: 'DISPOSED' });
      expect(pool.status().loadedModels).toBe(0);
    } finally {
      await pool.dispose();
    }
  });

  it('stress: 1,000 requests across 3 real models with memory for 2 — all answered, no deadlock, RSS bounded', async () => {
    const budget = size.get('medium')! + size.get('stories')! + Math.floor(size.get('small')! / 2);
    const pool = new ModelPool({
      models: [spec('stories', { parallel: 4 }), spec('small', { parallel: 4 }), spec('medium', { parallel: 4 })],
      memory: { budgets: { CPU: budget } },
      keepAliveMs: -1,
      swapDelayMs: 20,
      priorityStepMs: 50,
      maxQueued: 2000,
    });
    let evictions = 0;
    let maxUsed = 0;
    pool.on('evict', () => evictions++);
    pool.on('ready', () => (maxUsed = Math.max(maxUsed, pool.status().devices[0]!.used)));
    let x = 7;
    const rand = (): number => (x = (x * 48271) % 2147483647) / 2147483647;
    const ids = ['stories', 'small', 'medium'] as const;
    const codes = new Map<string, number>();
    let rssMid = 0;
    const started = performance.now();
    try {
      const CONCURRENCY = 24;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 1000) {
          const i = next++;
          if (i === 300) rssMid = process.memoryUsage().rss;
          // Bursty: a run of requests prefers one model, then moves on.
          const id = ids[Math.floor(i / 40 + rand() * 1.5) % 3]!;
          const priority = (['high', 'normal', 'low'] as const)[Math.floor(rand() * 3)]!;
          try {
            await pool.use(id, (l) => l.model.complete({ prompt: 'Once upon a time', maxTokens: 3, temperature: 0 }), { priority, timeoutMs: 30_000 });
            codes.set('ok', (codes.get('ok') ?? 0) + 1);
          } catch (error) {
            const code = isModelpoolError(error) ? error.code : String(error);
            codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const rssEnd = process.memoryUsage().rss;
      const elapsed = performance.now() - started;
      expect(Object.fromEntries(codes)).toEqual({ ok: 1000 });
      expect(evictions).toBeGreaterThan(0);
      expect(maxUsed).toBeLessThanOrEqual(budget);
      expect(pool.status().queued).toBe(0);
      // Models were loaded and unloaded many times; resident memory must not grow with them.
      expect(rssEnd - rssMid).toBeLessThan(64 * 1024 * 1024);
      console.log(`stress: 1000 requests in ${elapsed.toFixed(0)} ms, ${evictions} evictions, RSS ${(rssMid / 2 ** 20).toFixed(0)} → ${(rssEnd / 2 ** 20).toFixed(0)} MiB`);
    } finally {
      await pool.dispose();
    }
  });
});
