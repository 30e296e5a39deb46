/** Hot swap: version swaps with health checks, canaries and rollback (the pool runs them: ModelPool.swapVersion). */
export { runSwap, validateSwapOptions, type SwapOptions, type SwapResult, type SwapStrategy, type SwapHost, type SwapSession } from './swap.js';
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
