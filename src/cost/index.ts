/**
 * Cost: what each request cost, in dollars, so local and remote models compare in one unit. Local
 * requests are priced by the resources they held (CPU core-seconds, their share of the model's
 * memory, GPU time, energy) at configurable rates; remote ones by their tokens at the prices of a
 * user-supplied price table. A ledger sums costs over sliding windows and enforces token and dollar
 * budgets. Pure TypeScript; it knows nothing of the engine, the pool or the registry.
 */
export { costOf, priceUsage, validateRequestUsage, validateTokenPrice } from './cost-of.js';
export { DEFAULT_LOCAL_RATES, resolveLocalRates, validateLocalRates } from './rates.js';
export { PriceTable, globMatches } from './price-table.js';
export { MemoryMeter, type MeterTicket } from './memory-meter.js';
export { CostLedger } from './ledger.js';
export type * from './types.js';
