/**
 * KV state restore: a model is loaded again (after an eviction, or in a new process) and asked a
 * question after a long system prompt. Load + first token with the system prompt's saved state
 * restored, against the same without it (the whole prompt evaluated). Each run is a process of its
 * own, weights read into memory; rounds interleave the two; medians with spreads.
 *
 *   npm run build && npx vitest run --config bench/vitest.bench.config.ts bench/state.bench.ts
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { cachedTestModel } from '../src/testing/model-generator.js';
import { fmt, formatSummary, summarize } from './lib/stats.js';

const root = resolve(import.meta.dirname, '..');
const STORIES = resolve(root, '..', 'shared', 'models', 'stories260K.gguf');
const ROUNDS = Number(process.env.MODELPOOL_BENCH_ROUNDS ?? 5);
const THREADS = Number(process.env.MODELPOOL_BENCH_THREADS ?? 1);

interface Run {
  loadMs: number;
  restoreMs: number;
  ttftMs: number;
  cached: number;
  promptTokens: number;
}

async function child(options: Record<string, unknown>): Promise<Run> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'bench', 'fixtures', 'state-child.mjs'), JSON.stringify({ threads: THREADS, ...options })], {
    cwd: root,
    maxBuffer: 16 << 20,
    timeout: 600_000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`state child printed no RESULT: ${stdout.slice(-300)}`);
  return JSON.parse(line.slice(7)) as Run;
}

describe('KV state restore: reload + first token', () => {
  it('with and without the saved system prompt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelpool-state-bench-'));
    const system = 'You are a kind storyteller. You tell short, simple stories to children, with a happy ending, in plain words. '.repeat(12);
    const question = `${system}\nUser: Tell me about Lily and a red ball.\nAssistant:`;
    const models: Array<[string, string]> = [
      ['stories260K', STORIES],
      ['llama 8x512 Q8_0 (generated)', await cachedTestModel({ layers: 8, embeddingSize: 512, heads: 8, kvHeads: 4, feedForwardSize: 1024, contextLength: 2048, type: 'Q8_0', vocabPath: STORIES })],
    ];
    try {
      for (const [label, model] of models) {
        const file = join(dir, `${label.replace(/\W+/g, '-')}.mpkv`);
        await child({ mode: 'save', model, prompt: system, file });
        const runs: Record<'restore' | 'cold', Run[]> = { restore: [], cold: [] };
        for (let round = 0; round < ROUNDS; round++) {
          runs.restore.push(await child({ mode: 'run', model, question, file, restore: true }));
          runs.cold.push(await child({ mode: 'run', model, question, file, restore: false }));
        }
        const total = (r: Run) => r.loadMs + r.restoreMs + r.ttftMs;
        console.log(`\n### ${label}, ${THREADS} thread(s), ${runs.cold[0]!.promptTokens}-token prompt, state file ${fmt(statSync(file).size / 1024)} KiB, ${ROUNDS} rounds`);
        console.log('| | load ms | restore ms | first token ms | load + restore + first token ms | prompt tokens from the state |');
        console.log('|---|---|---|---|---|---|');
        for (const kind of ['restore', 'cold'] as const) {
          const rs = runs[kind];
          const f = (xs: number[]) => formatSummary(summarize(xs));
          console.log(`| ${kind === 'restore' ? 'state restored' : 'cold'} | ${f(rs.map((r) => r.loadMs))} | ${f(rs.map((r) => r.restoreMs))} | ${f(rs.map((r) => r.ttftMs))} | ${f(rs.map(total))} | ${rs[0]!.cached} |`);
        }
        const first = (kind: 'restore' | 'cold') => summarize(runs[kind].map((r) => r.restoreMs + r.ttftMs)).median;
        console.log(`- restore + first token vs first token alone (medians): ${fmt(first('cold') / first('restore'))}x faster`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
