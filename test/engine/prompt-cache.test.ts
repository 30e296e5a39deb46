import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { STORIES } from '../helpers/models.js';

// A 10-turn conversation grows by whole turns: each turn's prompt starts with the previous one.
function turns(n: number): string[] {
  const lines = ['Once upon a time, there was a little girl named Lily.'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`She saw a ${['cat', 'dog', 'bird', 'tree', 'ball'][i % 5]} and said hello.`);
    out.push(lines.join(' '));
  }
  return out;
}

describe('Model prompt cache', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { parallel: 2, contextSize: 512, threads: 1 });
  });
  afterAll(() => model.dispose());

  it('reuses the whole prompt but its last token on a repeat, with the same greedy answer', async () => {
    const prompt = 'Once upon a time, there was a little girl named Lily. She';
    const cold = await model.complete({ prompt, maxTokens: 24, temperature: 0, cachePrompt: false });
    const warm = await model.complete({ prompt, maxTokens: 24, temperature: 0 });
    const again = await model.complete({ prompt, maxTokens: 24, temperature: 0 });
    expect(cold.cachedPromptTokens).toBe(0);
    expect(again.cachedPromptTokens).toBe(again.promptTokens - 1);
    expect(warm.text).toBe(cold.text);
    expect(again.text).toBe(cold.text);
  });

  it('evaluates only the new part of a growing conversation, and answers as without the cache', async () => {
    const prompts = turns(10);
    for (const [i, prompt] of prompts.entries()) {
      const cached = await model.complete({ prompt, maxTokens: 8, temperature: 0 });
      const fresh = await model.complete({ prompt, maxTokens: 8, temperature: 0, cachePrompt: false });
      expect(cached.text).toBe(fresh.text);
      if (i > 0) {
        const previous = model.tokenize(prompts[i - 1]!);
        // Everything the previous turn's prompt shares with this one was already in a sequence.
        expect(cached.cachedPromptTokens).toBeGreaterThanOrEqual(previous.length - 2);
        expect(cached.cachedPromptTokens).toBeLessThan(cached.promptTokens);
      }
    }
  });

  it('gives two interleaved conversations each its own sequence', async () => {
    const a = 'Once upon a time, there was a boy named Tom. He liked to run in the park with his dog.';
    const b = 'The sun was hot and the sky was blue. A small bird sat on a branch and sang a song.';
    await Promise.all([model.complete({ prompt: a, maxTokens: 4, temperature: 0 }), model.complete({ prompt: b, maxTokens: 4, temperature: 0 })]);
    const [ra, rb] = await Promise.all([
      model.complete({ prompt: `${a} Tom`, maxTokens: 4, temperature: 0 }),
      model.complete({ prompt: `${b} The`, maxTokens: 4, temperature: 0 }),
    ]);
    expect(ra.cachedPromptTokens).toBeGreaterThanOrEqual(model.tokenize(a).length - 2);
    expect(rb.cachedPromptTokens).toBeGreaterThanOrEqual(model.tokenize(b).length - 2);
  });

  it('answers concurrent requests that share a prefix exactly as one at a time', async () => {
    const base = 'Once upon a time, there was a little girl named Lily. She';
    const prompts = [`${base} loved`, `${base} had a`, `${base} went to`, base];
    const alone: string[] = [];
    for (const prompt of prompts) alone.push((await model.complete({ prompt, maxTokens: 16, temperature: 0, cachePrompt: false })).text);
    const together = await Promise.all(prompts.map((prompt) => model.complete({ prompt, maxTokens: 16, temperature: 0 })));
    expect(together.map((r) => r.text)).toEqual(alone);
  });

  it('rejects a non-boolean cachePrompt, naming the field', () => {
    expect(() => model.generate({ prompt: 'x', cachePrompt: 'yes' as unknown as boolean })).toThrow(/request\.cachePrompt/);
  });
});
