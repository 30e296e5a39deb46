import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { loadModel } from '../../src/engine/index.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const child = join(repoRoot, 'test', 'engine', 'fixtures', 'lifecycle-child.mjs');

function run(stage: string, model = STORIES) {
  const r = spawnSync(process.execPath, [child, stage, model], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // Children import the compiled library (npm test builds it first).
  if (!existsSync(join(repoRoot, 'lib', 'engine', 'index.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  }
});

describe('process lifecycle (forked children)', () => {
  it.each([
    ['loading', 'progress'],
    ['loading-exit-now', 'exiting'],
    ['generating', 'chunk'],
    ['disposing', 'loaded'],
    ['pending-natural-end', 'done 30'],
    ['forgotten', 'done'],
  ])('exits cleanly at stage %s', (stage, marker) => {
    const r = run(stage);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(marker);
  });

  it('an uncaught exception during generation exits with code 1, not a crash', () => {
    const r = run('uncaught');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('boom');
  });
});

describe('loadModel fuzz: mutated GGUF files never take the process down', () => {
  it('each mutation loads or fails with a typed error', async () => {
    const original = readFileSync(STORIES);
    const dir = mkdtempSync(join(tmpdir(), 'modelpool-fuzz-'));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const codes = new Map<string, number>();
    let loaded = 0;
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.from(original);
      // The header (metadata + tensor table) is the first ~20 KB of this file.
      const mutations = 1 + rand(4);
      for (let m = 0; m < mutations; m++) {
        const at = rand(20_000);
        const kind = rand(3);
        if (kind === 0) bytes[at] = rand(256);
        else if (kind === 1) bytes.writeUInt32LE(0xffffffff >>> rand(32), at - (at % 4));
        else bytes[at] = bytes[at]! ^ (1 << rand(8));
      }
      const path = join(dir, `m${i}.gguf`);
      writeFileSync(path, bytes);
      let model;
      try {
        model = await loadModel(path, { contextSize: 64 });
      } catch (error) {
        expect(error).toBeInstanceOf(ModelpoolError);
        const code = (error as ModelpoolError).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
        continue;
      }
      // A model that loads may generate nonsense, but a failure is still a typed error.
      const generation = await model.complete({ prompt: 'Once', maxTokens: 4, temperature: 0 }).then(
        (result) => result.finishReason,
        (error: unknown) => (error instanceof ModelpoolError ? error.code : `untyped: ${String(error)}`),
      );
      expect(generation, `m${i}.gguf`).not.toMatch(/^untyped/);
      await model.dispose();
      loaded++;
    }
    // Both paths ran: some mutations (inside token text) load and generate, others are refused.
    expect(loaded).toBeGreaterThan(0);
    expect(codes.get('INVALID_GGUF') ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
