// Judge on the real stories260K model through the real engine: verdicts are JSON forced by the
// grammar (a 260K-parameter story model writes no JSON of its own), pairwise comparisons ask both
// orders, runner calls stay within the concurrency, a verdict cut short is GENERATION_FAILED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { BUILTIN_CRITERIA, Judge, PAIRWISE_SCHEMA, VERDICT_SCHEMA, modelRunner, type Criterion, type JudgeItem } from '../../src/judge/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';
import { countingRunner, promptOf } from './helpers.js';

const ITEM: JudgeItem = {
  question: 'Where did Tom go?',
  context: 'Tom went to the park with his dog.',
  answer: 'Tom went to the park.',
};

const ITEMS: JudgeItem[] = [
  { question: 'What is the capital of France?', answer: 'Paris.' },
  { question: 'What is the capital of France?', answer: 'I like apples.' },
  { question: 'How do I boil an egg?', answer: 'Put it in boiling water.' },
  { question: 'How do I boil an egg?', answer: 'Eggs come from hens.' },
  { question: 'Is the sun a star?', answer: 'Yes.' },
  { question: 'Is the sun a star?', answer: 'The moon is grey.' },
  { question: 'Name a fruit.', answer: 'An apple.' },
];

function expectVerdict(v: { score: number; normalized: number; pass: boolean; rationale: string }, criterion: Criterion, actual: { criterion: Criterion }): void {
  expect(actual.criterion).toBe(criterion);
  expect(Number.isInteger(v.score)).toBe(true);
  expect(v.score).toBeGreaterThanOrEqual(1);
  expect(v.score).toBeLessThanOrEqual(5);
  expect(v.normalized).toBe((v.score - 1) / 4);
  expect(v.pass).toBe(v.score >= 3);
  expect(typeof v.rationale).toBe('string');
  expect(v.rationale.length).toBeLessThanOrEqual(200);
}

describe('Judge on stories260K', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, parallel: 2, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('the model writes no verdict JSON without the schema (what the grammar adds)', async () => {
    const r = await model.complete({ prompt: 'Judge RELEVANCE. Question: Is the sun a star?\nAnswer: Yes.\nReply as JSON:', temperature: 0, maxTokens: 60 });
    expect(() => JSON.parse(r.text) as unknown).toThrow();
  });

  for (const format of ['prompt', 'chat'] as const) {
    it(`gives a verdict forced by the grammar for every built-in criterion (${format})`, async () => {
      const counter = countingRunner(model);
      const judge = new Judge({ run: counter.run, format });
      const verdicts = await judge.judgeAll(ITEM);
      expect(verdicts.map((v) => v.criterion)).toEqual([...BUILTIN_CRITERIA]);
      for (const [i, v] of verdicts.entries()) expectVerdict(v, BUILTIN_CRITERIA[i]!, v);
      expect(counter.calls).toBe(4);
      for (const request of counter.requests) {
        expect(request.jsonSchema).toBe(VERDICT_SCHEMA);
        expect(request.temperature).toBe(0);
        expect(request.maxTokens).toBe(256);
        if (format === 'prompt') expect(request.messages).toBeUndefined();
        else expect(request.messages).toHaveLength(1);
        expect(promptOf(request)).toContain(ITEM.answer);
      }
      // Each criterion has its own template.
      expect(new Set(counter.requests.map(promptOf)).size).toBe(4);
    });
  }

  it("'auto' sends a chat request to a model that can chat", async () => {
    const counter = countingRunner(model);
    await new Judge({ run: counter.run }).judge(ITEM, 'relevance');
    expect(counter.requests[0]!.messages?.[0]?.role).toBe('user');
  });

  it('judges a criterion of the caller with its own template', async () => {
    const counter = countingRunner(model);
    const judge = new Judge({ run: counter.run, templates: { politeness: 'Is the answer polite? {{answer}}\nJSON:' }, format: 'prompt' });
    expect(judge.criteria).toEqual([...BUILTIN_CRITERIA, 'politeness']);
    const v = await judge.judge({ answer: 'Thank you, friend.' }, 'politeness');
    expectVerdict(v, 'politeness', v);
    expect(counter.requests[0]!.prompt).toBe('Is the answer polite? Thank you, friend.\nJSON:');
  });

  it('a verdict cut short by maxTokens is GENERATION_FAILED with the text', async () => {
    const judge = new Judge({ run: modelRunner(model), maxTokens: 3 });
    const error = await expectCode(judge.judge(ITEM, 'faithfulness'), 'GENERATION_FAILED');
    const text = error.details!.text as string;
    expect(text.startsWith('{')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow();
    expect(error.details!.finishReason).toBe('length');
  });

  it('compares in both orders and maps the second back', async () => {
    const counter = countingRunner(model);
    const judge = new Judge({ run: counter.run });
    const pair = { question: 'Where did Tom go?', context: 'Tom went to the park.', answerA: 'To the park.', answerB: 'To the moon on a fish.' };
    const result = await judge.compare(pair, 'faithfulness');
    expect(counter.calls).toBe(2);
    expect(counter.requests.map((r) => r.jsonSchema)).toEqual([PAIRWISE_SCHEMA, PAIRWISE_SCHEMA]);
    const [ab, ba] = counter.requests.map(promptOf);
    expect(ab!.indexOf(pair.answerA)).toBeLessThan(ab!.indexOf(pair.answerB));
    expect(ba!.indexOf(pair.answerB)).toBeLessThan(ba!.indexOf(pair.answerA));
    const [first, second] = result.verdicts;
    expect([first.order, second.order]).toEqual(['AB', 'BA']);
    expect(first.winner).toBe(first.shown);
    expect(second.winner).toBe({ A: 'B', B: 'A', tie: 'tie' }[second.shown]);
    expect(result.consistent).toBe(first.winner === second.winner);
    expect(result.winner).toBe(result.consistent ? first.winner : 'tie');
  });

  it('judgeMany keeps at most `concurrency` runner calls in flight, verdicts in input order', async () => {
    const counter = countingRunner(model);
    const judge = new Judge({ run: counter.run, concurrency: 8, format: 'prompt' });
    const seen: number[] = [];
    const verdicts = await judge.judgeMany(ITEMS, 'relevance', { concurrency: 3, onVerdict: (_v, i) => seen.push(i) });
    expect(counter.calls).toBe(ITEMS.length);
    expect(counter.maxInFlight).toBe(3);
    expect(verdicts).toHaveLength(ITEMS.length);
    for (const v of verdicts) expectVerdict(v, 'relevance', v);
    expect([...seen].sort((a, b) => a - b)).toEqual(ITEMS.map((_, i) => i));
  });

  it("the judge's own concurrency bounds every method together", async () => {
    const counter = countingRunner(model);
    const judge = new Judge({ run: counter.run, concurrency: 2 });
    const pair = { question: 'Is the sun a star?', answerA: 'Yes.', answerB: 'No.' };
    await Promise.all([judge.judgeMany(ITEMS, 'relevance', { concurrency: 5 }), judge.compare(pair, 'relevance'), judge.judgeAll(ITEM)]);
    expect(counter.calls).toBe(ITEMS.length + 2 + 4);
    expect(counter.maxInFlight).toBe(2);
    const single = countingRunner(model);
    await new Judge({ run: single.run, concurrency: 1 }).compare(pair, 'relevance');
    expect(single.calls).toBe(2);
    expect(single.maxInFlight).toBe(1);
  });

  it('a signal aborts: before the start nothing runs; during judgeMany the rest stop', async () => {
    const counter = countingRunner(model);
    const judge = new Judge({ run: counter.run, concurrency: 1 });
    await expectCode(judge.judge(ITEM, 'relevance', { signal: AbortSignal.abort() }), 'ABORTED');
    await expectCode(judge.judgeMany(ITEMS, 'relevance', { signal: AbortSignal.abort() }), 'ABORTED');
    expect(counter.calls).toBe(0);
    const controller = new AbortController();
    await expectCode(judge.judgeMany(ITEMS, 'relevance', { signal: controller.signal, onVerdict: () => controller.abort() }), 'ABORTED');
    expect(counter.calls).toBeLessThan(ITEMS.length);
  });
});
