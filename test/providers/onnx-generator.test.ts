/**
 * The ONNX test-model generator (src/testing/onnx-generator.ts) and the ONNX file inspector
 * (src/providers/onnx/inspect.ts): the protobuf the generator writes reads back, ONNX Runtime accepts it
 * (and, where Python has the onnx package, so does onnx.checker), the same options give the same bytes,
 * external data is found, and malformed files are refused with the fault's offset.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inspectOnnxModel, loadOnnxModel } from '../../src/providers/onnx/index.js';
import { ONNX_FLOAT, ONNX_INT64, encodeOnnxModel, generateOnnxTestModel, wordPieceTokenizerJson, ONNX_TEST_SPECIAL_TOKENS } from '../../src/testing/onnx-generator.js';
import { expectCode } from '../helpers/expect.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelpool-onnx-generator-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The Python to cross-check with (MODELPOOL_PYTHON, default python3); the check is skipped without its onnx package. */
const python = process.env.MODELPOOL_PYTHON ?? 'python3';
const pythonHasOnnx = spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

describe('generateOnnxTestModel', () => {
  it('writes the same bytes for the same options, and others for another seed', async () => {
    const read = async (dir: string): Promise<Buffer[]> => Promise.all(['model.onnx', 'tokenizer.json', 'config.json'].map((f) => readFile(join(dir, f))));
    const a = await generateOnnxTestModel({ outDir: join(root, 'a'), layer: true, kind: 'classifier' });
    const b = await generateOnnxTestModel({ outDir: join(root, 'b'), layer: true, kind: 'classifier' });
    const c = await generateOnnxTestModel({ outDir: join(root, 'c'), layer: true, kind: 'classifier', seed: 2 });
    expect(await read(b.dir)).toEqual(await read(a.dir));
    expect((await read(c.dir))[0]).not.toEqual((await read(a.dir))[0]);
    expect(a.weights.embeddings).toHaveLength(a.vocabulary.length * 16);
    expect(JSON.parse(await readFile(a.configPath, 'utf8'))).toMatchObject({ id2label: { 0: 'negative', 1: 'positive' }, hidden_size: 16 });
  });

  it('describes its graph as the inspector reads it', async () => {
    const m = await generateOnnxTestModel({ outDir: join(root, 'inspect'), tokenTypes: true, pooledOutput: true, hiddenSize: 8 });
    const inspection = await inspectOnnxModel(m.modelPath);
    expect(inspection).toMatchObject({ irVersion: 8, producer: 'modelpool-test', opsets: [{ domain: '', version: 17 }], externalData: [] });
    expect(inspection.inputs).toEqual(['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, type: 'int64', shape: ['batch', 'sequence'] })));
    expect(inspection.outputs).toEqual([
      { name: 'last_hidden_state', type: 'float32', shape: ['batch', 'sequence', 8] },
      { name: 'sentence_embedding', type: 'float32', shape: ['batch', 8] },
    ]);
    const weightBytes = m.weights.embeddings.byteLength + m.weights.tokenTypeEmbeddings!.byteLength;
    expect(inspection.weightBytes).toBeGreaterThan(weightBytes);
    expect(inspection.weightBytes).toBeLessThan(weightBytes + 1024);
  });

  it('stores weights as external data that the inspector finds and ONNX Runtime loads', async () => {
    const inline = await generateOnnxTestModel({ outDir: join(root, 'inline'), seed: 4 });
    const external = await generateOnnxTestModel({ outDir: join(root, 'external'), seed: 4, externalData: true });
    const inspection = await inspectOnnxModel(external.modelPath);
    expect(inspection.externalData).toEqual([{ path: join(external.dir, 'model.onnx_data'), bytes: external.weights.embeddings.byteLength }]);
    expect(inspection.weightBytes).toBeGreaterThanOrEqual(external.weights.embeddings.byteLength);
    expect(inspection.fileBytes).toBeLessThan(external.weights.embeddings.byteLength);
    const [a, b] = await Promise.all([loadOnnxModel(inline.modelPath, { threads: 1 }), loadOnnxModel(external.modelPath, { threads: 1 })]);
    try {
      expect([...(await b.embed(['the cat']))[0]!]).toEqual([...(await a.embed(['the cat']))[0]!]);
      expect(b.memory.weights).toBe(inspection.weightBytes);
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });

  it('refuses bad options', async () => {
    await expectCode(generateOnnxTestModel({ outDir: join(root, 'x'), kind: 'regression' as never }), 'INVALID_ARGUMENT', 'kind');
    await expectCode(generateOnnxTestModel({ outDir: join(root, 'x'), kind: 'classifier', labels: [] }), 'INVALID_ARGUMENT', 'labels');
    await expectCode(generateOnnxTestModel({ outDir: join(root, 'x'), hiddenSize: 0 }), 'INVALID_ARGUMENT', 'hiddenSize');
    await expectCode(generateOnnxTestModel(null as never), 'INVALID_ARGUMENT', 'options');
    expect(() => wordPieceTokenizerJson(['[UNK]', '[PAD]'])).toThrow(/vocabulary\[0\]/);
  });

  it.skipIf(!pythonHasOnnx)('passes onnx.checker (Python, where the onnx package is installed)', async () => {
    const variants = [{ layer: true, tokenTypes: true, pooledOutput: true }, { kind: 'classifier' as const, layer: true }, { externalData: true }];
    for (const [i, options] of variants.entries()) {
      const m = await generateOnnxTestModel({ outDir: join(root, `checker-${i}`), ...options });
      const check = spawnSync(python, ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', m.modelPath], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    }
  });
});

describe('encodeOnnxModel', () => {
  it('writes every attribute type and initializer type, and inputs that are initializers are not inputs', async () => {
    const bytes = encodeOnnxModel({
      nodes: [
        { opType: 'LeakyRelu', inputs: ['x'], outputs: ['y'], attributes: { alpha: { float: 0.5 } } },
        { opType: 'Custom', inputs: ['y', 'w'], outputs: ['z'], attributes: { mode: 'constant', axes: [0, -1], k: 3 } },
      ],
      initializers: [
        { name: 'w', dims: [2], data: Float32Array.of(1, 2) },
        { name: 'k', dims: [1], data: BigInt64Array.of(-1n) },
      ],
      inputs: [
        { name: 'x', elemType: ONNX_FLOAT, shape: ['n', 2] },
        { name: 'w', elemType: ONNX_FLOAT, shape: [2] },
      ],
      outputs: [{ name: 'z', elemType: ONNX_INT64, shape: [] }],
      irVersion: 3,
      opset: 9,
    });
    const path = join(root, 'attributes.onnx');
    await writeFile(path, bytes);
    const inspection = await inspectOnnxModel(path);
    expect(inspection).toMatchObject({ irVersion: 3, nodes: 2, initializers: 2, opsets: [{ domain: '', version: 9 }] });
    expect(inspection.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['n', 2] }]);
    expect(inspection.outputs).toEqual([{ name: 'z', type: 'int64', shape: [] }]);
  });
});

describe('inspectOnnxModel', () => {
  const cases: Array<[string, number[], RegExp]> = [
    ['field 0', [0x00], /numbered 0/],
    ['wire type 7', [0x0f], /wire type 7/],
    ['a varint cut short', [0x08, 0x80], /ends inside a field/],
    ['an overlong varint', [0x08, ...new Array<number>(11).fill(0x80)], /longer than 10 bytes/],
    ['a length past the end', [0x3a, 0x7f, 0x00], /runs past the end/],
    ['no graph', [0x08, 0x08], /no graph/],
    ['no ir_version', [0x3a, 0x00], /no ir_version/],
    ['ir_version as bytes', [0x0a, 0x00], /ir_version has wire type 2/],
    ['a graph as a number', [0x08, 0x08, 0x38, 0x01], /graph has wire type 0/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`refuses ${name} with its offset, naming the path`, async () => {
      const path = join(root, `${name.replace(/\W/g, '-')}.onnx`);
      await writeFile(path, Uint8Array.from(bytes));
      const error = await expectCode(inspectOnnxModel(path), 'INVALID_ARGUMENT', 'source');
      expect(error.message).toMatch(message);
      expect(error.message).toContain(path);
      expect(typeof (error.details as { offset: number }).offset).toBe('number');
    });
  }

  it('MODEL_NOT_FOUND for a folder or a missing file', async () => {
    await expectCode(inspectOnnxModel(root), 'MODEL_NOT_FOUND', 'source');
    await expectCode(inspectOnnxModel(join(root, 'none.onnx')), 'MODEL_NOT_FOUND', 'source');
  });

  it('reads the default vocabulary back through the tokenizer', () => {
    const json = wordPieceTokenizerJson([...ONNX_TEST_SPECIAL_TOKENS, 'cat']) as { model: { vocab: Record<string, number> } };
    expect(json.model.vocab).toEqual({ '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4, cat: 5 });
  });
});
