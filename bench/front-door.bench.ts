/**
 * Front-door overhead (issue 10): what admission, selection, the pool lease, cost measurement and
 * recording add to a 16-token stories260K request, against calling the same loaded model directly.
 * Measured in a child `node` process on the built package (bench/fixtures/front-door-child.mjs; run
 * `npm run build` first), one model instance (the pool's), blocks of 25 requests of each kind, the kinds rotating (each runs back
 * to back as a server runs its one path; alternating request by request would measure cold caches):
 *
 *   - direct:   model.complete(request) on the model the pool holds (the in-process call);
 *   - pool:     pool.use('story', (lease) => lease.model.complete(request)) (the pool's lease alone);
 *   - named:    frontDoor.complete({ model: 'story', ...request });
 *   - selected: frontDoor.complete({ task: 'completion', ...request }) over `BENCH_CANDIDATES` (default 10)
 *               registered versions (the others are never loaded: their history says they are slow and bad).
 *
 * The front door's own overhead, three ways: the difference of medians against the pool lease of wall −
 * the engine's totalMs (noisy: it also holds the cache effects of running more code between two model
 * calls); the front door's own report (overheadMs: its time before answering) plus the time its
 * bookkeeping takes after the answer (until settled(), less one loop turn); and (where the Node has process.threadCpuUsage(), ≥ 23.9: set BENCH_NODE to a Node 24
 * binary) the main thread's CPU per request including the bookkeeping done just after answering. Under the
 * test runner the same code costs about twice as much (its module wrappers), hence the child process.
 * Target: ≤ 2% of the request, in steady state: `BENCH_WARMUP` requests of each kind (default 6000) run
 * first, the first 500 of them reported apart (while the JIT compiles the front door costs more). `BENCH_RUNS` child processes (default 3) run one after another; the summary gives
 * the median of their figures and the range. Printed, never asserted.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/front-door.bench.ts
 *   BENCH_NODE=path/to/node24 BENCH_CANDIDATES=100 BENCH_ROUNDS=400 BENCH_RUNS=3 ...
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { fmt, formatSummary, summarize } from './lib/stats.js';

const root = new URL('..', import.meta.url).pathname;
const STORIES = join(root, '..', 'shared', 'models', 'stories260K.gguf');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 400);
const CANDIDATES = Number(process.env.BENCH_CANDIDATES ?? 10);
const NODE = process.env.BENCH_NODE ?? process.execPath;
// Requests of each kind before measuring: enough for V8 to optimize the front door's functions fully,
// each called once per request (measured: Node 20 reaches its steady state after about 2,000 requests,
// Node 24 — whose functions first run as Maglev code — after about 5,000; before that the front door costs
// 2–3× as much, reported apart as the first requests' figure).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 6000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const KINDS = ['direct', 'pool', 'named', 'selected'] as const;
type Kind = (typeof KINDS)[number];

interface ChildResult {
  node: string;
  threadCpu: boolean;
  selectedOther: number;
  kinds: Record<Kind, { wall: number[]; own: number[]; cpu: number[]; overhead: number[]; after: number[] }>;
  /** The first `earlyCount` requests of each kind, during the warm-up. */
  early: Record<Kind, { overhead: number[]; after: number[] }>;
  earlyCount: number;
}

/** The front door's own time plus its bookkeeping, and the wall time outside the engine, beyond the pool's lease: % of the direct request. */
interface RunFigures {
  node: string;
  directMs: number;
  own: Record<'named' | 'selected', number>;
  outside: Record<'named' | 'selected', number>;
  cpu: Record<'named' | 'selected', number>;
  /** Own time + bookkeeping of the first requests (JIT warming), % of the direct request. */
  early: Record<'named' | 'selected', number>;
}

function runChild(run: number): RunFigures {
  const child = join(root, 'bench', 'fixtures', 'front-door-child.mjs');
  const text = execFileSync(NODE, [child, JSON.stringify({ stories: STORIES, rounds: ROUNDS, candidates: CANDIDATES, warmup: WARMUP })], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const result = JSON.parse(text.trim().split('\n').pop()!) as ChildResult;
  const sum = (key: 'wall' | 'own' | 'cpu' | 'after') => Object.fromEntries(KINDS.map((k) => [k, summarize(result.kinds[k][key])])) as Record<Kind, ReturnType<typeof summarize>>;
  const s = sum('wall');
  const o = sum('own');
  const c = result.threadCpu ? sum('cpu') : undefined;
  const added = (figures: Record<Kind, ReturnType<typeof summarize>>, k: Kind, base: Kind) => {
    const extra = figures[k].median - figures[base].median;
    return `${fmt(extra * 1000)} µs = ${((100 * extra) / s.direct.median).toFixed(2)}%`;
  };
  const togetherOf = (kinds: ChildResult['early'], k: 'named' | 'selected') =>
    summarize(kinds[k].overhead).median + summarize(kinds[k].after).median - summarize(kinds.pool.after).median;
  const together = (k: 'named' | 'selected') => togetherOf(result.kinds, k);
  const percent = (ms: number) => (100 * ms) / s.direct.median;
  const lines = [
    `### run ${run + 1} of ${RUNS}: front door overhead, stories260K, 16 tokens, ${ROUNDS} requests of each kind in rotating blocks of 25 after ${WARMUP} warm-up, ${CANDIDATES} registered candidates, Node ${result.node}`,
    '| request | wall ms | outside the engine ms (wall − totalMs) | added vs direct | added vs pool lease | main-thread CPU ms (incl. bookkeeping) | CPU added vs pool lease |',
    '|---|---|---|---|---|---|---|',
    ...KINDS.map((k) => {
      const vsPool = k === 'direct' || k === 'pool' ? '-' : added(o, k, 'pool');
      const cpuCells = c === undefined ? ['n/a (Node < 23.9)', '-'] : [formatSummary(c[k]), k === 'direct' || k === 'pool' ? '-' : added(c, k, 'pool')];
      return `| ${k} | ${formatSummary(s[k])} | ${formatSummary(o[k])} | ${k === 'direct' ? '-' : added(o, k, 'direct')} | ${vsPool} | ${cpuCells.join(' | ')} |`;
    }),
    '',
    "| request | front door's own time before answering (overheadMs) | bookkeeping after answering (time to settled() − one loop turn) | together |",
    '|---|---|---|---|',
    ...(['named', 'selected'] as const).map((k) => {
      const own = summarize(result.kinds[k].overhead);
      const after = summarize(result.kinds[k].after).median - summarize(result.kinds.pool.after).median;
      return `| ${k} | ${formatSummary(own)} ms | ${fmt(after * 1000)} µs | ${fmt(together(k) * 1000)} µs = ${percent(together(k)).toFixed(2)}% |`;
    }),
    `the first ${result.earlyCount} requests of each kind (warm-up, JIT compiling): own time + bookkeeping named ${fmt(togetherOf(result.early, 'named') * 1000)} µs = ${percent(togetherOf(result.early, 'named')).toFixed(2)}%, selected ${fmt(togetherOf(result.early, 'selected') * 1000)} µs = ${percent(togetherOf(result.early, 'selected')).toFixed(2)}%`,
    `selected requests that did not go to 'story': ${result.selectedOther} of ${ROUNDS} (exploration of candidates with a bad history)`,
    '',
  ];
  console.log(lines.join('\n'));
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `front-door-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ ...result, candidates: CANDIDATES }, null, 1));
  const figures = (f: (k: 'named' | 'selected') => number) => ({ named: f('named'), selected: f('selected') });
  return {
    node: result.node,
    directMs: s.direct.median,
    own: figures((k) => percent(together(k))),
    outside: figures((k) => percent(o[k].median - o.pool.median)),
    cpu: figures((k) => (c === undefined ? Number.NaN : percent(c[k].median - c.pool.median))),
    early: figures((k) => percent(togetherOf(result.early, k))),
  };
}

it('front door overhead against the direct in-process call', { timeout: 1_800_000 }, () => {
  if (!existsSync(join(root, 'lib', 'runtime', 'front-door.js'))) throw new Error('Run `npm run build` first: the benchmark measures the built package');
  // Several processes, one after another: the spread between them is the machine's, and is reported.
  const runs = Array.from({ length: RUNS }, (_, run) => runChild(run));
  const cell = (values: number[]) => {
    const s = summarize(values);
    return s.n === 0 ? 'n/a' : `${s.median.toFixed(2)}% (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
  };
  console.log(
    [
      `### front door overhead over ${RUNS} runs, Node ${runs[0]!.node}: median of the runs' figures (range), % of the direct request (median ${cell(runs.map((r) => r.directMs)).replace(/%/g, ' ms')})`,
      `| request | own time + bookkeeping (target ≤ 2%) | wall outside the engine vs pool lease | main-thread CPU vs pool lease | own time + bookkeeping, first ${Math.min(WARMUP, 500)} requests |`,
      '|---|---|---|---|---|',
      ...(['named', 'selected'] as const).map(
        (k) => `| ${k} | ${cell(runs.map((r) => r.own[k]))} | ${cell(runs.map((r) => r.outside[k]))} | ${cell(runs.map((r) => r.cpu[k]))} | ${cell(runs.map((r) => r.early[k]))} |`,
      ),
    ].join('\n'),
  );
});
