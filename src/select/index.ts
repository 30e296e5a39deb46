/**
 * Selection (src/select): picks a model version for a request from a list of candidates, under hard
 * constraints and a weighted objective, learning from outcomes with Thompson sampling. It knows nothing
 * of the registry or the pool: the runtime builds the candidates and reports the outcomes.
 */
export { Selector } from './selector.js';
export { DEFAULT_OBJECTIVE } from './input.js';
export { contextKey, promptBucket } from './context.js';
export { priorLatencyMs, priorQuality, quantizationBits } from './prior.js';
export type {
  Candidate,
  CandidateExplanation,
  CandidateStats,
  ConstraintName,
  Constraints,
  Objective,
  Rejection,
  SelectContext,
  SelectOutcome,
  SelectRequest,
  Selection,
  SelectorArmJson,
  SelectorJson,
  SelectorOptions,
} from './types.js';
