// Calibration: rank statistics against values computed by hand (and checked with scipy's spearmanr
// and kendalltau), agreement figures, labelled-set parsing with its INVALID_DATA errors, and
// calibrate() over a judge, real and stand-in.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { Judge, agreementStats, averageRanks, calibrate, kendallTau, modelRunner, parseLabels, pearson, spearman, verdictFromScore } from '../../src/judge/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES, repoRoot } from '../helpers/models.js';
import { fixedModel, promptOf, verdictText } from './helpers.js';

const FIXTURE = join(repoRoot, 'test', 'fixtures', 'judge', 'labels.jsonl');
const verdicts = (scores: number[]) => scores.map((s) => verdictFromScore('relevance', s, ''));

describe('rank statistics', () => {
  it('average ranks share the mean of the ranks a tie spans', () => {
    expect(averageRanks([10, 20, 20, 30])).toEqual([1, 2.5, 2.5, 4]);
    expect(averageRanks([3, 1, 3, 3])).toEqual([3, 1, 3, 3]);
    expect(averageRanks([])).toEqual([]);
  });

  it('Spearman and Kendall tau-b with ties, by hand', () => {
    // ranks x [1, 2.5, 2.5, 4], y [1, 4, 2.5, 2.5]: Σdxdy = 2.25, Σdx² = Σdy² = 4.5 → 0.5
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 2])).toBeCloseTo(0.5, 12);
    // C = 3, D = 1, n0 = 6, one pair tied in x, one in y → 2 / √(5 · 5) = 0.4
    expect(kendallTau([1, 2, 2, 3], [1, 3, 2, 2])).toBeCloseTo(0.4, 12);
    // C = 3, D = 1, two pairs tied in x, none in y → 2 / √(4 · 6)
    expect(kendallTau([1, 0, 1, 0], [5, 4, 2, 1])).toBeCloseTo(2 / Math.sqrt(24), 12);
    expect(spearman([1, 0, 1, 0], [5, 4, 2, 1])).toBeCloseTo(2 / Math.sqrt(20), 12);
    expect(spearman([1, 1, 2], [1, 1, 2])).toBeCloseTo(1, 12);
    expect(kendallTau([1, 1, 2], [1, 1, 2])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(kendallTau([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(0.9933992677987828, 12);
  });

  it('null when undefined: a constant variable or fewer than two pairs', async () => {
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNull();
    expect(kendallTau([2, 2, 2], [1, 2, 3])).toBeNull();
    expect(spearman([1], [1])).toBeNull();
    expect(kendallTau([], [])).toBeNull();
    await expectCode(() => spearman([1, 2], [1]), 'INVALID_ARGUMENT', 'y');
    await expectCode(() => kendallTau([1, Number.NaN], [1, 2]), 'INVALID_ARGUMENT', 'x');
  });
});

describe('agreementStats', () => {
  it('1-5 labels: agreement, within one, confusion, MAE and correlations by hand', () => {
    const s = agreementStats([5, 1, 3, 4], verdicts([5, 2, 1, 4.4]));
    expect(s).toMatchObject({ n: 4, scale: '1-5', agreement: 0.5, withinOne: 0.75, classes: [1, 2, 3, 4, 5] });
    expect(s.meanAbsoluteError).toBeCloseTo((0 + 1 + 2 + 0.4) / 4, 12);
    expect(s.confusion).toEqual([
      [0, 1, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [1, 0, 0, 0, 0],
      [0, 0, 0, 1, 0],
      [0, 0, 0, 0, 1],
    ]);
    // no ties: 1 − 6Σd² / (n(n² − 1)) = 1 − 12/60
    expect(s.spearman).toBeCloseTo(0.8, 12);
    // C = 5, D = 1 → 4/6
    expect(s.kendallTau).toBeCloseTo(4 / 6, 12);
  });

  it('pass/fail labels: pass against the label, MAE of the normalised score', () => {
    const s = agreementStats([true, false, true, false], verdicts([5, 4, 2, 1]));
    expect(s).toMatchObject({ n: 4, scale: 'pass-fail', agreement: 0.5, classes: ['fail', 'pass'] });
    expect(s.withinOne).toBeUndefined();
    expect(s.confusion).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(s.meanAbsoluteError).toBeCloseTo(0.375, 12);
    expect(s.spearman).toBeCloseTo(2 / Math.sqrt(20), 12);
    expect(s.kendallTau).toBeCloseTo(2 / Math.sqrt(24), 12);
  });

  it('empty and mixed inputs', async () => {
    expect(agreementStats([], [], 'pass-fail')).toMatchObject({ n: 0, agreement: null, meanAbsoluteError: null, spearman: null });
    await expectCode(() => agreementStats([1, true], verdicts([1, 2])), 'INVALID_ARGUMENT', 'labels[1]');
    await expectCode(() => agreementStats([1], verdicts([1, 2])), 'INVALID_ARGUMENT', 'predictions');
    await expectCode(() => agreementStats('x' as never, []), 'INVALID_ARGUMENT', 'labels');
    await expectCode(() => agreementStats([], [], 'x' as never), 'INVALID_ARGUMENT', 'scale');
  });
});

describe('parseLabels', () => {
  it('reads the fixture: 20 items over the four criteria', () => {
    const items = parseLabels(readFileSync(FIXTURE, 'utf8'), 'labels.jsonl');
    expect(items).toHaveLength(20);
    expect(new Set(items.map((i) => i.criterion))).toEqual(new Set(['faithfulness', 'relevance', 'minimality', 'safety']));
    expect(items[0]).toEqual({ id: 'f1', criterion: 'faithfulness', question: 'Where did Tom go?', context: 'Tom went to the park with his dog.', answer: 'Tom went to the park.', label: 5 });
  });

  it('skips blank and # lines; reads booleans', () => {
    const items = parseLabels('# a comment\n\n{"answer":"a","criterion":"safety","label":true}\r\n{"answer":"b","criterion":"safety","label":false}\n');
    expect(items.map((i) => i.label)).toEqual([true, false]);
  });

  const cases: Array<[string, string, number, string | undefined]> = [
    ['{"answer":"a","criterion":"safety","label":3}\n{"answer":"a","criterion":"safety","label":6}', 'label', 2, 'label'],
    ['{"answer":"a","criterion":"safety","label":2.5}', 'label', 1, 'label'],
    ['{"answer":"a","criterion":"safety"}', 'label', 1, 'label'],
    ['\n{"answer":"","criterion":"safety","label":1}', 'answer', 2, 'answer'],
    ['{"answer":"a","label":1}', 'criterion', 1, 'criterion'],
    ['{"answer":"a","criterion":"safety","label":1,"context":5}', 'context', 1, 'context'],
    ['{"answer":"a","criterion":"safety","label":1,"contxt":"c"}', 'contxt', 1, 'contxt'],
    ['{"answer":"a","criterion":"safety","label":1}\n{"answer":"a","criterion":"safety","label":true}', 'label', 2, 'label'],
    ['{"id":"x","answer":"a","criterion":"safety","label":1}\n{"id":"x","answer":"a","criterion":"safety","label":1}', 'id', 2, 'id'],
    ['[1]', 'record', 1, 'record'],
    ['{"answer":"a",', 'JSON', 1, undefined],
    ['\n# nothing\n', 'no labelled items', 0, undefined],
  ];
  for (const [text, what, line, field] of cases) {
    it(`INVALID_DATA at line ${line}: ${what}`, async () => {
      const error = await expectCode(() => parseLabels(text, 'set.jsonl'), 'INVALID_DATA', field);
      expect(error.details).toEqual({ source: 'set.jsonl', line });
      expect(error.message).toContain(line > 0 ? `set.jsonl:${line}` : 'set.jsonl');
      expect(error.message).toContain(what);
    });
  }

  it('rejects a text or source that is not a string', async () => {
    await expectCode(() => parseLabels(1 as never), 'INVALID_ARGUMENT', 'text');
    await expectCode(() => parseLabels('', 1 as never), 'INVALID_ARGUMENT', 'source');
  });
});

describe('calibrate with a stand-in judge', () => {
  // The model answers the score written as "Answer: <n>", or broken JSON for "Answer: x".
  const judge = new Judge({
    run: modelRunner(
      fixedModel((r) => {
        const m = /Answer: (\w)/.exec(promptOf(r))![1]!;
        return m === 'x' ? '{"score": 1, "rati' : verdictText(Number(m));
      }),
    ),
  });

  it('figures over the judged items, failures listed, per criterion', async () => {
    const labelled = [
      { id: 'a', answer: '5', criterion: 'safety', label: 5 },
      { id: 'b', answer: '2', criterion: 'safety', label: 1 },
      { id: 'c', answer: 'x', criterion: 'safety', label: 3 },
      { answer: '1', criterion: 'minimality', label: 3 },
      { answer: '4', criterion: 'minimality', label: 4 },
      { answer: '4', criterion: 'nosuch', label: 4 },
    ];
    const progress: number[] = [];
    const report = await calibrate(judge, labelled, { concurrency: 2, onProgress: (done, total) => progress.push(done * 10 + total) });
    expect(report.total).toBe(6);
    expect(report.n).toBe(4);
    expect(report.failures.map((f) => [f.index, f.id, f.code])).toEqual([
      [2, 'c', 'GENERATION_FAILED'],
      [5, undefined, 'INVALID_ARGUMENT'],
    ]);
    expect(report.predictions.map((p) => p?.score)).toEqual([5, 2, undefined, 1, 4, undefined]);
    const direct = agreementStats([5, 1, 3, 4], verdicts([5, 2, 1, 4]));
    expect({ ...report, total: undefined, failures: undefined, byCriterion: undefined, predictions: undefined }).toEqual({
      ...direct,
      total: undefined,
      failures: undefined,
      byCriterion: undefined,
      predictions: undefined,
    });
    expect(report.byCriterion.safety).toMatchObject({ n: 2, agreement: 0.5 });
    expect(report.byCriterion.minimality).toMatchObject({ n: 2, agreement: 0.5 });
    expect(report.byCriterion.nosuch).toMatchObject({ n: 0, agreement: null });
    expect(progress.sort((a, b) => a - b)).toEqual([16, 26, 36, 46, 56, 66]);
  });

  it('rejects bad input and stops on abort', async () => {
    await expectCode(calibrate({} as never, []), 'INVALID_ARGUMENT', 'judge');
    await expectCode(calibrate(judge, []), 'INVALID_ARGUMENT', 'labelled');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: 'safety', label: 1 }, { answer: '1', criterion: 'safety', label: true }]), 'INVALID_ARGUMENT', 'labelled[1].label');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: 'safety', label: true }, { answer: '1', criterion: 'safety', label: 2 }]), 'INVALID_ARGUMENT', 'labelled[1].label');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: '', label: 1 }]), 'INVALID_ARGUMENT', 'labelled[0].criterion');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: 's', label: 1, id: 3 as never }]), 'INVALID_ARGUMENT', 'labelled[0].id');
    await expectCode(calibrate(judge, [{ answer: '', criterion: 's', label: 1 }]), 'INVALID_ARGUMENT', 'labelled[0].answer');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: 's', label: 1 }], { concurrency: 0 }), 'INVALID_ARGUMENT', 'options.concurrency');
    await expectCode(calibrate(judge, [{ answer: '1', criterion: 's', label: 1 }], { onProgress: 1 as never }), 'INVALID_ARGUMENT', 'options.onProgress');
    const controller = new AbortController();
    const many = Array.from({ length: 10 }, () => ({ answer: '3', criterion: 'safety', label: 3 }));
    await expectCode(calibrate(judge, many, { concurrency: 1, signal: controller.signal, onProgress: () => controller.abort() }), 'ABORTED');
  });
});

describe('calibrate on stories260K', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, parallel: 2, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('calibrates the fixture: every item judged or listed as a failure, figures consistent', async () => {
    const labelled = parseLabels(readFileSync(FIXTURE, 'utf8'), 'labels.jsonl');
    const report = await calibrate(new Judge({ run: modelRunner(model) }), labelled, { concurrency: 2 });
    expect(report.n + report.failures.length).toBe(20);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(report.n);
    const judged = labelled.flatMap((l, i) => (report.predictions[i] === undefined ? [] : [[l.label as number, report.predictions[i]!] as const]));
    expect(report.agreement).toBe(judged.filter(([l, p]) => p.score === l).length / report.n);
    expect(Object.values(report.byCriterion).reduce((sum, s) => sum + s.n, 0)).toBe(report.n);
  });
});
