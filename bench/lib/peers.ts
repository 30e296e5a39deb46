/**
 * The peers of the engine benchmark, each run as a child process of its own: the benchmark process
 * itself never loads the addon, so no two peers' threads are ever alive together.
 *
 * Weights are resident before timing, the same way for every peer: both read the file into anonymous
 * memory at load (llama.cpp's LLAMA_LOAD_MODE_NONE: modelpool `mmap: false`, llama-bench `-lm none`),
 * so no page of weights is faulted in, or reclaimed and faulted in again, while a peer is timed. mlock
 * would do as well but needs RLIMIT_MEMLOCK above the model's size, which an unprivileged shell rarely has.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A child that runs this long is stuck, not slow. */
const CHILD_TIMEOUT_MS = 600_000;

export interface SingleStreamSample {
  /** Generated tokens per second of the generation phase (first to last token). */
  decode: number;
  /** Generated tokens over the wall time of the whole request (prompt + generation). */
  wall: number;
}

export interface PeerRun {
  samples: SingleStreamSample[];
  /** Anything the caller should print beside the figures (short tokens, resident memory). */
  notes: string[];
}

export interface SingleStreamCase {
  model: string;
  threads: number;
  prompt: string;
  promptTokens: number;
  tokens: number;
  /** Requests (modelpool) or repetitions (llama-bench) per child process. */
  reps: number;
}

async function child(file: string, args: string[], cwd: string): Promise<string> {
  const { stdout } = await execFileAsync(file, args, { cwd, maxBuffer: 64 << 20, timeout: CHILD_TIMEOUT_MS });
  return stdout;
}

/** Runs bench/fixtures/modelpool-single.mjs (over lib/, the tsc output) and returns its RESULT object. */
export async function modelpoolChild<T>(root: string, options: Record<string, unknown>): Promise<T> {
  const script = join(root, 'bench', 'fixtures', 'modelpool-single.mjs');
  if (!existsSync(join(root, 'lib', 'engine', 'index.js'))) throw new Error('lib/ is missing: run npm run build');
  const stdout = await child(process.execPath, [script, JSON.stringify(options)], root);
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`modelpool child printed no RESULT line: ${stdout.slice(-300)}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

interface ModelpoolRequest {
  promptTokens: number;
  generatedTokens: number;
  finishReason: string;
  decode: number;
  wall: number;
}

export async function modelpoolSingle(root: string, c: SingleStreamCase): Promise<PeerRun> {
  const r = await modelpoolChild<{ rssBytes: number; samples: ModelpoolRequest[] }>(root, { mode: 'run', ...c });
  const notes: string[] = [];
  for (const s of r.samples) {
    if (s.generatedTokens !== c.tokens || s.promptTokens !== c.promptTokens) {
      notes.push(`modelpool t=${c.threads}: ${s.promptTokens}+${s.generatedTokens} tokens (${s.finishReason}), expected ${c.promptTokens}+${c.tokens}`);
    }
  }
  return { samples: r.samples.map((s) => ({ decode: s.decode, wall: s.wall })), notes };
}

interface LlamaBenchTest {
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  samples_ns: number[];
  samples_ts: number[];
}

async function llamaBench(root: string, c: SingleStreamCase, test: string[]): Promise<LlamaBenchTest> {
  const binary = join(root, 'build', 'bin', 'llama-bench');
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm run build:llama-tools`);
  const args = ['-m', c.model, '-t', String(c.threads), '-r', String(c.reps), '-lm', 'none', '-o', 'json', ...test];
  const results = JSON.parse(await child(binary, args, root)) as LlamaBenchTest[];
  if (results.length !== 1) throw new Error(`llama-bench ${test.join(' ')} gave ${results.length} tests, expected 1`);
  return results[0]!;
}

/**
 * llama-bench in two processes, one after the other: `-p 0 -n N -d P` (generation at the depth where
 * modelpool's generation starts, after its P-token prompt) for the decode rate, and `-pg P,N` (prompt
 * and generation in one timed run) for tokens per wall-second. Each runs one warm-up first.
 */
export async function llamaBenchSingle(root: string, c: SingleStreamCase): Promise<PeerRun> {
  const tg = await llamaBench(root, c, ['-p', '0', '-n', String(c.tokens), '-d', String(c.promptTokens)]);
  const pg = await llamaBench(root, c, ['-p', '0', '-n', '0', '-pg', `${c.promptTokens},${c.tokens}`]);
  const samples = tg.samples_ts.map((decode, i) => ({ decode, wall: (c.tokens * 1e9) / pg.samples_ns[i]! }));
  return { samples, notes: [] };
}
