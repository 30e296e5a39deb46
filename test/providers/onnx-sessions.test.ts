/**
 * Session workers when things go wrong, on a fake ONNX Runtime (the `runtime` option names a module the
 * workers require instead of onnxruntime-node): a worker that exits or throws during a run fails that
 * run with GENERATION_FAILED and is replaced for the next; a session that cannot be created fails the
 * load and ends the workers already started; a module that is not ONNX Runtime is refused.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOnnxModel } from '../../src/providers/onnx/index.js';
import { generateOnnxTestModel, type OnnxTestModel } from '../../src/testing/onnx-generator.js';
import { expectCode } from '../helpers/expect.js';

/**
 * A stand-in for onnxruntime-node. Its behaviour comes from `<model>.fake.json`: `failSession` (the
 * n-th session created, counted in `<model>.count` across workers, fails), `exitOn` / `throwOn` (a run
 * whose input_ids hold that id ends the worker with process.exit / an uncaught exception), `slowOn` (a run
 * whose input_ids hold that id takes `slowMs` ms).
 */
const FAKE_RUNTIME = String.raw`
const fs = require('node:fs');
class Tensor {
  constructor(type, data, dims) { this.type = type; this.data = data; this.dims = dims; }
}
module.exports = {
  Tensor,
  env: { versions: { node: 'fake' } },
  InferenceSession: {
    async create(path) {
      const behaviour = JSON.parse(fs.readFileSync(path + '.fake.json', 'utf8'));
      const countPath = path + '.count';
      const n = (fs.existsSync(countPath) ? Number(fs.readFileSync(countPath, 'utf8')) : 0) + 1;
      fs.writeFileSync(countPath, String(n));
      if (behaviour.failSession === n) throw new Error('fake: no session ' + n);
      return {
        inputMetadata: [{ name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch', 'sequence'] }],
        outputMetadata: [{ name: 'sentence_embedding', isTensor: true, type: 'float32', shape: ['batch', 2] }],
        async run(feeds) {
          const ids = Array.from(feeds.input_ids.data, Number);
          if (ids.includes(behaviour.exitOn)) process.exit(3);
          if (ids.includes(behaviour.slowOn)) await new Promise((resolve) => setTimeout(resolve, behaviour.slowMs));
          if (ids.includes(behaviour.throwOn)) {
            setImmediate(() => { throw new Error('fake: thrown in the worker'); });
            return new Promise(() => {});
          }
          const rows = feeds.input_ids.dims[0];
          return { sentence_embedding: new Tensor('float32', new Float32Array(rows * 2).fill(1), [rows, 2]) };
        },
        async release() {},
      };
    },
  },
};
`;

let root: string;
let runtime: string;
let folders = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelpool-onnx-sessions-'));
  runtime = join(root, 'fake-onnxruntime.cjs');
  await writeFile(runtime, FAKE_RUNTIME);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function fakeModel(behaviour: Record<string, number>): Promise<OnnxTestModel> {
  const model = await generateOnnxTestModel({ outDir: join(root, `m${folders++}`) });
  await writeFile(`${model.modelPath}.fake.json`, JSON.stringify(behaviour));
  return model;
}

const CAT = 7; // 'cat' in the test vocabulary
const DOG = 8;

describe('ONNX session workers', () => {
  it('a worker that exits during a run fails that run, and the next runs on a new worker', async () => {
    const m = await loadOnnxModel((await fakeModel({ exitOn: CAT })).modelPath, { threads: 1, runtime, normalize: false });
    try {
      const error = await expectCode(m.embed(['the cat']), 'GENERATION_FAILED');
      expect(error.message).toMatch(/exited with code 3/);
      expect([...(await m.embed(['a dog']))[0]!]).toEqual([1, 1]);
      expect(m.activeRequests).toBe(0);
    } finally {
      await m.dispose();
    }
  });

  it('a worker that throws fails its run, and is replaced', async () => {
    const m = await loadOnnxModel((await fakeModel({ throwOn: DOG })).modelPath, { threads: 1, runtime });
    try {
      expect((await expectCode(m.embed(['a dog']), 'GENERATION_FAILED')).message).toMatch(/thrown in the worker/);
      expect(await m.embed(['the cat'])).toHaveLength(1);
    } finally {
      await m.dispose();
    }
  });

  it('a replacement that cannot start fails that request; the one after tries again', async () => {
    // Session 1 serves the warm-up, then exits on "cat"; its replacement, session 2, cannot be created; session 3 can.
    const m = await loadOnnxModel((await fakeModel({ exitOn: CAT, failSession: 2 })).modelPath, { threads: 1, runtime, normalize: false });
    try {
      await expectCode(m.embed(['the cat']), 'GENERATION_FAILED');
      expect((await expectCode(m.embed(['a dog']), 'GENERATION_FAILED')).message).toMatch(/could not be started again.*fake: no session 2/);
      expect([...(await m.embed(['a dog']))[0]!]).toEqual([1, 1]);
    } finally {
      await m.dispose();
    }
  });

  it('a session rebuilt for a lower thread budget that cannot be created: the failure is reported, the next run starts one again', async () => {
    // Session 1 serves the warm-up; its rebuild with 1 thread, session 2, cannot be created; session 3 can.
    const m = await loadOnnxModel((await fakeModel({ failSession: 2 })).modelPath, { threads: 2, runtime, normalize: false });
    try {
      m.setThreads(1);
      for (let i = 0; i < 2000 && m.sessionStatus.rebuilding; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(m.sessionStatus).toMatchObject({ rebuilt: 0, rebuilding: false });
      expect(m.sessionStatus.rebuildError).toMatch(/fake: no session 2/);
      expect([...(await m.embed(['a dog']))[0]!]).toEqual([1, 1]);
      expect(m.sessionStatus.sessionThreads).toBe(1);
    } finally {
      await m.dispose();
    }
  });

  it('a rebuild waiting for a busy session ends when the budget comes back before the session is free', async () => {
    const m = await loadOnnxModel((await fakeModel({ slowOn: CAT, slowMs: 400 })).modelPath, { threads: 4, parallel: 2, runtime, normalize: false });
    try {
      const busy = [m.embed(['the cat']), m.embed(['the cat'])];
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(m.sessionStatus).toMatchObject({ running: 2, sessionThreads: 2 });
      m.setThreads(1); // both sessions have 2 threads: a rebuild waits for one to be free
      expect(m.sessionStatus.rebuilding).toBe(true);
      m.setThreads(4); // no session needs it any more
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(m.sessionStatus).toMatchObject({ rebuilding: false, rebuilt: 0, running: 2 });
      await Promise.all(busy);
      // Lowered again while idle: both rebuilt, one at a time.
      m.setThreads(1);
      for (let i = 0; i < 2000 && m.sessionStatus.rebuilding; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(m.sessionStatus).toMatchObject({ rebuilding: false, rebuilt: 2, sessionThreads: 1 });
    } finally {
      await m.dispose();
    }
  });

  it('a session that cannot be created fails the load, naming the model', async () => {
    const model = await fakeModel({ failSession: 2 });
    const error = await expectCode(loadOnnxModel(model.modelPath, { threads: 2, parallel: 2, runtime }), 'LOAD_FAILED');
    expect(error.message).toContain(model.modelPath);
    expect(error.message).toContain('fake: no session 2');
  });

  it('a module that is not ONNX Runtime is refused', async () => {
    const other = join(root, 'not-onnxruntime.cjs');
    await writeFile(other, 'module.exports = { hello: 1 };');
    const model = await fakeModel({});
    expect((await expectCode(loadOnnxModel(model.modelPath, { threads: 1, runtime: other }), 'LOAD_FAILED')).message).toMatch(/InferenceSession/);
  });
});
