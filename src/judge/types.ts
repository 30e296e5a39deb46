/**
 * Public types of the judge room (src/judge): a model grading answers on criteria with a verdict
 * forced by a JSON-schema grammar, pairwise comparisons with position-bias control, ensembles of
 * judges and calibration against human labels.
 */
import type { ModelpoolError } from '../errors.js';
import type { ModelHandle } from '../model/handle.js';

/** The criteria with built-in templates. Any other name needs a template of its own. */
export type BuiltinCriterion = 'faithfulness' | 'relevance' | 'minimality' | 'safety';

/** A criterion's name: a built-in one or one the caller gave templates for. */
export type Criterion = BuiltinCriterion | (string & {});

/**
 * How the judge gets a model: runs `fn` with one and returns its result. The front door routes it
 * through the pool (`(fn, signal) => pool.use(id, (lease) => fn(lease.model), { signal })`);
 * {@link modelRunner} wraps a bare model.
 */
export type JudgeRunner = <T>(fn: (model: ModelHandle) => Promise<T>, signal?: AbortSignal) => Promise<T>;

/** What is judged. Which fields a criterion needs is what its template uses outside a section. */
export interface JudgeItem {
  question?: string;
  answer: string;
  /** The source the answer should be supported by (faithfulness needs it). */
  context?: string;
}

/** Two answers to one question, for {@link Judge.compare}. */
export interface PairItem {
  question: string;
  answerA: string;
  answerB: string;
  context?: string;
}

/**
 * A criterion's prompt templates. Placeholders: `{{question}}`, `{{answer}}`, `{{context}}`,
 * `{{criterion}}`; pairwise ones `{{answerA}}` and `{{answerB}}` instead of `{{answer}}`. A section
 * `{{#field}}…{{/field}}` is rendered only when the item has that field; a placeholder outside its
 * section makes the field required (INVALID_ARGUMENT naming `item.<field>` when it is missing).
 */
export interface CriterionTemplates {
  /** Asks for `{ score: 1..5, rationale }`. */
  verdict: string;
  /** Asks for `{ winner: 'A' | 'B' | 'tie', rationale }`. Default: a generic one naming `{{criterion}}`. */
  pairwise?: string;
}

/** Options of a {@link Judge}. */
export interface JudgeOptions {
  run: JudgeRunner;
  /** What judgeAll() judges by default. Default: the built-in four (plus the criteria given templates). */
  criteria?: Criterion[];
  /**
   * Templates by criterion: a string is the verdict template. A built-in keeps the templates not
   * given; a new criterion needs `verdict` (its pairwise one defaults to a generic template).
   */
  templates?: Record<string, string | Partial<CriterionTemplates>>;
  /** Tokens a verdict may take. Default 256 (a 200-character rationale fits). */
  maxTokens?: number;
  /** Runner calls of this judge in flight at once, every method together. Default 4. */
  concurrency?: number;
  /**
   * 'prompt': the rendered template is a raw prompt; 'chat': one user message formatted with the
   * model's chat template; 'auto' (default): chat when the model says it can.
   */
  format?: 'auto' | 'prompt' | 'chat';
}

/** One criterion's verdict on one item. */
export interface Verdict {
  criterion: Criterion;
  /** 1..5 as the model gave it (an ensemble's weighted score may lie between). */
  score: number;
  /** (score - 1) / 4, in [0, 1]. */
  normalized: number;
  /** normalized >= 0.5 (raw score 3 or more). */
  pass: boolean;
  rationale: string;
}

/** Which answer won a comparison, in the caller's labels. */
export type Winner = 'A' | 'B' | 'tie';

/** One order of a pairwise comparison. */
export interface PairwiseOrderVerdict {
  /** 'AB': answerA shown first; 'BA': answerB shown first. */
  order: 'AB' | 'BA';
  /** The winner as the model named it, by position shown. */
  shown: Winner;
  /** The winner in the caller's labels. */
  winner: Winner;
  rationale: string;
}

/** What every comparison result says: a {@link PairwiseVerdict} or an ensemble's. */
export interface PairwiseResult {
  criterion: Criterion;
  winner: Winner;
  consistent: boolean;
}

/** A comparison asked in both orders. */
export interface PairwiseVerdict extends PairwiseResult {
  /** The winner both orders agree on; 'tie' when they disagree. */
  winner: Winner;
  /** Whether both orders named the same winner. */
  consistent: boolean;
  verdicts: [PairwiseOrderVerdict, PairwiseOrderVerdict];
}

/** Options of judgeMany(). */
export interface JudgeManyOptions<V extends Verdict = Verdict> {
  /** Items in flight at once. Default: the judge's concurrency. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called with each verdict as it arrives (index: the item's position). */
  onVerdict?: (verdict: V, index: number) => void;
}

/** What judges, compares and can be calibrated: a {@link Judge} or an ensemble of them. */
export interface Judging<V extends Verdict = Verdict, P extends PairwiseResult = PairwiseVerdict> {
  judge(item: JudgeItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<V>;
  judgeAll(item: JudgeItem, criteria?: Criterion[], options?: { signal?: AbortSignal }): Promise<V[]>;
  judgeMany(items: JudgeItem[], criterion: Criterion, options?: JudgeManyOptions<V>): Promise<V[]>;
  compare(item: PairItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<P>;
}

/** A member of an ensemble. */
export interface EnsembleMember {
  /** A Judge, or another ensemble. */
  judge: Judging<Verdict, PairwiseResult>;
  /** Default 1; used by 'weighted'. */
  weight?: number;
  /** Default 'judge<index>'. */
  name?: string;
}

/** How an ensemble combines its members. */
export interface EnsembleOptions {
  /**
   * 'majority': pass/fail vote; score = the lower median of the members' scores (so it passes exactly
   * when more than half of the members pass). 'weighted': weighted mean of normalised scores.
   */
  method: 'majority' | 'weighted';
  /** What judgeAll() judges by default. Default: the built-in four. */
  criteria?: Criterion[];
  /** Items judgeMany() has in flight by default. Default 4. */
  concurrency?: number;
}

/** One member's part in an ensemble result: its verdict, or the error that excluded it. */
export interface MemberResult<V> {
  name: string;
  weight: number;
  verdict?: V;
  error?: ModelpoolError;
}

/** An ensemble's verdict: the combined figures and every member's verdict or failure. */
export interface EnsembleVerdict extends Verdict {
  method: 'majority' | 'weighted';
  /** Members that passed and failed (those that answered). */
  votes: { pass: number; fail: number };
  members: Array<MemberResult<Verdict>>;
}

/** An ensemble's comparison: votes (weights for 'weighted') for each winner. */
export interface EnsemblePairwiseVerdict extends PairwiseResult {
  method: 'majority' | 'weighted';
  /** The winner with the most votes; 'tie' when the top two are level. */
  winner: Winner;
  /** Every member that answered was consistent across both orders. */
  consistent: boolean;
  votes: { A: number; B: number; tie: number };
  members: Array<MemberResult<PairwiseResult>>;
}

/** One line of a labelled set: an item, the criterion and a human label. */
export interface LabelledItem extends JudgeItem {
  id?: string;
  criterion: Criterion;
  /** A 1..5 score, or pass (true) / fail (false). One kind per set. */
  label: number | boolean;
}

/** Agreement figures of a judge against labels. */
export interface CalibrationStats {
  /** Items judged (failures excluded). */
  n: number;
  /** '1-5' for score labels, 'pass-fail' for boolean ones. */
  scale: '1-5' | 'pass-fail';
  /** Share of exact agreement (rounded score = label, or pass = label); null when n = 0. */
  agreement: number | null;
  /** Share with |rounded score - label| <= 1; only on the 1-5 scale (null when n = 0). */
  withinOne?: number | null;
  /** Rows: labels (`classes`), columns: predictions (rounded score, or pass/fail). */
  confusion: number[][];
  /** [1, 2, 3, 4, 5] or ['fail', 'pass']. */
  classes: Array<number | string>;
  /** Spearman's rho of labels and scores, with average ranks for ties; null when undefined (constant values, n < 2). */
  spearman: number | null;
  /** Kendall's tau-b of labels and scores; null when undefined. */
  kendallTau: number | null;
  /** Mean |score - label| on 1..5, or mean |normalized - label (0/1)| on pass-fail; null when n = 0. */
  meanAbsoluteError: number | null;
}

/** An item the judge could not score. */
export interface CalibrationFailure {
  index: number;
  id?: string;
  code: string;
  message: string;
}

/** What calibrate() returns. */
export interface CalibrationReport extends CalibrationStats {
  /** Items given. */
  total: number;
  failures: CalibrationFailure[];
  /** The same figures per criterion. */
  byCriterion: Record<string, CalibrationStats>;
  /** Each item's prediction (undefined for failures), in input order. */
  predictions: Array<Verdict | undefined>;
}

/** Options of calibrate(). */
export interface CalibrateOptions {
  /** Items in flight at once. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called as each item is judged. */
  onProgress?: (done: number, total: number) => void;
}
