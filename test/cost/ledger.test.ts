import { afterEach, describe, expect, it, vi } from 'vitest';
import { CostLedger, costOf, type CostKey, type CostRecord, type RequestCost } from '../../src/cost/index.js';
import { expectCode } from '../helpers/expect.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A remote request's cost: $1 per million prompt and generated tokens alike, so usd = tokens / 1e6. */
function cost(promptTokens: number, generatedTokens: number, cpuMs = 0): RequestCost {
  return costOf(
    { provider: 'remote', wallMs: 10, queueMs: 0, promptTokens, generatedTokens, cpuMs, memoryGbSeconds: 0.5 },
    { price: { inputPerMillion: 1, outputPerMillion: 1 } },
  );
}

function setup(options: { bucketMs?: number; retentionMs?: number } = {}) {
  let time = 1_700_000_000_000;
  const ledger = new CostLedger({ ...options, now: () => time });
  return {
    ledger,
    advance: (ms: number) => {
      time += ms;
    },
    now: () => time,
  };
}

const A: CostKey = { model: 'stories', version: '1', task: 'completion', tenant: 'alice', provider: 'local' };
const B: CostKey = { model: 'stories', version: '2', task: 'completion', tenant: 'bob', provider: 'local' };
const C: CostKey = { model: 'gpt', version: 'x', task: 'chat', tenant: 'alice', provider: 'acme' };

afterEach(() => vi.restoreAllMocks());

describe('CostLedger totals', () => {
  it('sums records by any fields of the key', () => {
    const { ledger } = setup();
    ledger.record(A, cost(100, 20, 1000));
    ledger.record(A, cost(50, 5, 500));
    ledger.record(B, cost(10, 1));
    ledger.record(C, cost(1000, 200));
    ledger.record({ model: 'stories', version: '1', task: 'completion' }, cost(1, 1)); // no tenant or provider
    expect(ledger.totals({ tenant: 'alice' })).toMatchObject({ requests: 3, promptTokens: 1150, generatedTokens: 225 });
    const a = ledger.totals({ model: 'stories', version: '1', tenant: 'alice' });
    expect(a).toMatchObject({ requests: 2, promptTokens: 150, generatedTokens: 25, cpuCoreSeconds: 1.5, memoryGbSeconds: 1, cachedPromptTokens: 0, gpuSeconds: 0 });
    expect(a.usd).toBeCloseTo(175e-6, 15);
    expect(ledger.totals({ provider: 'local' }).requests).toBe(3);
    expect(ledger.totals({ model: 'stories' }).requests).toBe(4);
    expect(ledger.totals().requests).toBe(5);
    expect(ledger.totals({ task: 'chat', provider: 'acme' }).promptTokens).toBe(1000);
    expect(ledger.totals({ tenant: 'carol' })).toEqual({
      requests: 0, promptTokens: 0, cachedPromptTokens: 0, generatedTokens: 0, cpuCoreSeconds: 0, memoryGbSeconds: 0, gpuSeconds: 0, energyKwh: 0, usd: 0,
    });
  });

  it('keeps keys apart whose fields would join alike (a NUL inside a field), and keys with a field left out', () => {
    const { ledger } = setup();
    ledger.record({ model: 'a\u0000b', task: 't' }, cost(1, 0));
    ledger.record({ model: 'a', version: 'b', task: 't' }, cost(10, 0));
    ledger.record({ model: 'a', task: 'b\u0000t' }, cost(100, 0));
    ledger.recordChecked({ model: 'a', version: 'b', task: 't', tenant: 'x' }, cost(1000, 0));
    expect(ledger.totals({ model: 'a\u0000b' }).promptTokens).toBe(1);
    expect(ledger.totals({ model: 'a', version: 'b' }).promptTokens).toBe(1010);
    expect(ledger.totals({ model: 'a', task: 'b\u0000t' }).promptTokens).toBe(100);
    expect(ledger.totals({ tenant: 'x' }).promptTokens).toBe(1000);
    expect(ledger.totals().requests).toBe(4);
  });

  it('counts a sliding window in whole buckets', () => {
    const { ledger, advance, now } = setup();
    const start = now();
    const bucketStart = Math.floor(start / MINUTE) * MINUTE;
    ledger.record(A, cost(1, 0), bucketStart + 10); // first bucket (the clock is past it)
    advance(bucketStart + 5 * MINUTE + 10 - start); // records are never in the future: the clock moves first
    ledger.record(A, cost(10, 0), bucketStart + 5 * MINUTE + 10); // six minutes later, another bucket
    advance(5 * MINUTE + 30_000 - 10); // now: 10.5 min after the first bucket starts
    // A 4-minute window starts in the bucket at 6 min: neither record.
    expect(ledger.totals({}, 4 * MINUTE).promptTokens).toBe(0);
    // 5 min reaches back to 5.5 min, inside the bucket at 5 min: the second record.
    expect(ledger.totals({}, 5 * MINUTE).promptTokens).toBe(10);
    // 10 min reaches 0.5 min, the first bucket: both.
    expect(ledger.totals({}, 10 * MINUTE).promptTokens).toBe(11);
    expect(ledger.totals({}).promptTokens).toBe(11);
  });

  it('forgets records past the retention', () => {
    const { ledger, advance, now } = setup({ bucketMs: MINUTE, retentionMs: HOUR });
    ledger.record(A, cost(7, 0));
    ledger.record(A, cost(100, 0), now() - 2 * HOUR); // already past the retention: counts nowhere
    expect(ledger.totals().promptTokens).toBe(7);
    advance(HOUR - 2 * MINUTE);
    ledger.record(B, cost(3, 0));
    expect(ledger.totals().promptTokens).toBe(10);
    advance(3 * MINUTE);
    expect(ledger.totals().promptTokens).toBe(3);
    expect(ledger.totals({ model: 'stories', version: '1' }).requests).toBe(0);
    advance(2 * HOUR);
    expect(ledger.totals().requests).toBe(0);
  });

  it('calls cost listeners with each record until removed', () => {
    const { ledger, now } = setup();
    const seen: CostRecord[] = [];
    const off = ledger.on('cost', (record) => seen.push(record));
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const offBad = ledger.on('cost', () => {
      throw new Error('listener bug');
    });
    const c = cost(5, 5);
    ledger.record(A, c);
    ledger.record(C, c, now() - 1000);
    expect(seen).toEqual([
      { key: A, cost: c, at: now() },
      { key: C, cost: c, at: now() - 1000 },
    ]);
    expect(warning).toHaveBeenCalledTimes(2);
    expect(String(warning.mock.calls[0]![0])).toContain('listener bug');
    off();
    offBad();
    ledger.record(A, c);
    expect(seen).toHaveLength(2);
    expect(ledger.totals().requests).toBe(3);
  });
});

describe('CostLedger budgets', () => {
  it('refuses a request that would go over a token budget, with the figures', async () => {
    const { ledger } = setup();
    ledger.addBudget({ name: 'alice-hourly', scope: { tenant: 'alice' }, windowMs: HOUR, maxTokens: 1000 });
    ledger.record(A, cost(300, 100));
    ledger.record(C, cost(200, 100));
    ledger.record(B, cost(5000, 5000)); // bob: not counted
    ledger.check({ tenant: 'alice', model: 'stories' }, { tokens: 300 }); // 700 + 300 = 1000: allowed
    const error = await expectCode(() => ledger.check({ tenant: 'alice' }, { tokens: 301 }), 'BUDGET_EXCEEDED', 'budget');
    expect(error.value).toBe('alice-hourly');
    expect(error.details).toEqual({ budget: 'alice-hourly', window: HOUR, limit: 1000, used: 700, requested: 301, unit: 'tokens' });
    ledger.check({ tenant: 'bob' }, { tokens: 1e9 }); // no budget for bob
    ledger.check({}, { tokens: 1e9 }); // a scope without a tenant asks no tenant budget
    expect(ledger.budgets()).toEqual([
      { name: 'alice-hourly', scope: { tenant: 'alice' }, windowMs: HOUR, maxTokens: 1000, usedTokens: 700, usedUsd: expect.closeTo(0.0007, 12) },
    ]);
  });

  it('counts records made before the budget, frees the window as it slides, and can be removed', async () => {
    const { ledger, advance } = setup();
    ledger.record(A, cost(0, 0)); // zero-cost records count as requests only
    ledger.record(A, cost(600_000, 0)); // $0.60
    ledger.record(B, cost(0, 0)); // another series in the same bucket: merged into the budgets added later
    advance(30 * MINUTE);
    ledger.record(C, cost(300_000, 0)); // $0.30
    ledger.addBudget({ name: 'all', scope: {}, windowMs: HOUR, maxUsd: 1 });
    ledger.addBudget({ name: 'acme', scope: { provider: 'acme' }, windowMs: HOUR, maxUsd: 0.35 });
    ledger.check({ provider: 'local' }, { usd: 0.1 });
    const error = await expectCode(() => ledger.check({ provider: 'local' }, { usd: 0.11 }), 'BUDGET_EXCEEDED', 'budget');
    expect(error.details).toMatchObject({ budget: 'all', unit: 'usd', limit: 1, requested: 0.11 });
    expect(error.details!.used as number).toBeCloseTo(0.9, 12);
    // The first budget that fails, in the order added.
    expect((await expectCode(() => ledger.check({ provider: 'acme' }, { usd: 0.06 }), 'BUDGET_EXCEEDED')).value).toBe('acme');
    advance(31 * MINUTE + 1); // the $0.60 leaves the hour (its bucket with it)
    ledger.check({ provider: 'local' }, { usd: 0.7 });
    expect(ledger.removeBudget('acme')).toBe(true);
    expect(ledger.removeBudget('acme')).toBe(false);
    ledger.check({ provider: 'acme' }, { usd: 0.7 });
    expect(ledger.budgets().map((budget) => budget.name)).toEqual(['all']);
  });

  it('tracks records made after the budget, in scope only', async () => {
    const { ledger } = setup();
    ledger.addBudget({ name: 'stories', scope: { model: 'stories', provider: 'local' }, windowMs: 10 * MINUTE, maxTokens: 100, maxUsd: 1 });
    ledger.record(A, cost(40, 40));
    ledger.record(C, cost(1000, 0));
    ledger.check({ model: 'stories', provider: 'local', tenant: 'x' }, { tokens: 20 });
    await expectCode(() => ledger.check({ model: 'stories', provider: 'local' }, { tokens: 21 }), 'BUDGET_EXCEEDED');
    ledger.check({ model: 'stories' }, { tokens: 1e6 }); // the budget names a provider this scope lacks
    ledger.record(B, cost(20, 0));
    // Already at the limit: any further tokens are refused, none are not.
    ledger.check({ model: 'stories', provider: 'local' }, {});
    await expectCode(() => ledger.check({ model: 'stories', provider: 'local' }, { tokens: 1 }), 'BUDGET_EXCEEDED');
  });

  it('allows a dollar sum that equals its limit despite float rounding', () => {
    const { ledger } = setup();
    ledger.addBudget({ name: 'cents', scope: {}, windowMs: HOUR, maxUsd: 0.3 });
    ledger.record(A, cost(100_000, 0)); // $0.1
    ledger.record(A, cost(200_000, 0)); // $0.2; 0.1 + 0.2 = 0.30000000000000004
    ledger.check({}, { usd: 0 });
  });

  it('refuses bad budgets', async () => {
    const { ledger } = setup({ retentionMs: 2 * HOUR });
    ledger.addBudget({ name: 'b', scope: {}, windowMs: HOUR, maxTokens: 1 });
    await expectCode(() => ledger.addBudget({ name: 'b', scope: {}, windowMs: HOUR, maxTokens: 1 }), 'ALREADY_EXISTS', 'budget.name');
    await expectCode(() => ledger.addBudget({ name: '', scope: {}, windowMs: HOUR, maxTokens: 1 }), 'INVALID_ARGUMENT', 'budget.name');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: {}, windowMs: 3 * HOUR, maxTokens: 1 }), 'INVALID_ARGUMENT', 'budget.windowMs');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: {}, windowMs: 1000, maxTokens: 1 }), 'INVALID_ARGUMENT', 'budget.windowMs');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: {}, windowMs: HOUR }), 'INVALID_ARGUMENT', 'budget.maxTokens');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: {}, windowMs: HOUR, maxUsd: -1 }), 'INVALID_ARGUMENT', 'budget.maxUsd');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: { team: 'x' } as never, windowMs: HOUR, maxUsd: 1 }), 'INVALID_ARGUMENT', 'budget.scope.team');
    await expectCode(() => ledger.addBudget({ name: 'c', scope: { tenant: '' }, windowMs: HOUR, maxUsd: 1 }), 'INVALID_ARGUMENT', 'budget.scope.tenant');
    await expectCode(() => ledger.addBudget(null as never), 'INVALID_ARGUMENT', 'budget');
    // A budget without a scope counts everything.
    ledger.addBudget({ name: 'no-scope', windowMs: HOUR, maxUsd: 1 } as never);
    expect(ledger.budgets()[1]!.scope).toEqual({});
    await expectCode(() => ledger.removeBudget(7 as never), 'INVALID_ARGUMENT', 'name');
    await expectCode(() => ledger.check({ model: 3 } as never, { tokens: 1 }), 'INVALID_ARGUMENT', 'scope.model');
    await expectCode(() => ledger.check({}, { tokens: -1 }), 'INVALID_ARGUMENT', 'requested.tokens');
    await expectCode(() => ledger.check({}, { usd: Number.NaN }), 'INVALID_ARGUMENT', 'requested.usd');
    await expectCode(() => ledger.check({}, undefined as never), 'INVALID_ARGUMENT', 'requested');
  });
});

describe('CostLedger inputs', () => {
  it('refuses bad options, keys, costs, times, filters and listeners', async () => {
    await expectCode(() => new CostLedger({ bucketMs: 0 }), 'INVALID_ARGUMENT', 'options.bucketMs');
    await expectCode(() => new CostLedger({ bucketMs: MINUTE, retentionMs: 1000 }), 'INVALID_ARGUMENT', 'options.retentionMs');
    await expectCode(() => new CostLedger({ bucketMs: 1, retentionMs: 1e9 }), 'INVALID_ARGUMENT', 'options.retentionMs'); // too many buckets
    await expectCode(() => new CostLedger({ now: 'soon' as never }), 'INVALID_ARGUMENT', 'options.now');
    await expectCode(() => new CostLedger(3 as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => new CostLedger({ now: () => Number.NaN }).record(A, cost(1, 1)), 'INVALID_ARGUMENT', 'now()');
    const { ledger } = setup();
    const c = cost(1, 1);
    await expectCode(() => ledger.record({ ...A, model: '' }, c), 'INVALID_ARGUMENT', 'key.model');
    await expectCode(() => ledger.record({ ...A, version: '' }, c), 'INVALID_ARGUMENT', 'key.version');
    await expectCode(() => ledger.record({ ...A, task: 5 } as never, c), 'INVALID_ARGUMENT', 'key.task');
    await expectCode(() => ledger.record({ ...A, tenant: 'x'.repeat(201) }, c), 'INVALID_ARGUMENT', 'key.tenant');
    await expectCode(() => ledger.record({ ...A, provider: '' }, c), 'INVALID_ARGUMENT', 'key.provider');
    await expectCode(() => ledger.record('A' as never, c), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => ledger.record(A, { ...c, usd: -1 }), 'INVALID_ARGUMENT', 'cost.usd');
    await expectCode(() => ledger.record(A, { ...c, promptTokens: 0.5 }), 'INVALID_ARGUMENT', 'cost.promptTokens');
    await expectCode(() => ledger.record(A, { ...c, memoryGbSeconds: undefined } as never), 'INVALID_ARGUMENT', 'cost.memoryGbSeconds');
    await expectCode(() => ledger.record(A, null as never), 'INVALID_ARGUMENT', 'cost');
    await expectCode(() => ledger.record(A, c, Number.NaN), 'INVALID_ARGUMENT', 'at');
    await expectCode(() => ledger.record(A, c, -1), 'INVALID_ARGUMENT', 'at');
    // A record in the future would count in every window from now on.
    await expectCode(() => ledger.record(A, c, Date.now() + HOUR), 'INVALID_ARGUMENT', 'at');
    await expectCode(() => ledger.totals({ tennant: 'a' } as never), 'INVALID_ARGUMENT', 'filter.tennant');
    await expectCode(() => ledger.totals({ tenant: '' }), 'INVALID_ARGUMENT', 'filter.tenant');
    await expectCode(() => ledger.totals([] as never), 'INVALID_ARGUMENT', 'filter');
    await expectCode(() => ledger.totals({}, 25 * HOUR), 'INVALID_ARGUMENT', 'windowMs');
    await expectCode(() => ledger.totals({}, -1), 'INVALID_ARGUMENT', 'windowMs');
    await expectCode(() => ledger.on('record' as never, () => {}), 'INVALID_ARGUMENT', 'event');
    await expectCode(() => ledger.on('cost', 'f' as never), 'INVALID_ARGUMENT', 'listener');
    // Nothing bad was recorded.
    expect(ledger.totals().requests).toBe(0);
  });

  it('uses Date.now and the documented defaults', () => {
    const ledger = new CostLedger();
    expect(ledger.bucketMs).toBe(MINUTE);
    expect(ledger.retentionMs).toBe(24 * HOUR);
    const before = Date.now();
    let at = 0;
    ledger.on('cost', (record) => {
      at = record.at;
    });
    ledger.record(A, cost(1, 1));
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(ledger.totals({}, HOUR).requests).toBe(1);
  });
});
