import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LOCAL_RATES,
  costOf,
  resolveLocalRates,
  validateLocalRates,
  validateRequestUsage,
  validateTokenPrice,
  type RequestUsage,
} from '../../src/cost/index.js';
import { expectCode } from '../helpers/expect.js';

const local: RequestUsage = {
  provider: 'local',
  wallMs: 1000,
  queueMs: 30,
  ttftMs: 200,
  promptTokens: 12,
  generatedTokens: 41,
  cpuMs: 7200,
  memoryGbSeconds: 36,
  gpuMs: 1800,
};

const remote: RequestUsage = {
  provider: 'remote',
  wallMs: 2500,
  queueMs: 0,
  ttftMs: 500,
  promptTokens: 10_000,
  cachedPromptTokens: 4_000,
  generatedTokens: 2_000,
  cpuMs: 40,
};

describe('costOf', () => {
  it('prices a local request by its resources (figures worked by hand from the formulas)', () => {
    const rates = { perCoreHourUsd: 0.05, perGbHourUsd: 0.01, perGpuHourUsd: 2, perKwhUsd: 0.3, wattsPerCore: 15, gpuWatts: 400 };
    const cost = costOf(local, { rates });
    // 7.2 core-s = 0.002 core-h × $0.05 = $0.0001; 36 GB·s = 0.01 GB-h × $0.01 = $0.0001;
    // 1.8 GPU-s = 0.0005 GPU-h × $2 = $0.001; (7.2 × 15 + 1.8 × 400) J = 828 J = 0.00023 kWh × $0.3 = $0.000069.
    expect(cost.cpuCoreSeconds).toBe(7.2);
    expect(cost.gpuSeconds).toBe(1.8);
    expect(cost.memoryGbSeconds).toBe(36);
    expect(cost.energyKwh).toBeCloseTo(0.00023, 15);
    expect(cost.usdBreakdown.cpu).toBeCloseTo(0.0001, 15);
    expect(cost.usdBreakdown.memory).toBeCloseTo(0.0001, 15);
    expect(cost.usdBreakdown.gpu).toBeCloseTo(0.001, 15);
    expect(cost.usdBreakdown.energy).toBeCloseTo(0.000069, 15);
    expect(cost.usdBreakdown.input).toBe(0);
    expect(cost.usdBreakdown.output).toBe(0);
    expect(cost.usd).toBeCloseTo(0.001269, 15);
    // 40 tokens after the first in 0.8 s.
    expect(cost.decodeTokensPerSecond).toBeCloseTo(50, 12);
    expect(cost).toMatchObject({ provider: 'local', wallMs: 1000, queueMs: 30, ttftMs: 200, promptTokens: 12, cachedPromptTokens: 0, generatedTokens: 41 });
  });

  it('uses the documented defaults: one core-hour and one GB-hour cost a cloud container', () => {
    const cost = costOf({ provider: 'local', wallMs: 1, queueMs: 0, promptTokens: 1, generatedTokens: 0, cpuMs: 3_600_000, memoryGbSeconds: 3600 });
    expect(cost.usd).toBeCloseTo(DEFAULT_LOCAL_RATES.perCoreHourUsd + DEFAULT_LOCAL_RATES.perGbHourUsd, 15);
    expect(cost.usd).toBeCloseTo(0.044925, 15);
    // 3600 core-s × 10 W = 36 kJ = 0.01 kWh, reported though not priced by default.
    expect(cost.energyKwh).toBeCloseTo(0.01, 15);
    expect(cost.usdBreakdown.energy).toBe(0);
    expect(cost.gpuSeconds).toBe(0);
    expect(cost.decodeTokensPerSecond).toBeUndefined();
    expect(cost.ttftMs).toBeUndefined();
    // A partial rate object keeps the other defaults.
    const cheaper = costOf({ provider: 'local', wallMs: 1, queueMs: 0, promptTokens: 1, generatedTokens: 0, cpuMs: 3_600_000, memoryGbSeconds: 3600 }, { rates: { perCoreHourUsd: 0 } });
    expect(cheaper.usd).toBeCloseTo(0.004445, 15);
  });

  it('prices a remote request by its tokens, cached prompt tokens at the cached price', () => {
    const cost = costOf(remote, { price: { inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.3 } });
    // 6 000 fresh × $3/M = $0.018; 4 000 cached × $0.3/M = $0.0012; 2 000 out × $15/M = $0.03.
    expect(cost.usdBreakdown.input).toBeCloseTo(0.0192, 15);
    expect(cost.usdBreakdown.output).toBeCloseTo(0.03, 15);
    expect(cost.usd).toBeCloseTo(0.0492, 15);
    // Its local CPU time is reported, never priced; 1 999 tokens in 2 s.
    expect(cost.cpuCoreSeconds).toBeCloseTo(0.04, 15);
    expect(cost.usdBreakdown.cpu).toBe(0);
    expect(cost.decodeTokensPerSecond).toBeCloseTo(999.5, 9);
    // Without a cached price, cached tokens pay the input price.
    const plain = costOf(remote, { price: { inputPerMillion: 3, outputPerMillion: 15 } });
    expect(plain.usdBreakdown.input).toBeCloseTo(0.03, 15);
    expect(plain.usd).toBeCloseTo(0.06, 15);
  });

  it('reports no decode speed when it is not meaningful', () => {
    expect(costOf({ ...local, generatedTokens: 1 }).decodeTokensPerSecond).toBeUndefined();
    expect(costOf({ ...local, ttftMs: 1000 }).decodeTokensPerSecond).toBeUndefined();
    expect(costOf({ ...local, ttftMs: undefined }).decodeTokensPerSecond).toBeUndefined();
    expect(costOf({ ...local, generatedTokens: 2, ttftMs: 900 }).decodeTokensPerSecond).toBeCloseTo(10, 12);
  });

  it('refuses bad usage, rates and prices, naming the field', async () => {
    await expectCode(() => costOf({ ...local, provider: 'cloud' as 'local' }), 'INVALID_ARGUMENT', 'usage.provider');
    await expectCode(() => costOf({ ...local, wallMs: -1 }), 'INVALID_ARGUMENT', 'usage.wallMs');
    await expectCode(() => costOf({ ...local, queueMs: Number.NaN }), 'INVALID_ARGUMENT', 'usage.queueMs');
    await expectCode(() => costOf({ ...local, promptTokens: 1.5 }), 'INVALID_ARGUMENT', 'usage.promptTokens');
    await expectCode(() => costOf({ ...local, cachedPromptTokens: 13 }), 'INVALID_ARGUMENT', 'usage.cachedPromptTokens');
    await expectCode(() => costOf({ ...local, generatedTokens: -1 }), 'INVALID_ARGUMENT', 'usage.generatedTokens');
    await expectCode(() => costOf({ ...local, cpuMs: Infinity }), 'INVALID_ARGUMENT', 'usage.cpuMs');
    await expectCode(() => costOf({ ...local, ttftMs: -1 }), 'INVALID_ARGUMENT', 'usage.ttftMs');
    await expectCode(() => costOf({ ...local, memoryGbSeconds: -0.5 }), 'INVALID_ARGUMENT', 'usage.memoryGbSeconds');
    await expectCode(() => costOf({ ...local, gpuMs: '5' as unknown as number }), 'INVALID_ARGUMENT', 'usage.gpuMs');
    await expectCode(() => costOf(null as unknown as RequestUsage), 'INVALID_ARGUMENT', 'usage');
    await expectCode(() => costOf(local, 5 as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => costOf(local, { rates: { perCoreHourUSD: 1 } as never }), 'INVALID_ARGUMENT', 'rates.perCoreHourUSD');
    await expectCode(() => costOf(local, { rates: { perGbHourUsd: -1 } }), 'INVALID_ARGUMENT', 'rates.perGbHourUsd');
    await expectCode(() => costOf(remote), 'INVALID_ARGUMENT', 'price');
    await expectCode(() => costOf(remote, { price: { inputPerMillion: 1, outputPerMillion: -2 } }), 'INVALID_ARGUMENT', 'price.outputPerMillion');
    await expectCode(() => costOf(remote, { price: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: Number.NaN } }), 'INVALID_ARGUMENT', 'price.cachedInputPerMillion');
    // A local request ignores a price; bad rates are refused even when unused by a remote one.
    expect(costOf(local, { price: { inputPerMillion: 1e9, outputPerMillion: 1e9 } }).usdBreakdown.input).toBe(0);
  });
});

describe('rates and usage validators', () => {
  it('validateLocalRates returns the rates given and names bad ones under the field', async () => {
    expect(validateLocalRates({ perKwhUsd: 0.25, gpuWatts: 350 })).toEqual({ perKwhUsd: 0.25, gpuWatts: 350 });
    expect(validateLocalRates({})).toEqual({});
    await expectCode(() => validateLocalRates({ wattsPerCore: -3 }, 'pool.rates'), 'INVALID_ARGUMENT', 'pool.rates.wattsPerCore');
    await expectCode(() => validateLocalRates([], 'rates'), 'INVALID_ARGUMENT', 'rates');
    const error = await expectCode(() => validateLocalRates({ perCpuHourUsd: 1 }), 'INVALID_ARGUMENT', 'rates.perCpuHourUsd');
    expect(error.message).toContain('perCoreHourUsd');
    expect(error.value).toBe(1);
  });

  it('resolveLocalRates fills in the defaults', () => {
    expect(resolveLocalRates()).toEqual(DEFAULT_LOCAL_RATES);
    expect(resolveLocalRates({ perGpuHourUsd: 2 })).toEqual({ ...DEFAULT_LOCAL_RATES, perGpuHourUsd: 2 });
    expect(Object.isFrozen(DEFAULT_LOCAL_RATES)).toBe(true);
  });

  it('validateRequestUsage fills cachedPromptTokens and drops unknown extras', () => {
    const checked = validateRequestUsage({ ...local, extra: 1 });
    expect(checked.cachedPromptTokens).toBe(0);
    expect('extra' in checked).toBe(false);
    expect(validateTokenPrice({ inputPerMillion: 0, outputPerMillion: 0 })).toEqual({ inputPerMillion: 0, outputPerMillion: 0 });
  });
});
