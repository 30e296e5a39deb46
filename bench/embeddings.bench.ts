/**
 * Embeddings benchmark: texts per second of modelpool's batched embed() (many texts per decode) against
 * one text per embed() call, and against llama.cpp's llama-embedding on the same file and texts, on a
 * generated BERT model (mean pooling).
 *
 * - Every peer runs in a child process of its own, one at a time, so no two peers' threads are alive
 *   together; rounds are interleaved with the order rotating, so a neighbour's load spike hits all alike.
 *   A figure is the median over all samples of all rounds, printed with its interquartile range.
 * - modelpool children load the model (mmap off: weights resident), embed once to warm up, then time
 *   BENCH_REPS passes over the texts.
 * - llama-embedding prints no timing of its own, and each run loads the model: its figure is the texts
 *   over (run with all texts − run with one short text), both the median of BENCH_REPS runs in that
 *   round, so that process start and model load cancel out. Same batch (512 tokens), context and threads.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/embeddings.bench.ts
 *
 * Needs lib/ (npm run build), the addon and build/bin/llama-embedding (npm run build:llama-tools).
 * Environment: BENCH_ROUNDS (default 5), BENCH_REPS (default 3), BENCH_TEXTS (default 128),
 * BENCH_THREADS (default 1). Figures are printed, never asserted.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect, it } from 'vitest';

import { cachedBertTestModel } from '../src/testing/bert-generator.js';
import { fmt, formatSummary, ratioOfMedians, summarize } from './lib/stats.js';

const execFileAsync = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LLAMA_EMBEDDING = join(root, 'build', 'bin', 'llama-embedding');
const envInt = (name: string, fallback: number) => Math.max(1, Number(process.env[name] ?? fallback) || fallback);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const REPS = envInt('BENCH_REPS', 3);
const TEXT_COUNT = envInt('BENCH_TEXTS', 128);
const THREADS = envInt('BENCH_THREADS', 1);
const BATCH = 512;
const MODEL = { pooling: 'mean', layers: 4, embeddingSize: 256, heads: 4, feedForwardSize: 1024, contextLength: 512, seed: 11 } as const;

const WORDS = 'the a quick brown fox jumps over lazy dog river city model batch text vector token sentence market winter light'.split(' ');

/** Deterministic texts of 4 to 40 words. */
function makeTexts(count: number): string[] {
  let state = 12345;
  const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  return Array.from({ length: count }, () => Array.from({ length: 4 + Math.floor(next() * 37) }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' '));
}

type Peer = 'batched' | 'one-at-a-time' | 'llama-embedding';
const PEERS: Peer[] = ['batched', 'one-at-a-time', 'llama-embedding'];

// The modelpool child: loads the model, warms up, prints one RESULT line of texts/s per pass.
const CHILD = `
const [lib, path, mode, threads, reps, texts] = JSON.parse(process.argv[1]);
const { loadModel } = await import(lib);
const model = await loadModel(path, { embeddings: true, threads, batchThreads: threads, mmap: false, batchSize: ${BATCH} });
const pass = async () => {
  const t0 = performance.now();
  if (mode === 'batched') await model.embed(texts);
  else for (const text of texts) await model.embed([text]);
  return texts.length / ((performance.now() - t0) / 1000);
};
await pass();
const rates = [];
for (let i = 0; i < reps; i++) rates.push(await pass());
await model.dispose();
console.log('RESULT ' + JSON.stringify(rates));
`;

async function modelpoolRates(path: string, mode: Peer, texts: string[]): Promise<number[]> {
  const lib = join(root, 'lib', 'engine', 'index.js');
  const args = ['--input-type=module', '-e', CHILD, JSON.stringify([lib, path, mode, THREADS, REPS, texts])];
  const { stdout } = await execFileAsync(process.execPath, args, { cwd: root, maxBuffer: 64 << 20, timeout: 600_000 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`modelpool child printed no RESULT line: ${stdout.slice(-300)}`);
  return JSON.parse(line.slice('RESULT '.length)) as number[];
}

async function llamaEmbeddingMs(path: string, texts: string[]): Promise<number> {
  const args = ['-m', path, '-p', texts.join('\n'), '-c', String(MODEL.contextLength), '-b', String(BATCH), '-ub', String(BATCH), '-t', String(THREADS), '--embd-output-format', 'json'];
  const t0 = performance.now();
  await execFileAsync(LLAMA_EMBEDDING, args, { cwd: root, maxBuffer: 256 << 20, timeout: 600_000 });
  return performance.now() - t0;
}

async function llamaEmbeddingRates(path: string, texts: string[]): Promise<number[]> {
  const median = (values: number[]) => summarize(values).median;
  const all: number[] = [];
  const one: number[] = [];
  for (let i = 0; i < REPS; i++) {
    all.push(await llamaEmbeddingMs(path, texts));
    one.push(await llamaEmbeddingMs(path, [texts[0]!]));
  }
  // One figure per round: load and start-up cancel out in the difference of medians.
  return [texts.length / ((median(all) - median(one)) / 1000)];
}

it.runIf(existsSync(LLAMA_EMBEDDING) && existsSync(join(root, 'lib', 'engine', 'index.js')))('embeddings: batched vs one at a time vs llama-embedding', async () => {
  const path = await cachedBertTestModel(MODEL);
  const texts = makeTexts(TEXT_COUNT);
  const rates: Record<Peer, number[]> = { batched: [], 'one-at-a-time': [], 'llama-embedding': [] };
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = PEERS.map((_, i) => PEERS[(i + round) % PEERS.length]!);
    for (const peer of order) {
      rates[peer].push(...(peer === 'llama-embedding' ? await llamaEmbeddingRates(path, texts) : await modelpoolRates(path, peer, texts)));
    }
    loads.push(loadavg()[0]!);
  }
  const summaries = Object.fromEntries(PEERS.map((peer) => [peer, summarize(rates[peer])])) as Record<Peer, ReturnType<typeof summarize>>;
  console.log(
    [
      `embeddings, BERT ${MODEL.layers}x${MODEL.embeddingSize} (${MODEL.pooling}), ${texts.length} texts of 4-40 words, ${THREADS} thread(s), batch ${BATCH}; ${ROUNDS} rounds x ${REPS} reps`,
      ...PEERS.map((peer) => `  ${peer.padEnd(16)} texts/s ${formatSummary(summaries[peer])}`),
      `  batched / one-at-a-time: ${fmt(ratioOfMedians(summaries.batched, summaries['one-at-a-time']))}x`,
      `  batched / llama-embedding: ${fmt(ratioOfMedians(summaries.batched, summaries['llama-embedding']))}x`,
      `  load average by round: ${loads.map((l) => l.toFixed(2)).join(' ')}`,
    ].join('\n'),
  );
  for (const peer of PEERS) expect(rates[peer].length).toBeGreaterThan(0);
});
