import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryRegistryStore, ModelRegistry, type PerfFlush, type PerfFlushResult, type RegistryOptions } from '../../src/registry/index.js';
import { expectError, manualClock, tempFolder } from './helpers.js';

const HOUR = 3_600_000;
const source = { kind: 'openai' as const, model: 'x' };

async function withModel(options: RegistryOptions = {}) {
  const clock = manualClock();
  const registry = await ModelRegistry.open({ refreshIntervalMs: 0, now: clock.read, ...options });
  await registry.registerModel({ id: 'm', aliases: ['m:latest'], tasks: ['chat'], version: { version: '1', source } });
  return { registry, clock };
}

describe('ModelRegistry performance history', () => {
  it('aggregates counts, success, means and percentiles per version and task', async () => {
    const { registry } = await withModel();
    for (let index = 1; index <= 100; index++) {
      registry.recordSample({ model: 'm:latest', task: 'chat', totalMs: index, ttftMs: index / 10, tokensPerSecond: 50, success: index % 10 !== 0, quality: 0.8, memoryBytes: 1000, costUsd: 0.001 });
    }
    registry.recordSample({ model: 'm', version: '1', task: 'embedding', totalMs: 3, success: true });
    const summary = registry.performance('m', { task: 'chat' })!;
    expect(summary).toMatchObject({ modelId: 'm', version: '1', task: 'chat', window: 'all', samples: 100, failures: 10, successRate: 0.9, quality: expect.closeTo(0.8, 9), memoryBytes: 1000 });
    expect(summary.prior).toBeUndefined();
    expect(summary.totalMs!.mean).toBeCloseTo(50.5, 9);
    expect(summary.totalMs!.p50).toBeCloseTo(50, -0.5);
    expect(Math.abs(summary.totalMs!.p95 - 95) / 95).toBeLessThan(0.02);
    expect(Math.abs(summary.totalMs!.p99 - 99) / 99).toBeLessThan(0.02);
    expect(summary.totalMs).toMatchObject({ weight: 100, min: 1, max: 100 });
    expect(summary.ttftMs!.mean).toBeCloseTo(5.05, 9);
    expect(summary.tokensPerSecond!.p50).toBeCloseTo(50, 0);
    expect(summary.costUsd!.mean).toBeCloseTo(0.001, 12);
    expect(summary.costUsd!.total).toBeCloseTo(0.1, 12);
    // All samples at one instant: decayed means equal plain means.
    expect(summary.decayed.weight).toBeCloseTo(100, 9);
    expect(summary.decayed.successRate).toBeCloseTo(0.9, 9);
    expect(summary.decayed.totalMs).toBeCloseTo(50.5, 9);
    expect(summary.decayed).toMatchObject({ quality: expect.closeTo(0.8, 9), memoryBytes: 1000, tokensPerSecond: 50 });
    expect(Object.isFrozen(summary)).toBe(true);
    expect(registry.performance('m', { task: 'chat' })).toBe(summary); // cached until something changes
    expect(registry.performance('m', { task: 'judge' })).toBeUndefined();
    expect(registry.performanceTasks('m').sort()).toEqual(['chat', 'embedding']);
    await registry.close();
  });

  it('decays with the configured half-life', async () => {
    const { registry, clock } = await withModel({ history: { halfLifeMs: HOUR } });
    for (let index = 0; index < 10; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 100, success: true });
    clock.advance(HOUR);
    for (let index = 0; index < 10; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 200, success: false });
    let decayed = registry.performance('m', { task: 'chat' })!.decayed;
    expect(decayed.weight).toBeCloseTo(15, 9);
    expect(decayed.totalMs).toBeCloseTo((100 * 5 + 200 * 10) / 15, 9);
    expect(decayed.successRate).toBeCloseTo(5 / 15, 9);
    clock.advance(HOUR);
    decayed = registry.performance('m', { task: 'chat' })!.decayed;
    expect(decayed.weight).toBeCloseTo(7.5, 9);
    expect(decayed.totalMs).toBeCloseTo((100 * 5 + 200 * 10) / 15, 9);
    // A late sample (timestamped two hours ago) weighs what it would have weighed.
    registry.recordSample({ model: 'm', task: 'chat', totalMs: 0, success: true, at: clock.now - 2 * HOUR });
    decayed = registry.performance('m', { task: 'chat' })!.decayed;
    expect(decayed.weight).toBeCloseTo(7.75, 9);
    await registry.close();
  });

  it('answers windows from time buckets', async () => {
    const { registry, clock } = await withModel({ history: { bucketMs: 15 * 60_000, retentionMs: 48 * HOUR } });
    for (let index = 0; index < 10; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 100, success: true });
    clock.advance(2 * HOUR);
    for (let index = 0; index < 10; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 300, success: true });
    const window = (value: '1h' | '24h' | 'all' | number) => registry.performance('m', { task: 'chat', window: value })!;
    expect(window('1h')).toMatchObject({ samples: 10, window: '1h' });
    expect(window('1h').totalMs!.mean).toBe(300);
    expect(window(30 * 60_000).samples).toBe(10);
    expect(window('24h').samples).toBe(20);
    expect(window('24h').totalMs!.mean).toBe(200);
    expect(window('all').samples).toBe(20);
    clock.advance(25 * HOUR);
    expect(window('24h')).toMatchObject({ samples: 0, failures: 0 });
    expect(window('24h').totalMs).toBeUndefined();
    expect(window('24h').successRate).toBeUndefined();
    expect(window('all').samples).toBe(20);
    await expectError(() => registry.performance('m', { task: 'chat', window: '7d' as never }), 'INVALID_ARGUMENT', 'query.window', '7d');
    await expectError(() => registry.performance('m', { task: 'chat', window: -1 }), 'INVALID_ARGUMENT', 'query.window', -1);
    await expectError(() => registry.performance('m', { task: 5 as never }), 'INVALID_ARGUMENT', 'query.task', 5);
    await expectError(() => registry.performance('m', null as never), 'INVALID_ARGUMENT', 'query');
    await registry.close();
  });

  it('starts a new version from the previous one as a marked prior of reduced weight', async () => {
    const { registry, clock } = await withModel({ history: { halfLifeMs: HOUR, priorWeight: 0.3, priorMaxSamples: 50 } });
    for (let index = 0; index < 100; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 100, success: true, quality: 0.9 });
    await registry.registerVersion('m', { version: '2', source, makeDefault: true });
    let summary = registry.performance('m', { task: 'chat' })!;
    expect(summary).toMatchObject({ version: '2', samples: 0, failures: 0, successRate: 1, quality: expect.closeTo(0.9, 9) });
    expect(summary.prior).toEqual({ fromVersion: '1', weight: expect.closeTo(30, 9), share: expect.closeTo(1, 9) });
    expect(summary.totalMs!.mean).toBeCloseTo(100, 9);
    expect(summary.totalMs!.weight).toBeCloseTo(30, 9);
    expect(summary.decayed.weight).toBeCloseTo(30, 9);
    expect(summary.decayed.totalMs).toBeCloseTo(100, 9);
    expect(registry.performanceTasks('m', '2')).toEqual(['chat']);

    // Own samples take over.
    for (let index = 0; index < 30; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 200, success: false });
    summary = registry.performance('m', { task: 'chat' })!;
    expect(summary.samples).toBe(30);
    expect(summary.prior!.share).toBeCloseTo(0.5, 9);
    expect(summary.decayed.totalMs).toBeCloseTo(150, 9);
    expect(summary.totalMs!.mean).toBeCloseTo(150, 9);
    expect(summary.successRate).toBeCloseTo(0.5, 9);
    // The prior decays like the samples it stands for.
    clock.advance(HOUR);
    expect(registry.performance('m', { task: 'chat' })!.prior!.weight).toBeCloseTo(15, 9);

    // The prior is capped, and carries over a chain of versions.
    for (let index = 0; index < 1000; index++) registry.recordSample({ model: 'm', version: '1', task: 'chat', totalMs: 100, success: true });
    await registry.registerVersion('m', { version: '3', source });
    expect(registry.performance('m', { task: 'chat', version: '3' })!.prior).toMatchObject({ fromVersion: '2', share: 1 });
    await registry.registerVersion('m', { version: '4', source });
    await registry.registerVersion('m', { version: '5', source });
    const fromOne = await (async () => {
      await registry.removeVersion('m', '5');
      await registry.removeVersion('m', '4');
      await registry.removeVersion('m', '3');
      return registry.registerVersion('m', { version: '3', source });
    })();
    expect(fromOne.ordinal).toBe(3);
    expect(registry.performance('m', { task: 'chat', version: '3' })!.prior!.fromVersion).toBe('2');
    // A version with no history gives no prior.
    await registry.registerModel({ id: 'fresh', version: { version: '1', source } });
    await registry.registerVersion('fresh', { version: '2', source });
    expect(registry.performance('fresh', { task: 'chat', version: '2' })).toBeUndefined();
    await registry.close();
  });

  it('caps the prior at priorMaxSamples', async () => {
    const { registry } = await withModel({ history: { priorWeight: 0.5, priorMaxSamples: 20 } });
    for (let index = 0; index < 1000; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 10, success: true });
    await registry.registerVersion('m', { version: '2', source });
    expect(registry.performance('m', { task: 'chat', version: '2' })!.prior!.weight).toBeCloseTo(20, 9);
    await registry.close();
  });

  it('refuses bad samples with typed errors', async () => {
    const { registry } = await withModel();
    const ok = { model: 'm', task: 'chat', totalMs: 1, success: true };
    await expectError(() => registry.recordSample(null as never), 'INVALID_ARGUMENT', 'sample');
    await expectError(() => registry.recordSample({ ...ok, model: 'nope' }), 'MODEL_NOT_FOUND', 'sample.model', 'nope');
    await expectError(() => registry.recordSample({ ...ok, version: '9' }), 'VERSION_NOT_FOUND', 'sample.version', '9');
    await expectError(() => registry.recordSample({ ...ok, task: '' }), 'INVALID_ARGUMENT', 'sample.task', '');
    await expectError(() => registry.recordSample({ ...ok, task: 'a\nb' }), 'INVALID_ARGUMENT', 'sample.task');
    await expectError(() => registry.recordSample({ ...ok, totalMs: -1 }), 'INVALID_ARGUMENT', 'sample.totalMs', -1);
    await expectError(() => registry.recordSample({ ...ok, totalMs: Number.NaN }), 'INVALID_ARGUMENT', 'sample.totalMs');
    await expectError(() => registry.recordSample({ ...ok, success: 1 as never }), 'INVALID_ARGUMENT', 'sample.success', 1);
    await expectError(() => registry.recordSample({ ...ok, quality: 1.5 }), 'INVALID_ARGUMENT', 'sample.quality', 1.5);
    await expectError(() => registry.recordSample({ ...ok, ttftMs: '3' as never }), 'INVALID_ARGUMENT', 'sample.ttftMs', '3');
    await expectError(() => registry.recordSample({ ...ok, at: Number.POSITIVE_INFINITY }), 'INVALID_ARGUMENT', 'sample.at');
    await registry.registerModel({ id: 'versionless' });
    await expectError(() => registry.recordSample({ ...ok, model: 'versionless' }), 'VERSION_NOT_FOUND', 'sample.version');
    expect(registry.performance('m', { task: 'chat' })).toBeUndefined();
    await registry.close();
  });

  it('recordMeasured records a measured sample like recordSample; a version gone is still MODEL_NOT_FOUND / VERSION_NOT_FOUND', async () => {
    const { registry } = await withModel();
    const ok = { model: 'm', version: '1', task: 'chat', totalMs: 40, success: true, tenant: 't' };
    registry.recordMeasured(ok);
    registry.recordMeasured({ ...ok, totalMs: 60 });
    expect(registry.performance('m', { task: 'chat' })).toMatchObject({ samples: 2, totalMs: { mean: 50 } });
    expect(registry.performance('m', { task: 'chat', tenant: 't' })).toMatchObject({ samples: 2 });
    await expectError(() => registry.recordMeasured({ ...ok, model: 'nope' }), 'MODEL_NOT_FOUND', 'sample.model', 'nope');
    await expectError(() => registry.recordMeasured({ ...ok, version: '9' }), 'VERSION_NOT_FOUND', 'sample.version', '9');
    await registry.close();
  });

  it('flushes in batches, on a timer and on close; other registries see merged history without double counting', async () => {
    const store = new MemoryRegistryStore();
    const clock = manualClock();
    const a = await ModelRegistry.open({ store, refreshIntervalMs: 0, now: clock.read, history: { flushBatchSize: 10, flushIntervalMs: 20 } });
    const b = await ModelRegistry.open({ store, refreshIntervalMs: 0, now: clock.read });
    await a.registerModel({ id: 'm', version: { version: '1', source } });
    await b.refresh();
    for (let index = 0; index < 10; index++) a.recordSample({ model: 'm', task: 'chat', totalMs: 10, success: true });
    await new Promise((resolve) => setImmediate(resolve)); // the batch threshold schedules a flush
    await new Promise((resolve) => setImmediate(resolve));
    expect(await b.refresh()).toBe(true);
    expect(b.performance('m', { task: 'chat' })!.samples).toBe(10);
    for (let index = 0; index < 3; index++) a.recordSample({ model: 'm', task: 'chat', totalMs: 30, success: true });
    await new Promise((resolve) => setTimeout(resolve, 80)); // the timer flushes
    await b.refresh();
    expect(b.performance('m', { task: 'chat' })!.samples).toBe(13);

    // B records too; each side sees the union once.
    for (let index = 0; index < 7; index++) b.recordSample({ model: 'm', task: 'chat', totalMs: 50, success: false });
    await b.flush();
    await b.flush(); // nothing pending: no-op
    a.recordSample({ model: 'm', task: 'chat', totalMs: 70, success: true }); // unflushed in A
    await a.refresh();
    const seenByA = a.performance('m', { task: 'chat' })!;
    expect(seenByA.samples).toBe(21);
    expect(seenByA.failures).toBe(7);
    expect(seenByA.totalMs!.mean).toBeCloseTo((10 * 10 + 3 * 30 + 7 * 50 + 70) / 21, 9);
    await a.close(); // flushes the last sample
    await b.refresh();
    expect(b.performance('m', { task: 'chat' })!.samples).toBe(21);
    expect(b.performance('m', { task: 'chat', window: '1h' })!.samples).toBe(21);
    await b.close();
  });

  it('keeps samples when a flush fails, and reports background failures', async () => {
    class FlakyStore extends MemoryRegistryStore {
      failures = 0;
      /** Runs while the flush is in flight, before it fails or lands. */
      during: (() => void) | undefined;
      override async flushPerformance(flush: PerfFlush): Promise<PerfFlushResult> {
        this.during?.();
        if (this.failures > 0) {
          this.failures--;
          throw new Error('database is locked');
        }
        return super.flushPerformance(flush);
      }
    }
    const store = new FlakyStore();
    const registry = await ModelRegistry.open({ store, refreshIntervalMs: 0, history: { flushBatchSize: 5 } });
    await registry.registerModel({ id: 'm', version: { version: '1', source } });
    const failures: Error[] = [];
    registry.on('flushFailed', (error) => failures.push(error));
    store.failures = 1;
    for (let index = 0; index < 5; index++) registry.recordSample({ model: 'm', task: 'chat', totalMs: 10, success: true });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(failures.map((error) => error.message)).toEqual(['database is locked']);
    registry.recordSample({ model: 'm', task: 'chat', totalMs: 20, success: true });
    store.failures = 1;
    // Samples in flight stay visible, and samples recorded meanwhile are kept with them.
    const seenInFlight: number[] = [];
    store.during = () => {
      seenInFlight.push(registry.performance('m', { task: 'chat' })!.samples);
      registry.recordSample({ model: 'm', task: 'chat', totalMs: 40, success: true });
    };
    await expect(registry.flush()).rejects.toThrow('database is locked');
    store.during = undefined;
    expect(seenInFlight).toEqual([6]);
    expect(registry.performance('m', { task: 'chat' })!.samples).toBe(7);
    await registry.flush();
    const reader = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    expect(reader.performance('m', { task: 'chat' })!.samples).toBe(7);
    expect(reader.performance('m', { task: 'chat' })!.totalMs!.mean).toBeCloseTo(110 / 7, 9);
    await reader.close();
    await registry.close();
  });

  it('drops the history of removed versions, also for samples still buffered elsewhere', async () => {
    const store = new MemoryRegistryStore();
    const a = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    await a.registerModel({ id: 'm', version: { version: '1', source } });
    await a.registerVersion('m', { version: '2', source });
    await b.refresh();
    a.recordSample({ model: 'm', version: '2', task: 'chat', totalMs: 1, success: true });
    await a.flush();
    b.recordSample({ model: 'm', version: '2', task: 'chat', totalMs: 1, success: true });
    await a.removeVersion('m', '2');
    expect(a.performanceTasks('m', '1')).toEqual([]);
    await b.flush(); // the store drops rows of the removed version
    await b.refresh();
    expect(b.has('m') && b.get('m')!.versions.length).toBe(1);
    await a.registerVersion('m', { version: '2', source });
    await a.refresh(); // B's flushed sample of the removed version 2 must not come back as the new version 2's
    expect(a.performance('m', { task: 'chat', version: '2' })).toBeUndefined();
    await a.removeModel('m');
    await b.refresh();
    expect(b.has('m')).toBe(false);
    await a.close();
    await b.close();
  });

  it('survives a restart on SQLite: aggregates, buckets and priors', async () => {
    const path = join(tempFolder(), 'history.db');
    const clock = manualClock();
    const first = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    await first.registerModel({ id: 'm', version: { version: '1', source } });
    for (let index = 1; index <= 50; index++) first.recordSample({ model: 'm', task: 'chat', totalMs: index, ttftMs: 2, success: index !== 50 });
    await first.flush();
    for (let index = 51; index <= 100; index++) first.recordSample({ model: 'm', task: 'chat', totalMs: index, ttftMs: 2, success: true });
    await first.registerVersion('m', { version: '2', source });
    const before = { all: first.performance('m', { task: 'chat', version: '1' }), hour: first.performance('m', { task: 'chat', version: '1', window: '1h' }), prior: first.performance('m', { task: 'chat', version: '2' }) };
    await first.close();
    const second = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    expect(second.performance('m', { task: 'chat', version: '1' })).toEqual(before.all);
    expect(second.performance('m', { task: 'chat', version: '1', window: '1h' })).toEqual(before.hour);
    expect(second.performance('m', { task: 'chat', version: '2' })).toEqual(before.prior);
    expect(before.all!.samples).toBe(100);
    expect(before.prior!.prior!.fromVersion).toBe('1');
    await second.close();
  });
});

describe('ModelRegistry performance history: cost measures and tenants', () => {
  const costly = (tenant: string | undefined, index: number) => ({
    model: 'm',
    task: 'chat',
    ...(tenant === undefined ? {} : { tenant }),
    totalMs: 100,
    success: true,
    queueMs: index,
    promptTokens: 50,
    generatedTokens: 10,
    cpuMs: 20,
    memoryGbSeconds: 0.5,
    costUsd: 0.002,
  });

  it('aggregates queue time, token, CPU, memory-time and cost figures: percentiles, window totals and decayed means', async () => {
    const { registry, clock } = await withModel({ history: { halfLifeMs: HOUR } });
    for (let index = 1; index <= 100; index++) registry.recordSample(costly(undefined, index));
    registry.recordSample({ model: 'm', task: 'chat', totalMs: 100, success: false }); // reports no cost measures
    const summary = registry.performance('m', { task: 'chat' })!;
    expect(summary).toMatchObject({ tenant: '', samples: 101, promptTokens: 50, generatedTokens: 10, cpuMs: 20, memoryGbSeconds: 0.5 });
    expect(summary.queueMs).toMatchObject({ weight: 100, mean: 50.5, min: 1, max: 100 });
    expect(Math.abs(summary.queueMs!.p95 - 95) / 95).toBeLessThan(0.02);
    expect(summary.totals).toEqual({
      requests: 101,
      promptTokens: 5000,
      generatedTokens: 1000,
      cpuMs: 2000,
      memoryGbSeconds: 50,
      costUsd: expect.closeTo(0.2, 12),
    });
    expect(summary.costUsd!.total).toBe(summary.totals!.costUsd);
    expect(summary.decayed).toMatchObject({ queueMs: expect.closeTo(50.5, 9), promptTokens: 50, generatedTokens: 10, cpuMs: 20, memoryGbSeconds: 0.5 });
    expect(Object.isFrozen(summary.totals)).toBe(true);

    // Totals follow the window; decayed means the half-life.
    clock.advance(2 * HOUR);
    for (let index = 0; index < 10; index++) registry.recordSample({ ...costly(undefined, 1), cpuMs: 80, promptTokens: 200 });
    const hour = registry.performance('m', { task: 'chat', window: '1h' })!;
    expect(hour.totals).toMatchObject({ requests: 10, cpuMs: 800, promptTokens: 2000 });
    expect(hour.cpuMs).toBe(80);
    expect(registry.performance('m', { task: 'chat' })!.totals).toMatchObject({ requests: 111, cpuMs: 2800 });
    const decayed = registry.performance('m', { task: 'chat' })!.decayed;
    expect(decayed.cpuMs).toBeCloseTo((100 * 0.25 * 20 + 10 * 80) / (100 * 0.25 + 10), 9);
    clock.advance(25 * HOUR);
    const empty = registry.performance('m', { task: 'chat', window: '24h' })!;
    expect(empty.totals).toBeUndefined();
    expect(empty.queueMs).toBeUndefined();
    await registry.close();
  });

  it('answers per tenant: all callers by default, each tenant its own requests, tenants listed', async () => {
    const { registry } = await withModel();
    for (let index = 0; index < 6; index++) registry.recordSample(costly('acme', 10));
    for (let index = 0; index < 3; index++) registry.recordSample(costly('globex', 30));
    for (let index = 0; index < 2; index++) registry.recordSample(costly(undefined, 60));
    registry.recordSample({ ...costly('globex', 30), task: 'embedding' });
    const all = registry.performance('m', { task: 'chat' })!;
    expect(all).toMatchObject({ tenant: '', samples: 11, totals: { requests: 11, cpuMs: 220 } });
    expect(registry.performance('m', { task: 'chat', tenant: '' })).toBe(all);
    expect(all.queueMs!.mean).toBeCloseTo((6 * 10 + 3 * 30 + 2 * 60) / 11, 9);
    const acme = registry.performance('m', { task: 'chat', tenant: 'acme' })!;
    expect(acme).toMatchObject({ tenant: 'acme', samples: 6, totals: { requests: 6, cpuMs: 120, promptTokens: 300 } });
    expect(acme.queueMs!.mean).toBe(10);
    expect(registry.performance('m', { task: 'chat', tenant: 'globex' })!.samples).toBe(3);
    expect(registry.performance('m', { task: 'embedding', tenant: 'globex' })!.samples).toBe(1);
    expect(registry.performance('m', { task: 'embedding', tenant: 'acme' })).toBeUndefined();
    expect(registry.performance('m', { task: 'chat', tenant: 'initech' })).toBeUndefined();
    expect(registry.performanceTenants('m')).toEqual(['acme', 'globex']);
    expect(registry.performanceTenants('m:latest', '1')).toEqual(['acme', 'globex']);
    expect(registry.performanceTasks('m').sort()).toEqual(['chat', 'embedding']);
    await expectError(() => registry.performance('m', { task: 'chat', tenant: 5 as never }), 'INVALID_ARGUMENT', 'query.tenant', 5);
    await expectError(() => registry.performanceTenants('m', '9'), 'VERSION_NOT_FOUND');

    // A new version starts from per-tenant priors.
    await registry.registerVersion('m', { version: '2', source, makeDefault: true });
    const prior = registry.performance('m', { task: 'chat', tenant: 'acme' })!;
    expect(prior).toMatchObject({ version: '2', samples: 0, cpuMs: expect.closeTo(20, 9), prior: { fromVersion: '1', weight: expect.closeTo(1.8, 9) } });
    expect(prior.totals).toBeUndefined();
    expect(registry.performance('m', { task: 'chat' })!.prior!.weight).toBeCloseTo(3.3, 9);
    expect(registry.performanceTenants('m')).toEqual(['acme', 'globex']);
    await registry.close();
  });

  it('refuses bad tenants and cost measures with typed errors naming the field', async () => {
    const { registry } = await withModel();
    const ok = { model: 'm', task: 'chat', totalMs: 1, success: true };
    await expectError(() => registry.recordSample({ ...ok, tenant: '' }), 'INVALID_ARGUMENT', 'sample.tenant', '');
    await expectError(() => registry.recordSample({ ...ok, promptTokens: 0.5 }), 'INVALID_ARGUMENT', 'sample.promptTokens', 0.5);
    await expectError(() => registry.recordSample({ ...ok, generatedTokens: 1.5 }), 'INVALID_ARGUMENT', 'sample.generatedTokens', 1.5);
    await expectError(() => registry.recordSample({ ...ok, tenant: 'x'.repeat(201) }), 'INVALID_ARGUMENT', 'sample.tenant');
    await expectError(() => registry.recordSample({ ...ok, tenant: ['a'] as never }), 'INVALID_ARGUMENT', 'sample.tenant', ['a']);
    for (const field of ['queueMs', 'promptTokens', 'generatedTokens', 'cpuMs', 'memoryGbSeconds']) {
      await expectError(() => registry.recordSample({ ...ok, [field]: -0.5 }), 'INVALID_ARGUMENT', `sample.${field}`, -0.5);
      await expectError(() => registry.recordSample({ ...ok, [field]: Number.POSITIVE_INFINITY }), 'INVALID_ARGUMENT', `sample.${field}`);
    }
    await expectError(() => registry.recordSample({ ...ok, costUsd: -1 }), 'INVALID_ARGUMENT', 'sample.costUsd', -1);
    expect(registry.performance('m', { task: 'chat' })).toBeUndefined();
    expect(registry.performanceTenants('m')).toEqual([]);
    await registry.close();
  });

  it('merges tenant history from two registries on one store without double counting', async () => {
    const store = new MemoryRegistryStore();
    const a = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    await a.registerModel({ id: 'm', version: { version: '1', source } });
    await b.refresh();
    for (let index = 0; index < 4; index++) a.recordSample(costly('acme', 1));
    for (let index = 0; index < 3; index++) b.recordSample(costly('acme', 2));
    b.recordSample(costly(undefined, 3));
    await a.flush();
    await b.flush();
    await a.flush();
    for (const registry of [a, b]) {
      await registry.refresh();
      expect(registry.performance('m', { task: 'chat', tenant: 'acme' })!.totals).toMatchObject({ requests: 7, cpuMs: 140 });
      expect(registry.performance('m', { task: 'chat' })!.totals).toMatchObject({ requests: 8, cpuMs: 160 });
      expect(registry.performanceTenants('m')).toEqual(['acme']);
    }
    await a.close();
    await b.close();
  });

  it('survives a restart on SQLite per tenant', async () => {
    const path = join(tempFolder(), 'tenants.db');
    const clock = manualClock();
    const first = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    await first.registerModel({ id: 'm', version: { version: '1', source } });
    for (let index = 1; index <= 20; index++) first.recordSample(costly(index % 2 === 0 ? 'acme' : 'globex', index));
    await first.registerVersion('m', { version: '2', source });
    const query = (tenant: string, version = '1') => ({ task: 'chat', version, tenant });
    const before = ['', 'acme', 'globex'].map((tenant) => [first.performance('m', query(tenant)), first.performance('m', query(tenant, '2'))]);
    await first.close();
    const second = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    expect(['', 'acme', 'globex'].map((tenant) => [second.performance('m', query(tenant)), second.performance('m', query(tenant, '2'))])).toEqual(before);
    expect(before[1]![0]).toMatchObject({ samples: 10, totals: { requests: 10, cpuMs: 200 } });
    expect(before[1]![1]!.prior!.fromVersion).toBe('1');
    expect(second.performanceTenants('m', '1')).toEqual(['acme', 'globex']);
    expect(second.performanceTenants('m', '2')).toEqual(['acme', 'globex']);
    await second.close();
  });
});
