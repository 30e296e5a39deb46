/**
 * Public types of the selector (src/select): what the caller knows of each candidate, the constraints
 * and objective of a request, the selection and its explanation, outcomes, and the persisted form.
 */

/** What the performance history measured for a candidate on the task (all optional but `samples`). */
export interface CandidateStats {
  /** Own samples behind the figures. */
  samples: number;
  /** Fraction of requests that succeeded, in [0, 1]. */
  successRate?: number;
  /** Mean grader or judge score of the graded requests, in [0, 1]. */
  quality?: number;
  /** Effective samples behind `quality` (default `samples`). */
  qualityWeight?: number;
  p95LatencyMs?: number;
  meanLatencyMs?: number;
  ttftMs?: number;
  tokensPerSecond?: number;
  /** Mean dollar cost per request. */
  costUsd?: number;
  /** Measured resident memory. */
  memoryBytes?: number;
}

/** One model version the selector may pick. */
export interface Candidate {
  modelId: string;
  version: string;
  /** Tasks the model does; a candidate is eligible only for these. */
  tasks: readonly string[];
  tags?: readonly string[];
  /** In-process (true) or remote (false). A remote candidate holds no local memory. */
  local: boolean;
  /** Whether the pool has it loaded now. */
  loaded: boolean;
  contextLength?: number;
  /** Estimated resident memory (registry estimate). */
  memoryBytes?: number;
  parameterCount?: number;
  /** Weight type: 'F32', 'F16', 'BF16', 'Q8_0', 'Q4_K_M', 'IQ2_XXS', ... */
  quantization?: string;
  /** Earlier version of the same model whose learned posterior seeds this one. */
  predecessor?: string;
  stats?: CandidateStats;
  /** Dollar cost per request estimated from a price table, used until costs are measured. */
  estimatedCostUsd?: number;
}

/** Hard constraints: a candidate that fails one is never picked. */
export interface Constraints {
  /** Minimum expected quality (fractional success, a failure counting 0), in [0, 1]. */
  minQuality?: number;
  maxP95LatencyMs?: number;
  maxMemoryBytes?: number;
  /** Maximum mean dollar cost per request. */
  maxCostUsd?: number;
  localOnly?: boolean;
  /** Minimum context length in tokens. */
  minContextLength?: number;
  loadedOnly?: boolean;
  /** Tags the candidate must all carry. */
  tags?: string[];
  /** Allow-list of model ids. */
  models?: string[];
}

/**
 * Weights of the score. Quality counts in [0, 1]; latency, cost and memory count per decade (log10),
 * so a weight w on latency means "a 10× slower model must be w better in quality". Missing weights
 * take the selector's, whose defaults are quality 1, latency 0.1, cost 0.05, memory 0.02.
 */
export interface Objective {
  quality?: number;
  latency?: number;
  cost?: number;
  memory?: number;
}

/** What a request adds to the selection beyond its task: the context its posteriors are kept per. */
export interface SelectContext {
  /** Prompt length: bucketed by powers of 4 (≤64, ≤256, ≤1024, ...); also a floor on context length. */
  promptTokens?: number;
  /** Labels of the request (a domain, a language, a tenant class): part of the context key. */
  tags?: string[];
}

export interface SelectRequest {
  task: string;
  constraints?: Constraints;
  /** Overrides the selector's objective weight by weight. */
  objective?: Objective;
  context?: SelectContext;
}

/** Why a candidate was not eligible: the first constraint it failed. */
export interface Rejection {
  /** 'task', 'models', 'localOnly', 'loadedOnly', 'tags', 'minContextLength', 'maxMemoryBytes', 'maxCostUsd', 'maxP95LatencyMs' or 'minQuality'. */
  constraint: ConstraintName;
  /** The candidate's figure; null when it has none and none can be estimated. */
  value: unknown;
  limit: unknown;
}

export type ConstraintName =
  | 'task'
  | 'models'
  | 'localOnly'
  | 'loadedOnly'
  | 'tags'
  | 'minContextLength'
  | 'maxMemoryBytes'
  | 'maxCostUsd'
  | 'maxP95LatencyMs'
  | 'minQuality';

/** One candidate in a selection's explanation (in the order the candidates were given). */
export interface CandidateExplanation {
  modelId: string;
  version: string;
  /** Passed every constraint. */
  eligible: boolean;
  /** The one picked. */
  chosen: boolean;
  /** Present when not eligible. */
  rejected?: Rejection;
  /** Eligible only: the score of the draws (or of the means, greedy). */
  score?: number;
  /** Eligible only: the quality drawn from the posterior (its mean when greedy). */
  sampledQuality?: number;
  /** Eligible only: the typical latency drawn from the posterior (its mean when greedy). */
  sampledLatencyMs?: number;
  /** Eligible only: the posterior means now (prior and history included). */
  meanQuality?: number;
  medianLatencyMs?: number;
  /** Figures the constraints are checked against; absent when unknown. */
  p95LatencyMs?: number;
  costUsd?: number;
  memoryBytes?: number;
  /** Outcomes observed for this candidate on the task (all contexts) and in this request's context. */
  observed?: number;
  contextObserved?: number;
}

/** The pick of one `select` call. */
export interface Selection {
  readonly modelId: string;
  readonly version: string;
  /** Where the pick stands in the candidate list given to `select`. */
  readonly index: number;
  /** Score of the pick (higher is better). */
  readonly score: number;
  /** True when the pick is not the candidate with the best posterior-mean score (an exploration). */
  readonly explored: boolean;
  /** task | prompt-length bucket | sorted tags: the context whose posterior was used. */
  readonly contextKey: string;
  /** Every candidate with its rejection or its score and draws; computed on demand. */
  candidates(): CandidateExplanation[];
}

/** What one served request turned out to be. */
export interface SelectOutcome {
  modelId: string;
  version: string;
  task: string;
  /** The request's context, as given to `select` (same key). */
  context?: SelectContext;
  success: boolean;
  /** Grader or judge score in [0, 1]; a success without it counts as quality 1, a failure as 0. */
  quality?: number;
  latencyMs: number;
  costUsd?: number;
}

export interface SelectorOptions {
  /** Default objective weights (see {@link Objective}). */
  objective?: Objective;
  /** 'thompson' (default) draws from the posteriors; 'greedy' scores posterior means. */
  exploration?: 'thompson' | 'greedy';
  /** Seed of the random draws (default: a random seed). */
  seed?: number;
  /** Keep posteriors per context key (default true); false keeps one per (model, version, task). */
  contextual?: boolean;
  /** Pseudo-observations of the cold-start prior (default 2). */
  priorStrength?: number;
  /** Most pseudo-observations a candidate's history `stats` counts for (default 50). */
  maxHistoryWeight?: number;
  /** Most pseudo-observations a predecessor's learned posterior counts for in a new version (default 10). */
  maxPredecessorWeight?: number;
  /** Pseudo-observations the arm's global posterior counts for as the prior of a context (default 4). */
  contextPriorWeight?: number;
  /**
   * Forgetting: after this many further outcomes of the same arm an outcome counts half (default 1000;
   * `Infinity`: never forget). A model whose quality or latency changes is relearned in about this many
   * of its requests instead of never.
   */
  halfLife?: number;
}

/** One (model, version, task) in the persisted form. */
export interface SelectorArmJson {
  modelId: string;
  version: string;
  task: string;
  /**
   * Cold-start prior: quality mean, ln(1 + typical ms), whether each came from the candidate's figures,
   * and whether a candidate set it (false: the neutral prior of an arm first met through `observe`).
   */
  prior: { quality: number; qualityKnown: boolean; logLatency: number; latencyKnown: boolean; fromCandidate: boolean };
  /** Data: [quality weight, Σ quality, latency weight, Σ x, Σ x², cost weight, Σ cost], x = ln(1 + ms). */
  data: number[];
  /** Outcomes observed through `observe`. */
  observed: number;
  /** Per context key: [quality weight, Σ quality, latency weight, Σ x, Σ x²]. */
  contexts: Record<string, number[]>;
}

/** `Selector.toJSON()`: options, random state and every learned posterior. */
export interface SelectorJson {
  format: 'modelpool-selector';
  version: 1;
  options: Required<Omit<SelectorOptions, 'seed' | 'objective' | 'halfLife'>> & { objective: Required<Objective>; /** null: never forget. */ halfLife: number | null };
  random: number[];
  arms: SelectorArmJson[];
}
