/**
 * Selector benchmark (issue 10): the time of one `Selector.select` over 10, 100 and 1,000 candidate
 * versions, all passing the request's constraints (so every candidate is checked, sampled and scored),
 * as p50 / p95 / p99 of single calls; requests rotate over four contexts. Two loops: 'steady', where
 * selections follow each other, and 'learning', where the selector is told the outcome of every pick
 * (untimed, its own figure shown apart) as in a serving loop, so each selection first refreshes the
 * posteriors that outcome changed. With 1,000 mostly untried candidates Thompson sampling keeps trying
 * new ones, so nearly every outcome lands on a different arm: the learning loop is a worst case.
 * Target: p95 ≤ 50 µs at 1,000 candidates (Thompson sampling, contextual). Also shown: the first call
 * over a fresh list (every candidate read and checked once), greedy and non-contextual selection.
 *
 * Timings are printed, never asserted; the samples go to bench/results/select-<time>.json (git-ignored).
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/select.bench.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { Selector, type Candidate, type SelectRequest, type SelectorOptions } from '../src/select/index.js';
import { seededRandom } from '../test/helpers/expect.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = [10, 100, 1000];
const CALLS = 20_000;
const WARMUP = 2_000;
const TARGET_P95_US = 50;
const QUANTS = ['F16', 'Q8_0', 'Q6_K', 'Q4_K_M', 'Q4_0', 'IQ2_XXS'];

/** `count` versions of count/2 models: sizes 100M–70B, mixed weight types, half with history. */
function candidates(count: number, seed: number): Candidate[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, (_, index): Candidate => {
    const parameterCount = Math.round(10 ** (8 + next() * 2.85));
    const candidate: Candidate = {
      modelId: `model-${index >> 1}`,
      version: String(1 + (index & 1)),
      tasks: ['chat', 'completion'],
      tags: ['general'],
      local: next() < 0.8,
      loaded: next() < 0.3,
      contextLength: 4096 * 2 ** Math.floor(next() * 4),
      parameterCount,
      quantization: QUANTS[Math.floor(next() * QUANTS.length)]!,
    };
    if (index & 1) candidate.predecessor = '1';
    if (next() < 0.5) {
      candidate.stats = { samples: 20 + Math.floor(next() * 500), successRate: 0.9 + next() * 0.1, quality: 0.3 + next() * 0.6, p95LatencyMs: 500 + next() * 9000, meanLatencyMs: 300 + next() * 3000 };
    }
    if (!candidate.local) candidate.estimatedCostUsd = 1e-4 + next() * 1e-2;
    return candidate;
  });
}

const CONTEXTS = [
  { promptTokens: 40 },
  { promptTokens: 200, tags: ['code'] },
  { promptTokens: 900 },
  { promptTokens: 3000, tags: ['legal', 'en'] },
];

function request(index: number): SelectRequest {
  return {
    task: 'chat',
    // Limits every candidate passes: the constraint checks run, nothing is rejected.
    constraints: { maxMemoryBytes: 1e13, maxP95LatencyMs: 1e9, minQuality: 0, minContextLength: 1024 },
    context: CONTEXTS[index & 3]!,
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface Row {
  mode: string;
  loop: 'steady' | 'learning';
  candidates: number;
  /** p50 of observe() (learning loop only). */
  observeP50: number;
  firstCallUs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

function measure(mode: string, options: SelectorOptions, size: number, loop: 'steady' | 'learning'): Row {
  const list = candidates(size, 7 + size);
  const selector = new Selector({ seed: 11, ...options });
  const next = seededRandom(size);
  // The first call reads and checks every candidate object once.
  let started = process.hrtime.bigint();
  let selection = selector.select(request(0), list);
  const firstCallUs = Number(process.hrtime.bigint() - started) / 1000;
  const times = new Float64Array(CALLS);
  const observeTimes = new Float64Array(loop === 'learning' ? CALLS : 0);
  let sink = 0;
  for (let call = -WARMUP; call < CALLS; call++) {
    const req = request(call);
    started = process.hrtime.bigint();
    selection = selector.select(req, list);
    const elapsed = process.hrtime.bigint() - started;
    if (call >= 0) times[call] = Number(elapsed) / 1000;
    sink += selection.score;
    if (loop === 'steady') continue;
    const quality = Math.min(1, Math.max(0, 0.6 + 0.2 * (next() - 0.5)));
    const outcome = { modelId: selection.modelId, version: selection.version, task: 'chat', context: req.context!, success: next() < 0.97, quality, latencyMs: 200 + next() * 2000 };
    started = process.hrtime.bigint();
    selector.observe(outcome);
    if (call >= 0) observeTimes[call] = Number(process.hrtime.bigint() - started) / 1000;
  }
  expect(Number.isFinite(sink)).toBe(true);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  times.sort();
  observeTimes.sort();
  return {
    mode,
    loop,
    candidates: size,
    observeP50: loop === 'learning' ? quantile(observeTimes, 0.5) : Number.NaN,
    firstCallUs,
    p50: quantile(times, 0.5),
    p95: quantile(times, 0.95),
    p99: quantile(times, 0.99),
    mean,
  };
}

it('select: p50/p95/p99 at 10, 100 and 1,000 candidates', () => {
  const modes: Array<[string, SelectorOptions]> = [
    ['thompson, contextual', {}],
    ['thompson, one context', { contextual: false }],
    ['greedy, contextual', { exploration: 'greedy' }],
  ];
  const rows: Row[] = [];
  for (const loop of ['steady', 'learning'] as const) for (const [mode, options] of modes) for (const size of SIZES) rows.push(measure(mode, options, size, loop));
  const f = (value: number): string => (Number.isNaN(value) ? '-' : value.toFixed(value >= 100 ? 0 : 1));
  const lines = [
    '',
    `| loop | mode | candidates | p50 µs | p95 µs | p99 µs | mean µs | first call µs | observe p50 µs |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...rows.map((r) => `| ${r.loop} | ${r.mode} | ${r.candidates} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${f(r.mean)} | ${f(r.firstCallUs)} | ${f(r.observeP50)} |`),
  ];
  const headline = (loop: string) => rows.find((r) => r.loop === loop && r.mode === 'thompson, contextual' && r.candidates === 1000)!;
  const steady = headline('steady');
  const learning = headline('learning');
  const met = steady.p95 <= TARGET_P95_US;
  lines.push(
    '',
    `target: p95 ≤ ${TARGET_P95_US} µs at 1,000 candidates (thompson, contextual): steady ${f(steady.p95)} µs — ${met ? 'met' : 'NOT met'}; learning (an outcome before every selection) ${f(learning.p95)} µs — ${learning.p95 <= TARGET_P95_US ? 'met' : 'NOT met'}`,
    `method: ${CALLS} timed calls after ${WARMUP} warm-up calls per row, each timed alone (process.hrtime.bigint); ${cpus().length} logical CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
    '',
  );
  console.log(lines.join('\n'));
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `select-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ target: { p95Us: TARGET_P95_US, candidates: 1000, steady: steady.p95, learning: learning.p95, met }, calls: CALLS, warmup: WARMUP, rows }, null, 2));
  console.log(`results written to ${file}`);
}, 600_000);
