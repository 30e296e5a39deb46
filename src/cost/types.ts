import type { Task } from '../telemetry/types.js';

/**
 * Public types of cost (src/cost): what a request used, what it cost in dollars, the rates and prices
 * behind the figures, and the ledger's keys, totals and budgets.
 */

/** Where a request ran: on this machine (`'local'`, priced by resources) or at an API (`'remote'`, priced by tokens). */
export type CostProvider = 'local' | 'remote';

/** What one request used, as measured. Extra properties are ignored. */
export interface RequestUsage {
  provider: CostProvider;
  /** Wall-clock time of the request, ms (the engine's `totalMs`). */
  wallMs: number;
  /** Time the request waited before it was served, ms. Reported, never priced. */
  queueMs: number;
  /** Time to the first generated token, ms, on the same clock origin as `wallMs`; omit when none was generated. */
  ttftMs?: number;
  /** Prompt tokens, cached ones included. */
  promptTokens: number;
  /** Prompt tokens served from a cache (at most `promptTokens`); default 0. */
  cachedPromptTokens?: number;
  generatedTokens: number;
  /** CPU core-milliseconds spent on the request (the engine's per-request `cpuMs`). */
  cpuMs: number;
  /** The request's share of its model's resident memory × time, GB·s (from a {@link MemoryMeter}). */
  memoryGbSeconds?: number;
  /** GPU busy time attributed to the request, ms. */
  gpuMs?: number;
}

/** Dollars of a request, by what they pay for. Local requests fill the first four, remote ones the last two. */
export interface UsdBreakdown {
  cpu: number;
  memory: number;
  gpu: number;
  energy: number;
  input: number;
  output: number;
}

/** What one request cost, in one unit (dollars) for local and remote models alike. */
export interface RequestCost {
  provider: CostProvider;
  wallMs: number;
  queueMs: number;
  ttftMs?: number;
  promptTokens: number;
  cachedPromptTokens: number;
  generatedTokens: number;
  /** (generated − 1) / (wall − ttft) in tokens per second, when there are ≥ 2 tokens and wall > ttft. */
  decodeTokensPerSecond?: number;
  cpuCoreSeconds: number;
  memoryGbSeconds: number;
  gpuSeconds: number;
  /** Energy spent on this machine: (CPU core-seconds × wattsPerCore + GPU seconds × gpuWatts) / 3.6e6. */
  energyKwh: number;
  /** Sum of {@link RequestCost.usdBreakdown}. */
  usd: number;
  usdBreakdown: UsdBreakdown;
}

/** Prices of local resources. Every field is a finite number ≥ 0; omitted ones take {@link DEFAULT_LOCAL_RATES}. */
export interface LocalRates {
  /** Dollars per CPU core-hour. */
  perCoreHourUsd?: number;
  /** Dollars per GB-hour of resident memory (GB = 10⁹ bytes). */
  perGbHourUsd?: number;
  /** Dollars per GPU-hour. */
  perGpuHourUsd?: number;
  /** Dollars per kWh of energy. */
  perKwhUsd?: number;
  /** Power drawn by one busy CPU core, W. */
  wattsPerCore?: number;
  /** Power drawn by a busy GPU, W. */
  gpuWatts?: number;
}

/** Token prices of a remote model, dollars per million tokens. */
export interface TokenPrice {
  inputPerMillion: number;
  outputPerMillion: number;
  /** Price of cached prompt tokens; default `inputPerMillion` (no discount). */
  cachedInputPerMillion?: number;
}

/** One row of a {@link PriceTable}. */
export interface PriceEntry extends TokenPrice {
  /** Provider name, matched exactly (e.g. `'openai'`). */
  provider: string;
  /** Model name, exact or a glob where `*` matches any run of characters (e.g. `'gpt-4o-mini*'`). */
  model: string;
  /** Free text: where the price came from and when. */
  note?: string;
}

/** What {@link costOf} prices a usage with. */
export interface CostOptions {
  /** Local rates; default {@link DEFAULT_LOCAL_RATES}. Used for local requests. */
  rates?: LocalRates;
  /** Token prices; required for remote requests, ignored for local ones. */
  price?: TokenPrice;
}

/** What a ledger record is filed under. */
export interface CostKey {
  model: string;
  /** The registered version; absent for a model only the pool knows. */
  version?: string;
  task: Task;
  /** The caller (1 to 200 characters). */
  tenant?: string;
  /** Provider name (e.g. `'local'`, `'openai'`). */
  provider?: string;
}

/** One recorded cost, as passed to `'cost'` listeners. */
export interface CostRecord {
  key: CostKey;
  cost: RequestCost;
  /** Epoch milliseconds. */
  at: number;
}

/** Sums over a window of ledger records. */
export interface CostTotals {
  requests: number;
  promptTokens: number;
  cachedPromptTokens: number;
  generatedTokens: number;
  cpuCoreSeconds: number;
  memoryGbSeconds: number;
  gpuSeconds: number;
  energyKwh: number;
  usd: number;
}

/** Options of a {@link CostLedger}. */
export interface CostLedgerOptions {
  /** Width of a time bucket, ms (default 60 000): windows are counted in whole buckets. */
  bucketMs?: number;
  /** How long records are kept, ms (default 24 h); the longest window a query or budget may use. */
  retentionMs?: number;
  /** Clock, epoch ms (default `Date.now`). */
  now?: () => number;
}

/** Which requests a budget counts, and which requests ask a budget: each named field must match. */
export interface BudgetScope {
  tenant?: string;
  model?: string;
  provider?: string;
}

/** A token and/or dollar limit over a sliding window. */
export interface Budget {
  /** Unique name (1 to 200 characters). */
  name: string;
  /** Requests it counts: those whose key matches every field named here (`{}`: all). */
  scope: BudgetScope;
  /** Window length, ms (at most the ledger's retention). */
  windowMs: number;
  /** Limit on prompt + generated tokens in the window. */
  maxTokens?: number;
  /** Limit on dollars in the window. */
  maxUsd?: number;
}

/** A budget with what its window holds now. */
export interface BudgetStatus extends Budget {
  usedTokens: number;
  usedUsd: number;
}

/** What a request is about to spend, for {@link CostLedger.check}. */
export interface RequestedSpend {
  /** Prompt + generated tokens (an estimate); default 0. */
  tokens?: number;
  /** Dollars (an estimate); default 0. */
  usd?: number;
}
