import { describe, expect, it } from 'vitest';
import { isModelpoolError } from '../../src/errors.js';
import {
  Aggregate,
  DecayedSums,
  foldStats,
  liveStatsFromJSON,
  liveStatsToJSON,
  PerformanceHistory,
  queryTenant,
  resolveHistoryOptions,
  checkSample,
  TENANT_MAX_LENGTH,
  type AggregateJson,
  type PerfFlush,
  type PerfStatsJson,
  type PerformanceSample,
  type RecordedSample,
} from '../../src/telemetry/index.js';
import { LEGACY_AT, LEGACY_BUCKET_V1, LEGACY_STATS_V1, LEGACY_STATS_V2 } from './legacy-rows.js';

const HOUR = 3_600_000;

function sample(overrides: Partial<RecordedSample> = {}): RecordedSample {
  return { at: LEGACY_AT, success: true, totalMs: 100, ...overrides };
}

function expectInvalid(action: () => unknown, field: string, value?: unknown): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(isModelpoolError(caught, 'INVALID_ARGUMENT'), `expected INVALID_ARGUMENT for ${field}`).toBe(true);
  expect((caught as { field: string }).field).toBe(field);
  if (value !== undefined) expect((caught as { value: unknown }).value).toEqual(value);
}

describe('DecayedSums', () => {
  it('keeps decayed means of the cost measures, each over the samples that reported it', () => {
    const sums = new DecayedSums();
    sums.add(sample({ queueMs: 10, promptTokens: 100, generatedTokens: 20, cpuMs: 50, memoryGbSeconds: 0.5, costUsd: 0.01 }), HOUR);
    sums.add(sample({ queueMs: 30, promptTokens: 300, cpuMs: 150 }), HOUR);
    sums.add(sample({ at: LEGACY_AT + HOUR, queueMs: 60 }), HOUR);
    const means = sums.means(LEGACY_AT + HOUR, HOUR);
    expect(means.weight).toBeCloseTo(2, 12); // two samples at half weight, one at full
    expect(means.queueMs).toBeCloseTo((0.5 * 10 + 0.5 * 30 + 60) / 2, 12);
    expect(means.promptTokens).toBeCloseTo(200, 12);
    expect(means.cpuMs).toBeCloseTo(100, 12);
    expect(means.generatedTokens).toBeCloseTo(20, 12);
    expect(means.memoryGbSeconds).toBeCloseTo(0.5, 12);
    expect(means.costUsd).toBeCloseTo(0.01, 12);
    expect(means.successRate).toBe(1);
    expect(new DecayedSums().means(0, HOUR)).toEqual({ weight: 0 });
  });

  it('reads a row of the old format (7 slots): the new measures start empty and fold in', () => {
    const old = (JSON.parse(LEGACY_STATS_V1) as PerfStatsJson).decayed;
    expect(old.w).toHaveLength(7);
    const sums = DecayedSums.fromJSON(old);
    expect(sums.means(LEGACY_AT, HOUR)).toEqual({
      weight: 4,
      successRate: 0.75,
      ttftMs: 2.5,
      totalMs: 25,
      tokensPerSecond: 50,
      quality: 0.5,
      memoryBytes: 1000,
      costUsd: expect.closeTo(0.002, 15),
    });
    sums.add(sample({ cpuMs: 40, queueMs: 4 }), HOUR);
    const means = sums.means(LEGACY_AT, HOUR);
    expect(means).toMatchObject({ weight: 5, cpuMs: 40, queueMs: 4, totalMs: 40 });
    expect(means.promptTokens).toBeUndefined();
    expect(sums.toJSON().w).toHaveLength(12);
    // The new row reads back as written.
    expect(DecayedSums.fromJSON(sums.toJSON()).means(LEGACY_AT, HOUR)).toEqual(means);
  });
});

describe('Aggregate', () => {
  it('sums and averages the cost measures and sketches queue time; merges scaled', () => {
    const aggregate = new Aggregate(0.01);
    for (let index = 1; index <= 100; index++) {
      aggregate.add(sample({ queueMs: index, promptTokens: 10, generatedTokens: index % 2 === 0 ? 4 : undefined, cpuMs: 2, memoryGbSeconds: 0.25, costUsd: 0.001 }));
    }
    const queue = aggregate.summaries().queueMs!;
    expect(queue).toMatchObject({ weight: 100, mean: 50.5, min: 1, max: 100 });
    expect(Math.abs(queue.p99 - 99) / 99).toBeLessThan(0.02);
    expect(aggregate.sum(6)).toBe(1000); // promptTokens
    expect(aggregate.sum(8)).toBe(200); // generatedTokens, 50 samples
    expect(aggregate.mean(8)).toBe(4);
    expect(aggregate.sum(10)).toBe(200); // cpuMs
    expect(aggregate.sum(12)).toBe(25); // memoryGbSeconds
    expect(aggregate.sum(4)).toBeCloseTo(0.1, 12); // costUsd
    const half = aggregate.clone(0.5);
    expect(half.count).toBe(50);
    expect(half.sum(10)).toBe(100);
    expect(half.summaries().queueMs!.weight).toBe(50);
    expect(Aggregate.fromJSON(aggregate.toJSON()).toJSON()).toEqual(aggregate.toJSON());
  });

  it('reads a row of the old format (no queue sketch, 3 mean pairs) and folds new samples into it', () => {
    const old = JSON.parse(LEGACY_BUCKET_V1) as AggregateJson;
    expect(old.queue).toBeUndefined();
    expect(old.means).toHaveLength(6);
    const aggregate = Aggregate.fromJSON(old);
    expect(aggregate.count).toBe(4);
    expect(aggregate.summaries().queueMs).toBeUndefined();
    expect(aggregate.mean(0)).toBe(0.5); // quality
    expect(aggregate.sum(10)).toBe(0); // cpuMs: none recorded then
    aggregate.add(sample({ queueMs: 7, cpuMs: 3 }));
    expect(aggregate.summaries().queueMs).toMatchObject({ weight: 1, mean: 7 });
    expect(aggregate.sum(10)).toBe(3);
    const json = aggregate.toJSON();
    expect(json.means).toHaveLength(14);
    expect(json.queue!.sketch.a).toBe(0.01);
    // An old prior reads too, with its scaled weights.
    const prior = liveStatsFromJSON(JSON.parse(LEGACY_STATS_V2) as PerfStatsJson);
    expect(Aggregate.fromJSON(prior.prior!.aggregate).count).toBeCloseTo(1.2, 12);
    foldStats(prior, [sample({ promptTokens: 8 })], HOUR);
    expect(liveStatsToJSON(prior).all.means[7]).toBe(8);
  });
});

describe('sample checks', () => {
  const base: PerformanceSample = { model: 'm', task: 'chat', totalMs: 1, success: true };

  it('checks the tenant and each cost measure, naming sample.<field>', () => {
    expect(checkSample(base)).toEqual({ at: undefined, tenant: undefined });
    expect(checkSample({ ...base, tenant: 'acme', queueMs: 0, promptTokens: 3, generatedTokens: 0, cpuMs: 1.5, memoryGbSeconds: 0.1, at: 5 })).toEqual({ at: 5, tenant: 'acme' });
    expect(checkSample({ ...base, tenant: 'x'.repeat(TENANT_MAX_LENGTH) }).tenant).toHaveLength(TENANT_MAX_LENGTH);
    expectInvalid(() => checkSample({ ...base, tenant: '' }), 'sample.tenant', '');
    expectInvalid(() => checkSample({ ...base, tenant: 'x'.repeat(TENANT_MAX_LENGTH + 1) }), 'sample.tenant');
    expectInvalid(() => checkSample({ ...base, tenant: 7 as never }), 'sample.tenant', 7);
    for (const field of ['queueMs', 'promptTokens', 'generatedTokens', 'cpuMs', 'memoryGbSeconds'] as const) {
      expectInvalid(() => checkSample({ ...base, [field]: -1 }), `sample.${field}`, -1);
      expectInvalid(() => checkSample({ ...base, [field]: Number.NaN }), `sample.${field}`);
      expectInvalid(() => checkSample({ ...base, [field]: Number.POSITIVE_INFINITY }), `sample.${field}`);
      expectInvalid(() => checkSample({ ...base, [field]: '5' as never }), `sample.${field}`, '5');
    }
  });

  it("reads a query's tenant: '' by default", () => {
    expect(queryTenant('query.tenant', undefined)).toBe('');
    expect(queryTenant('query.tenant', '')).toBe('');
    expect(queryTenant('query.tenant', 'acme')).toBe('acme');
    expectInvalid(() => queryTenant('query.tenant', 3), 'query.tenant', 3);
    expectInvalid(() => queryTenant('query.tenant', 'y'.repeat(TENANT_MAX_LENGTH + 1)), 'query.tenant');
  });
});

describe('PerformanceHistory', () => {
  it('folds a tenant sample under all callers and under its tenant, and flushes both keys', async () => {
    const history = new PerformanceHistory(resolveHistoryOptions({ flushBatchSize: 3 }));
    const flushes: PerfFlush[] = [];
    const store = { flushPerformance: async (flush: PerfFlush) => (flushes.push(flush), { perfSeq: flushes.length }) };
    const base: PerformanceSample = { model: 'm', task: 'chat', totalMs: 10, success: true };
    expect(history.record('m', '1', { ...base, tenant: 'a', cpuMs: 5 }, LEGACY_AT)).toBe(false);
    expect(history.record('m', '1', { ...base, tenant: 'b' }, LEGACY_AT)).toBe(false);
    expect(history.pending).toBe(2); // requests, not keys
    expect(history.record('m', '1', base, LEGACY_AT)).toBe(true);
    expect(history.tenants('m', '1')).toEqual(['a', 'b']);
    expect(history.tasks('m', '1')).toEqual(['chat']);
    const all = history.summary('m', '1', 'chat', '', 'all', Number.POSITIVE_INFINITY, LEGACY_AT)!;
    expect(all).toMatchObject({ tenant: '', samples: 3, totals: { requests: 3, cpuMs: 5 } });
    expect(history.summary('m', '1', 'chat', 'a', 'all', Number.POSITIVE_INFINITY, LEGACY_AT)).toMatchObject({ tenant: 'a', samples: 1, cpuMs: 5 });
    expect(history.summary('m', '1', 'chat', 'c', 'all', Number.POSITIVE_INFINITY, LEGACY_AT)).toBeUndefined();

    expect(await history.flush(store, LEGACY_AT)).toBe(1);
    const keys = flushes[0]!.keys.map((key) => [key.tenant, key.samples.length]).sort();
    expect(keys).toEqual([['', 3], ['a', 1], ['b', 1]]);
    expect(history.pending).toBe(0);
    // Dropping a version with buffered tenant samples forgets them once.
    history.record('m', '1', { ...base, tenant: 'a' }, LEGACY_AT);
    history.record('m', '2', { ...base, tenant: 'a' }, LEGACY_AT);
    expect(history.pending).toBe(2);
    history.drop('m', '1');
    expect(history.pending).toBe(1);
    expect(history.tenants('m', '1')).toEqual([]);
    history.drop('m');
    expect(history.pending).toBe(0);
    expect(history.tenants('m', '2')).toEqual([]);
  });

  it('carries priors per task and tenant to a new version', () => {
    const history = new PerformanceHistory(resolveHistoryOptions({ priorWeight: 0.5 }));
    for (let index = 0; index < 10; index++) history.record('m', '1', { model: 'm', task: 'chat', tenant: index < 4 ? 'a' : undefined, totalMs: 10, cpuMs: 2, success: true }, LEGACY_AT);
    const priors = history.buildPriors('m', '1', '2', LEGACY_AT);
    expect(priors.map((row) => [row.task, row.tenant, row.stats.prior!.weight])).toEqual([
      ['chat', '', 5],
      ['chat', 'a', 2],
    ]);
    history.applyRows(priors, []);
    const own = history.summary('m', '2', 'chat', 'a', 'all', Number.POSITIVE_INFINITY, LEGACY_AT)!;
    expect(own).toMatchObject({ samples: 0, cpuMs: 2, prior: { fromVersion: '1', weight: 2, share: 1 } });
    expect(own.totals).toBeUndefined(); // a prior is no consumption
    expect(own.decayed.cpuMs).toBeCloseTo(2, 12);
  });

  it('keeps tenant samples pending when a flush fails, except those of a version dropped meanwhile', async () => {
    const history = new PerformanceHistory(resolveHistoryOptions());
    let during: (() => void) | undefined;
    const failing = {
      flushPerformance: async (): Promise<{ perfSeq: number }> => {
        during?.();
        throw new Error('database is locked');
      },
    };
    const base: PerformanceSample = { model: 'm', task: 'chat', totalMs: 10, success: true, tenant: 'a' };
    history.record('m', '1', base, LEGACY_AT);
    history.record('m', '2', base, LEGACY_AT);
    during = () => history.drop('m', '2');
    await expect(history.flush(failing, LEGACY_AT)).rejects.toThrow('database is locked');
    const flushes: PerfFlush[] = [];
    const store = { flushPerformance: async (flush: PerfFlush) => (flushes.push(flush), { perfSeq: 1 }) };
    await history.flush(store, LEGACY_AT);
    expect(flushes[0]!.keys.map((key) => [key.version, key.tenant, key.samples.length]).sort()).toEqual([['1', '', 1], ['1', 'a', 1]]);
    expect(history.summary('m', '1', 'chat', 'a', 'all', Number.POSITIVE_INFINITY, LEGACY_AT)!.samples).toBe(1);
  });

  it('reads rows of a store that predates tenants as all callers\' rows', () => {
    const history = new PerformanceHistory(resolveHistoryOptions());
    const stats = JSON.parse(LEGACY_STATS_V1) as PerfStatsJson;
    const bucket = JSON.parse(LEGACY_BUCKET_V1) as AggregateJson;
    history.applyRows([{ modelId: 'm', version: '1', task: 'chat', stats } as never], [{ modelId: 'm', version: '1', task: 'chat', start: LEGACY_AT, aggregate: bucket } as never]);
    expect(history.summary('m', '1', 'chat', '', '1h', HOUR, LEGACY_AT)).toMatchObject({ tenant: '', samples: 4, failures: 1 });
    expect(history.tenants('m', '1')).toEqual([]);
  });
});
