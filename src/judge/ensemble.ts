/**
 * Ensembles of judges: every member judges the same item (in parallel, each within its own
 * concurrency) and the verdicts are combined by a pass/fail majority or a weighted mean of normalised
 * scores. A member that fails is reported with its error and left out; only when all fail does the
 * ensemble throw.
 */
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import { finiteNumber, integer, plainObject } from '../validate.js';
import { abortedError } from '../core/concurrency.js';
import { checkCriteria, judgeAllWith, judgeManyWith } from './items.js';
import { BUILTIN_CRITERIA } from './templates.js';
import type {
  Criterion,
  EnsembleMember,
  EnsembleOptions,
  EnsemblePairwiseVerdict,
  EnsembleVerdict,
  JudgeItem,
  JudgeManyOptions,
  Judging,
  MemberResult,
  PairItem,
  PairwiseResult,
  Verdict,
  Winner,
} from './types.js';

interface Member {
  judge: Judging<Verdict, PairwiseResult>;
  weight: number;
  name: string;
}

function asModelpoolError(error: unknown): ModelpoolError {
  if (isModelpoolError(error)) return error;
  return new ModelpoolError('GENERATION_FAILED', `An ensemble member failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Runs every member; throws when all failed (the first member's code) or the signal fired. */
async function askAll<V>(members: readonly Member[], ask: (judge: Judging<Verdict, PairwiseResult>) => Promise<V>, signal: AbortSignal | undefined): Promise<Array<MemberResult<V>>> {
  const settled = await Promise.allSettled(members.map((m) => ask(m.judge)));
  if (signal?.aborted === true) throw abortedError(signal, 'while the ensemble judged');
  const results = settled.map((s, i): MemberResult<V> => {
    const { name, weight } = members[i]!;
    return s.status === 'fulfilled' ? { name, weight, verdict: s.value } : { name, weight, error: asModelpoolError(s.reason) };
  });
  if (results.every((r) => r.error !== undefined)) {
    const first = results[0]!.error!;
    // Bad input fails every member alike: the caller gets the member's own error, naming the field.
    if (results.every((r) => r.error!.code === 'INVALID_ARGUMENT')) throw first;
    throw new ModelpoolError(first.code, `Every member of the ensemble failed: ${results.map((r) => `${r.name}: ${r.error!.message}`).join('; ')}`, {
      cause: first,
      details: { members: results.map((r) => ({ name: r.name, code: r.error!.code, message: r.error!.message })) },
    });
  }
  return results;
}

/** The lower median: with ties in the vote (even count, half pass) it falls on the failing side. */
function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Combines member verdicts: see {@link EnsembleOptions.method}. */
export function combineVerdicts(criterion: Criterion, method: 'majority' | 'weighted', members: Array<MemberResult<Verdict>>): EnsembleVerdict {
  const answered = members.filter((m): m is MemberResult<Verdict> & { verdict: Verdict } => m.verdict !== undefined);
  const votes = { pass: answered.filter((m) => m.verdict.pass).length, fail: answered.filter((m) => !m.verdict.pass).length };
  let score: number;
  if (method === 'majority') {
    score = lowerMedian(answered.map((m) => m.verdict.score));
  } else {
    const total = answered.reduce((sum, m) => sum + m.weight, 0);
    score = 1 + 4 * (answered.reduce((sum, m) => sum + m.weight * m.verdict.normalized, 0) / total);
  }
  const normalized = (score - 1) / 4;
  const failed = members.length - answered.length;
  const rationale =
    `${method} of ${answered.length} member${answered.length === 1 ? '' : 's'}: ${votes.pass} pass, ${votes.fail} fail` +
    (failed > 0 ? `; ${failed} failed` : '');
  return { criterion, score, normalized, pass: normalized >= 0.5, rationale, method, votes, members };
}

/** Combines member comparisons: one vote each ('majority') or their weights ('weighted'). */
export function combinePairwise(criterion: Criterion, method: 'majority' | 'weighted', members: Array<MemberResult<PairwiseResult>>): EnsemblePairwiseVerdict {
  const votes = { A: 0, B: 0, tie: 0 };
  let consistent = true;
  for (const m of members) {
    if (m.verdict === undefined) continue;
    votes[m.verdict.winner] += method === 'majority' ? 1 : m.weight;
    consistent &&= m.verdict.consistent;
  }
  const top = Math.max(votes.A, votes.B, votes.tie);
  const leaders = (['A', 'B', 'tie'] as Winner[]).filter((w) => votes[w] === top);
  return { criterion, method, winner: leaders.length === 1 ? leaders[0]! : 'tie', consistent, votes, members };
}

/** Several judges as one, with the same interface as a {@link Judge}. */
export class EnsembleJudge implements Judging<EnsembleVerdict, EnsemblePairwiseVerdict> {
  readonly method: 'majority' | 'weighted';
  /** The members with their weights and names. */
  readonly members: ReadonlyArray<Readonly<Member>>;
  /** What judgeAll() judges by default. */
  readonly criteria: readonly Criterion[];
  /** Items judgeMany() has in flight by default. */
  readonly concurrency: number;

  constructor(judges: EnsembleMember[], options: EnsembleOptions) {
    if (!Array.isArray(judges) || judges.length === 0) throw invalidArgument('judges', 'a non-empty array of { judge, weight?, name? }', judges);
    const o = plainObject('options', options);
    if (o.method !== 'majority' && o.method !== 'weighted') throw invalidArgument('options.method', "'majority' or 'weighted'", o.method);
    this.method = o.method;
    this.criteria = Object.freeze(o.criteria === undefined ? [...BUILTIN_CRITERIA] : checkCriteria('options.criteria', o.criteria));
    this.concurrency = o.concurrency === undefined ? 4 : integer('options.concurrency', o.concurrency, 1, 1024);
    const names = new Set<string>();
    this.members = Object.freeze(
      judges.map((given, i) => {
        const m = plainObject(`judges[${i}]`, given);
        const judge = m.judge as Judging<Verdict, PairwiseResult> | undefined;
        if (typeof judge?.judge !== 'function' || typeof judge.compare !== 'function') throw invalidArgument(`judges[${i}].judge`, 'a Judge', m.judge);
        const weight = m.weight === undefined ? 1 : finiteNumber(`judges[${i}].weight`, m.weight, Number.MIN_VALUE, Number.MAX_VALUE);
        const name = m.name === undefined ? `judge${i}` : m.name;
        if (typeof name !== 'string' || name === '' || names.has(name)) throw invalidArgument(`judges[${i}].name`, 'a non-empty name not used by another member', m.name);
        names.add(name);
        return Object.freeze({ judge, weight, name });
      }),
    );
  }

  /** Every member judges the item; the verdicts are combined and listed. */
  async judge(item: JudgeItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<EnsembleVerdict> {
    const signal = options?.signal;
    const members = await askAll(this.members, (judge) => judge.judge(item, criterion, options), signal);
    return combineVerdicts(criterion, this.method, members);
  }

  /** judge() on several criteria (default: the ensemble's), in that order. */
  async judgeAll(item: JudgeItem, criteria?: Criterion[], options?: { signal?: AbortSignal }): Promise<EnsembleVerdict[]> {
    const list = criteria === undefined ? [...this.criteria] : checkCriteria('criteria', criteria);
    return judgeAllWith((i, c, opts) => this.judge(i, c, opts), item, list, options?.signal);
  }

  /** judge() on many items, at most `options.concurrency` in flight; the first failure is thrown. */
  async judgeMany(items: JudgeItem[], criterion: Criterion, options?: JudgeManyOptions<EnsembleVerdict>): Promise<EnsembleVerdict[]> {
    return judgeManyWith((i, c, opts) => this.judge(i, c, opts), items, criterion, options, this.concurrency);
  }

  /** Every member compares the pair (each in both orders); the winners are voted on. */
  async compare(item: PairItem, criterion: Criterion, options?: { signal?: AbortSignal }): Promise<EnsemblePairwiseVerdict> {
    const members = await askAll(this.members, (judge) => judge.compare(item, criterion, options), options?.signal);
    return combinePairwise(criterion, this.method, members);
  }
}

/**
 * An ensemble of judges. `method`: 'majority' (pass/fail vote; score the lower median of member
 * scores) or 'weighted' (weighted mean of normalised scores; `weight` default 1).
 */
export function ensemble(judges: EnsembleMember[], options: EnsembleOptions): EnsembleJudge {
  return new EnsembleJudge(judges, options);
}
