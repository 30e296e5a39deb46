import { invalidArgument } from '../errors.js';
import { finiteNumber, integer, optionalNumber, plainObject } from '../validate.js';
import { resolveLocalRates } from './rates.js';
import type { CostOptions, LocalRates, RequestCost, RequestUsage, TokenPrice, UsdBreakdown } from './types.js';

/** Joules in a kilowatt-hour. */
const JOULES_PER_KWH = 3.6e6;
const SECONDS_PER_HOUR = 3600;
const TOKENS_PER_MILLION = 1e6;
const MAX = Number.MAX_VALUE;

/**
 * Checks a request's usage: `provider` 'local' or 'remote'; times and resources finite numbers ≥ 0;
 * token counts integers ≥ 0 with `cachedPromptTokens` ≤ `promptTokens`. Returns a copy with
 * `cachedPromptTokens` filled in. Throws INVALID_ARGUMENT naming `<field>.<name>`.
 */
export function validateRequestUsage(value: unknown, field = 'usage'): RequestUsage & { cachedPromptTokens: number } {
  const usage = plainObject(field, value);
  if (usage.provider !== 'local' && usage.provider !== 'remote') {
    throw invalidArgument(`${field}.provider`, "'local' or 'remote'", usage.provider);
  }
  const promptTokens = integer(`${field}.promptTokens`, usage.promptTokens, 0);
  const checked: RequestUsage & { cachedPromptTokens: number } = {
    provider: usage.provider,
    wallMs: finiteNumber(`${field}.wallMs`, usage.wallMs, 0, MAX),
    queueMs: finiteNumber(`${field}.queueMs`, usage.queueMs, 0, MAX),
    promptTokens,
    cachedPromptTokens: usage.cachedPromptTokens === undefined ? 0 : integer(`${field}.cachedPromptTokens`, usage.cachedPromptTokens, 0, promptTokens),
    generatedTokens: integer(`${field}.generatedTokens`, usage.generatedTokens, 0),
    cpuMs: finiteNumber(`${field}.cpuMs`, usage.cpuMs, 0, MAX),
  };
  const ttftMs = optionalNumber(`${field}.ttftMs`, usage.ttftMs, 0, MAX);
  const memoryGbSeconds = optionalNumber(`${field}.memoryGbSeconds`, usage.memoryGbSeconds, 0, MAX);
  const gpuMs = optionalNumber(`${field}.gpuMs`, usage.gpuMs, 0, MAX);
  if (ttftMs !== undefined) checked.ttftMs = ttftMs;
  if (memoryGbSeconds !== undefined) checked.memoryGbSeconds = memoryGbSeconds;
  if (gpuMs !== undefined) checked.gpuMs = gpuMs;
  return checked;
}

/**
 * Checks token prices: `inputPerMillion`, `outputPerMillion` and the optional `cachedInputPerMillion`
 * finite numbers ≥ 0. Throws INVALID_ARGUMENT naming `<field>.<name>`.
 */
export function validateTokenPrice(value: unknown, field = 'price'): TokenPrice {
  const price = plainObject(field, value);
  const checked: TokenPrice = {
    inputPerMillion: finiteNumber(`${field}.inputPerMillion`, price.inputPerMillion, 0, MAX),
    outputPerMillion: finiteNumber(`${field}.outputPerMillion`, price.outputPerMillion, 0, MAX),
  };
  const cached = optionalNumber(`${field}.cachedInputPerMillion`, price.cachedInputPerMillion, 0, MAX);
  if (cached !== undefined) checked.cachedInputPerMillion = cached;
  return checked;
}

/**
 * What a request cost, in dollars. A local request pays for its resources — CPU core-hours, memory
 * GB-hours, GPU-hours and energy at `options.rates`; a remote one for its tokens at `options.price`
 * (non-cached prompt tokens at the input price, cached ones at the cached price, generated tokens at the
 * output price). Both report the same resource figures, so the two compare in one unit.
 * Throws INVALID_ARGUMENT naming the field (`usage.*`, `rates.*`, `price.*`; `price` when a remote
 * request has none).
 */
export function costOf(usage: RequestUsage, options: CostOptions = {}): RequestCost {
  const checked = validateRequestUsage(usage);
  plainObject('options', options);
  const rates = resolveLocalRates(options.rates);
  if (checked.provider === 'remote' && options.price === undefined) throw invalidArgument('price', 'token prices for a remote request', options.price);
  return priceUsage(checked, rates, checked.provider === 'remote' ? validateTokenPrice(options.price) : undefined);
}

/**
 * costOf() on figures already checked: `usage` as validateRequestUsage returns it, `rates` as
 * resolveLocalRates returns them, `price` checked (needed for a remote request). For a caller that
 * produced the figures itself (the front door, per request) and so need not check them again.
 */
export function priceUsage(checked: RequestUsage & { cachedPromptTokens: number }, rates: Required<LocalRates>, price: TokenPrice | undefined): RequestCost {
  const cpuCoreSeconds = checked.cpuMs / 1000;
  const gpuSeconds = (checked.gpuMs ?? 0) / 1000;
  const memoryGbSeconds = checked.memoryGbSeconds ?? 0;
  const energyKwh = (cpuCoreSeconds * rates.wattsPerCore + gpuSeconds * rates.gpuWatts) / JOULES_PER_KWH;
  const usdBreakdown: UsdBreakdown = { cpu: 0, memory: 0, gpu: 0, energy: 0, input: 0, output: 0 };
  if (checked.provider === 'local') {
    usdBreakdown.cpu = (cpuCoreSeconds / SECONDS_PER_HOUR) * rates.perCoreHourUsd;
    usdBreakdown.memory = (memoryGbSeconds / SECONDS_PER_HOUR) * rates.perGbHourUsd;
    usdBreakdown.gpu = (gpuSeconds / SECONDS_PER_HOUR) * rates.perGpuHourUsd;
    usdBreakdown.energy = energyKwh * rates.perKwhUsd;
  } else if (price !== undefined) {
    const cached = checked.cachedPromptTokens;
    const fresh = checked.promptTokens - cached;
    usdBreakdown.input =
      (fresh * price.inputPerMillion + cached * (price.cachedInputPerMillion ?? price.inputPerMillion)) / TOKENS_PER_MILLION;
    usdBreakdown.output = (checked.generatedTokens * price.outputPerMillion) / TOKENS_PER_MILLION;
  }
  const cost: RequestCost = {
    provider: checked.provider,
    wallMs: checked.wallMs,
    queueMs: checked.queueMs,
    promptTokens: checked.promptTokens,
    cachedPromptTokens: checked.cachedPromptTokens,
    generatedTokens: checked.generatedTokens,
    cpuCoreSeconds,
    memoryGbSeconds,
    gpuSeconds,
    energyKwh,
    usd:
      usdBreakdown.cpu + usdBreakdown.memory + usdBreakdown.gpu + usdBreakdown.energy + usdBreakdown.input + usdBreakdown.output,
    usdBreakdown,
  };
  if (checked.ttftMs !== undefined) {
    cost.ttftMs = checked.ttftMs;
    const decodeMs = checked.wallMs - checked.ttftMs;
    if (checked.generatedTokens >= 2 && decodeMs > 0) cost.decodeTokensPerSecond = (checked.generatedTokens - 1) / (decodeMs / 1000);
  }
  return cost;
}
