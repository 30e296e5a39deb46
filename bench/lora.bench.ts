/**
 * LoRA benchmark (issue 9): what switching adapters costs against loading a model that has the
 * adapter merged in. Per base model, in interleaved rounds:
 *
 *   - same:   first token with adapter A right after a request with A (no switch: the control);
 *   - switch: first token with adapter B right after a request with A (llama.cpp re-plans its graph);
 *   - reload: loadModel of the merged model (base + B) and its first token, then dispose;
 *   - load:   loadAdapter of B under a new name (and its removal, not timed).
 *
 * Every request decodes the same prompt without the prompt cache, so "switch" - "same" is the switch.
 * Wall times from the JavaScript call; medians with the interquartile range and the range.
 * Printed, never asserted.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/lora.bench.ts
 */
import { join } from 'node:path';
import { it } from 'vitest';
import { loadModel, type Model } from '../src/engine/index.js';
import { cachedMergedModel, cachedTestLora, cachedTestModel } from '../src/testing/index.js';

const root = new URL('..', import.meta.url).pathname;
const STORIES = join(root, '..', 'shared', 'models', 'stories260K.gguf');
const PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside.';

function summary(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  const f = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  return `${f(q(0.5))} (IQR ${f(q(0.25))}–${f(q(0.75))}, range ${f(s[0]!)}–${f(s[s.length - 1]!)})`;
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await action();
  return performance.now() - t0;
}

const firstToken = (model: Model, adapter?: string) =>
  model.complete({ prompt: PROMPT, maxTokens: 1, temperature: 0, cachePrompt: false, adapter });

async function bench(label: string, basePath: string, rounds: number): Promise<string[]> {
  const [loraA, loraB] = await Promise.all([
    cachedTestLora({ basePath, seed: 1, rank: 8, targets: ['attn_q', 'attn_v'] }),
    cachedTestLora({ basePath, seed: 2, rank: 8, targets: ['attn_q', 'attn_v'] }),
  ]);
  const merged = await cachedMergedModel({ basePath, adapterPath: loraB });
  const options = { contextSize: 256, threads: 1 };
  const model = await loadModel(basePath, options);
  await model.loadAdapter('a', loraA);
  await model.loadAdapter('b', loraB);
  // Warm-up: page cache and first-use costs out of the rounds.
  for (const adapter of ['a', 'b', 'a']) await firstToken(model, adapter);
  await (await loadModel(merged, options)).dispose();

  const same: number[] = [];
  const change: number[] = [];
  const reload: number[] = [];
  const load: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await firstToken(model, 'a');
    same.push(await timed(() => firstToken(model, 'a')));
    change.push(await timed(() => firstToken(model, 'b')));
    reload.push(
      await timed(async () => {
        const m = await loadModel(merged, options);
        await firstToken(m);
        await m.dispose();
      }),
    );
    load.push(await timed(() => model.loadAdapter('c', loraB)));
    model.removeAdapter('c');
  }
  await model.dispose();
  const size = `${(model.info.sizeBytes / 1e6).toFixed(1)} MB`;
  return [
    `| ${label} (${size}) | first token, same adapter | ${summary(same)} |`,
    `| ${label} | first token, adapter switched | ${summary(change)} |`,
    `| ${label} | merged model: load + first token + dispose | ${summary(reload)} |`,
    `| ${label} | loadAdapter (rank 8, attn_q + attn_v) | ${summary(load)} |`,
  ];
}

it('lora: adapter switch vs merged-model reload', async () => {
  const medium = await cachedTestModel({ layers: 8, embeddingSize: 512, feedForwardSize: 1408, heads: 8, kvHeads: 8, contextLength: 2048 });
  const lines = ['| model | measure | ms: median (IQR, range) |', '|---|---|---|'];
  lines.push(...(await bench('stories260K', STORIES, 25)));
  lines.push(...(await bench('llama 8x512 F32', medium, 21)));
  console.log(`\n${lines.join('\n')}\n`);
});
