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
 * Measured in a child `node` process on the built package (bench/fixtures/select-child.mjs; run `npm run
 * build` first; BENCH_NODE picks another Node): under the test runner the selector costs about twice as much.
 *
 * Timings are printed, never asserted; the samples go to bench/results/select-<time>.json (git-ignored).
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/select.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = [10, 100, 1000];
const CALLS = 20_000;
const WARMUP = 2_000;
const TARGET_P95_US = 50;
const NODE = process.env.BENCH_NODE ?? process.execPath;

interface Row {
  mode: string;
  loop: 'steady' | 'learning';
  candidates: number;
  /** p50 of observe() (learning loop only). */
  observeP50: number | null;
  firstCallUs: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

it('select: p50/p95/p99 at 10, 100 and 1,000 candidates', () => {
  if (!existsSync(join(root, 'lib', 'select', 'index.js'))) throw new Error('Run `npm run build` first: the benchmark measures the built package');
  const child = join(root, 'bench', 'fixtures', 'select-child.mjs');
  const text = execFileSync(NODE, [child, JSON.stringify({ sizes: SIZES, calls: CALLS, warmup: WARMUP })], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const { node, rows } = JSON.parse(text.trim().split('\n').pop()!) as { node: string; rows: Row[] };
  const f = (value: number | null): string => (value === null ? '-' : value.toFixed(value >= 100 ? 0 : 1));
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
    `method: ${CALLS} timed calls after ${WARMUP} warm-up calls per row, each timed alone (process.hrtime.bigint), in a child process on the built package; ${cpus().length} logical CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${node}`,
    '',
  );
  console.log(lines.join('\n'));
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `select-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ target: { p95Us: TARGET_P95_US, candidates: 1000, steady: steady.p95, learning: learning.p95, met }, calls: CALLS, warmup: WARMUP, node, rows }, null, 2));
  console.log(`results written to ${file}`);
}, 600_000);
