/**
 * Public types of the evaluation room (src/eval): task suites, graders, suite reports and quantisation
 * fidelity.
 */
import type { ChatMessage } from '../model/types.js';
import type { PerformanceSample, Task } from '../telemetry/types.js';

/** Exact match of the whole output. */
export interface ExactGraderSpec {
  type: 'exact';
  expected: string;
  /** Default true. */
  caseSensitive?: boolean;
  /** Trim whitespace off both ends of the output and of `expected` first. Default true. */
  trim?: boolean;
}

/** The output contains a match of the regular expression. */
export interface RegexGraderSpec {
  type: 'regex';
  /** JavaScript RegExp source. */
  pattern: string;
  /** RegExp flags ('i', 'm', 's', 'u', ...). */
  flags?: string;
}

/** The output is JSON and valid against the schema (JSON Schema draft-07 / 2019 keywords, checked by ajv). */
export interface JsonSchemaGraderSpec {
  type: 'json-schema';
  schema: Record<string, unknown>;
}

/** The first number in the output equals `expected` within a tolerance. */
export interface NumericGraderSpec {
  type: 'numeric';
  expected: number;
  /** Absolute tolerance. Default 0 (exact, unless relativeTolerance allows more). */
  tolerance?: number;
  /** Tolerance as a fraction of |expected|. Default 0. */
  relativeTolerance?: number;
}

/** Word overlap with a reference text: token F1 or ROUGE-L F1, in [0, 1]. */
export interface OverlapGraderSpec {
  type: 'overlap';
  reference: string;
  /** Default 'f1'. */
  metric?: 'f1' | 'rouge-l';
  /** pass = score >= threshold. Default 0.5. */
  threshold?: number;
}

/** How one item's output is graded. */
export type GraderSpec = ExactGraderSpec | RegexGraderSpec | JsonSchemaGraderSpec | NumericGraderSpec | OverlapGraderSpec;

/** The verdict on one output. */
export interface GradeResult {
  /** In [0, 1]: 0 or 1 for every grader but overlap, whose score is the metric. */
  score: number;
  pass: boolean;
  /** Why it failed (or the metric's parts), for people. */
  detail?: string;
}

/** A grader with its pattern or schema compiled once. */
export interface Grader {
  readonly spec: GraderSpec;
  grade(output: string): GradeResult;
}

/** One line of a task suite. Exactly one of `prompt` and `messages`. */
export interface SuiteItem {
  id: string;
  /** Default 'completion'. */
  task: Task;
  prompt?: string;
  messages?: ChatMessage[];
  maxTokens?: number;
  grader: GraderSpec;
  /** Default []. */
  tags: string[];
}

/** A parsed task suite: its items in file order, each with its grader compiled. */
export interface Suite {
  /** Where the suite came from (a path, or the name given to parseSuite). */
  source: string;
  items: readonly SuiteItem[];
  /** The compiled grader of each item, by item id. */
  graders: ReadonlyMap<string, Grader>;
}

/** What a target answers for one item. */
export interface TargetOutput {
  text: string;
  /** The model that answered (recordQuality uses it when no model is given). */
  model?: string;
  version?: string;
  /** The call's latency as the target measured it; default: the runner's wall time of the call. */
  latencyMs?: number;
}

/** The system under evaluation: one call per item (the front door, a model, a fake). */
export type SuiteTarget = (item: SuiteItem, signal: AbortSignal) => Promise<TargetOutput>;

/** The result of one item. */
export interface ItemResult {
  id: string;
  task: Task;
  tags: string[];
  /** 0 when the target failed. */
  score: number;
  pass: boolean;
  latencyMs: number;
  detail?: string;
  /** The target's output text (absent when it failed). */
  output?: string;
  model?: string;
  version?: string;
  /** The target's failure: its message and, for a ModelpoolError, its code. */
  error?: { message: string; code?: string };
}

export interface RunSuiteOptions {
  /** Items in flight at once. Default 1. */
  concurrency?: number;
  /** Aborts the run: no new item starts, in-flight calls see their signal aborted, runSuite rejects with ABORTED. */
  signal?: AbortSignal;
  /** Per-item time limit: the item's signal aborts and the item is recorded as a TIMEOUT error. */
  timeoutMs?: number;
  /** Called as each item completes (in completion order). */
  onResult?: (result: ItemResult) => void;
}

/** Mean score and pass rate of a group of items. */
export interface ScoreSummary {
  items: number;
  meanScore: number;
  passRate: number;
  errors: number;
}

export interface SuiteReport {
  source: string;
  /** In suite order. */
  items: ItemResult[];
  /** Mean over all items, failed ones counting 0. */
  meanScore: number;
  passRate: number;
  /** Per tag, over the items that carry it. */
  byTag: Record<string, ScoreSummary>;
  /** Items whose target call failed. */
  errors: number;
  /** Wall time of the whole run. */
  totalMs: number;
}

/** Where recordQuality writes: ModelRegistry has this method. */
export interface QualityRecorder {
  recordSample(sample: PerformanceSample): void;
}

export interface RecordQualityOptions {
  /** Default: each item's `model` from the target; one of the two is required. */
  model?: string;
  /** Default: each item's `version`, else the registry's default version. */
  version?: string;
  /** Default: each item's task. */
  task?: Task;
}

// ---------------------------------------------------------------------------------------------
// Quantisation fidelity

export interface FidelityVariant {
  name: string;
  path: string;
}

export interface MeasureFidelityOptions {
  /** The reference model (an F32 or F16 GGUF). */
  reference: string;
  variants: FidelityVariant[];
  /** Prompts whose greedy continuations by the reference are scored. */
  prompts: string[];
  /** Tokens the reference generates per prompt (fewer when it ends). Default 32. */
  continuationTokens?: number;
  /**
   * Alternatives per position compared. Default: the whole vocabulary when it has at most 4096 tokens
   * (the divergence is then exact), else 64 (a lower bound).
   */
  topK?: number;
  /** Threads of each model. Default: the engine's default. */
  threads?: number;
  signal?: AbortSignal;
}

/** Fidelity of one variant to the reference, over every scored position of every prompt. */
export interface VariantFidelity {
  name: string;
  path: string;
  /** File size. */
  sizeBytes: number;
  /** Resident bytes of the loaded model (model.memory.total). */
  memoryBytes: number;
  /** Positions compared. */
  positions: number;
  /** Share of positions where the variant's most likely token is the reference's. */
  top1Agreement: number;
  /** Mean of KL(P_ref || P_variant) per position, in nats. */
  meanKl: number;
  /** 95th percentile (linear interpolation) of the per-position KL. */
  p95Kl: number;
  maxKl: number;
  /** Perplexity of the reference's continuations under the variant. */
  perplexity: number;
}

export interface FidelityReport {
  reference: { path: string; sizeBytes: number; memoryBytes: number; perplexity: number };
  /** Alternatives compared per position. */
  topK: number;
  vocabularySize: number;
  /** true when topK is the whole vocabulary: the KL figures are exact; otherwise they are lower bounds. */
  exact: boolean;
  continuationTokens: number;
  /** Prompts scored (a prompt whose continuation is empty — the reference ended at once — is skipped). */
  prompts: number;
  skippedPrompts: number;
  variants: VariantFidelity[];
}
