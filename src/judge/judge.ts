/**
 * A model as a judge: each criterion's template is rendered with the item and the model answers
 * under the verdict schema, forced by the engine's JSON-schema grammar at temperature 0 — the verdict
 * is never fished out of free text. What comes back is validated again (a token limit can cut the
 * JSON short). Pairwise comparisons ask in both orders to cancel the model's position bias.
 */
import { invalidArgument } from '../errors.js';
import type { ModelHandle } from '../model/handle.js';
import type { GenerateRequest, GenerationResult } from '../model/types.js';
import { integer, optionalSignal, plainObject } from '../validate.js';
import { Limiter, allSettledOrThrow } from '../core/concurrency.js';
import { checkCriteria, checkItem, checkPairItem, judgeAllWith, judgeManyWith } from './items.js';
import { PAIRWISE_SCHEMA, VERDICT_SCHEMA, readPairwiseVerdict, readVerdict } from './schemas.js';
import { BUILTIN_CRITERIA, DEFAULT_TEMPLATES, GENERIC_PAIRWISE_TEMPLATE, checkTemplate, renderTemplate } from './templates.js';
import type {
  Criterion,
  CriterionTemplates,
  JudgeItem,
  JudgeManyOptions,
  JudgeOptions,
  JudgeRunner,
  Judging,
  PairItem,
  PairwiseOrderVerdict,
  PairwiseVerdict,
  Verdict,
  Winner,
} from './types.js';

const DEFAULT_MAX_TOKENS = 256;
const DEFAULT_CONCURRENCY = 4;

/** A runner over one bare model: calls `fn` with it (the model's own queue orders the requests). */
export function modelRunner(model: ModelHandle): JudgeRunner {
  if (typeof model !== 'object' || model === null || typeof (model as ModelHandle).complete !== 'function') {
    throw invalidArgument('model', 'a ModelHandle', model);
  }
  return <T>(fn: (model: ModelHandle) => Promise<T>) => fn(model);
}

/** A verdict's figures from a raw 1..5 score. */
export function verdictFromScore(criterion: Criterion, score: number, rationale: string): Verdict {
  const normalized = (score - 1) / 4;
  return { criterion, score, normalized, pass: normalized >= 0.5, rationale };
}

function checkTemplates(value: unknown): Map<string, Required<CriterionTemplates>> {
  const templates = new Map<string, Required<CriterionTemplates>>(Object.entries(DEFAULT_TEMPLATES));
  if (value === undefined) return templates;
  for (const [name, given] of Object.entries(plainObject('options.templates', value))) {
    const field = `options.templates.${name}`;
    const spec = typeof given === 'string' ? { verdict: given } : plainObject(field, given);
    const builtin = templates.get(name);
    const verdict = spec.verdict === undefined && builtin !== undefined ? builtin.verdict : checkTemplate(`${field}.verdict`, spec.verdict, 'verdict');
    const pairwise = spec.pairwise === undefined ? (builtin?.pairwise ?? GENERIC_PAIRWISE_TEMPLATE) : checkTemplate(`${field}.pairwise`, spec.pairwise, 'pairwise');
    templates.set(name, { verdict, pairwise });
  }
  return templates;
}

function callOptions(options: unknown): { signal?: AbortSignal } {
  if (options === undefined) return {};
  const signal = optionalSignal('options.signal', plainObject('options', options).signal);
  return signal === undefined ? {} : { signal };
}

/** Swaps the labels of a verdict given on (B, A) back to the caller's. */
function swapped(winner: Winner): Winner {
  return winner === 'A' ? 'B' : winner === 'B' ? 'A' : 'tie';
}

/**
 * A judge over one model, reached through `options.run`. Every runner call of a judge goes through
 * one limiter: never more than `concurrency` in flight, whichever methods are called.
 */
export class Judge implements Judging {
  /** What judgeAll() judges by default. */
  readonly criteria: readonly Criterion[];
  /** Runner calls in flight at most. */
  readonly concurrency: number;
  /** Tokens a verdict may take. */
  readonly maxTokens: number;
  readonly #run: JudgeRunner;
  readonly #templates: Map<string, Required<CriterionTemplates>>;
  readonly #limiter: Limiter;
  readonly #format: 'auto' | 'prompt' | 'chat';

  constructor(options: JudgeOptions) {
    const o = plainObject('options', options);
    if (typeof o.run !== 'function') throw invalidArgument('options.run', 'a runner function', o.run);
    this.#run = o.run as JudgeRunner;
    this.#templates = checkTemplates(o.templates);
    this.maxTokens = o.maxTokens === undefined ? DEFAULT_MAX_TOKENS : integer('options.maxTokens', o.maxTokens, 1, 1 << 20);
    this.concurrency = o.concurrency === undefined ? DEFAULT_CONCURRENCY : integer('options.concurrency', o.concurrency, 1, 1024);
    this.#limiter = new Limiter(this.concurrency);
    if (o.format !== undefined && o.format !== 'auto' && o.format !== 'prompt' && o.format !== 'chat') {
      throw invalidArgument('options.format', "'auto', 'prompt' or 'chat'", o.format);
    }
    this.#format = (o.format ?? 'auto') as 'auto' | 'prompt' | 'chat';
    const custom = [...this.#templates.keys()].filter((name) => !(BUILTIN_CRITERIA as readonly string[]).includes(name));
    this.criteria = Object.freeze(o.criteria === undefined ? [...BUILTIN_CRITERIA, ...custom] : checkCriteria('options.criteria', o.criteria));
    for (const [i, criterion] of this.criteria.entries()) this.templatesOf(criterion, `options.criteria[${i}]`);
  }

  /** The templates a criterion is judged with; INVALID_ARGUMENT for a criterion without any. */
  templatesOf(criterion: Criterion, field = 'criterion'): Required<CriterionTemplates> {
    const found = typeof criterion === 'string' ? this.#templates.get(criterion) : undefined;
    if (found === undefined) throw invalidArgument(field, `a criterion with templates (${[...this.#templates.keys()].join(', ')})`, criterion);
    return found;
  }

  /** Judges one item on one criterion: `{ score 1..5, normalized, pass, rationale }`. */
  async judge(item: JudgeItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<Verdict> {
    const { signal } = callOptions(options);
    const checked = checkItem(item);
    const prompt = renderTemplate(this.templatesOf(criterion).verdict, { ...checked, criterion }, criterion);
    const raw = readVerdict(await this.#complete(prompt, VERDICT_SCHEMA, signal));
    return verdictFromScore(criterion, raw.score, raw.rationale);
  }

  /** Judges one item on several criteria (default: the judge's criteria), verdicts in that order. */
  async judgeAll(item: JudgeItem, criteria?: Criterion[], options?: { signal?: AbortSignal }): Promise<Verdict[]> {
    const { signal } = callOptions(options);
    const list = criteria === undefined ? [...this.criteria] : checkCriteria('criteria', criteria);
    return judgeAllWith((i, c, opts) => this.judge(i, c, opts), item, list, signal);
  }

  /**
   * Judges many items on one criterion with at most `options.concurrency` in flight (default: the
   * judge's), verdicts in input order; the first failure aborts the rest and is thrown.
   */
  async judgeMany(items: JudgeItem[], criterion: Criterion, options?: JudgeManyOptions): Promise<Verdict[]> {
    this.templatesOf(criterion);
    return judgeManyWith((i, c, opts) => this.judge(i, c, opts), items, criterion, options, this.concurrency);
  }

  /**
   * Compares two answers, asked in both orders (A first, then B first). The winner both name wins;
   * when they disagree the result is a tie with `consistent: false`.
   */
  async compare(item: PairItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<PairwiseVerdict> {
    const { signal } = callOptions(options);
    const pair = checkPairItem(item);
    const template = this.templatesOf(criterion).pairwise;
    const base = { question: pair.question, context: pair.context, criterion };
    const ask = async (order: 'AB' | 'BA'): Promise<PairwiseOrderVerdict> => {
      const [first, second] = order === 'AB' ? [pair.answerA, pair.answerB] : [pair.answerB, pair.answerA];
      const prompt = renderTemplate(template, { ...base, answerA: first, answerB: second }, criterion);
      const raw = readPairwiseVerdict(await this.#complete(prompt, PAIRWISE_SCHEMA, signal));
      return { order, shown: raw.winner, winner: order === 'AB' ? raw.winner : swapped(raw.winner), rationale: raw.rationale };
    };
    const [ab, ba] = (await allSettledOrThrow([ask('AB'), ask('BA')])) as [PairwiseOrderVerdict, PairwiseOrderVerdict];
    const consistent = ab.winner === ba.winner;
    return { criterion, winner: consistent ? ab.winner : 'tie', consistent, verdicts: [ab, ba] };
  }

  /** One forced-JSON generation through the runner, within the judge's concurrency. */
  #complete(prompt: string, schema: Readonly<Record<string, unknown>>, signal: AbortSignal | undefined): Promise<GenerationResult> {
    return this.#limiter.run(
      () =>
        this.#run((model) => {
          const chat = this.#format === 'chat' || (this.#format === 'auto' && model.capabilities.chat);
          const request: GenerateRequest = {
            ...(chat ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
            jsonSchema: schema as Record<string, unknown>,
            temperature: 0,
            maxTokens: this.maxTokens,
          };
          if (signal !== undefined) request.signal = signal;
          return model.complete(request);
        }, signal),
      signal,
    );
  }
}
