/**
 * Health: circuit breakers per key, passive figures from real requests, active probes with
 * readiness, and failover over a chain of candidates. It works on string keys ("openai/gpt-x",
 * "local:stories") and on functions it is given, so it depends on no pool or provider: the front door
 * builds on it, never the other way round.
 */
export { CircuitBreaker } from './breaker.js';
export { Breakers } from './breakers.js';
export { countsAsFailure, isCallerFault, summarizeError, type ErrorSummary } from './classify.js';
export { failover } from './failover.js';
export { HealthMonitor } from './monitor.js';
export { BREAKER_DEFAULTS, FAILURE_RATE_DEFAULTS, PROBE_DEFAULTS, TRACKER_DEFAULTS } from './options.js';
export { HealthTracker } from './tracker.js';
export {
  BREAKER_STATES,
  type BreakerOptions,
  type BreakerPermit,
  type BreakerSnapshot,
  type BreakerState,
  type BreakersOptions,
  type BreakerTransition,
  type FailoverAttempt,
  type FailoverOptions,
  type FailoverResult,
  type FailureRateOptions,
  type HealthFigures,
  type HealthStatus,
  type MonitorOptions,
  type Probe,
  type ProbeOptions,
  type ProbeResult,
  type SkippedCandidate,
  type TrackerOptions,
  type TransitionReason,
} from './types.js';
