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
 * Target: ≤ 2% of the request. Printed, never asserted.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/front-door.bench.ts
 *   BENCH_NODE=path/to/node24 BENCH_CANDIDATES=100 BENCH_ROUNDS=400 ...
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
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);
const KINDS = ['direct', 'pool', 'named', 'selected'] as const;
type Kind = (typeof KINDS)[number];

interface ChildResult {
  node: string;
  threadCpu: boolean;
  selectedOther: number;
  kinds: Record<Kind, { wall: number[]; own: number[]; cpu: number[]; overhead: number[]; after: number[] }>;
}

it('front door overhead against the direct in-process call', { timeout: 900_000 }, () => {
  if (!existsSync(join(root, 'lib', 'runtime', 'front-door.js'))) throw new Error('Run `npm run build` first: the benchmark measures the built package');
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
  const lines = [
    `### front door overhead, stories260K, 16 tokens, ${ROUNDS} requests of each kind in rotating blocks of 25 after ${WARMUP} warm-up, ${CANDIDATES} registered candidates, Node ${result.node}`,
    '| request | wall ms | outside the engine ms (wall − totalMs) | added vs direct | added vs pool lease | main-thread CPU ms (incl. bookkeeping) | CPU added vs pool lease |',
    '|---|---|---|---|---|---|---|',
    ...KINDS.map((k) => {
      const vsPool = k === 'direct' || k === 'pool' ? '-' : added(o, k, 'pool');
      const cpuCells = c === undefined ? ['n/a (Node < 23.9)', '-'] : [formatSummary(c[k]), k === 'direct' || k === 'pool' ? '-' : added(c, k, 'pool')];
      return `| ${k} | ${formatSummary(s[k])} | ${formatSummary(o[k])} | ${k === 'direct' ? '-' : added(o, k, 'direct')} | ${vsPool} | ${cpuCells.join(' | ')} |`;
    }),
    "percentages of the direct request's median wall time; target: the front door's own overhead (admission, selection, cost, recording) ≤ 2%",
    '',
    "| request | front door's own time before answering (overheadMs) | bookkeeping after answering (time to settled() − one loop turn) | together |",
    '|---|---|---|---|',
    ...(['named', 'selected'] as const).map((k) => {
      const own = summarize(result.kinds[k].overhead);
      const after = summarize(result.kinds[k].after).median - summarize(result.kinds.pool.after).median;
      const total = own.median + after;
      return `| ${k} | ${formatSummary(own)} ms | ${fmt(after * 1000)} µs | ${fmt(total * 1000)} µs = ${((100 * total) / s.direct.median).toFixed(2)}% |`;
    }),
    `selected requests that did not go to 'story': ${result.selectedOther} of ${ROUNDS} (exploration of candidates with a bad history)`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `front-door-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ ...result, candidates: CANDIDATES }, null, 1));
});
