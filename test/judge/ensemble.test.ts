// Ensembles: the arithmetic of majority and weighted combination on members whose model answers
// fixed JSON (a stand-in for arithmetic only), failing members reported and excluded, pairwise votes;
// and one ensemble of judges on the real stories260K model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { ModelpoolError } from '../../src/errors.js';
import { EnsembleJudge, Judge, combinePairwise, ensemble, modelRunner, type Winner } from '../../src/judge/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';
import { fixedModel, promptOf, verdictText } from './helpers.js';

const ITEM = { question: 'Is the sun a star?', answer: 'Yes.' };
const PAIR = { question: 'Is the sun a star?', answerA: 'Yes, it is.', answerB: 'No.' };

/** A judge whose model always gives `score`. */
function scoring(score: number): Judge {
  return new Judge({ run: modelRunner(fixedModel(() => verdictText(score))) });
}

/** A judge whose model always names the answer in `position` (a judge with pure position bias). */
function positional(position: Winner): Judge {
  return new Judge({ run: modelRunner(fixedModel(() => JSON.stringify({ winner: position, rationale: 'first' }))) });
}

/** A judge whose model picks the answer containing "Yes" wherever it is shown (no position bias). */
function picksYes(): Judge {
  return new Judge({
    run: modelRunner(fixedModel((r) => JSON.stringify({ winner: /Answer A: Yes/.test(promptOf(r)) ? 'A' : 'B', rationale: 'yes' }))),
  });
}

const failing = (): Judge => new Judge({ run: modelRunner(fixedModel(() => '{"score": 4, "rat')) });

describe('ensemble arithmetic', () => {
  it('majority: the lower median of the scores, passing when more than half pass', async () => {
    const v = await ensemble([{ judge: scoring(5) }, { judge: scoring(4) }, { judge: scoring(2) }], { method: 'majority' }).judge(ITEM, 'relevance');
    expect(v).toMatchObject({ method: 'majority', score: 4, normalized: 0.75, pass: true, votes: { pass: 2, fail: 1 } });
    expect(v.members.map((m) => [m.name, m.verdict!.score])).toEqual([
      ['judge0', 5],
      ['judge1', 4],
      ['judge2', 2],
    ]);
    const even = await ensemble([{ judge: scoring(5) }, { judge: scoring(1) }], { method: 'majority' }).judge(ITEM, 'relevance');
    expect(even).toMatchObject({ score: 1, normalized: 0, pass: false, votes: { pass: 1, fail: 1 } });
    const two = await ensemble([{ judge: scoring(3) }, { judge: scoring(5) }, { judge: scoring(4) }, { judge: scoring(1) }], { method: 'majority' }).judge(ITEM, 'relevance');
    expect(two).toMatchObject({ score: 3, pass: true, votes: { pass: 3, fail: 1 } });
  });

  it('weighted: the weighted mean of normalised scores', async () => {
    const members = (heavy: number) => [
      { judge: scoring(5), name: 'a' },
      { judge: scoring(4), name: 'b' },
      { judge: scoring(2), name: 'c', weight: heavy },
    ];
    const v = await ensemble(members(2), { method: 'weighted' }).judge(ITEM, 'relevance');
    // (1 + 0.75 + 2 × 0.25) / 4 = 0.5625
    expect(v.normalized).toBeCloseTo(0.5625, 12);
    expect(v.score).toBeCloseTo(3.25, 12);
    expect(v.pass).toBe(true);
    // (1 + 0.75 + 6 × 0.25) / 8 = 0.40625
    const heavy = await ensemble(members(6), { method: 'weighted' }).judge(ITEM, 'relevance');
    expect(heavy.normalized).toBeCloseTo(0.40625, 12);
    expect(heavy.pass).toBe(false);
    expect(heavy.members.map((m) => [m.name, m.weight])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 6],
    ]);
  });

  it('a failing member is reported and excluded; all failing throws', async () => {
    const v = await ensemble([{ judge: scoring(5), weight: 1 }, { judge: failing(), weight: 100, name: 'broken' }], { method: 'weighted' }).judge(ITEM, 'relevance');
    expect(v.normalized).toBe(1);
    expect(v.members[1]!.name).toBe('broken');
    expect(v.members[1]!.verdict).toBeUndefined();
    expect(v.members[1]!.error).toBeInstanceOf(ModelpoolError);
    expect(v.members[1]!.error!.code).toBe('GENERATION_FAILED');
    expect(v.rationale).toContain('1 failed');
    const error = await expectCode(ensemble([{ judge: failing() }, { judge: failing() }], { method: 'majority' }).judge(ITEM, 'relevance'), 'GENERATION_FAILED');
    expect(error.details!.members).toHaveLength(2);
    // A member that throws something other than a ModelpoolError is wrapped.
    const odd = new Judge({ run: () => Promise.reject(new TypeError('boom')) });
    const mixed = await ensemble([{ judge: odd }, { judge: scoring(2) }], { method: 'majority' }).judge(ITEM, 'relevance');
    expect(mixed.members[0]!.error!.message).toContain('boom');
    expect(mixed).toMatchObject({ score: 2, pass: false });
  });

  it('judgeAll and judgeMany combine per item and criterion', async () => {
    const e = ensemble([{ judge: scoring(5) }, { judge: scoring(1) }, { judge: scoring(4) }], { method: 'majority', criteria: ['relevance', 'safety'] });
    const all = await e.judgeAll(ITEM);
    expect(all.map((v) => [v.criterion, v.score])).toEqual([
      ['relevance', 4],
      ['safety', 4],
    ]);
    const indexes: number[] = [];
    const many = await e.judgeMany([ITEM, ITEM, ITEM], 'safety', { concurrency: 2, onVerdict: (v, i) => {
      expect(v.method).toBe('majority');
      indexes.push(i);
    } });
    expect(many).toHaveLength(3);
    expect(indexes.sort()).toEqual([0, 1, 2]);
  });

  it('pairwise: the pure position bias of a judge becomes an inconsistent tie; votes pick the winner', async () => {
    const biased = await positional('A').compare(PAIR, 'relevance');
    expect(biased.verdicts.map((v) => [v.order, v.shown, v.winner])).toEqual([
      ['AB', 'A', 'A'],
      ['BA', 'A', 'B'],
    ]);
    expect(biased).toMatchObject({ winner: 'tie', consistent: false });
    const fair = await picksYes().compare(PAIR, 'relevance');
    expect(fair).toMatchObject({ winner: 'A', consistent: true });
    const bothTie = await positional('tie').compare(PAIR, 'relevance');
    expect(bothTie).toMatchObject({ winner: 'tie', consistent: true });

    const majority = await ensemble([{ judge: picksYes() }, { judge: picksYes() }, { judge: positional('B') }], { method: 'majority' }).compare(PAIR, 'relevance');
    expect(majority).toMatchObject({ winner: 'A', consistent: false, votes: { A: 2, B: 0, tie: 1 } });
    const weighted = await ensemble([{ judge: picksYes(), weight: 1 }, { judge: positional('B'), weight: 3 }], { method: 'weighted' }).compare(PAIR, 'relevance');
    expect(weighted).toMatchObject({ winner: 'tie', votes: { A: 1, B: 0, tie: 3 } });
    const level = combinePairwise('relevance', 'majority', [
      { name: 'x', weight: 1, verdict: { criterion: 'relevance', winner: 'A', consistent: true } },
      { name: 'y', weight: 1, verdict: { criterion: 'relevance', winner: 'B', consistent: true } },
    ]);
    expect(level).toMatchObject({ winner: 'tie', consistent: true, votes: { A: 1, B: 1, tie: 0 } });
  });

  it('an ensemble can be a member of an ensemble', async () => {
    const inner = ensemble([{ judge: scoring(5) }, { judge: scoring(3) }], { method: 'weighted' });
    const outer = await ensemble([{ judge: inner }, { judge: scoring(1) }], { method: 'weighted' }).judge(ITEM, 'relevance');
    // inner: (1 + 0.5) / 2 = 0.75; outer: (0.75 + 0) / 2
    expect(outer.normalized).toBeCloseTo(0.375, 12);
  });

  it('rejects bad members and options', async () => {
    await expectCode(() => ensemble([], { method: 'majority' }), 'INVALID_ARGUMENT', 'judges');
    await expectCode(() => ensemble([{ judge: scoring(1) }], { method: 'mean' as 'majority' }), 'INVALID_ARGUMENT', 'options.method');
    await expectCode(() => ensemble([{ judge: {} as Judge }], { method: 'majority' }), 'INVALID_ARGUMENT', 'judges[0].judge');
    await expectCode(() => ensemble([{ judge: scoring(1), weight: 0 }], { method: 'weighted' }), 'INVALID_ARGUMENT', 'judges[0].weight');
    await expectCode(() => ensemble([{ judge: scoring(1), name: 'x' }, { judge: scoring(1), name: 'x' }], { method: 'weighted' }), 'INVALID_ARGUMENT', 'judges[1].name');
    await expectCode(() => ensemble([{ judge: scoring(1) }], { method: 'weighted', concurrency: 0 }), 'INVALID_ARGUMENT', 'options.concurrency');
    const e = ensemble([{ judge: scoring(1) }], { method: 'weighted' });
    expect(e).toBeInstanceOf(EnsembleJudge);
    await expectCode(e.judge(ITEM, 'relevance', { signal: AbortSignal.abort() }), 'ABORTED');
    // Bad input fails every member alike: the error names the field, as a single judge's does.
    const two = ensemble([{ judge: scoring(1) }, { judge: scoring(5) }], { method: 'majority' });
    await expectCode(two.judge({ question: 'q', answer: 5 as never }, 'relevance'), 'INVALID_ARGUMENT', 'item.answer');
    await expectCode(two.judge(ITEM, 'kindness' as never), 'INVALID_ARGUMENT', 'criterion');
    await expectCode(two.compare({ question: 'q', answerA: 'a' } as never, 'relevance'), 'INVALID_ARGUMENT', 'item.answerB');
  });
});

describe('ensemble on stories260K', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, parallel: 2, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('combines real verdicts of judges with different formats', async () => {
    const members = [
      { judge: new Judge({ run: modelRunner(model), format: 'prompt' }), name: 'prompt', weight: 1 },
      { judge: new Judge({ run: modelRunner(model), format: 'chat' }), name: 'chat', weight: 3 },
    ];
    const weighted = await ensemble(members, { method: 'weighted' }).judge(ITEM, 'relevance');
    const [p, c] = weighted.members.map((m) => m.verdict!);
    expect(weighted.normalized).toBeCloseTo((p!.normalized + 3 * c!.normalized) / 4, 12);
    const majority = await ensemble(members, { method: 'majority' }).judge(ITEM, 'relevance');
    const scores = majority.members.map((m) => m.verdict!.score);
    expect(majority.score).toBe(Math.min(...scores));
    const compared = await ensemble(members, { method: 'majority' }).compare(PAIR, 'relevance');
    expect(compared.members.every((m) => m.verdict !== undefined && m.verdict.winner !== undefined)).toBe(true);
  });
});
