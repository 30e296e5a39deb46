/**
 * Prompt cache: a 10-turn conversation, each turn's prompt the whole conversation so far, as a chat
 * client sends it. Time to first token per turn for modelpool with the cache and without it, and for
 * llama.cpp's llama-server (built from the same source, npm run build:llama-tools) with `cache_prompt`
 * on and off, in one run. Each peer runs in a process of its own, one at a time, with its weights read
 * into memory (no mmap); rounds are interleaved and every figure is a median with its spread.
 *
 *   npm run build && npm run build:llama-tools && npx vitest run --config bench/vitest.bench.config.ts bench/prompt-cache.bench.ts
 *   MODELPOOL_BENCH_MODEL=path/to/model.gguf ... (default: the generated 8-layer 512-wide test model)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { cachedTestModel } from '../src/testing/model-generator.js';
import { fmt, formatSummary, summarize } from './lib/stats.js';

const root = resolve(import.meta.dirname, '..');
const STORIES = resolve(root, '..', 'shared', 'models', 'stories260K.gguf');
const ROUNDS = Number(process.env.MODELPOOL_BENCH_ROUNDS ?? 3);
const THREADS = Number(process.env.MODELPOOL_BENCH_THREADS ?? 1);
const TOKENS = 16;
const CONTEXT = 1024;

/** The conversation: a system paragraph, then per turn a user line and a fixed assistant reply. */
function conversation(turns: number): string[] {
  const topics = ['a red ball', 'a small dog', 'a tall tree', 'a blue bird', 'a big cake', 'a shiny car', 'a little boat', 'a warm hat', 'a green frog', 'a happy cat'];
  let text =
    'You are a kind storyteller. You tell short, simple stories to children, with a happy ending, in plain words. ' +
    'Every story has a little girl named Lily, her mom, and her friend Tom. They live in a small house near the park.\n';
  const prompts: string[] = [];
  for (let i = 0; i < turns; i++) {
    text += `User: Tell me about Lily and ${topics[i % topics.length]}.\nAssistant:`;
    prompts.push(text);
    text += ` Lily found ${topics[i % topics.length]} in the park. She showed it to Tom and her mom, and they all smiled. The end.\n`;
  }
  return prompts;
}

interface Turn {
  ttftMs: number;
  promptTokens: number;
  cachedTokens: number;
}

async function modelpoolPeer(model: string, turns: string[], cache: boolean): Promise<Turn[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(root, 'bench', 'fixtures', 'prompt-cache-child.mjs'), JSON.stringify({ model, threads: THREADS, turns, tokens: TOKENS, cache, contextSize: CONTEXT })],
    { cwd: root, maxBuffer: 16 << 20, timeout: 600_000 },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`modelpool child printed no RESULT: ${stdout.slice(-300)}`);
  return (JSON.parse(line.slice(7)) as { samples: Turn[] }).samples;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function startServer(model: string): Promise<{ url: string; proc: ChildProcess }> {
  const binary = join(root, 'build', 'bin', 'llama-server');
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build:llama-tools`);
  const port = await freePort();
  const proc = spawn(binary, ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', String(CONTEXT), '-np', '1', '-t', String(THREADS), '-tb', String(THREADS), '--no-mmap', '--no-webui'], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error('llama-server did not become healthy');
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return { url, proc };
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One request streamed over SSE: the client's time to the first content, and the server's own figures. */
async function serverTurn(url: string, prompt: string, cache: boolean): Promise<Turn & { serverPromptMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/completion`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, n_predict: TOKENS, temperature: 0, cache_prompt: cache, stream: true }),
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs = Number.NaN;
  let timings: { prompt_n: number; prompt_ms: number; cache_n?: number } | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('data: ')) continue;
      const chunk = JSON.parse(line.slice(6)) as { content?: string; timings?: typeof timings; stop?: boolean };
      if (Number.isNaN(ttftMs) && chunk.content) ttftMs = performance.now() - t0;
      if (chunk.timings) timings = chunk.timings;
    }
  }
  const promptTokens = (timings?.prompt_n ?? 0) + (timings?.cache_n ?? 0);
  return { ttftMs, promptTokens, cachedTokens: timings?.cache_n ?? 0, serverPromptMs: timings?.prompt_ms ?? Number.NaN };
}

async function serverPeer(model: string, turns: string[], cache: boolean): Promise<Turn[]> {
  const { url, proc } = await startServer(model);
  try {
    await serverTurn(url, 'Hello', false);
    const out: Turn[] = [];
    for (const prompt of turns) out.push(await serverTurn(url, prompt, cache));
    return out;
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

type PeerName = 'modelpool cache' | 'modelpool no cache' | 'llama-server cache_prompt' | 'llama-server no cache';

describe('prompt cache: 10-turn conversation, time to first token per turn', () => {
  it('modelpool and llama-server, with and without the cache', async () => {
    const models: Array<[string, string]> = process.env.MODELPOOL_BENCH_MODEL
      ? [['model', process.env.MODELPOOL_BENCH_MODEL]]
      : [
          ['stories260K', STORIES],
          ['llama 8x512 Q8_0 (generated)', await cachedTestModel({ layers: 8, embeddingSize: 512, heads: 8, kvHeads: 4, feedForwardSize: 1024, contextLength: 2048, type: 'Q8_0', vocabPath: STORIES })],
        ];
    const turns = conversation(10);
    const peers: Array<[PeerName, (m: string) => Promise<Turn[]>]> = [
      ['modelpool cache', (m) => modelpoolPeer(m, turns, true)],
      ['llama-server cache_prompt', (m) => serverPeer(m, turns, true)],
      ['modelpool no cache', (m) => modelpoolPeer(m, turns, false)],
      ['llama-server no cache', (m) => serverPeer(m, turns, false)],
    ];
    for (const [label, model] of models) {
      const runs = new Map<PeerName, Turn[][]>(peers.map(([p]) => [p, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, run] of peers) runs.get(name)!.push(await run(model));
      }
      console.log(`\n### ${label}, ${THREADS} thread(s), ${ROUNDS} rounds, ${TOKENS} tokens per answer`);
      console.log(`| turn | prompt tokens | ${peers.map(([p]) => `${p} TTFT ms (cached)`).join(' | ')} |`);
      console.log(`|---|---|${peers.map(() => '---').join('|')}|`);
      for (let t = 0; t < turns.length; t++) {
        const cells = peers.map(([p]) => {
          const rs = runs.get(p)!;
          const s = summarize(rs.map((r) => r[t]!.ttftMs));
          return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}; ${rs[0]![t]!.cachedTokens})`;
        });
        console.log(`| ${t + 1} | ${runs.get('modelpool cache')![0]![t]!.promptTokens} | ${cells.join(' | ')} |`);
      }
      const total = (p: PeerName) => summarize(runs.get(p)!.map((r) => r.reduce((n, x) => n + x.ttftMs, 0)));
      for (const [p] of peers) console.log(`- ${p}: sum of TTFT over 10 turns ${formatSummary(total(p))} ms`);
      console.log(
        `- modelpool cache / llama-server cache_prompt (sum of TTFT, medians): ${fmt(total('modelpool cache').median / total('llama-server cache_prompt').median)}x; ` +
          `cache speed-up modelpool ${fmt(total('modelpool no cache').median / total('modelpool cache').median)}x, llama-server ${fmt(total('llama-server no cache').median / total('llama-server cache_prompt').median)}x`,
      );
    }
  });
});
