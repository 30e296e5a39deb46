/**
 * Checks of what callers hand a judge (items, criteria lists, batch options) and the batch methods
 * every {@link Judging} shares: judgeAll() and judgeMany() are written once over a judge() function.
 */
import { invalidArgument } from '../errors.js';
import { integer, nonEmptyString, optionalSignal, optionalString, plainObject } from '../validate.js';
import { allSettledOrThrow, mapLimited } from '../core/concurrency.js';
import type { Criterion, JudgeItem, JudgeManyOptions, PairItem, Verdict } from './types.js';


/** An item to judge: `answer` a non-empty string; `question` and `context` strings when given. */
export function checkItem(value: unknown, field = 'item'): JudgeItem {
  const o = plainObject(field, value);
  const item: JudgeItem = { answer: nonEmptyString(`${field}.answer`, o.answer) };
  const question = optionalString(`${field}.question`, o.question);
  const context = optionalString(`${field}.context`, o.context);
  if (question !== undefined) item.question = question;
  if (context !== undefined) item.context = context;
  return item;
}

/** A pair to compare: `question`, `answerA`, `answerB` non-empty strings; `context` a string when given. */
export function checkPairItem(value: unknown, field = 'item'): PairItem {
  const o = plainObject(field, value);
  const item: PairItem = {
    question: nonEmptyString(`${field}.question`, o.question),
    answerA: nonEmptyString(`${field}.answerA`, o.answerA),
    answerB: nonEmptyString(`${field}.answerB`, o.answerB),
  };
  const context = optionalString(`${field}.context`, o.context);
  if (context !== undefined) item.context = context;
  return item;
}

/** A non-empty list of criterion names. */
export function checkCriteria(field: string, value: unknown): Criterion[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string' && c !== '')) {
    throw invalidArgument(field, 'a non-empty array of criterion names', value);
  }
  return [...(value as Criterion[])];
}

type JudgeOne<V> = (item: JudgeItem, criterion: Criterion, options: { signal?: AbortSignal }) => Promise<V>;

/** Judges one item on several criteria; waits for all of them, then throws the first failure if any. */
export async function judgeAllWith<V>(judgeOne: JudgeOne<V>, item: JudgeItem, criteria: Criterion[], signal?: AbortSignal): Promise<V[]> {
  return allSettledOrThrow(criteria.map((criterion) => judgeOne(item, criterion, { signal })));
}

/**
 * Judges many items on one criterion, at most `concurrency` in flight, verdicts in input order. The
 * first failure aborts the items in flight and is thrown.
 */
export async function judgeManyWith<V extends Verdict>(
  judgeOne: JudgeOne<V>,
  items: unknown,
  criterion: Criterion,
  options: JudgeManyOptions<V> | undefined,
  defaultConcurrency: number,
): Promise<V[]> {
  if (!Array.isArray(items)) throw invalidArgument('items', 'an array of items', items);
  const o = options === undefined ? {} : plainObject('options', options);
  const concurrency = o.concurrency === undefined ? defaultConcurrency : integer('options.concurrency', o.concurrency, 1, 1024);
  const signal = optionalSignal('options.signal', o.signal);
  if (o.onVerdict !== undefined && typeof o.onVerdict !== 'function') throw invalidArgument('options.onVerdict', 'a function', o.onVerdict);
  const onVerdict = o.onVerdict as JudgeManyOptions<V>['onVerdict'];
  const checked = items.map((item, index) => checkItem(item, `items[${index}]`));
  const settled = await mapLimited(
    checked,
    concurrency,
    async (item, index, inner) => {
      const verdict = await judgeOne(item, criterion, { signal: inner });
      onVerdict?.(verdict, index);
      return verdict;
    },
    signal === undefined ? {} : { signal },
  );
  return settled.map((s) => (s as { value: V }).value);
}
