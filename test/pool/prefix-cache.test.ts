import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelPool } from '../../src/pool/index.js';
import { PrefixStore } from '../../src/pool/prefix-store.js';
import type { PoolEventOf, PoolOptions } from '../../src/pool/types.js';
import type { ModelState } from '../../src/model/types.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const SYSTEM =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ' +
  'One day, she saw a big red ball under a tree and wanted to play with it.';
const QUESTION = `${SYSTEM} Then`;
const dir = mkdtempSync(join(tmpdir(), 'modelpool-prefix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function answer(pool: ModelPool, prompt: string) {
  return pool.use('stories', (lease) => lease.model.complete({ prompt, maxTokens: 8, temperature: 0 }));
}

function newPool(prefixCache?: PoolOptions['prefixCache']) {
  return new ModelPool({
    models: [{ id: 'stories', source: STORIES, contextSize: 256, parallel: 2 }],
    keepAliveMs: -1,
    ...(prefixCache === undefined ? {} : { prefixCache }),
  });
}

describe('ModelPool prefix cache', () => {
  it('keeps a model’s cached prefixes across an unload and restores them on its next load', async () => {
    const pool = newPool();
    const events: PoolEventOf<'prefixes'>[] = [];
    pool.on('prefixes', (e) => events.push(e));
    try {
      const first = await answer(pool, QUESTION);
      expect(first.cachedPromptTokens).toBe(0);
      await pool.unload('stories');
      expect(events.map((e) => e.action)).toEqual(['saved']);
      expect(events[0]!.tokens).toBeGreaterThan(40);
      const second = await answer(pool, QUESTION);
      expect(events.map((e) => e.action)).toEqual(['saved', 'restored']);
      expect(events[1]).toMatchObject({ count: 1, failed: 0 });
      expect(second.cachedPromptTokens).toBe(second.promptTokens - 1);
      expect(second.text).toBe(first.text);
    } finally {
      await pool.dispose();
    }
  });

  it('starts cold when turned off', async () => {
    const pool = newPool(false);
    try {
      await answer(pool, QUESTION);
      await pool.unload('stories');
      expect((await answer(pool, QUESTION)).cachedPromptTokens).toBe(0);
    } finally {
      await pool.dispose();
    }
  });

  it('in a directory, carries the prefixes over to another pool (another process)', async () => {
    const directory = join(dir, 'prefixes');
    const a = newPool({ directory });
    try {
      await answer(a, QUESTION);
    } finally {
      await a.unload('stories');
      await a.dispose();
    }
    expect(readdirSync(directory).filter((f) => f.endsWith('.mpkv'))).toHaveLength(1);
    const b = newPool({ directory });
    try {
      const r = await answer(b, QUESTION);
      expect(r.cachedPromptTokens).toBe(r.promptTokens - 1);
      // Taken: the model holds them now, and saves them again at its next unload.
      expect(readdirSync(directory).filter((f) => f.endsWith('.mpkv'))).toHaveLength(0);
    } finally {
      await b.dispose();
    }
  });
});

function fakeState(tokens: number, bytes: number): ModelState {
  return { model: { fingerprint: 'a'.repeat(64), architecture: 'llama' }, tokens: Array.from({ length: tokens }, (_, i) => i + 1), data: new Uint8Array(bytes).fill(7) };
}

describe('PrefixStore', () => {
  it('keeps the longest prefixes within the budget and drops the oldest saves first', async () => {
    const store = new PrefixStore({ maxBytes: 1000, minTokens: 4 });
    expect(await store.save('a', [fakeState(10, 300), fakeState(50, 400), fakeState(2, 10)])).toEqual({ count: 2, bytes: 700 });
    expect(await store.save('b', [fakeState(20, 500)])).toEqual({ count: 1, bytes: 500 });
    // a (700) had to go for b (500) to fit in 1000.
    expect(await store.take('a')).toEqual([]);
    expect(store.bytes).toBe(500);
    expect((await store.take('b')).map((s) => s.tokens.length)).toEqual([20]);
    expect(store.bytes).toBe(0);
    expect(await store.save('c', [fakeState(20, 5000)])).toEqual({ count: 0, bytes: 0 });
  });

  it('reads back what it wrote to a directory, and treats a damaged file as a lost cache', async () => {
    const directory = join(dir, 'store');
    const store = new PrefixStore({ directory, minTokens: 1 });
    await store.save('k', [fakeState(5, 100), fakeState(9, 50)]);
    const back = await new PrefixStore({ directory }).take('k');
    expect(back.map((s) => s.tokens.length)).toEqual([9, 5]);
    expect(back[1]!.data).toEqual(new Uint8Array(100).fill(7));
    await store.save('k', [fakeState(5, 100)]);
    for (const f of readdirSync(directory)) writeFileSync(join(directory, f), 'garbage!');
    expect(await new PrefixStore({ directory }).take('k')).toEqual([]);
  });

  it('rejects bad options, naming the field', async () => {
    await expectCode(() => new PrefixStore({ maxBytes: -1 }), 'INVALID_ARGUMENT', 'prefixCache.maxBytes');
    await expectCode(() => new PrefixStore({ minTokens: 0 }), 'INVALID_ARGUMENT', 'prefixCache.minTokens');
    await expectCode(() => new PrefixStore({ directory: '' }), 'INVALID_ARGUMENT', 'prefixCache.directory');
    await expectCode(() => new ModelPool({ prefixCache: 'yes' as never }), 'INVALID_ARGUMENT', 'prefixCache');
  });
});
