/**
 * LoRA adapters on stories260K: loaded beside the model, chosen per request, removed while in use,
 * and proven applied right against the merged model the generator writes (base + scale·alpha/r·B·A).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelSlot, type Model } from '../../src/engine/index.js';
import { readGgufHeader } from '../../src/gguf/index.js';
import type { GenerateRequest, GenerationResult } from '../../src/model/types.js';
import { cachedMergedModel, cachedTestLora, generateTestLora, writeMergedModel } from '../../src/testing/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const PROMPT = 'Once upon a time, there was a little girl named Lily.';
const OTHER = 'The dog ran to the park and saw a big red ball.';

let model: Model;
let loraA: string;
let loraB: string;
let loraF16: string;

beforeAll(async () => {
  [loraA, loraB, loraF16] = await Promise.all([
    cachedTestLora({ basePath: STORIES, seed: 1 }),
    cachedTestLora({ basePath: STORIES, seed: 2, rank: 8, alpha: 4, targets: ['attn_v', 'ffn_down', 'output'] }),
    cachedTestLora({ basePath: STORIES, seed: 3, type: 'F16', targets: ['attn_q', 'attn_k', 'ffn_up'] }),
  ]);
  model = await loadModel(STORIES, { parallel: 4, contextSize: 256, threads: 1 });
  await Promise.all([model.loadAdapter('a', loraA), model.loadAdapter('b', loraB), model.loadAdapter('f16', loraF16)]);
}, 120_000);
afterAll(() => model?.dispose());

const greedy = (m: Model, extra: Partial<GenerateRequest> = {}, prompt = PROMPT): Promise<GenerationResult> =>
  m.complete({ prompt, maxTokens: 32, temperature: 0, logprobs: true, cachePrompt: false, ...extra });

/** Largest difference of the tokens' log probabilities (the two must have the same tokens). */
function logprobDistance(actual: GenerationResult, expected: GenerationResult): number {
  expect(actual.logprobs!.map((t) => t.id)).toEqual(expected.logprobs!.map((t) => t.id));
  return Math.max(...actual.logprobs!.map((t, i) => Math.abs(t.logprob - expected.logprobs![i]!.logprob)));
}

/**
 * Token for token the same greedy output, each token's log probability within float error: B·(A·x)
 * beside W·x rounds differently from (W + B·A)·x (about 2e-3 after 32 tokens, where a scale off by 3%
 * is 3e-2 away; the first test checks that margin).
 */
function expectSameTokens(actual: GenerationResult, expected: GenerationResult): void {
  expect(actual.text).toBe(expected.text);
  expect(logprobDistance(actual, expected)).toBeLessThan(5e-3);
}

describe('LoRA test generator', () => {
  it('writes llama.cpp adapter keys and <base>.lora_a [nIn, r] / .lora_b [r, nOut] for each target', async () => {
    const [adapter, base] = await Promise.all([readGgufHeader(loraB), readGgufHeader(STORIES)]);
    expect(adapter.metadata.get('general.type')?.value).toBe('adapter');
    expect(adapter.metadata.get('adapter.type')?.value).toBe('lora');
    expect(adapter.metadata.get('adapter.lora.alpha')).toMatchObject({ type: 'float32', value: 4 });
    expect(adapter.metadata.get('general.architecture')?.value).toBe(base.metadata.get('general.architecture')?.value);
    const shapes = new Map(base.tensors.map((t) => [t.name, t.shape]));
    const names = adapter.tensors.map((t) => t.name);
    expect(names).toContain('output.weight.lora_a');
    expect(names.filter((n) => /attn_v\.weight\.lora_b$/.test(n))).toHaveLength(5);
    for (const t of adapter.tensors) {
      const [, target, half] = /^(.+)\.lora_([ab])$/.exec(t.name)!;
      const [nIn, nOut] = shapes.get(target!)!;
      expect(t.shape, t.name).toEqual(half === 'a' ? [nIn, 8] : [8, nOut]);
    }
  });

  it('is deterministic for a seed, and another seed gives other weights', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelpool-lora-'));
    const write = (seed: number, name: string) => generateTestLora({ basePath: STORIES, seed, outPath: join(dir, name) });
    const [x, y, z] = await Promise.all([write(7, 'x.gguf'), write(7, 'y.gguf'), write(8, 'z.gguf')]);
    const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(x.tensors).toEqual(y.tensors);
    expect(digest(x.path)).toBe(digest(y.path));
    expect(digest(x.path)).not.toBe(digest(z.path));
  });

  it('rejects targets the base does not have, naming the field', async () => {
    await expectCode(() => generateTestLora({ basePath: STORIES, outPath: join(tmpdir(), 'never.gguf'), targets: ['nope' as 'attn_q'] }), 'INVALID_ARGUMENT', 'targets[0]');
    await expectCode(() => writeMergedModel({ basePath: STORIES, adapterPath: loraA, outPath: join(tmpdir(), 'never.gguf'), scale: Number.NaN }), 'INVALID_ARGUMENT', 'scale');
  });
});

describe('Model adapters', () => {
  it('lists the adapters loaded, with what each load found', async () => {
    expect(model.adapters.sort()).toEqual(['a', 'b', 'f16']);
    const info = await model.loadAdapter('again', loraB);
    expect(info).toMatchObject({ name: 'again', path: loraB, rank: 8, alpha: 4, tensors: 11 });
    expect(info.loadMs).toBeGreaterThan(0);
    model.removeAdapter('again');
    expect(model.adapters).not.toContain('again');
  });

  it('changes the output, and base + adapter generates exactly what the merged model does', async () => {
    const merged = await loadModel(await cachedMergedModel({ basePath: STORIES, adapterPath: loraA }), { contextSize: 256, threads: 1 });
    try {
      const [base, adapted, reference] = await Promise.all([greedy(model), greedy(model, { adapter: 'a' }), greedy(merged)]);
      expect(adapted.text).not.toBe(base.text);
      expectSameTokens(adapted, reference);
      // The comparison can fail: the adapter at 0.97 of its scale is measurably off the merged model.
      expect(logprobDistance(await greedy(model, { adapter: { name: 'a', scale: 0.97 } }), reference)).toBeGreaterThan(1e-2);
    } finally {
      await merged.dispose();
    }
  });

  it('applies scale and alpha as llama.cpp does: F32 with alpha ≠ rank, and an F16 adapter at scale 0.5', async () => {
    for (const [adapter, scale] of [[loraB, 1], [loraF16, 0.5]] as const) {
      const name = adapter === loraB ? 'b' : 'f16';
      const merged = await loadModel(await cachedMergedModel({ basePath: STORIES, adapterPath: adapter, scale }), { contextSize: 256, threads: 1 });
      try {
        expectSameTokens(await greedy(model, { adapter: { name, scale } }), await greedy(merged));
      } finally {
        await merged.dispose();
      }
    }
  });

  it('at scale 0 generates what the base model does', async () => {
    expectSameTokens(await greedy(model, { adapter: { name: 'a', scale: 0 } }), await greedy(model));
  });

  it('gives concurrent requests with different adapters (and none) each what it gives alone', async () => {
    const choices: Array<GenerateRequest['adapter']> = ['a', 'b', undefined, { name: 'a', scale: 0.5 }];
    const alone = [];
    for (const [i, adapter] of choices.entries()) alone.push(await greedy(model, { adapter }, i % 2 ? OTHER : PROMPT));
    const together = await Promise.all(choices.map((adapter, i) => greedy(model, { adapter }, i % 2 ? OTHER : PROMPT)));
    together.forEach((r, i) => expectSameTokens(r, alone[i]!));
    expect(new Set(alone.map((r) => r.text)).size).toBe(4);
  });

  it('does not reuse a prompt cached under another adapter', async () => {
    const prompt = 'A little cat named Tom sat by the window and looked at the rain.';
    const ask = (adapter?: string) => model.complete({ prompt, maxTokens: 8, temperature: 0, adapter });
    const base = await ask();
    const adapted = await ask('b');
    const baseAgain = await ask();
    // At most BOS, which every prompt starts with, comes from another request's cache.
    expect(base.cachedPromptTokens).toBeLessThanOrEqual(1);
    expect(adapted.cachedPromptTokens).toBeLessThanOrEqual(1);
    expect(baseAgain.cachedPromptTokens).toBe(base.promptTokens - 1);
    expect(adapted.text).toBe((await greedy(model, { adapter: 'b', maxTokens: 8 }, prompt)).text);
  });

  it('lets a request that uses an adapter finish when the adapter is removed meanwhile', async () => {
    await model.loadAdapter('doomed', loraA);
    const alone = await greedy(model, { adapter: 'doomed', maxTokens: 48 });
    const stream = model.generate({ prompt: PROMPT, maxTokens: 48, temperature: 0, cachePrompt: false, adapter: 'doomed' });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // it is generating with the adapter
    model.removeAdapter('doomed');
    expect(model.adapters).not.toContain('doomed');
    const removed = await stream.result;
    expect(removed.text).toBe(alone.text);
    const e = await expectCode(() => model.generate({ prompt: PROMPT, adapter: 'doomed' }), 'INVALID_ARGUMENT');
    expect(e.message).toContain('request.adapter');
    expect(e.message).toContain('doomed');
    // The name can be used again: a new load, the same file.
    await model.loadAdapter('doomed', loraA);
    expect((await greedy(model, { adapter: 'doomed', maxTokens: 48 })).text).toBe(alone.text);
    model.removeAdapter('doomed');
  });

  it('loads an adapter while a request runs, which goes on undisturbed', async () => {
    const alone = await greedy(model, { adapter: 'b', maxTokens: 64 });
    const running = greedy(model, { adapter: 'b', maxTokens: 64 });
    const steps = model.decodeSteps;
    await model.loadAdapter('late', loraF16);
    const late = await greedy(model, { adapter: 'late', maxTokens: 8 });
    expectSameTokens(await running, alone);
    expect(model.decodeSteps).toBeGreaterThan(steps);
    expectSameTokens(late, await greedy(model, { adapter: 'f16', maxTokens: 8 }));
    model.removeAdapter('late');
  });

  it('refuses a name in use (also while its first load runs) and an unknown name to remove', async () => {
    await expectCode(model.loadAdapter('a', loraB), 'ALREADY_EXISTS', 'name');
    const first = model.loadAdapter('twice', loraA);
    await expectCode(model.loadAdapter('twice', loraB), 'ALREADY_EXISTS', 'name');
    await first;
    model.removeAdapter('twice');
    const e = await expectCode(() => model.removeAdapter('missing'), 'INVALID_ARGUMENT', 'name');
    expect(e.value).toBe('missing');
    expect(e.message).toContain('"missing"');
    await expectCode(() => model.removeAdapter(''), 'INVALID_ARGUMENT', 'name');
    await expectCode(model.loadAdapter(5 as unknown as string, loraA), 'INVALID_ARGUMENT', 'name');
    await expectCode(model.loadAdapter('x', join(tmpdir(), 'no-such-adapter.gguf')), 'MODEL_NOT_FOUND', 'path');
  });

  it('belong to their model: a model swapped into a slot has none', async () => {
    const other = await loadModel(STORIES, { contextSize: 256, threads: 1 });
    const slot = new ModelSlot(model);
    await slot.replace(other, { disposeOld: false });
    await expectCode(() => slot.generate({ prompt: PROMPT, adapter: 'a' }), 'INVALID_ARGUMENT');
    await other.loadAdapter('a', loraA);
    expect((await slot.complete({ prompt: PROMPT, maxTokens: 8, temperature: 0, adapter: 'a' })).text).toBe(
      (await greedy(model, { adapter: 'a', maxTokens: 8 })).text,
    );
    await slot.replace(model, { disposeOld: true });
  });

  it('guards the native methods: wrong arguments are TypeErrors naming the argument', () => {
    const raw = model.nativeModel as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => raw.loadAdapter!()).toThrow(/name/);
    expect(() => raw.loadAdapter!('x', 5)).toThrow(/path/);
    expect(() => raw.removeAdapter!(null)).toThrow(/name/);
    expect(raw.removeAdapter!('not-there')).toBe(false);
  });
});

describe('a disposed model with adapters', () => {
  it('lists none and refuses to load one', async () => {
    const m = await loadModel(STORIES, { contextSize: 128, threads: 1 });
    await m.loadAdapter('a', loraA);
    await m.dispose();
    expect(m.adapters).toEqual([]);
    await expectCode(m.loadAdapter('b', loraB), 'DISPOSED');
    await expectCode(() => m.removeAdapter('a'), 'DISPOSED');
  });
});

describe('adapters in a plain node process', () => {
  const child = join(repoRoot, 'test', 'engine', 'fixtures', 'lora-child.mjs');
  const run = (stage: string) => {
    const r = spawnSync(process.execPath, [child, stage, STORIES, loraA, loraB], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: `${r.stderr}${r.error ?? ''}` };
  };
  beforeAll(() => {
    // The child imports the compiled library (npm test builds it first).
    if (!existsSync(join(repoRoot, 'lib', 'engine', 'index.js'))) {
      const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
    }
  });

  it.each([
    ['dispose-idle', 'disposed'],
    ['dispose-generating', 'settled ABORTED,ABORTED,ABORTED'],
    ['exit-generating', 'chunk'],
  ])('exits 0 at stage %s', (stage, marker) => {
    const r = run(stage);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('adapters a,b');
    expect(r.stdout).toContain(marker);
  });

  it('exits 0 when disposed while an adapter loads; the load settles', () => {
    const r = run('dispose-while-loading');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/adapter (loaded|DISPOSED)/);
    expect(r.stdout).toContain('disposed 0');
  });
});
