/**
 * Hot swap: version swaps with health checks, canaries and rollback, run by ModelPool.swapVersion. The
 * public part only; the pool's side of a swap (SwapHost, SwapSession, runSwap) stays in swap.ts.
 */
export { validateSwapOptions, type SwapOptions, type SwapResult, type SwapStrategy } from './swap.js';
export {
  healthCheck,
  measureCanary,
  measureCanaries,
  compareCanary,
  overlapScore,
  type HealthCheckOptions,
  type HealthReport,
  type CanaryOptions,
  type CanaryPrompt,
  type CanarySample,
  type CanaryMeasurement,
  type CanaryComparison,
} from './checks.js';
