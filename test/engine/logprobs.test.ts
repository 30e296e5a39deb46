import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import type { TokenLogprob } from '../../src/model/types.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const PROMPT = 'Once upon a time, there was a little girl named Lily. She';

describe('Model log probabilities', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { parallel: 2, contextSize: 256, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('reports each generated token with its log probability and the top alternatives, most likely first', async () => {
    const r = await model.complete({ prompt: PROMPT, maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 5 });
    expect(r.logprobs).toHaveLength(r.generatedTokens);
    expect(r.logprobs!.map((t) => t.text).join('')).toBe(r.text);
    for (const t of r.logprobs!) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top).toHaveLength(5);
      const top = t.top!.map((x) => x.logprob);
      expect([...top].sort((a, b) => b - a)).toEqual(top);
      // Greedy: the chosen token is the most likely one.
      expect(t.top![0]!.id).toBe(t.id);
      expect(t.top![0]!.logprob).toBeCloseTo(t.logprob, 6);
      expect(top.reduce((s, l) => s + Math.exp(l), 0)).toBeLessThanOrEqual(1 + 1e-5);
    }
  });

  it('streams each token with the chunk that carries its text', async () => {
    const stream = model.generate({ prompt: PROMPT, maxTokens: 40, temperature: 0, logprobs: true });
    const streamed: TokenLogprob[] = [];
    let text = '';
    for await (const chunk of stream.chunks()) {
      text += chunk.text;
      streamed.push(...(chunk.logprobs ?? []));
    }
    const r = await stream.result;
    expect(text).toBe(r.text);
    expect(streamed).toEqual(r.logprobs);
    expect(streamed[0]!.top).toBeUndefined();
  });

  it('leaves out the tokens of a stop string', async () => {
    const full = await model.complete({ prompt: PROMPT, maxTokens: 20, temperature: 0, logprobs: true });
    const at = full.logprobs!.findIndex((t, i) => i >= 4 && t.text.trim().length > 1);
    expect(at).toBeGreaterThan(0);
    const stop = full.logprobs![at]!.text.trim();
    const r = await model.complete({ prompt: PROMPT, maxTokens: 20, temperature: 0, logprobs: true, stop: [stop] });
    expect(r.finishReason).toBe('stop');
    expect(r.logprobs!.length).toBeLessThan(full.logprobs!.length);
    expect(r.logprobs!.map((t) => t.text).join('').startsWith(r.text)).toBe(true);
    // At most the token that starts the stop string (the one whose text spans the cut) stays.
    expect(r.logprobs!.length).toBeLessThanOrEqual(at + 1);
  });

  it('has no logprobs unless asked', async () => {
    const r = await model.complete({ prompt: PROMPT, maxTokens: 4, temperature: 0 });
    expect(r.logprobs).toBeUndefined();
  });

  it('rejects topLogprobs out of range or without logprobs, naming the field and the value', async () => {
    for (const bad of [21, -1, 1.5, '3']) {
      const e = await expectCode(() => model.generate({ prompt: PROMPT, logprobs: true, topLogprobs: bad as number }), 'INVALID_ARGUMENT', 'request.topLogprobs');
      expect(e.message).toContain(String(bad));
    }
    await expectCode(() => model.generate({ prompt: PROMPT, topLogprobs: 2 }), 'INVALID_ARGUMENT', 'request.topLogprobs');
    await expectCode(() => model.generate({ prompt: PROMPT, logprobs: 'yes' as unknown as boolean }), 'INVALID_ARGUMENT', 'request.logprobs');
  });
});

describe('Model.evaluate', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { parallel: 2, contextSize: 256, threads: 1 });
  });
  afterAll(() => model.dispose());

  it("scores a continuation with the probabilities the model gave it when generating it", async () => {
    const g = await model.complete({ prompt: PROMPT, maxTokens: 10, temperature: 0, logprobs: true, topLogprobs: 3 });
    const ids = g.logprobs!.map((t) => t.id);
    for (const cachePrompt of [true, false]) {
      const e = await model.evaluate({ prompt: PROMPT, continuation: ids, topLogprobs: 3, cachePrompt });
      expect(e.tokens.map((t) => t.id)).toEqual(ids);
      e.tokens.forEach((t, i) => {
        expect(t.logprob).toBeCloseTo(g.logprobs![i]!.logprob, 3);
        expect(t.top!.map((x) => x.id)).toEqual(g.logprobs![i]!.top!.map((x) => x.id));
      });
      expect(e.logprob).toBeCloseTo(e.tokens.reduce((s, t) => s + t.logprob, 0), 6);
      expect(e.perplexity).toBeCloseTo(Math.exp(-e.logprob / ids.length), 6);
      expect(e.promptTokens).toBe(model.tokenize(PROMPT).length);
      if (!cachePrompt) expect(e.cachedPromptTokens).toBe(0);
    }
  });

  it('prefers the likely continuation to an unlikely one', async () => {
    const likely = await model.evaluate({ prompt: 'Once upon a', continuation: ' time' });
    const unlikely = await model.evaluate({ prompt: 'Once upon a', continuation: ' zebra' });
    expect(likely.logprob).toBeGreaterThan(unlikely.logprob);
    expect(likely.tokens[0]!.top).toBeUndefined();
  });

  it('rejects an empty continuation, a token id outside the vocabulary and a bad prompt, naming the field', async () => {
    await expectCode(model.evaluate({ prompt: PROMPT, continuation: '' }), 'INVALID_ARGUMENT', 'request.continuation');
    await expectCode(model.evaluate({ prompt: PROMPT, continuation: [] }), 'INVALID_ARGUMENT', 'request.continuation');
    const e = await expectCode(model.evaluate({ prompt: PROMPT, continuation: [1, 99999] }), 'INVALID_ARGUMENT');
    expect(e.message).toContain('99999');
    await expectCode(model.evaluate({ prompt: PROMPT, continuation: [1.5] }), 'INVALID_ARGUMENT', 'request.continuation[0]');
    await expectCode(model.evaluate({ prompt: 42 as unknown as string, continuation: 'x' }), 'INVALID_ARGUMENT', 'request.prompt');
    const over = model.info.vocabularySize + 1;
    const e2 = await expectCode(model.evaluate({ prompt: PROMPT, continuation: 'x', topLogprobs: over }), 'INVALID_ARGUMENT', 'request.topLogprobs');
    expect(e2.message).toContain(String(over));
    await expectCode(model.evaluate({ prompt: PROMPT, continuation: 'x', topLogprobs: -1 }), 'INVALID_ARGUMENT', 'request.topLogprobs');
  });

  it('reports the whole distribution at each position when topLogprobs is the vocabulary size (generations stay at 20)', async () => {
    const vocabulary = model.info.vocabularySize;
    const continuation = ' there was a little dog';
    const whole = await model.evaluate({ prompt: PROMPT, continuation, topLogprobs: vocabulary });
    const twenty = await model.evaluate({ prompt: PROMPT, continuation, topLogprobs: 20 });
    expect(whole.tokens.length).toBeGreaterThan(1);
    whole.tokens.forEach((t, i) => {
      const top = t.top!;
      expect(top).toHaveLength(vocabulary);
      expect(new Set(top.map((x) => x.id)).size).toBe(vocabulary);
      const logprobs = top.map((x) => x.logprob);
      expect([...logprobs].sort((a, b) => b - a)).toEqual(logprobs);
      // A whole distribution: the probabilities sum to 1, and the scored token is in it with its own logprob.
      expect(logprobs.reduce((s, l) => s + Math.exp(l), 0)).toBeCloseTo(1, 4);
      expect(top.find((x) => x.id === t.id)!.logprob).toBeCloseTo(t.logprob, 6);
      expect(top.slice(0, 20).map((x) => x.id)).toEqual(twenty.tokens[i]!.top!.map((x) => x.id));
    });
    await expectCode(() => model.generate({ prompt: PROMPT, logprobs: true, topLogprobs: 21 }), 'INVALID_ARGUMENT', 'request.topLogprobs');
  });
});
