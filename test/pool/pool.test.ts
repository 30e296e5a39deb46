/**
 * ModelPool scheduling and memory policy, on the in-memory fake provider (pure policy: no model
 * work is under test here; test/pool/real-models.test.ts runs the same paths on real models).
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { ModelpoolError } from '../../src/errors.js';
import { ModelPool, formatBytes } from '../../src/pool/index.js';
import type { Lease, PoolEvent, PoolOptions } from '../../src/pool/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeProvider, MB, type FakeModelConfig } from '../../src/testing/fake-provider.js';
import { expectCode } from '../helpers/expect.js';

const pools: ModelPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.dispose()));
});

function setup(
  models: Record<string, FakeModelConfig & { parallel?: number; keepAliveMs?: number; pinned?: boolean; minContextSize?: number; contextSize?: number; maxQueue?: number; maxThreads?: number }>,
  options: Omit<PoolOptions, 'provider' | 'models'> = {},
): { pool: ModelPool; loader: FakeProvider; events: PoolEvent[] } {
  const loader = new FakeProvider();
  const specs = Object.entries(models).map(([id, c]) => {
    const { parallel, keepAliveMs, pinned, minContextSize, contextSize, maxQueue, maxThreads, ...config } = c;
    loader.configs.set(`/models/${id}.gguf`, config);
    return { id, source: `/models/${id}.gguf`, version: 'v1', parallel, keepAliveMs, pinned, minContextSize, contextSize, maxQueue, maxThreads };
  });
  const pool = new ModelPool({ provider: loader, models: specs, memory: { budgets: { CPU: 1000 * MB } }, keepAliveMs: -1, swapDelayMs: 20, ...options });
  pools.push(pool);
  const events: PoolEvent[] = [];
  pool.on('*', (e) => events.push(e));
  return { pool, loader, events };
}


const loaded = (pool: ModelPool): string[] =>
  pool
    .status()
    .models.filter((m) => m.state === 'ready')
    .map((m) => m.id)
    .sort();

describe('ModelPool leases', () => {
  it('loads on demand once for many concurrent acquires and serves up to `parallel` at once', async () => {
    const { pool, loader } = setup({ a: { parallel: 2, loadMs: 20 } });
    const pending = Array.from({ length: 5 }, () => pool.acquire('a'));
    await sleep(60);
    expect(loader.loads).toEqual(['/models/a.gguf']);
    const settled: Lease[] = [];
    for (const p of pending) void p.then((l) => settled.push(l));
    await sleep(5);
    expect(settled.length).toBe(2);
    expect(pool.status().models[0]!.queued).toBe(3);
    settled[0]!.release();
    settled[0]!.release(); // idempotent
    await sleep(1);
    expect(settled.length).toBe(3);
    for (const l of [...settled]) l.release();
    await sleep(1);
    expect(settled.length).toBe(5);
    for (const l of settled) l.release();
    expect(settled[0]!.released).toBe(true);
    expect(settled[0]!.modelId).toBe('a');
    expect(settled[0]!.version).toBe('v1');
    expect(pool.status().models[0]!.leases).toBe(0);
  });

  it('use() releases the lease however the callback ends', async () => {
    const { pool } = setup({ a: {} });
    const text = await pool.use('a', (lease) => lease.model.complete({ prompt: 'x', maxTokens: 2 }));
    expect(text.text).toContain('fake');
    await expect(pool.use('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(pool.status().models[0]!.leases).toBe(0);
    using lease = await pool.acquire('a');
    expect(lease.waitedMs).toBe(0);
  });

  it('rejects bad input and unknown models with typed errors', async () => {
    const { pool } = setup({ a: {} });
    await expectCode(pool.acquire('nope'), 'MODEL_NOT_FOUND');
    await expectCode(pool.acquire(''), 'INVALID_ARGUMENT');
    await expectCode(pool.acquire('a', { priority: 'urgent' as never }), 'INVALID_ARGUMENT');
    await expectCode(pool.acquire('a', { timeoutMs: -1 }), 'INVALID_ARGUMENT');
    await expectCode(pool.acquire('a', { signal: {} as never }), 'INVALID_ARGUMENT');
    expect(() => pool.define({ id: 'x' } as never)).toThrow(/spec.source/);
    expect(() => pool.define({ id: 'x', source: 's', contextSize: 10, minContextSize: 20 })).toThrow(/minContextSize/);
    expect(() => pool.define({ id: 'x', source: 's', gpuLayers: -2 })).toThrow(/gpuLayers/);
    expect(() => pool.define({ id: 'x', source: 's', probe: 'sometimes' as never })).toThrow(/probe/);
    expect(() => pool.pin('nope')).toThrow(/not defined/);
    expect(() => new ModelPool({ loader: {} as never })).toThrow(/options.loader/);
    expect(() => new ModelPool({ provider: { name: 'x' } as never })).toThrow(/options.provider/);
    expect(() => new ModelPool({ provider: new FakeProvider(), loader: new FakeProvider() })).toThrow(/options.loader/);
    expect(() => new ModelPool({ provider: new FakeProvider(), threads: 0 })).toThrow(/options.threads/);
    expect(() => new ModelPool({ provider: new FakeProvider(), memory: { budgets: { CPU: 'lots' as never } } })).toThrow(/memory.budgets.CPU/);
    expect(() => new ModelPool({ provider: new FakeProvider(), eviction: { halfLifeMs: 0 } })).toThrow(/halfLifeMs/);
    expect(() => new ModelPool({ provider: new FakeProvider(), calibrationAlpha: 2 })).toThrow(/calibrationAlpha/);
    expect(() => new ModelPool({ provider: new FakeProvider(), resolve: 1 as never })).toThrow(/options.resolve/);
    expect(() => new ModelPool({ provider: new FakeProvider(), models: {} as never })).toThrow(/options.models/);
    expect(() => new ModelPool('x' as never)).toThrow(/options/);
    expect(pool.models()).toEqual(['a']);
  });

  it('resolves unknown names through the resolve hook, once for concurrent callers; the spec id is the key, the name its alias', async () => {
    const loader = new FakeProvider({ '/r.gguf': {} });
    let calls = 0;
    const pool = new ModelPool({
      loader,
      resolve: async (id) => {
        calls++;
        await sleep(5);
        return id === 'r' ? { id: 'r-model', source: '/r.gguf', parallel: 2 } : undefined;
      },
    });
    pools.push(pool);
    const leases = await Promise.all([pool.acquire('r'), pool.acquire('r')]);
    expect(calls).toBe(1);
    expect(leases.map((l) => l.modelId)).toEqual(['r-model', 'r-model']);
    for (const l of leases) l.release();
    const byId = await pool.acquire('r-model');
    byId.release();
    expect(calls).toBe(1);
    expect(pool.models()).toEqual(['r-model']);
    expect(loader.loads).toEqual(['/r.gguf']);
    await expectCode(pool.acquire('missing'), 'MODEL_NOT_FOUND');
  });

  it('bounds the queue per model and in total (QUEUE_FULL)', async () => {
    const { pool } = setup({ a: { maxQueue: 2 }, b: {} }, { maxQueued: 3, threads: 2 });
    const held = await pool.acquire('a');
    const q1 = pool.acquire('a');
    const q2 = pool.acquire('a');
    const full = await expectCode(pool.acquire('a'), 'QUEUE_FULL');
    expect(full.message).toContain('model "a"');
    const heldB = await pool.acquire('b');
    const q3 = pool.acquire('b');
    const fullTotal = await expectCode(pool.acquire('b'), 'QUEUE_FULL');
    expect(fullTotal.message).toContain('the pool');
    held.release();
    heldB.release();
    for (const q of [q1, q2, q3]) (await q).release();
  });

  it('times out and aborts queued requests without disturbing the others', async () => {
    const { pool } = setup({ a: {} });
    const held = await pool.acquire('a');
    const timedOut = pool.acquire('a', { timeoutMs: 20 });
    const controller = new AbortController();
    const aborted = pool.acquire('a', { signal: controller.signal });
    const survivor = pool.acquire('a');
    controller.abort(new Error('changed my mind'));
    await expectCode(aborted, 'ABORTED');
    await expectCode(timedOut, 'TIMEOUT');
    await expectCode(pool.acquire('a', { signal: AbortSignal.abort() }), 'ABORTED');
    expect(pool.status().queued).toBe(1);
    held.release();
    (await survivor).release();
    expect(pool.status().queued).toBe(0);
  });

  it('orders waiters by priority class, and aging lets old low-priority requests overtake', async () => {
    const { pool } = setup({ a: {} }, { priorityStepMs: 30 });
    const held = await pool.acquire('a');
    const order: string[] = [];
    const track = (name: string, p: Promise<Lease>): Promise<void> =>
      p.then((l) => {
        order.push(name);
        l.release();
      });
    const oldLow = track('old-low', pool.acquire('a', { priority: 'low' }));
    await sleep(80); // more than two priority steps
    const all = [
      oldLow,
      track('low', pool.acquire('a', { priority: 'low' })),
      track('normal', pool.acquire('a')),
      track('high', pool.acquire('a', { priority: 'high' })),
    ];
    held.release();
    await Promise.all(all);
    expect(order).toEqual(['old-low', 'high', 'normal', 'low']);
  });
});

describe('ModelPool memory', () => {
  it('evicts the idle model that is cheapest to lose when a new one does not fit', async () => {
    const { pool, events } = setup(
      { small: { bytes: 400 * MB, loadMs: 5 }, slow: { bytes: 400 * MB, loadMs: 60 }, next: { bytes: 400 * MB } },
    );
    await pool.load('slow');
    await pool.load('small');
    await sleep(30); // past swapDelayMs: both are idle, neither merely between two requests
    // "small" was used last (LRU would evict "slow"), but it reloads 10x faster.
    await pool.load('next');
    expect(loaded(pool)).toEqual(['next', 'slow']);
    const evict = events.find((e) => e.type === 'evict');
    expect(evict).toMatchObject({ type: 'evict', modelId: 'small', forModel: 'next', reason: 'memory', busy: false });
    expect(events.find((e) => e.type === 'unload')).toMatchObject({ modelId: 'small', reason: 'evict', memoryConfirmed: true });
    const status = pool.status();
    expect(status.devices.find((d) => d.device === 'CPU')).toMatchObject({ budget: 1000 * MB, used: 800 * MB });
  });

  it('never evicts a pinned model; pinning can be changed later', async () => {
    const { pool } = setup({ a: { bytes: 600 * MB, pinned: true }, b: { bytes: 600 * MB } });
    await pool.load('a');
    await expectCode(pool.acquire('b'), 'INSUFFICIENT_MEMORY');
    pool.pin('a', false);
    await pool.load('b');
    expect(loaded(pool)).toEqual(['b']);
    pool.pin('b');
    expect(pool.status().models.find((m) => m.id === 'b')!.pinned).toBe(true);
  });

  it('refuses at once a model larger than the whole budget, naming the sizes', async () => {
    const { pool, events } = setup({ huge: { bytes: 2000 * MB } });
    const error = await expectCode(pool.acquire('huge'), 'INSUFFICIENT_MEMORY');
    expect(error.message).toContain('huge');
    expect(error.message).toContain('MiB');
    expect(events.some((e) => e.type === 'load-failed')).toBe(true);
    expect(pool.status().models[0]!.lastError?.code).toBe('INSUFFICIENT_MEMORY');
  });

  it('waits for a busy model rather than killing it, then evicts it once released', async () => {
    const { pool, loader } = setup({ a: { bytes: 600 * MB }, b: { bytes: 600 * MB } });
    const lease = await pool.acquire('a');
    const gen = lease.model.complete({ prompt: 'x', maxTokens: 8 });
    const waiting = pool.acquire('b');
    await sleep(40);
    expect(pool.status().models.find((m) => m.id === 'b')!.state).toBe('waiting-for-memory');
    // a is drained: no new lease, but the one in flight goes on.
    expect(pool.status().models.find((m) => m.id === 'a')!.draining).toBe(true);
    expect(await gen).toMatchObject({ finishReason: 'length', generatedTokens: 8, text: ' there was a fake model' });
    expect(loader.models[0]!.disposed).toBe(false);
    lease.release();
    const b = await waiting;
    expect(b.modelId).toBe('b');
    expect(loader.models[0]!.disposed).toBe(true);
    b.release();
  });

  it('bounds the wait for busy models (INSUFFICIENT_MEMORY), and the busy model serves again', async () => {
    const { pool } = setup({ a: { bytes: 600 * MB }, b: { bytes: 600 * MB } }, { memoryWaitMs: 60 });
    const lease = await pool.acquire('a');
    const error = await expectCode(pool.acquire('b'), 'INSUFFICIENT_MEMORY');
    expect(error.message).toContain('waited');
    lease.release();
    const again = await pool.acquire('a', { timeoutMs: 100 });
    again.release();
  });

  it('serves requests for loaded models first and swaps only after swapDelayMs (no thrash)', async () => {
    const { pool, loader } = setup({ a: { bytes: 600 * MB, tokenMs: 1 }, b: { bytes: 600 * MB } }, { swapDelayMs: 80 });
    await pool.load('a');
    const bRequest = pool.acquire('b');
    let bAt = 0;
    void bRequest.then((l) => {
      bAt = performance.now();
      l.release();
    });
    const start = performance.now();
    // Steady traffic on "a": it keeps being served until b's request has waited swapDelayMs.
    let served = 0;
    while (performance.now() - start < 60) {
      await pool.use('a', (l) => l.model.complete({ prompt: 'x', maxTokens: 1 }));
      served++;
    }
    expect(served).toBeGreaterThan(5);
    expect(bAt).toBe(0);
    await bRequest;
    expect(bAt - start).toBeGreaterThanOrEqual(75);
    expect(loader.loads).toEqual(['/models/a.gguf', '/models/b.gguf']);
  });

  it('shrinks the context before refusing when minContextSize allows it', async () => {
    const { pool, events } = setup({ kv: { bytes: 100 * MB, kvPerKTokens: 800 * MB, contextSize: 4096, minContextSize: 512 } });
    const lease = await pool.acquire('kv');
    expect(lease.model.info.contextSize).toBe(1024);
    expect(events.find((e) => e.type === 'context-shrunk')).toMatchObject({ requested: 4096, granted: 1024 });
    lease.release();
  });

  it('offloads fewer layers when the GPU budget is short and gpuLayers is auto', async () => {
    const { pool, events } = setup({ g: { bytes: 100 * MB, gpuBytes: 800 * MB, layers: 8 } }, { memory: { budgets: { CPU: 1000 * MB, GPU0: 450 * MB } } });
    const lease = await pool.acquire('g');
    expect(events.find((e) => e.type === 'gpu-layers-reduced')).toMatchObject({ granted: 4 });
    expect(pool.status().devices.find((d) => d.device === 'GPU0')!.used).toBe(400 * MB);
    lease.release();
  });

  it('limits the number of loaded models', async () => {
    const { pool, events } = setup({ a: {}, b: {}, c: {} }, { maxLoadedModels: 2 });
    await pool.load('a');
    await pool.load('b');
    await pool.load('c');
    expect(loaded(pool)).toHaveLength(2);
    expect(events.find((e) => e.type === 'evict')).toMatchObject({ reason: 'max-models' });
    expect(pool.status().maxLoadedModels).toBe(2);
  });

  it('learns the estimate error per architecture and reports it', async () => {
    const { pool, events } = setup({
      a: { bytes: 100 * MB, actualFactor: 1.25, architecture: 'llama' },
      b: { bytes: 200 * MB, actualFactor: 1.25, architecture: 'llama' },
      q: { bytes: 100 * MB, actualFactor: 1.25, architecture: 'qwen2' },
    });
    await pool.load('a');
    await pool.load('b');
    await pool.load('q');
    const ready = events.filter((e): e is Extract<PoolEvent, { type: 'ready' }> => e.type === 'ready');
    expect(ready[0]!.estimateError).toBeCloseTo(0.2, 5);
    expect(Math.abs(ready[1]!.estimateError)).toBeLessThan(0.05);
    expect(ready[1]!.rawEstimateError).toBeCloseTo(0.2, 5);
    expect(ready[2]!.estimateError).toBeCloseTo(0.2, 5); // another architecture starts afresh
    const status = pool.status();
    expect(status.calibration.find((c) => c.architecture === 'llama')!.samples).toBe(2);
    const b = status.models.find((m) => m.id === 'b')!;
    expect(b.sizeBytes).toBe(250 * MB);
    expect(b.instances[0]!.estimatedBytes).toBe(250 * MB);
  });

  it('evicts idle models when a load measures more than its estimate (over budget)', async () => {
    const { pool, events } = setup({ a: { bytes: 400 * MB }, big: { bytes: 400 * MB, actualFactor: 1.6 } });
    await pool.load('a');
    await pool.load('big');
    expect(events.find((e) => e.type === 'over-budget')).toMatchObject({ modelId: 'big', device: 'CPU' });
    await sleep(5);
    expect(loaded(pool)).toEqual(['big']);
  });

  it('confirms that memory really came back after an unload before loading the next model', async () => {
    const { pool, loader, events } = setup({ a: { bytes: 500 * MB, kvPerKTokens: 50 * MB }, b: { bytes: 500 * MB, kvPerKTokens: 50 * MB } }, { memory: { budgets: { CPU: 1000 * MB }, confirmMinBytes: 1, confirmTimeoutMs: 500 } });
    loader.trackFree = true;
    loader.freeLagMs = 60;
    await pool.load('a');
    const started = performance.now();
    await pool.load('b');
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(events.find((e) => e.type === 'unload')).toMatchObject({ modelId: 'a', memoryConfirmed: true });
  });

  it('reports memory that does not come back, and goes on after confirmTimeoutMs', async () => {
    const { pool, loader, events } = setup({ a: { bytes: 500 * MB, kvPerKTokens: 50 * MB }, b: { bytes: 500 * MB, kvPerKTokens: 50 * MB } }, { memory: { budgets: { CPU: 1000 * MB }, confirmMinBytes: 1, confirmTimeoutMs: 40 } });
    loader.trackFree = true;
    loader.freeLagMs = 10_000;
    await pool.load('a');
    await pool.load('b');
    expect(events.find((e) => e.type === 'memory-unconfirmed')).toMatchObject({ modelId: 'a', device: 'CPU' });
    expect(events.find((e) => e.type === 'unload')).toMatchObject({ memoryConfirmed: false });
  });

  it('derives default budgets from free memory minus the margin', async () => {
    const loader = new FakeProvider({ '/a.gguf': { bytes: 100 * MB } });
    loader.deviceMemory = [{ device: 'CPU', total: 1000 * MB, free: 500 * MB }];
    const pool = new ModelPool({ loader, models: [{ id: 'a', source: '/a.gguf' }], memory: { margin: '10%' } });
    pools.push(pool);
    await pool.ready();
    expect(pool.status().devices).toEqual([{ device: 'CPU', budget: 400 * MB, used: 0 }]);
  });
});

describe('ModelPool keep-alive', () => {
  it('keep-alive 0 unloads after the last release; positive after the TTL; negative never', async () => {
    const { pool, loader } = setup({ zero: { keepAliveMs: 0, parallel: 2 }, ttl: { keepAliveMs: 40 }, forever: { keepAliveMs: -1 } });
    const leases = await Promise.all([pool.acquire('zero'), pool.acquire('zero')]);
    leases[0]!.release();
    await sleep(5);
    expect(loaded(pool)).toContain('zero');
    leases[1]!.release();
    await sleep(5);
    expect(loaded(pool)).not.toContain('zero');

    await pool.load('ttl');
    const expiresAt = pool.status().models.find((m) => m.id === 'ttl')!.expiresAt!;
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 40);
    await sleep(20);
    // Using it restarts the clock.
    await pool.use('ttl', () => undefined);
    await sleep(30);
    expect(loaded(pool)).toContain('ttl');
    await sleep(30);
    expect(loaded(pool)).not.toContain('ttl');

    await pool.load('forever');
    expect(pool.status().models.find((m) => m.id === 'forever')!.expiresAt).toBeNull();
    expect(loader.live().map((m) => m.source)).toEqual(['/models/forever.gguf']);
  });

  it('setKeepAlive changes a model’s keep-alive at run time, restarting an idle model’s clock; undefined goes back to its spec’s', async () => {
    const { pool } = setup({ m: { keepAliveMs: -1 } });
    await pool.load('m');
    expect(pool.status().models.find((x) => x.id === 'm')).toMatchObject({ keepAliveMs: -1, expiresAt: null });
    pool.setKeepAlive('m', 30);
    const status = pool.status().models.find((x) => x.id === 'm')!;
    expect(status.keepAliveMs).toBe(30);
    expect(status.expiresAt).toBeGreaterThan(Date.now());
    // Held while leased: the new keep-alive applies after the release.
    const lease = await pool.acquire('m');
    await sleep(50);
    expect(loaded(pool)).toEqual(['m']);
    pool.setKeepAlive('m', undefined);
    expect(pool.status().models.find((x) => x.id === 'm')!.keepAliveMs).toBe(-1);
    pool.setKeepAlive('m', 0);
    lease.release();
    await sleep(5);
    expect(loaded(pool)).toEqual([]);
    // It stays set for the next load; 0 on an idle model unloads it at once.
    await pool.load('m');
    await sleep(5);
    expect(loaded(pool)).toEqual([]);
    pool.setKeepAlive('m', -1);
    await pool.load('m');
    pool.setKeepAlive('m', 0);
    await sleep(5);
    expect(loaded(pool)).toEqual([]);
    await expectCode(() => pool.setKeepAlive('m', 1.5), 'INVALID_ARGUMENT', 'keepAliveMs');
    await expectCode(() => pool.setKeepAlive('nobody', 10), 'MODEL_NOT_FOUND');
  });

  it('pinned models ignore keep-alive', async () => {
    const { pool } = setup({ p: { keepAliveMs: 0, pinned: true } });
    await pool.load('p');
    await sleep(5);
    expect(loaded(pool)).toEqual(['p']);
    pool.pin('p', false);
    await sleep(5);
    expect(loaded(pool)).toEqual([]);
  });

  it('uses the pool default keep-alive and honours spec updates', async () => {
    const { pool } = setup({ a: {} }, { keepAliveMs: 0 });
    await pool.load('a');
    await sleep(5);
    expect(loaded(pool)).toEqual([]);
    pool.define({ id: 'a', source: '/models/a.gguf', keepAliveMs: -1 });
    await pool.load('a');
    await sleep(5);
    expect(loaded(pool)).toEqual(['a']);
  });
});

describe('ModelPool threads', () => {
  it('shares the thread budget among running models and never exceeds it', async () => {
    const { pool, loader } = setup({ a: { parallel: 4 }, b: { parallel: 4 }, c: { parallel: 4 } }, { threads: 3 });
    const assigned = (): number => pool.status().threads.assigned;
    let max = 0;
    pool.on('threads', (e) => {
      const sum = Object.values(e.assignments).reduce((s, x) => s + x, 0);
      max = Math.max(max, sum);
    });
    const a = await pool.acquire('a');
    expect(a.model.threads).toBe(3);
    const b = await pool.acquire('b');
    expect(a.model.threads + b.model.threads).toBe(3);
    const c = await pool.acquire('c');
    expect([a, b, c].map((l) => l.model.threads)).toEqual([1, 1, 1]);
    expect(assigned()).toBe(3);
    a.release();
    b.release();
    expect(c.model.threads).toBe(3);
    c.release();
    expect(assigned()).toBe(0);
    expect(max).toBeLessThanOrEqual(3);
    expect(loader.models.every((m) => m.threadHistory.every((t) => t <= 3))).toBe(true);
  });

  it('caps a model at maxThreads', async () => {
    const { pool } = setup({ tiny: { maxThreads: 1 } }, { threads: 4 });
    const l = await pool.acquire('tiny');
    expect(l.model.threads).toBe(1);
    expect(pool.status().threads).toMatchObject({ total: 4, assigned: 1, running: 1 });
    l.release();
  });

  it('with one thread, a second model waits for a CPU turn', async () => {
    const { pool } = setup({ a: {}, b: {} }, { threads: 1 });
    await pool.load('b');
    const a = await pool.acquire('a');
    let got = false;
    const b = pool.acquire('b').then((l) => {
      got = true;
      return l;
    });
    // Requests for a that arrive later queue behind b's turn.
    const a2 = pool.acquire('a');
    await sleep(20);
    expect(got).toBe(false);
    expect(pool.status().threads.assigned).toBe(1);
    a.release();
    (await b).release();
    (await a2).release();
  });

  it('gives a turn anyway after turnWaitMs, so holding one model while acquiring another cannot stall', async () => {
    const { pool } = setup({ a: {}, b: {} }, { threads: 1, turnWaitMs: 30 });
    await pool.load('b');
    const nested = await pool.use('a', async () => {
      const inner = await pool.acquire('b', { timeoutMs: 1000 });
      inner.release();
      return 'ok';
    });
    expect(nested).toBe('ok');
  });
});

describe('ModelPool faults', () => {
  it('a failing load rejects every waiter with LOAD_FAILED, and the next acquire retries', async () => {
    const { pool, loader, events } = setup({ bad: { failLoad: 'corrupt tensor data' } });
    const results = await Promise.allSettled([pool.acquire('bad'), pool.acquire('bad')]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.code).toBe('LOAD_FAILED');
      expect((r as PromiseRejectedResult).reason.message).toContain('corrupt tensor data');
    }
    expect(events.filter((e) => e.type === 'load-failed')).toHaveLength(1);
    expect(pool.status().devices[0]!.used).toBe(0);
    loader.configs.set('/models/bad.gguf', {});
    (await pool.acquire('bad')).release();
  });

  it('a failing estimate rejects with LOAD_FAILED and typed engine errors pass through', async () => {
    const { pool } = setup({ e: { failEstimate: true } });
    await expectCode(pool.acquire('e'), 'LOAD_FAILED');
    pool.define({ id: 'missing', source: '/nowhere.gguf' });
    await expectCode(pool.acquire('missing'), 'MODEL_NOT_FOUND');
  });

  it('a load whose waiters all left is dropped while it waits for memory', async () => {
    const { pool } = setup({ a: { bytes: 600 * MB }, b: { bytes: 600 * MB } }, { memoryWaitMs: 10_000 });
    const held = await pool.acquire('a');
    const controller = new AbortController();
    const waiting = pool.acquire('b', { signal: controller.signal });
    await sleep(10);
    controller.abort();
    await expectCode(waiting, 'ABORTED');
    await sleep(1);
    expect(pool.status().models.find((m) => m.id === 'b')!.state).toBe('unloaded');
    expect(pool.status().models.find((m) => m.id === 'a')!.draining).toBe(false);
    held.release();
  });

  it('unload() aborts queued requests and a load in progress, waits for leases, then unloads', async () => {
    const { pool, loader } = setup({ a: { loadMs: 50 }, b: {} });
    const loading = pool.acquire('a');
    await sleep(10);
    await pool.unload('a');
    await expectCode(loading, 'ABORTED');
    expect(loader.live()).toHaveLength(0);

    const lease = await pool.acquire('b');
    const queued = pool.acquire('b');
    let unloaded = false;
    const unloading = pool.unload('b').then(() => (unloaded = true));
    await expectCode(queued, 'ABORTED');
    await sleep(10);
    expect(unloaded).toBe(false);
    expect(lease.model.disposed).toBe(false);
    lease.release();
    await unloading;
    expect(lease.model.disposed).toBe(true);
    // It loads again on demand.
    (await pool.acquire('b')).release();
  });

  it('remove() forgets the model', async () => {
    const { pool } = setup({ a: {} });
    await pool.load('a');
    await pool.remove('a');
    await expectCode(pool.acquire('a'), 'MODEL_NOT_FOUND');
    expect(pool.models()).toEqual([]);
  });

  it('dispose() with work pending: queued get DISPOSED, loads are aborted, models disposed; idempotent', async () => {
    const { pool, loader } = setup({ a: {}, slow: { loadMs: 5_000 } });
    const lease = await pool.acquire('a');
    const queued = pool.acquire('a');
    const loading = pool.acquire('slow');
    await sleep(10);
    const gen = lease.model.complete({ prompt: 'x', maxTokens: 8 });
    const d1 = pool.dispose();
    const d2 = pool.dispose();
    expect(d1).toBe(d2);
    await expectCode(queued, 'DISPOSED');
    await expectCode(loading, 'DISPOSED');
    await d1;
    // In-flight work finished (not aborted) before the model went away.
    expect(await gen).toMatchObject({ finishReason: 'length', generatedTokens: 8, text: ' there was a fake model' });
    expect(loader.models.every((m) => m.disposed)).toBe(true);
    lease.release(); // after dispose: harmless
    await expectCode(pool.acquire('a'), 'DISPOSED');
    expect(() => pool.define({ id: 'z', source: 'z' })).toThrow(/disposed/);
    expect(pool.status().disposed).toBe(true);
    await pool[Symbol.asyncDispose]();
  });

  it('dispose({ abort: true }) cuts generations short', async () => {
    const { pool } = setup({ a: { tokenMs: 1000 } });
    const lease = await pool.acquire('a');
    const gen = lease.model.complete({ prompt: 'x', maxTokens: 8 });
    await pool.dispose({ abort: true });
    await expectCode(gen, 'ABORTED');
  });

  it('a listener that throws does not disturb the pool', async () => {
    const { pool } = setup({ a: {} });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    const off = pool.on('ready', () => {
      throw new Error('listener bug');
    });
    (await pool.acquire('a')).release();
    off();
    off();
    await sleep(5);
    process.off('warning', onWarning);
    expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
  });
});

describe('ModelPool status and events', () => {
  it('status() lists models like /api/ps and the queue event stream follows depth', async () => {
    const { pool, events } = setup({ a: { parallel: 1, bytes: 123 * MB } }, { keepAliveMs: 60_000 });
    const lease = await pool.acquire('a');
    const waiting = pool.acquire('a');
    const s = pool.status();
    const a = s.models[0]!;
    expect(a).toMatchObject({ id: 'a', version: 'v1', state: 'ready', leases: 1, queued: 1, concurrency: 1, sizeBytes: 123 * MB, pinned: false, swapping: false, draining: false, uses: 1 });
    expect(a.instances[0]).toMatchObject({ role: 'current', architecture: 'llama', measuredBytes: 123 * MB, estimateError: 0, leases: 1 });
    expect(a.lastUsedAt).toBeGreaterThan(Date.now() - 1000);
    expect(s.queued).toBe(1);
    expect(s.loadedModels).toBe(1);
    lease.release();
    (await waiting).release();
    expect(pool.status().models[0]!.expiresAt).toBeGreaterThan(Date.now());
    const types = new Set(events.map((e) => e.type));
    for (const t of ['load', 'ready', 'queue', 'threads']) expect(types.has(t as PoolEvent['type'])).toBe(true);
    const depths = events.filter((e) => e.type === 'queue').map((e) => (e as Extract<PoolEvent, { type: 'queue' }>).depth);
    expect(depths).toContain(1);
    expect(depths.at(-1)).toBe(0);
  });

  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});

describe('ModelPool stress (fake loader)', () => {
  it('answers 1,000 mixed requests across 3 models with memory for 2 — every one ends', async () => {
    const { pool, loader } = setup(
      { a: { bytes: 450 * MB, parallel: 2, tokenMs: 0 }, b: { bytes: 450 * MB, parallel: 2, tokenMs: 0 }, c: { bytes: 450 * MB, parallel: 2, tokenMs: 0 } },
      { swapDelayMs: 5, priorityStepMs: 10, maxQueued: 2000, maxQueuePerModel: 2000 },
    );
    let x = 42;
    const rand = (): number => (x = (x * 48271) % 2147483647) / 2147483647;
    const ids = ['a', 'b', 'c'];
    const outcomes = new Map<string, number>();
    const tasks: Array<Promise<void>> = [];
    let withSignal = 0;
    for (let i = 0; i < 1000; i++) {
      const id = ids[Math.floor(rand() * 3)]!;
      const priority = (['high', 'normal', 'low'] as const)[Math.floor(rand() * 3)]!;
      const abort = rand() < 0.05 ? AbortSignal.timeout(Math.floor(rand() * 20)) : undefined;
      if (abort !== undefined) withSignal++;
      tasks.push(
        pool
          .use(id, (l) => l.model.complete({ prompt: 'p', maxTokens: 1 }), { priority, ...(abort === undefined ? {} : { signal: abort }) })
          .then(
            () => outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1),
            (e: unknown) => {
              const code = (e as ModelpoolError).code;
              outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
            },
          )
          .then(() => undefined),
      );
      if (i % 50 === 0) await sleep(0);
    }
    await Promise.all(tasks);
    // Only requests given an abort signal may end without an answer, and only as ABORTED.
    expect([...outcomes.keys()].every((k) => k === 'ok' || k === 'ABORTED')).toBe(true);
    expect(withSignal).toBeGreaterThan(0);
    expect(outcomes.get('ABORTED') ?? 0).toBeLessThanOrEqual(withSignal);
    expect(outcomes.get('ok')).toBe(1000 - (outcomes.get('ABORTED') ?? 0));
    expect(pool.status().queued).toBe(0);
    expect(pool.status().devices[0]!.used).toBeLessThanOrEqual(1000 * MB);
    expect(loader.live().length).toBeLessThanOrEqual(2);
  });
});
