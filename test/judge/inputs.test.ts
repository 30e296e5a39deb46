// Judge: what bad input gets (INVALID_ARGUMENT naming the field), the templates' rendering rules,
// the verdict check on returned text, and batch order/failure behaviour. The model here answers
// fixed JSON: these tests are about the judge's own logic, not about the grammar.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEMPLATES,
  GENERIC_PAIRWISE_TEMPLATE,
  Judge,
  checkTemplate,
  modelRunner,
  readPairwiseVerdict,
  readVerdict,
  renderTemplate,
} from '../../src/judge/index.js';
import { Limiter } from '../../src/core/concurrency.js';
import { expectCode } from '../helpers/expect.js';
import { fixedModel, promptOf, resultOf, verdictText } from './helpers.js';

const ITEM = { question: 'Q?', answer: 'A.', context: 'C.' };

describe('Judge options and items', () => {
  const run = modelRunner(fixedModel(() => verdictText(3)));

  it('rejects bad options naming the field', async () => {
    await expectCode(() => new Judge(undefined as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => new Judge({} as never), 'INVALID_ARGUMENT', 'options.run');
    await expectCode(() => new Judge({ run, maxTokens: 0 }), 'INVALID_ARGUMENT', 'options.maxTokens');
    await expectCode(() => new Judge({ run, concurrency: 1.5 }), 'INVALID_ARGUMENT', 'options.concurrency');
    await expectCode(() => new Judge({ run, format: 'xml' as 'chat' }), 'INVALID_ARGUMENT', 'options.format');
    await expectCode(() => new Judge({ run, criteria: [] }), 'INVALID_ARGUMENT', 'options.criteria');
    await expectCode(() => new Judge({ run, criteria: ['relevance', 'tone'] }), 'INVALID_ARGUMENT', 'options.criteria[1]');
    await expectCode(() => new Judge({ run, templates: { tone: { pairwise: GENERIC_PAIRWISE_TEMPLATE } } }), 'INVALID_ARGUMENT', 'options.templates.tone.verdict');
    await expectCode(() => new Judge({ run, templates: { tone: 'Rate {{answr}}' } }), 'INVALID_ARGUMENT', 'options.templates.tone.verdict');
    await expectCode(() => new Judge({ run, templates: { tone: 7 as never } }), 'INVALID_ARGUMENT', 'options.templates.tone');
    await expectCode(() => new Judge({ run, templates: { relevance: { pairwise: 'Which? {{answer}}' } } }), 'INVALID_ARGUMENT', 'options.templates.relevance.pairwise');
    await expectCode(() => modelRunner({} as never), 'INVALID_ARGUMENT', 'model');
  });

  it('rejects bad items and criteria naming the field', async () => {
    const judge = new Judge({ run });
    await expectCode(judge.judge({ answer: '' }, 'safety'), 'INVALID_ARGUMENT', 'item.answer');
    await expectCode(judge.judge({ answer: 'x', question: 3 as never }, 'safety'), 'INVALID_ARGUMENT', 'item.question');
    await expectCode(judge.judge({ answer: 'x' }, 'tone'), 'INVALID_ARGUMENT', 'criterion');
    await expectCode(judge.judge({ answer: 'x' }, 'faithfulness'), 'INVALID_ARGUMENT', 'item.context');
    await expectCode(judge.judge({ answer: 'x' }, 'relevance'), 'INVALID_ARGUMENT', 'item.question');
    await expectCode(judge.judge({ answer: 'x' }, 'safety', { signal: 'no' as never }), 'INVALID_ARGUMENT', 'options.signal');
    await expectCode(judge.judgeAll({ answer: 'x' }, []), 'INVALID_ARGUMENT', 'criteria');
    await expectCode(judge.compare({ question: 'Q', answerA: 'a', answerB: '' }, 'safety'), 'INVALID_ARGUMENT', 'item.answerB');
    await expectCode(judge.compare({ question: 'Q', answerA: 'a', answerB: 'b', context: 1 as never }, 'safety'), 'INVALID_ARGUMENT', 'item.context');
    await expectCode(judge.judgeMany('x' as never, 'safety'), 'INVALID_ARGUMENT', 'items');
    await expectCode(judge.judgeMany([ITEM, { answer: 1 }] as never, 'safety'), 'INVALID_ARGUMENT', 'items[1].answer');
    await expectCode(judge.judgeMany([ITEM], 'safety', { concurrency: 0 }), 'INVALID_ARGUMENT', 'options.concurrency');
    await expectCode(judge.judgeMany([ITEM], 'safety', { onVerdict: 1 as never }), 'INVALID_ARGUMENT', 'options.onVerdict');
    await expectCode(judge.judgeMany([ITEM], 'tone'), 'INVALID_ARGUMENT', 'criterion');
  });

  it('a custom pairwise template and the generic one for criteria given only a verdict template', async () => {
    const prompts: string[] = [];
    const model = fixedModel((r) => {
      prompts.push(promptOf(r));
      return JSON.stringify({ winner: 'tie', rationale: '' });
    });
    const judge = new Judge({ run: modelRunner(model), templates: { tone: 'Tone of {{answer}}', relevance: { pairwise: '{{question}}|{{answerA}}|{{answerB}}' } } });
    await judge.compare({ question: 'Q', answerA: 'a', answerB: 'b' }, 'relevance');
    expect(prompts.sort()).toEqual(['Q|a|b', 'Q|b|a']);
    expect(judge.templatesOf('relevance').verdict).toBe(DEFAULT_TEMPLATES.relevance.verdict);
    expect(judge.templatesOf('tone').pairwise).toBe(GENERIC_PAIRWISE_TEMPLATE);
    prompts.length = 0;
    await judge.compare({ question: 'Q', answerA: 'a', answerB: 'b', context: 'ctx' }, 'tone');
    expect(prompts[0]).toContain('better on tone');
    expect(prompts[0]).toContain('Context: ctx');
  });

  it('judgeMany returns verdicts in input order whatever order they finish in', async () => {
    let call = 0;
    const model = fixedModel((r) => {
      call++;
      return verdictText(Number(/Answer: (\d)/.exec(promptOf(r))![1]));
    });
    const judge = new Judge({ run: modelRunner(model), concurrency: 3 });
    const items = [5, 1, 4, 2, 3].map((n) => ({ answer: String(n) }));
    const verdicts = await judge.judgeMany(items, 'safety');
    expect(verdicts.map((v) => v.score)).toEqual([5, 1, 4, 2, 3]);
    expect(call).toBe(5);
  });

  it('judgeMany: the first failure is thrown and no more items start', async () => {
    let call = 0;
    const model = fixedModel(() => (++call === 2 ? '{"score": 9, "rationale": ""}' : verdictText(3)));
    const judge = new Judge({ run: modelRunner(model), concurrency: 1 });
    const error = await expectCode(judge.judgeMany([ITEM, ITEM, ITEM, ITEM], 'safety'), 'GENERATION_FAILED');
    expect(error.message).toContain('/score');
    expect(call).toBe(2);
    // judgeAll waits for all its criteria, then throws the failure.
    call = 0;
    await expectCode(judge.judgeAll(ITEM, ['safety', 'minimality', 'relevance']), 'GENERATION_FAILED');
    expect(call).toBe(3);
    // compare: one order failing fails the comparison.
    const broken = new Judge({ run: modelRunner(fixedModel(() => '{"winner": "C", "rationale": ""}')) });
    await expectCode(broken.compare({ question: 'Q', answerA: 'a', answerB: 'b' }, 'safety'), 'GENERATION_FAILED');
  });
});

describe('templates', () => {
  it('sections are kept only when the field is present; placeholders need their field', async () => {
    const t = '{{#question}}Q: {{question}}\n{{/question}}A: {{answer}}';
    expect(renderTemplate(t, { answer: 'yes', criterion: 'c' }, 'c')).toBe('A: yes');
    expect(renderTemplate(t, { answer: 'yes', question: 'why?', criterion: 'c' }, 'c')).toBe('Q: why?\nA: yes');
    expect(renderTemplate(t, { answer: '{{question}}', question: '', criterion: 'c' }, 'c')).toBe('A: {{question}}');
    const error = await expectCode(() => renderTemplate(t, { criterion: 'c' }, 'c'), 'INVALID_ARGUMENT', 'item.answer');
    expect(error.message).toContain("criterion 'c' needs it");
  });

  it('checkTemplate accepts the built-ins and rejects unknown or unclosed placeholders', async () => {
    for (const t of Object.values(DEFAULT_TEMPLATES)) {
      expect(checkTemplate('t', t.verdict, 'verdict')).toBe(t.verdict);
      expect(checkTemplate('t', t.pairwise, 'pairwise')).toBe(t.pairwise);
    }
    await expectCode(() => checkTemplate('t', '', 'verdict'), 'INVALID_ARGUMENT', 't');
    await expectCode(() => checkTemplate('t', '{{answerA}}', 'verdict'), 'INVALID_ARGUMENT', 't');
    await expectCode(() => checkTemplate('t', '{{#question}}{{question}}', 'verdict'), 'INVALID_ARGUMENT', 't');
  });
});

describe('verdict check', () => {
  it('accepts schema-valid text and rejects the rest with GENERATION_FAILED and the text', async () => {
    expect(readVerdict(resultOf('{ "score" : 4, "rationale" : "ok" }'))).toEqual({ score: 4, rationale: 'ok' });
    expect(readPairwiseVerdict(resultOf('{"winner":"tie","rationale":""}'))).toEqual({ winner: 'tie', rationale: '' });
    for (const bad of ['{"score": 0, "rationale": ""}', '{"score": 2.5, "rationale": ""}', '{"score": 2}', `{"score": 2, "rationale": "${'x'.repeat(201)}"}`, '{"score": 2, "rationale": "", "x": 1}', '[]']) {
      const error = await expectCode(() => readVerdict(resultOf(bad)), 'GENERATION_FAILED');
      expect(error.details).toEqual({ text: bad, finishReason: 'stop' });
    }
    const cut = await expectCode(() => readVerdict(resultOf('{"score": 2, "ratio', 'length')), 'GENERATION_FAILED');
    expect(cut.message).toContain("finish reason 'length'");
    await expectCode(() => readPairwiseVerdict(resultOf('{"winner":"a","rationale":""}')), 'GENERATION_FAILED');
  });
});

describe('Limiter', () => {
  it('runs at most `limit` at once, in arrival order, and drops an aborted waiter', async () => {
    const limiter = new Limiter(2);
    let active = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      active++;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 2));
      order.push(n);
      active--;
      return n;
    };
    const controller = new AbortController();
    const waiting = limiter.run(task(99), controller.signal);
    const results = Promise.all([1, 2, 3, 4].map((n) => limiter.run(task(n))));
    // 99 took a place at once; abort a later waiter instead.
    const late = new AbortController();
    const dropped = limiter.run(task(100), late.signal);
    late.abort();
    await expectCode(dropped, 'ABORTED');
    expect(await waiting).toBe(99);
    expect(await results).toEqual([1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(order).not.toContain(100);
    expect(limiter.active).toBe(0);
  });
});
