/**
 * Quantisation benchmark: what each quantisation of stories260K (the real trained 260K-parameter model,
 * F32) costs in quality and gives in size, memory and speed — the figures the selector weighs.
 *
 * - Variants F16, Q8_0 and Q4_0 made by the project's own quantizer (src/engine/quantize.ts), cached under
 *   .cache/models (src/eval/variants.ts).
 * - Fidelity (src/eval/fidelity.ts): the reference's greedy continuation (BENCH_CONTINUATION tokens, default
 *   32) of each of 24 fixed story openings, scored by the reference and by each variant; top-1 agreement
 *   and KL(P_ref || P_variant) per position (mean, p95, max). The vocabulary has 512 tokens, so evaluate()
 *   returns whole distributions and the KL is exact.
 * - Decode speed: decodeTokensPerSecond of a greedy BENCH_TOKENS-token completion (default 128) of one
 *   prompt, prompt cache off, 1 thread, weights resident (mmap off, like bench/engine.bench.ts); every model
 *   loaded once and warmed up, then BENCH_ROUNDS rounds (default 7) in which each model runs once, the
 *   order rotating, so that a neighbour's load spike hits all alike. Median with IQR and range.
 * - Memory: model.memory.total (resident: weights, KV cache, compute) and its weights part, context 512.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/fidelity.bench.ts
 *
 * Then the selector's trade on these figures: the four variants registered as versions of one model, each
 * with history samples of its measured quality (top-1 agreement), the latency of a 16-token request at its
 * measured decode speed and its resident memory; FrontDoor.select() (greedy, so the figures decide, not a
 * draw) under several objectives and constraints, with every candidate's score or rejection.
 *
 * The table is printed and everything is written to bench/results/fidelity-<time>.json (git-ignored).
 * Timings are printed, never asserted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

import { loadModel, type Model } from '../src/engine/index.js';
import { measureFidelity, quantizedVariant, type FidelityReport } from '../src/eval/index.js';
import { ModelRegistry } from '../src/registry/index.js';
import { FrontDoor } from '../src/runtime/index.js';
import { Selector, type Constraints, type Objective } from '../src/select/index.js';
import { fmt, formatSummary, summarize, type Summary } from './lib/stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STORIES = resolve(root, '..', 'shared', 'models', 'stories260K.gguf');
const envInt = (name: string, fallback: number) => Math.max(1, Number(process.env[name] ?? fallback) || fallback);
const ROUNDS = envInt('BENCH_ROUNDS', 7);
const TOKENS = envInt('BENCH_TOKENS', 128);
const CONTINUATION = envInt('BENCH_CONTINUATION', 32);
const TYPES = ['F16', 'Q8_0', 'Q4_0'] as const;

/** 24 fixed story openings in the style of TinyStories (the model's training data). */
const PROMPTS = [
  'Once upon a time, there was a little girl named Lily.',
  'One day, a big dog named Max',
  'Tom and Sue went to the park to play.',
  'The sun was hot and the grass was green.',
  'There was a small bird who lived in a tree.',
  'Mom said, "It is time for bed."',
  'Once upon a time, there was a boy named Tim. He loved',
  'A little cat found a red ball',
  'Sara wanted to bake a cake for her mom.',
  'The old man had a big garden with',
  'One day, Lily went to the store with her dad.',
  'Ben had a toy car. He liked to',
  'In a small house, there lived a kind',
  'The frog jumped into the pond and',
  'Anna was sad because her doll was broken.',
  'It was a rainy day, so the children',
  'Once upon a time, a little bunny',
  'The bear was hungry. He looked for',
  'Sam and his friend built a tower of blocks.',
  'The princess lived in a big castle.',
  'One morning, the dog saw a butterfly',
  'Lucy liked to draw pictures of',
  'The boy was scared of the dark, so',
  'Once there was a happy fish who',
];
const SPEED_PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

interface Row {
  name: string;
  path: string;
  sizeBytes: number;
  memoryBytes: number;
  weightsBytes: number;
  decode: Summary;
  decodeSamples: number[];
  top1Agreement: number;
  meanKl: number;
  p95Kl: number;
  maxKl: number;
  perplexity: number;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

function table(rows: Row[]): string {
  const header = ['variant', 'file', 'resident (weights)', 'decode tok/s median (IQR, range, n)', 'top-1 agree', 'mean KL', 'p95 KL', 'max KL', 'ppl'];
  const body = rows.map((r) => [
    r.name,
    mb(r.sizeBytes),
    `${mb(r.memoryBytes)} (${mb(r.weightsBytes)})`,
    formatSummary(r.decode),
    `${(100 * r.top1Agreement).toFixed(1)}%`,
    r.meanKl.toExponential(2),
    r.p95Kl.toExponential(2),
    r.maxKl.toExponential(2),
    fmt(r.perplexity),
  ]);
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Decode tok/s of each model, rounds interleaved with the order rotating. */
async function decodeSpeeds(models: { name: string; model: Model }[]): Promise<{ samples: Record<string, number[]>; loadavg: number[] }> {
  const request = { prompt: SPEED_PROMPT, maxTokens: TOKENS, temperature: 0, cachePrompt: false };
  for (const { model } of models) await model.complete(request); // warm-up
  const samples: Record<string, number[]> = Object.fromEntries(models.map((m) => [m.name, []]));
  const load: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < models.length; i++) {
      const { name, model } = models[(i + round) % models.length]!;
      const r = await model.complete(request);
      samples[name]!.push(r.decodeTokensPerSecond);
    }
    load.push(loadavg()[0]!);
  }
  return { samples, loadavg: load };
}

const SCENARIOS: Array<{ name: string; objective?: Objective; constraints?: Constraints }> = [
  { name: 'default objective' },
  { name: 'quality only', objective: { quality: 1 } },
  { name: 'memory weighs (1 per decade)', objective: { quality: 1, memory: 1 } },
  { name: 'latency weighs (1 per decade)', objective: { quality: 1, latency: 1 } },
  { name: 'memory weighs, minQuality 0.95', objective: { quality: 1, memory: 1 }, constraints: { minQuality: 0.95 } },
];

/** What the selector picks among the variants under each scenario, with every candidate's score or rejection. */
async function selectorTrade(rows: Row[]): Promise<string[]> {
  const registry = await ModelRegistry.open();
  const door = new FrontDoor({ registry, selector: new Selector({ exploration: 'greedy' }) });
  try {
    const [first, ...rest] = rows;
    await registry.registerModel({ id: 'stories', tasks: ['completion'], version: { version: first!.name, source: { kind: 'gguf', path: first!.path } } });
    for (const row of rest) await registry.registerVersion('stories', { version: row.name, source: { kind: 'gguf', path: row.path } });
    for (const row of rows) {
      const latencyMs = (16 / row.decode.median) * 1000;
      for (let i = 0; i < 20; i++) {
        registry.recordSample({ model: 'stories', version: row.name, task: 'completion', success: true, quality: row.top1Agreement, totalMs: latencyMs, memoryBytes: row.memoryBytes });
      }
    }
    await registry.flush();
    const smallest = Math.min(...rows.map((r) => r.memoryBytes));
    const secondSmallest = Math.min(...rows.filter((r) => r.memoryBytes > smallest).map((r) => r.memoryBytes));
    const scenarios = [...SCENARIOS, { name: `maxMemoryBytes ${mb(secondSmallest - 1)}`, constraints: { maxMemoryBytes: secondSmallest - 1 } }];
    const lines = ['', '### the selector on the variants (FrontDoor.select, greedy; quality = top-1 agreement, latency = 16 tokens at the median decode rate)'];
    lines.push('| scenario | choice | ' + rows.map((r) => r.name).join(' | ') + ' |', '|---|---|' + rows.map(() => '---').join('|') + '|');
    for (const scenario of scenarios) {
      const selection = door.select({ task: 'completion', ...(scenario.objective ? { objective: scenario.objective } : {}), ...(scenario.constraints ? { constraints: scenario.constraints } : {}) });
      const explained = selection.candidates();
      const cells = rows.map((r) => {
        const c = explained.find((e) => e.version === r.name)!;
        return c.rejected ? `rejected: ${c.rejected.constraint}` : `score ${c.score!.toFixed(3)}`;
      });
      lines.push(`| ${scenario.name} | **${selection.version}** | ${cells.join(' | ')} |`);
    }
    return lines;
  } finally {
    await door.dispose();
    await registry.close();
  }
}

it('fidelity, size, memory and decode speed of stories260K quantisations', async () => {
  const started = performance.now();
  const variants = [];
  for (const type of TYPES) variants.push({ name: type, path: await quantizedVariant(STORIES, type) });

  const fidelity: FidelityReport = await measureFidelity({
    reference: STORIES,
    variants: [{ name: 'F32', path: STORIES }, ...variants],
    prompts: PROMPTS,
    continuationTokens: CONTINUATION,
    threads: 1,
  });

  const all = [{ name: 'F32', path: STORIES }, ...variants];
  const models = [];
  for (const v of all) models.push({ name: v.name, model: await loadModel(v.path, { threads: 1, parallel: 1, contextSize: 512, mmap: false }) });
  const memory = models.map((m) => m.model.memory);
  let speeds: Awaited<ReturnType<typeof decodeSpeeds>>;
  try {
    speeds = await decodeSpeeds(models);
  } finally {
    await Promise.all(models.map((m) => m.model.dispose()));
  }

  const rows: Row[] = all.map((v, i) => {
    const f = fidelity.variants.find((x) => x.name === v.name)!;
    return {
      name: v.name,
      path: v.path,
      sizeBytes: f.sizeBytes,
      memoryBytes: memory[i]!.total,
      weightsBytes: memory[i]!.weights,
      decode: summarize(speeds.samples[v.name]!),
      decodeSamples: speeds.samples[v.name]!,
      top1Agreement: f.top1Agreement,
      meanKl: f.meanKl,
      p95Kl: f.p95Kl,
      maxKl: f.maxKl,
      perplexity: f.perplexity,
    };
  });

  const method = [
    `reference ${relative(root, STORIES)} (F32, vocabulary ${fidelity.vocabularySize}); KL ${fidelity.exact ? 'exact (whole distributions)' : `lower bound over the top ${fidelity.topK}`}`,
    `${fidelity.prompts} prompts (${fidelity.skippedPrompts} skipped), ${fidelity.continuationTokens}-token greedy continuations, ${fidelity.variants[0]!.positions} positions`,
    `decode: ${TOKENS} greedy tokens, 1 thread, mmap off, prompt cache off, ${ROUNDS} interleaved rounds after a warm-up`,
    `load average per round: ${speeds.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
  ];
  console.log(['', table(rows), '', 'Method:', ...method.map((l) => `  ${l}`), `total ${((performance.now() - started) / 1000).toFixed(0)} s`, ''].join('\n'));

  const choices = await selectorTrade(rows);
  console.log(choices.join('\n'));

  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `fidelity-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  // Paths relative to the repository root: the results name no one machine's folders.
  const portable = (_key: string, value: unknown) => (typeof value === 'string' && isAbsolute(value) ? relative(root, value) : value);
  writeFileSync(file, JSON.stringify({ method, fidelity, rows, loadavg: speeds.loadavg, choices }, portable, 2));
  console.log(`results written to ${file}`);

  // Only that every figure exists: timings on shared machines are not assertable.
  expect(rows.every((r) => r.decode.n === ROUNDS && Number.isFinite(r.meanKl))).toBe(true);
}, 1_800_000);
