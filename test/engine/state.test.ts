import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserializeState, loadModel, serializeState, type Model, type ModelState } from '../../src/engine/index.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const SYSTEM = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';
const QUESTION = `${SYSTEM} One day`;

describe('Model KV state: save and restore', () => {
  let model: Model;
  let saved: ModelState;
  let reference: string;
  beforeAll(async () => {
    model = await loadModel(STORIES, { parallel: 2, contextSize: 256, threads: 1 });
    reference = (await model.complete({ prompt: QUESTION, maxTokens: 12, temperature: 0, cachePrompt: false })).text;
    saved = await model.saveState({ prompt: SYSTEM });
  });
  afterAll(() => model.dispose());

  it('saves the tokens of the prompt and their KV, named by the model file', () => {
    expect(saved.tokens).toEqual(model.tokenize(SYSTEM));
    expect(saved.data.length).toBeGreaterThan(1000);
    expect(saved.model.architecture).toBe('llama');
    expect(saved.model.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('restores into a new load of the same file: the next request starts from it and answers the same', async () => {
    const again = await loadModel(STORIES, { parallel: 2, contextSize: 256, threads: 1 });
    try {
      await again.restoreState(deserializeState(serializeState(saved)));
      const r = await again.complete({ prompt: QUESTION, maxTokens: 12, temperature: 0 });
      expect(r.cachedPromptTokens).toBe(saved.tokens.length);
      expect(r.text).toBe(reference);
    } finally {
      await again.dispose();
    }
  });

  it('saves the prompt cache of idle sequences, longest first filtered by minTokens', async () => {
    await model.complete({ prompt: QUESTION, maxTokens: 4, temperature: 0 });
    const all = await model.savePromptCache();
    expect(all.length).toBeGreaterThanOrEqual(1);
    for (const s of all) expect(s.tokens.length).toBeGreaterThan(0);
    const long = await model.savePromptCache(1000);
    expect(long).toEqual([]);
  });

  it('refuses a state from another model, naming the field', async () => {
    const other = await loadModel(await cachedTestModel({ layers: 2, embeddingSize: 64, heads: 4, kvHeads: 2, feedForwardSize: 128, vocabPath: STORIES }), {
      contextSize: 256,
      threads: 1,
    });
    try {
      await expectCode(other.restoreState(saved), 'STATE_MISMATCH', 'state.model');
      // A state that claims to be the other model's gets past the fingerprint; llama.cpp then refuses its data.
      const forged = (await other.savePromptCache()).length === 0 ? await other.saveState({ prompt: 'Once upon a time' }) : undefined;
      await expectCode(other.restoreState({ ...saved, model: forged!.model }), 'STATE_MISMATCH');
      // The model is unharmed.
      expect((await other.complete({ prompt: 'Once upon a time', maxTokens: 3, temperature: 0 })).generatedTokens).toBeGreaterThan(0);
    } finally {
      await other.dispose();
    }
  });

  it('moves between loads with other sequence counts and context sizes', async () => {
    for (const [parallel, contextSize] of [
      [1, 256],
      [3, 512],
    ] as const) {
      const other = await loadModel(STORIES, { parallel, contextSize, threads: 1 });
      try {
        await other.restoreState(saved);
        const r = await other.complete({ prompt: QUESTION, maxTokens: 12, temperature: 0 });
        expect(r.cachedPromptTokens, `parallel ${parallel}`).toBe(saved.tokens.length);
        expect(r.text).toBe(reference);
      } finally {
        await other.dispose();
      }
    }
  });

  it('refuses a state longer than the context, and bad shapes, naming the field', async () => {
    const big = await loadModel(STORIES, { contextSize: 512, threads: 1 });
    const small = await loadModel(STORIES, { contextSize: 256, threads: 1 });
    try {
      const long = await big.saveState({ prompt: `${SYSTEM} `.repeat(10) });
      expect(long.tokens.length).toBeGreaterThan(small.info.contextSize);
      await expectCode(small.restoreState(long), 'CONTEXT_OVERFLOW', 'state.tokens');
    } finally {
      await Promise.all([big.dispose(), small.dispose()]);
    }
    await expectCode(model.restoreState({} as ModelState), 'INVALID_ARGUMENT', 'state.model');
    await expectCode(model.restoreState({ ...saved, tokens: [] }), 'INVALID_ARGUMENT', 'state.tokens');
    await expectCode(model.restoreState({ ...saved, data: new Uint8Array() }), 'INVALID_ARGUMENT', 'state.data');
    await expectCode(model.restoreState({ ...saved, adapter: { name: 'none-loaded', scale: 1 } }), 'STATE_MISMATCH');
    await expectCode(model.saveState({ prompt: 5 as unknown as string }), 'INVALID_ARGUMENT', 'request.prompt');
  });

  it('says QUEUE_FULL when every sequence is busy', async () => {
    const one = await loadModel(STORIES, { parallel: 1, contextSize: 256, threads: 1 });
    try {
      const state = await one.saveState({ prompt: SYSTEM });
      const busy = one.generate({ prompt: 'Once upon a time', maxTokens: 200, temperature: 0 });
      // Once its first text arrives the request holds the only sequence.
      const first = await busy[Symbol.asyncIterator]().next();
      expect(first.done).toBe(false);
      await expectCode(one.restoreState(state), 'QUEUE_FULL');
      await busy.result;
      await one.restoreState(state);
    } finally {
      await one.dispose();
    }
  });

  it('refuses bytes that are not a state', () => {
    const bytes = serializeState(saved);
    expect(() => deserializeState(bytes.subarray(0, 10))).toThrow(/MPKV/);
    const wrong = Uint8Array.from(bytes);
    wrong[4] = 9;
    expect(() => deserializeState(wrong)).toThrow(/format 9/);
    expect(() => deserializeState(bytes.subarray(0, 20))).toThrow(/truncated/);
    expect(() => deserializeState('x' as unknown as Uint8Array)).toThrow(/bytes/);
  });
});
