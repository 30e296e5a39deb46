/**
 * The server (issue 12): (1) what it adds per request over the in-process front-door call, with the official
 * openai client on loopback (plain and streamed; p50/p99), in one child process on the built package, kinds
 * interleaved in blocks; (2) throughput under concurrent clients (autocannon, POST /v1/completions, 16 tokens)
 * against llama.cpp's llama-server on the same model, each server in its own process, one at a time, rounds
 * interleaved. Printed, never asserted. Run `npm run build` (and the suite once, for llama-server) first.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/server.bench.ts
 *   BENCH_CONNECTIONS=4 BENCH_SECONDS=10 BENCH_ROUNDS=3 ...
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { it } from 'vitest';
import { startLlamaServer } from '../test/helpers/llama-server.js';
import { fmt, formatSummary, summarize } from './lib/stats.js';

const root = new URL('..', import.meta.url).pathname;
const STORIES = join(root, '..', 'shared', 'models', 'stories260K.gguf');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BODY = JSON.stringify({ model: 'stories', prompt: 'Once upon a time there was a little girl', max_tokens: 16, temperature: 0 });

async function cannon(url: string): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const r = await autocannon({ url: `${url}/v1/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, connections: CONNECTIONS, duration: SECONDS });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

async function modelpoolServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'bench', 'fixtures', 'server-child.mjs'), JSON.stringify({ stories: STORIES, mode: 'serve', threads: 1, parallel: CONNECTIONS })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return {
    url: (JSON.parse(line) as { url: string }).url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

it('server: overhead over the in-process call, and throughput against llama-server', { timeout: 1_800_000 }, async () => {
  if (!existsSync(join(root, 'lib', 'server', 'index.js'))) throw new Error('Run `npm run build` first');
  const text = execFileSync(process.execPath, [join(root, 'bench', 'fixtures', 'server-child.mjs'), JSON.stringify({ stories: STORIES, mode: 'overhead', rounds: 300 })], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const o = JSON.parse(text.trim().split('\n').pop()!) as Record<'inProcess' | 'server' | 'serverStream', number[]>;
  const s = { inProcess: summarize(o.inProcess), server: summarize(o.server), serverStream: summarize(o.serverStream) };
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))]!;
  const lines = [
    `### server overhead, stories260K, 16 tokens, ${o.inProcess.length} requests of each kind in rotating blocks of 25, openai client on loopback`,
    '| request | wall ms | p50 | p99 | added p50 vs in-process | added p99 |',
    '|---|---|---|---|---|---|',
    ...(['inProcess', 'server', 'serverStream'] as const).map((k) => {
      const p50 = pct(o[k], 50);
      const p99 = pct(o[k], 99);
      const base50 = pct(o.inProcess, 50);
      const base99 = pct(o.inProcess, 99);
      return `| ${k} | ${formatSummary(s[k])} | ${fmt(p50)} | ${fmt(p99)} | ${k === 'inProcess' ? '-' : `${fmt((p50 - base50) * 1000)} µs`} | ${k === 'inProcess' ? '-' : `${fmt((p99 - base99) * 1000)} µs`} |`;
    }),
  ];
  console.log(lines.join('\n'));

  const ours: Array<Awaited<ReturnType<typeof cannon>>> = [];
  const theirs: Array<Awaited<ReturnType<typeof cannon>>> = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const peer of round % 2 === 0 ? ['modelpool', 'llama-server'] : ['llama-server', 'modelpool']) {
      if (peer === 'modelpool') {
        const server = await modelpoolServer();
        await cannon(server.url); // warm-up: loads, JIT, connections
        ours.push(await cannon(server.url));
        await server.stop();
      } else {
        const server = await startLlamaServer({ model: STORIES, alias: 'stories', parallel: CONNECTIONS, contextSize: 256 * CONNECTIONS });
        await cannon(server.url);
        theirs.push(await cannon(server.url));
        await server.stop();
      }
    }
  }
  const med = (xs: number[]) => summarize(xs);
  const table = [
    `### throughput, ${CONNECTIONS} concurrent connections (autocannon, ${SECONDS} s per round, ${ROUNDS} rounds interleaved), POST /v1/completions 16 tokens, 1 decode thread each, ${CONNECTIONS} parallel sequences`,
    '| server | requests/s | latency p50 ms | latency p99 ms | errors + non-2xx |',
    '|---|---|---|---|---|',
    `| modelpool | ${formatSummary(med(ours.map((r) => r.rps)))} | ${formatSummary(med(ours.map((r) => r.p50)))} | ${formatSummary(med(ours.map((r) => r.p99)))} | ${ours.reduce((n, r) => n + r.errors + r.non2xx, 0)} |`,
    `| llama-server | ${formatSummary(med(theirs.map((r) => r.rps)))} | ${formatSummary(med(theirs.map((r) => r.p50)))} | ${formatSummary(med(theirs.map((r) => r.p99)))} | ${theirs.reduce((n, r) => n + r.errors + r.non2xx, 0)} |`,
    `ratio (modelpool / llama-server, medians of requests/s): ${(med(ours.map((r) => r.rps)).median / med(theirs.map((r) => r.rps)).median).toFixed(2)}`,
  ];
  console.log(table.join('\n'));
});
