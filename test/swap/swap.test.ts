/**
 * Hot swap orchestration on the fake provider: strategies, rollback paths, and the guarantee that
 * no accepted request fails during a swap. test/swap/real-swap.test.ts repeats the key cases on
 * real models.
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { ModelpoolError } from '../../src/errors.js';
import { ModelPool } from '../../src/pool/index.js';
import type { PoolEvent, PoolOptions } from '../../src/pool/types.js';
import { validateSwapOptions } from '../../src/swap/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeProvider, MB, type FakeModelConfig } from '../../src/testing/fake-provider.js';
import { expectCode } from '../helpers/expect.js';

const pools: ModelPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.dispose()));
});

function setup(sources: Record<string, FakeModelConfig>, options: Omit<PoolOptions, 'provider'> = {}) {
  const loader = new FakeProvider(sources);
  const pool = new ModelPool({
    provider: loader,
    models: [{ id: 'm', source: 'v1', version: '1', parallel: 2 }],
    memory: { budgets: { CPU: 1000 * MB } },
    keepAliveMs: -1,
    threads: 2,
    ...options,
  });
  pools.push(pool);
  const events: PoolEvent[] = [];
  pool.on('*', (e) => events.push(e));
  return { pool, loader, events };
}


const versionOf = async (pool: ModelPool): Promise<string | undefined> => pool.use('m', (l) => l.version);

describe('swapVersion beside', () => {
  it('loads beside, checks, switches atomically; in-flight leases finish on the old version', async () => {
    const { pool, loader, events } = setup({ v1: { bytes: 300 * MB, tokenMs: 5 }, v2: { bytes: 300 * MB } });
    const old = await pool.acquire('m');
    const inflight = old.model.complete({ prompt: 'x', maxTokens: 8 });
    const result = await pool.swapVersion('m', { source: 'v2', version: '2' });
    expect(result).toMatchObject({ modelId: 'm', from: '1', to: '2', strategy: 'beside', pausedMs: 0 });
    expect(result.health.ok).toBe(true);
    // New leases get the new version while the old lease still holds the old model.
    expect(await versionOf(pool)).toBe('2');
    expect(old.version).toBe('1');
    expect(old.model.disposed).toBe(false);
    const status = pool.status().models[0]!;
    expect(status.version).toBe('2');
    expect(status.instances.map((i) => [i.version, i.role])).toEqual([
      ['2', 'current'],
      ['1', 'draining'],
    ]);
    expect(await inflight).toMatchObject({ finishReason: 'length', generatedTokens: 8, text: ' there was a fake model' });
    old.release();
    await sleep(5);
    expect(loader.models[0]!.disposed).toBe(true);
    expect(pool.status().models[0]!.instances).toHaveLength(1);
    expect(pool.status().devices[0]!.used).toBe(300 * MB);
    expect(events.find((e) => e.type === 'swap')).toMatchObject({ from: '1', to: '2', strategy: 'beside' });
    expect(events.filter((e) => e.type === 'unload').map((e) => (e as Extract<PoolEvent, { type: 'unload' }>).reason)).toEqual(['swap']);
  });

  it('a swap of a model that is not loaded checks the version before installing it (cold)', async () => {
    const { pool, loader } = setup({ v1: {}, v2: {} });
    const result = await pool.swapVersion('m', { source: 'v2', version: '2' });
    expect(result.strategy).toBe('cold');
    expect(loader.loads).toEqual(['v2']);
    expect(await versionOf(pool)).toBe('2');
  });

  it('zero failed requests under steady concurrent load during the swap', async () => {
    const { pool } = setup({ v1: { bytes: 300 * MB, tokenMs: 1 }, v2: { bytes: 300 * MB, tokenMs: 1 } });
    await pool.load('m');
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const versions = new Set<string | undefined>();
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          await pool.use('m', async (l) => {
            versions.add(l.version);
            await l.model.complete({ prompt: 'x', maxTokens: 2 });
          });
          ok++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const clients = Array.from({ length: 6 }, client);
    await sleep(20);
    await pool.swapVersion('m', { source: 'v2', version: '2' });
    await sleep(20);
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(versions).toEqual(new Set(['1', '2']));
  });
});

describe('swapVersion sequential', () => {
  it('when the new version does not fit beside: holds requests, swaps in place, resumes — none fail', async () => {
    const { pool, loader, events } = setup({ v1: { bytes: 600 * MB, tokenMs: 3 }, v2: { bytes: 600 * MB, loadMs: 30 } });
    const lease = await pool.acquire('m');
    const inflight = lease.model.complete({ prompt: 'x', maxTokens: 8 });
    const swapping = pool.swapVersion('m', { source: 'v2', version: '2' });
    await sleep(5);
    // A request arriving during the swap waits (not refused) and is served by the new version.
    const during = pool.use('m', (l) => l.version);
    await sleep(10);
    expect(pool.status().models[0]!.draining).toBe(true);
    expect(await inflight).toMatchObject({ finishReason: 'length', generatedTokens: 8, text: ' there was a fake model' });
    lease.release();
    const result = await swapping;
    expect(result.strategy).toBe('sequential');
    expect(result.pausedMs).toBeGreaterThan(0);
    expect(await during).toBe('2');
    expect(loader.models[0]!.disposed).toBe(true);
    expect(events.find((e) => e.type === 'swap')).toMatchObject({ strategy: 'sequential' });
  });

  it('strategy "sequential" can be asked for, with a canary baseline taken before the pause', async () => {
    const { pool } = setup({ v1: {}, v2: {} });
    await pool.load('m');
    const result = await pool.swapVersion('m', { source: 'v2', version: '2' }, { strategy: 'sequential', canary: { prompts: ['a', { prompt: 'b', expected: 'there was a fake model' }] } });
    expect(result.strategy).toBe('sequential');
    expect(result.canary!.pass).toBe(true);
    expect(result.canary!.qualityDelta).toBe(0);
  });

  it('strategy "beside" refuses to fall back when there is no room', async () => {
    const { pool } = setup({ v1: { bytes: 600 * MB }, v2: { bytes: 600 * MB } });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { strategy: 'beside' }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'load-failed' });
    expect((error.cause as ModelpoolError).code).toBe('INSUFFICIENT_MEMORY');
    expect(await versionOf(pool)).toBe('1');
  });

  it('gives up (TIMEOUT) when in-flight leases do not drain in time, leaving the old version serving', async () => {
    const { pool } = setup({ v1: { bytes: 600 * MB }, v2: { bytes: 600 * MB } });
    const lease = await pool.acquire('m');
    await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { drainTimeoutMs: 30 }), 'TIMEOUT');
    lease.release();
    expect(await versionOf(pool)).toBe('1');
    expect(pool.status().models[0]!.swapping).toBe(false);
  });

  it('rolls back after the old version was unloaded: held requests load the old version again', async () => {
    const { pool, loader, events } = setup({ v1: { bytes: 600 * MB }, v2: { bytes: 600 * MB, failLoad: 'bad file' } });
    await pool.load('m');
    const swapping = pool.swapVersion('m', { source: 'v2', version: '2' });
    await sleep(1);
    const during = pool.use('m', (l) => l.version);
    const error = await expectCode(swapping, 'ROLLED_BACK');
    expect(error.message).toContain('bad file');
    expect(await during).toBe('1');
    expect(loader.loads).toEqual(['v1', 'v2', 'v1']);
    expect(events.find((e) => e.type === 'rollback')).toMatchObject({ reason: 'load-failed', from: '1', to: '2' });
  });
});

describe('swapVersion rollback', () => {
  it('rolls back when the new version fails to load, and the old one keeps serving', async () => {
    const { pool, events } = setup({ v1: {}, v2: { failLoad: true } });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'load-failed', from: '1', to: '2' });
    expect(await versionOf(pool)).toBe('1');
    expect(events.some((e) => e.type === 'rollback')).toBe(true);
    expect(pool.status().devices[0]!.used).toBe(100 * MB);
  });

  it('rolls back when the health check generation produces nothing', async () => {
    const { pool, loader } = setup({ v1: {}, v2: { generatedTokens: 0 } });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { warmup: false }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'health-check' });
    expect(loader.models[1]!.disposed).toBe(true);
    expect(await versionOf(pool)).toBe('1');
  });

  it('rolls back when the warm-up generation throws', async () => {
    const { pool } = setup({ v1: {}, v2: { failGenerate: true } });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { warmup: { prompt: 'hi', maxTokens: 2 } }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'health-check' });
  });

  it('rolls back when a custom health validator says no', async () => {
    const { pool } = setup({ v1: {}, v2: {} });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { healthCheck: { validate: () => false } }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'health-check' });
    expect(await versionOf(pool)).toBe('1');
  });

  it('rolls back when the canary is slower than the threshold', async () => {
    const { pool } = setup({ v1: { tokenMs: 1 }, v2: { tokenMs: 8 } });
    await pool.load('m');
    const error = await expectCode(pool.swapVersion('m', { source: 'v2', version: '2' }, { canary: { prompts: ['a', 'b'], maxTokens: 4, maxLatencyRegression: 0.5 } }), 'ROLLED_BACK');
    expect(error.details).toMatchObject({ reason: 'canary' });
    expect(error.message).toMatch(/latency per token/);
    expect(await versionOf(pool)).toBe('1');
  });

  it('rolls back when canary quality drops, with a custom scorer or the default overlap', async () => {
    const { pool } = setup({ v1: { text: 'the cat sat on the mat' }, v2: { text: 'zebra quantum' } });
    await pool.load('m');
    const error = await expectCode(
      pool.swapVersion('m', { source: 'v2', version: '2' }, { canary: { prompts: [{ prompt: 'p', expected: 'the cat sat on the mat' }] } }),
      'ROLLED_BACK',
    );
    expect(error.message).toMatch(/quality/);
    const custom = await pool.swapVersion('m', { source: 'v2', version: '2' }, { canary: { prompts: ['p'], score: () => 1, maxLatencyRegression: 100 } });
    expect(custom.canary!.qualityDelta).toBe(0);
  });

  it('an aborted swap rolls back with ABORTED', async () => {
    const { pool, events } = setup({ v1: {}, v2: { loadMs: 50 } });
    await pool.load('m');
    const controller = new AbortController();
    const swapping = pool.swapVersion('m', { source: 'v2', version: '2' }, { signal: controller.signal });
    await sleep(10);
    controller.abort();
    await expectCode(swapping, 'ABORTED');
    expect(events.find((e) => e.type === 'rollback')).toMatchObject({ reason: 'aborted' });
    expect(await versionOf(pool)).toBe('1');
    await expectCode(pool.swapVersion('m', { source: 'v2' }, { signal: AbortSignal.abort() }), 'ABORTED');
  });

  it('refuses a second swap of the same model while one runs (IN_USE), and unknown models', async () => {
    const { pool } = setup({ v1: {}, v2: { loadMs: 30 } });
    await pool.load('m');
    const first = pool.swapVersion('m', { source: 'v2', version: '2' });
    await sleep(1);
    await expectCode(pool.swapVersion('m', { source: 'v2', version: '3' }), 'IN_USE');
    await first;
    await expectCode(pool.swapVersion('nope', { source: 'v2' }), 'MODEL_NOT_FOUND');
    await expectCode(pool.swapVersion('m', { source: '' }), 'INVALID_ARGUMENT');
  });

  it('dispose during a swap ends it with DISPOSED and frees the candidate', async () => {
    const { pool, loader } = setup({ v1: {}, v2: { tokenMs: 20 } });
    await pool.load('m');
    const swapping = pool.swapVersion('m', { source: 'v2', version: '2' });
    await sleep(20);
    await pool.dispose();
    await expectCode(swapping, 'DISPOSED');
    expect(loader.models.every((m) => m.disposed)).toBe(true);
    await expectCode(pool.swapVersion('m', { source: 'v2' }), 'DISPOSED');
  });
});

describe('swap options', () => {
  it('validates options with the field named', () => {
    expect(() => validateSwapOptions({ strategy: 'fast' })).toThrow(/options.strategy/);
    expect(() => validateSwapOptions({ warmup: 3 })).toThrow(/options.warmup/);
    expect(() => validateSwapOptions({ warmup: { prompt: 1 } })).toThrow(/options.warmup.prompt/);
    expect(() => validateSwapOptions({ drainTimeoutMs: -1 })).toThrow(/drainTimeoutMs/);
    expect(() => validateSwapOptions({ canary: { prompts: [] } })).toThrow(/options.canary.prompts/);
    expect(() => validateSwapOptions({ canary: { prompts: [{ prompt: 1 }] } })).toThrow(/prompts\[0\].prompt/);
    expect(() => validateSwapOptions({ canary: { prompts: [{ prompt: 'a', expected: 2 }] } })).toThrow(/expected/);
    expect(() => validateSwapOptions({ canary: { prompts: ['a'], maxQualityDrop: 2 } })).toThrow(/maxQualityDrop/);
    expect(() => validateSwapOptions({ canary: { prompts: ['a'], score: 'x' } })).toThrow(/score/);
    expect(() => validateSwapOptions({ healthCheck: { prompt: 1 } })).toThrow(/healthCheck.prompt/);
    expect(() => validateSwapOptions({ healthCheck: { validate: 1 } })).toThrow(/healthCheck.validate/);
    expect(validateSwapOptions({ warmup: true }).warmup).toBe(false);
    expect(validateSwapOptions({ warmup: {} }).warmup).toMatchObject({ maxTokens: 4 });
    expect(validateSwapOptions(undefined).strategy).toBe('auto');
  });
});
