/**
 * The pool serving models without the local extension (as a remote provider's would be), beside
 * local ones: they get no thread share and need no CPU turn, and they hold the memory their
 * provider's estimate says instead of a measured figure.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isLocalModel } from '../../src/model/index.js';
import { ModelPool } from '../../src/pool/index.js';
import type { Lease, PoolEvent } from '../../src/pool/types.js';
import { FakeProvider, MB } from '../../src/testing/fake-provider.js';

const pools: ModelPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.dispose()));
});

function setup() {
  const provider = new FakeProvider(
    {
      remote: { architecture: 'remote-llm' },
      sized: { bytes: 50 * MB, architecture: 'remote-llm' },
      local: { local: true, bytes: 100 * MB, actualFactor: 1.2 },
    },
    { local: false, name: 'remote' },
  );
  provider.trackFree = true;
  const pool = new ModelPool({
    provider,
    threads: 1,
    keepAliveMs: -1,
    memory: { budgets: { CPU: 1000 * MB }, confirmMinBytes: 0, confirmTimeoutMs: 50 },
    models: ['remote', 'sized', 'local'].map((id) => ({ id, source: id, version: '1', parallel: 2 })),
  });
  pools.push(pool);
  const events: PoolEvent[] = [];
  pool.on('*', (e) => events.push(e));
  return { pool, provider, events };
}

describe('ModelPool with models that are not local', () => {
  it('serves them without thread shares or CPU turns, beside a local model', async () => {
    const { pool, provider, events } = setup();
    // One thread: a second local model would wait for a turn; models outside the process do not.
    const local = await pool.acquire('local');
    const leases: Lease[] = [local, await pool.acquire('remote'), await pool.acquire('remote'), await pool.acquire('sized')];
    expect(isLocalModel(local.model)).toBe(true);
    for (const lease of leases.slice(1)) {
      expect(isLocalModel(lease.model)).toBe(false);
      expect('setThreads' in lease.model).toBe(false);
    }
    const texts = await Promise.all(leases.map((l) => l.model.complete({ prompt: 'Once', maxTokens: 4 })));
    expect(texts.every((r) => r.text.length > 0)).toBe(true);

    const status = pool.status();
    expect(status.threads).toEqual({ total: 1, assigned: 1, running: 1 });
    const byId = Object.fromEntries(status.models.map((m) => [m.id, m]));
    expect(byId.remote).toMatchObject({ state: 'ready', leases: 2, threads: 0, sizeBytes: 0 });
    expect(byId.remote!.instances[0]).toMatchObject({ threads: 0, measuredBytes: 0, reclaimableBytes: 0, estimateError: 0, parallel: 2, contextSize: 4096, architecture: 'remote-llm' });
    // The estimate is what it holds: no calibration sample comes from it.
    expect(byId.sized!.instances[0]).toMatchObject({ measuredBytes: 50 * MB, estimatedBytes: 50 * MB, memory: { CPU: 50 * MB } });
    expect(status.calibration.map((c) => c.architecture)).toEqual(['llama']);
    expect(byId.local!.instances[0]!.measuredBytes).toBe(120 * MB);
    expect(status.devices).toEqual([{ device: 'CPU', budget: 1000 * MB, used: 170 * MB }]);
    const ready = events.filter((e) => e.type === 'ready');
    expect(ready.find((e) => e.modelId === 'sized')).toMatchObject({ measuredBytes: 50 * MB, estimateError: 0, rawEstimateError: 0 });

    // Thread events name only the local model.
    for (const e of events) if (e.type === 'threads') expect(Object.keys(e.assignments).every((id) => id === 'local')).toBe(true);
    for (const lease of leases) lease.release();
    expect(provider.models.filter((m) => !isLocalModel(m)).length).toBe(2);
  });

  it('a second local model still waits for the CPU turn that the remote ones never take', async () => {
    const { pool, provider } = setup();
    provider.configs.set('local2', { local: true });
    pool.define({ id: 'local2', source: 'local2' });
    const first = await pool.acquire('local');
    const remote = await pool.acquire('remote');
    let second: Lease | undefined;
    const pending = pool.acquire('local2').then((l) => (second = l));
    await sleep(30);
    expect(second).toBeUndefined();
    remote.release();
    await sleep(10);
    expect(second).toBeUndefined();
    first.release();
    await pending;
    expect(second!.modelId).toBe('local2');
    second!.release();
  });

  it('serves them while local models wait for a CPU turn', async () => {
    const { pool, provider } = setup();
    provider.configs.set('local2', { local: true });
    pool.define({ id: 'local2', source: 'local2' });
    await pool.load('remote');
    await pool.load('local2');
    const first = await pool.acquire('local');
    let second: Lease | undefined;
    const pending = pool.acquire('local2').then((l) => (second = l));
    await sleep(10);
    // The oldest waiter (local2) is blocked on a turn: local models get no lease, remote ones still do,
    // through the fast path and through the queue alike.
    expect(pool.status().queued).toBe(1);
    const remote = await pool.acquire('remote');
    const queued = [pool.acquire('remote'), pool.acquire('remote')];
    remote.release();
    const leases = await Promise.all(queued);
    expect(second).toBeUndefined();
    for (const lease of leases) lease.release();
    first.release();
    await pending;
    second!.release();
  });

  it('unloads, swaps and disposes them', async () => {
    const { pool, provider, events } = setup();
    provider.configs.set('remote-v2', { text: ' version two' });
    await pool.load('sized');
    await pool.unload('sized');
    expect(events.find((e) => e.type === 'unload')).toMatchObject({ modelId: 'sized', bytes: 50 * MB, memoryConfirmed: true });
    expect(pool.status().devices[0]!.used).toBe(0);

    await pool.load('remote');
    const result = await pool.swapVersion('remote', { source: 'remote-v2', version: '2', parallel: 2 });
    expect(result).toMatchObject({ strategy: 'beside', to: '2' });
    expect(result.health.text).toBe(' version two');
    const text = await pool.use('remote', (lease) => lease.model.complete({ prompt: 'x' }));
    expect(text.text).toBe(' version two');
    await pool.dispose();
    expect(provider.models.every((m) => m.disposed)).toBe(true);
  });
});
