/**
 * ONNX models in child processes that end at every stage — while loading, while a run is in flight,
 * without disposing, after disposing — to prove that the process never crashes and that a model left
 * loaded does not keep it alive (idle session workers are unref'd). The children import the
 * TypeScript sources through the same loader hooks as the registry's multi-process tests; they run as
 * ES modules from `-e`, which their session workers inherit (the worker program works either way).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateOnnxTestModel } from '../../src/testing/onnx-generator.js';
import { repoRoot } from '../helpers/models.js';

const run = promisify(execFile);
let root: string;
let modelPath: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelpool-onnx-lifecycle-'));
  modelPath = (await generateOnnxTestModel({ outDir: root, layer: true, hiddenSize: 64 })).modelPath;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs `body` in a child after loading the ONNX module as `onnx`; resolves with its exit status and output. */
async function child(body: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const script = `
    const onnx = await import(${JSON.stringify(join(repoRoot, 'src/providers/onnx/index.js'))});
    const path = ${JSON.stringify(modelPath)};
    const big = Array.from({ length: 2000 }, (_, i) => 'the cat sat on the mat and once upon a time there was a dog '.repeat(1 + (i % 4)));
    ${body}
  `;
  const args = ['--import', join(repoRoot, 'test/registry/fixtures/ts-loader.mjs'), '--input-type=module', '-e', script];
  try {
    const { stdout, stderr } = await run(process.execPath, args, { timeout: 30_000 });
    return { code: 0, signal: null, stdout, stderr };
  } catch (error) {
    const e = error as { code: number | null; signal: string | null; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : null, signal: e.signal, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ONNX models across a process lifetime', () => {
  it('a model never disposed does not keep the process alive', async () => {
    const result = await child(`
      const model = await onnx.loadOnnxModel(path, { threads: 1, parallel: 2 });
      console.log((await model.embed(['the cat', 'a dog'])).length);
    `);
    expect(result, result.stderr).toMatchObject({ code: 0, signal: null });
    expect(result.stdout.trim()).toBe('2');
  });

  it('exiting while runs are in flight does not crash', async () => {
    const result = await child(`
      const model = await onnx.loadOnnxModel(path, { threads: 1, parallel: 2, batchSize: 8 });
      const pending = model.embed(big);
      pending.catch(() => {});
      setTimeout(() => { console.log('exit', model.activeRequests); process.exit(0); }, 20);
    `);
    expect(result, result.stderr).toMatchObject({ code: 0, signal: null });
    expect(result.stdout.trim()).toBe('exit 1');
  });

  it('exiting while a model loads does not crash', async () => {
    const result = await child(`
      onnx.loadOnnxModel(path, { threads: 1, parallel: 3 }).catch(() => {});
      setTimeout(() => process.exit(0), 5);
    `);
    expect(result, result.stderr).toMatchObject({ code: 0, signal: null });
  });

  it('a run in flight keeps the process alive until it ends; dispose() then lets it exit', async () => {
    const result = await child(`
      const model = await onnx.loadOnnxModel(path, { threads: 1, batchSize: 64 });
      model.embed(big).then(async (vectors) => {
        console.log(vectors.length);
        await model.dispose({ abort: true });
        console.log('disposed', model.disposed);
      });
    `);
    expect(result, result.stderr).toMatchObject({ code: 0, signal: null });
    expect(result.stdout.trim().split('\n')).toEqual(['2000', 'disposed true']);
  });
});
