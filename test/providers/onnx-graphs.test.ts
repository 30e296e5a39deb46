/**
 * The ONNX provider on graphs that are not the generator's standard ones — int32 inputs and
 * position_ids, inputs it cannot fill, outputs that are not embeddings, ops ONNX Runtime refuses — and
 * the pure parts: output plans, pooling, feeds, scores, execution provider choice, the memory report.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { executionAttempts, loadOnnxModel, onnxMemoryReport, ONNX_SESSION_OVERHEAD_BYTES } from '../../src/providers/onnx/index.js';
import { cudaProviderInstalled, providerDevice } from '../../src/providers/onnx/execution.js';
import { normalizeInPlace, planOutputs, poolRows, scoresOf } from '../../src/providers/onnx/pooling.js';
import { OnnxTokenizer, batchFeeds } from '../../src/providers/onnx/tokenize.js';
import { ONNX_FLOAT, ONNX_INT64, ONNX_TEST_SPECIAL_TOKENS, ONNX_TEST_WORDS, encodeOnnxModel, wordPieceTokenizerJson, type OnnxModelSpec } from '../../src/testing/onnx-generator.js';
import { expectCode } from '../helpers/expect.js';

const ONNX_INT32 = 6;
const H = 4;
const vocabulary = [...ONNX_TEST_SPECIAL_TOKENS, ...ONNX_TEST_WORDS];
const table = Float32Array.from({ length: vocabulary.length * H }, (_, i) => Math.sin(i));
const positions = Float32Array.from({ length: 64 * H }, (_, i) => Math.cos(i) / 4);

let root: string;
let graphs = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelpool-onnx-graphs-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes `spec` as model.onnx with the test tokenizer beside it; returns the model's path. */
async function writeGraph(spec: OnnxModelSpec): Promise<string> {
  const dir = join(root, `g${graphs++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(vocabulary)));
  await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(spec));
  return join(dir, 'model.onnx');
}

const ids = (name: string, elemType = ONNX_INT64): OnnxModelSpec['inputs'][number] => ({ name, elemType, shape: ['batch', 'sequence'] });
const word = { name: 'word', dims: [vocabulary.length, H], data: table };

describe('ONNX graphs', () => {
  it('fills int32 inputs and position_ids', async () => {
    const path = await writeGraph({
      inputs: [ids('input_ids', ONNX_INT32), ids('attention_mask', ONNX_INT32), ids('position_ids', ONNX_INT32)],
      initializers: [word, { name: 'position', dims: [64, H], data: positions }],
      nodes: [
        { opType: 'Gather', inputs: ['word', 'input_ids'], outputs: ['w'] },
        { opType: 'Gather', inputs: ['position', 'position_ids'], outputs: ['p'] },
        { opType: 'Add', inputs: ['w', 'p'], outputs: ['last_hidden_state'] },
      ],
      outputs: [{ name: 'last_hidden_state', elemType: ONNX_FLOAT, shape: ['batch', 'sequence', H] }],
    });
    const model = await loadOnnxModel(path, { threads: 1, normalize: false, pooling: 'last' });
    try {
      const [vector] = await model.embed(['the cat']); // [CLS] the cat [SEP]: the last is [SEP] at position 3
      const expected = Array.from({ length: H }, (_, i) => table[3 * H + i]! + positions[3 * H + i]!);
      expect(Array.from(vector!).map((v, i) => Math.abs(v - expected[i]!))).toSatisfy((d: number[]) => d.every((x) => x < 1e-6));
    } finally {
      await model.dispose();
    }
  });

  it('takes a pooled-only output as the embedding, and classifies with a rank-2 output when told to', async () => {
    const path = await writeGraph({
      inputs: [ids('input_ids'), ids('attention_mask')],
      initializers: [word],
      nodes: [
        { opType: 'Gather', inputs: ['word', 'input_ids'], outputs: ['w'] },
        { opType: 'LeakyRelu', inputs: ['w'], outputs: ['r'], attributes: { alpha: { float: 0.5 } } },
        { opType: 'ReduceMean', inputs: ['r'], outputs: ['embeddings'], attributes: { axes: [1], keepdims: 0 } },
      ],
      outputs: [{ name: 'embeddings', elemType: ONNX_FLOAT, shape: ['batch', H] }],
    });
    const model = await loadOnnxModel(path, { threads: 1 });
    const classifier = await loadOnnxModel(path, { threads: 1, task: 'classify' });
    try {
      expect(model.info).toMatchObject({ output: 'embeddings', pooling: 'pooled', embeddingSize: H });
      const [vector] = await model.embed(['good']);
      const rows = [2, vocabulary.indexOf('good'), 3].map((id) => Array.from({ length: H }, (_, i) => table[id * H + i]!).map((v) => (v < 0 ? v / 2 : v)));
      const expected = normalizeInPlace(Float32Array.from({ length: H }, (_, i) => rows.reduce((s, r) => s + r[i]!, 0) / 3));
      Array.from(vector!).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
      expect(classifier.info).toMatchObject({ task: 'classify', labels: ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3'] });
      expect((await classifier.classify(['good']))[0]!.scores).toHaveLength(H);
    } finally {
      await Promise.all([model.dispose(), classifier.dispose()]);
    }
  });

  it('UNSUPPORTED_ARCHITECTURE for inputs it cannot fill, token classification, and outputs that are not embeddings', async () => {
    const pixels = await writeGraph({
      inputs: [ids('input_ids'), { name: 'pixel_values', elemType: ONNX_FLOAT, shape: ['batch', 3] }],
      initializers: [word],
      nodes: [{ opType: 'Gather', inputs: ['word', 'input_ids'], outputs: ['last_hidden_state'] }],
      outputs: [{ name: 'last_hidden_state', elemType: ONNX_FLOAT, shape: ['batch', 'sequence', H] }],
    });
    expect((await expectCode(loadOnnxModel(pixels, { threads: 1 }), 'UNSUPPORTED_ARCHITECTURE')).message).toContain('pixel_values');
    const tokens = await writeGraph({
      inputs: [ids('input_ids')],
      initializers: [word],
      nodes: [{ opType: 'Gather', inputs: ['word', 'input_ids'], outputs: ['logits'] }],
      outputs: [{ name: 'logits', elemType: ONNX_FLOAT, shape: ['batch', 'sequence', H] }],
    });
    expect((await expectCode(loadOnnxModel(tokens, { threads: 1 }), 'UNSUPPORTED_ARCHITECTURE')).message).toContain('token classification');
    const integers = await writeGraph({
      inputs: [ids('input_ids')],
      initializers: [],
      nodes: [{ opType: 'Identity', inputs: ['input_ids'], outputs: ['copy'] }],
      outputs: [{ name: 'copy', elemType: ONNX_INT64, shape: ['batch', 'sequence'] }],
    });
    await expectCode(loadOnnxModel(integers, { threads: 1 }), 'UNSUPPORTED_ARCHITECTURE');
  });

  it('LOAD_FAILED naming the path for a well-formed file ONNX Runtime refuses', async () => {
    const path = await writeGraph({
      inputs: [ids('input_ids')],
      initializers: [],
      nodes: [{ opType: 'Frobnicate', inputs: ['input_ids'], outputs: ['last_hidden_state'] }],
      outputs: [{ name: 'last_hidden_state', elemType: ONNX_FLOAT, shape: ['batch', 'sequence', H] }],
    });
    const error = await expectCode(loadOnnxModel(path, { threads: 1, parallel: 2 }), 'LOAD_FAILED');
    expect(error.message).toContain(path);
    expect(error.message).toContain('Frobnicate');
  });

  it('LOAD_FAILED when the first run fails (a graph whose shapes do not hold)', async () => {
    const path = await writeGraph({
      inputs: [ids('input_ids'), ids('attention_mask')],
      // [1, 2, 4] (the warm-up's [CLS] [SEP]) has 8 values: no [-1, 5, 1] shape holds them.
      initializers: [word, { name: 'shape', dims: [3], data: BigInt64Array.of(-1n, 5n, 1n) }],
      nodes: [
        { opType: 'Gather', inputs: ['word', 'input_ids'], outputs: ['w'] },
        { opType: 'Reshape', inputs: ['w', 'shape'], outputs: ['last_hidden_state'] },
      ],
      outputs: [{ name: 'last_hidden_state', elemType: ONNX_FLOAT, shape: ['a', 'b', 'c'] }],
    });
    const error = await expectCode(loadOnnxModel(path, { threads: 1 }), 'LOAD_FAILED');
    expect(error.message).toMatch(/first run/);
  });
});

describe('ONNX tokenizer', () => {
  it('truncates pairs from the second text, keeps the closing token, and refuses what the library cannot run', async () => {
    const dir = join(root, 'tokenizer');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(vocabulary)));
    const tokenizer = await OnnxTokenizer.load(join(dir, 'tokenizer.json'));
    expect(tokenizer.padId).toBe(0);
    const pair = tokenizer.encode(['the cat', 'a dog'], 6);
    expect(pair).toEqual({ ids: [2, 5, 7, 3, 6, 3], typeIds: [0, 0, 0, 0, 1, 1] });
    expect(tokenizer.encode('[SEP] [SEP] [SEP]', 2).ids).toEqual([2, 3]);
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ model: { type: 'Nonsense' } }));
    await expectCode(OnnxTokenizer.load(join(dir, 'bad.json')), 'LOAD_FAILED', 'tokenizerPath');
    await writeFile(join(dir, 'array.json'), '[1, 2]');
    await expectCode(OnnxTokenizer.load(join(dir, 'array.json')), 'LOAD_FAILED', 'tokenizerPath');
  });

  it('feeds int32 and int64 inputs padded at the end', () => {
    const batch = [
      { ids: [2, 5, 3], typeIds: [0, 0, 0] },
      { ids: [2, 3], typeIds: [0, 1] },
    ];
    const feeds = batchFeeds(batch, [{ name: 'input_ids', isTensor: true, type: 'int32', shape: [] }, { name: 'attention_mask', isTensor: true, type: 'int64', shape: [] }, { name: 'token_type_ids', isTensor: true, type: 'int64', shape: [] }], 9);
    expect(feeds.input_ids).toEqual({ type: 'int32', dims: [2, 3], data: Int32Array.of(2, 5, 3, 2, 3, 9) });
    expect(feeds.attention_mask!.data).toEqual(BigInt64Array.of(1n, 1n, 1n, 1n, 1n, 0n));
    expect(feeds.token_type_ids!.data).toEqual(BigInt64Array.of(0n, 0n, 0n, 0n, 1n, 0n));
  });
});

describe('ONNX output plans and pooling', () => {
  const out = (name: string, rank: number, type = 'float32') => ({ name, isTensor: true, type, shape: new Array<string>(rank).fill('d') });

  it('chooses what to read', () => {
    expect(planOutputs([out('last_hidden_state', 3), out('pooler_output', 2)], undefined, 'auto')).toEqual({ task: 'embed', output: 'last_hidden_state', pooling: 'mean' });
    expect(planOutputs([out('last_hidden_state', 3), out('pooler_output', 2)], undefined, 'auto', 'cls').pooling).toBe('cls');
    expect(planOutputs([out('last_hidden_state', 3), out('pooler_output', 2)], undefined, 'pooled').output).toBe('pooler_output');
    expect(planOutputs([out('token_embeddings', 3), out('sentence_embedding', 2)], undefined, 'auto')).toEqual({ task: 'embed', output: 'sentence_embedding', pooling: 'pooled' });
    expect(planOutputs([out('hidden', 3)], undefined, 'max')).toEqual({ task: 'embed', output: 'hidden', pooling: 'max' });
    expect(planOutputs([out('logits', 2)], undefined, 'auto')).toEqual({ task: 'classify', output: 'logits', pooling: 'pooled' });
    expect(() => planOutputs([out('sentence_embedding', 2)], undefined, 'mean')).toThrow(/without token states/);
    expect(() => planOutputs([out('last_hidden_state', 3)], 'classify', 'auto')).toThrow(/no logits/);
    expect(() => planOutputs([out('names', 2, 'string')], undefined, 'auto')).toThrow(/neither/);
  });

  it('pools, normalises and scores', () => {
    const output = { data: Float32Array.of(1, 2, 3, 4, 9, 9, 5, 6, 0, 0, 0, 0), dims: [2, 3, 2] };
    expect(poolRows(output, 'mean', [2, 1]).map((v) => [...v])).toEqual([[2, 3], [5, 6]]);
    expect(poolRows(output, 'max', [2, 1]).map((v) => [...v])).toEqual([[3, 4], [5, 6]]);
    expect(poolRows(output, 'last', [3, 0]).map((v) => [...v])).toEqual([[9, 9], [5, 6]]);
    expect([...normalizeInPlace(new Float32Array(3))]).toEqual([0, 0, 0]);
    expect(scoresOf([0, 0], 'softmax')).toEqual([0.5, 0.5]);
    expect(scoresOf([0], 'sigmoid')).toEqual([0.5]);
  });
});

describe('ONNX execution providers and memory', () => {
  it('chooses execution providers by hardware unless told', () => {
    expect(executionAttempts(undefined, true, false, 'darwin', 'arm64')).toEqual([['coreml', 'cpu'], ['cpu']]);
    expect(executionAttempts(undefined, true, true, 'linux', 'x64')).toEqual([['cuda', 'cpu'], ['cpu']]);
    expect(executionAttempts(undefined, true, false, 'linux', 'x64')).toEqual([['cpu']]);
    expect(executionAttempts(undefined, false, true, 'darwin', 'arm64')).toEqual([['cpu']]);
    expect(executionAttempts(['cpu'], true, true)).toEqual([['cpu']]);
    expect(executionAttempts([{ name: 'cuda', deviceId: 1 }], false, false)).toEqual([[{ name: 'cuda', deviceId: 1 }, 'cpu'], ['cpu']]);
    expect(providerDevice({ name: 'cuda', deviceId: 1 })).toBe('CUDA1');
    expect(providerDevice('tensorrt')).toBe('CUDA0');
    expect(providerDevice('coreml')).toBe('CPU');
    expect(cudaProviderInstalled(undefined)).toBe(false);
  });

  it('reports a copy of the weights per session, and the arena on the device that runs', () => {
    const config = { hidden_size: 384, intermediate_size: 1536, num_attention_heads: 12 };
    const cpu = onnxMemoryReport({ weightBytes: 90e6, sessions: 2, tokensPerRun: 4096, maxLength: 256, config, device: 'CPU' });
    const arena = 4096 * 4 * (6 * 384 + 2 * 1536 + 2 * 12 * 256);
    expect(cpu.devices).toEqual([{ device: 'CPU', weights: 180e6, kvCache: 0, compute: 2 * (arena + ONNX_SESSION_OVERHEAD_BYTES), total: 180e6 + 2 * (arena + ONNX_SESSION_OVERHEAD_BYTES), reclaimable: 0 }]);
    const gpu = onnxMemoryReport({ weightBytes: 90e6, sessions: 1, tokensPerRun: 4096, maxLength: 256, config, device: 'CUDA0' });
    expect(gpu.devices.map((d) => [d.device, d.weights, d.compute])).toEqual([['CPU', 0, ONNX_SESSION_OVERHEAD_BYTES], ['CUDA0', 90e6, arena]]);
    expect(gpu.total).toBe(90e6 + arena + ONNX_SESSION_OVERHEAD_BYTES);
    // Without config.json: a BERT-base shape.
    expect(onnxMemoryReport({ weightBytes: 0, sessions: 1, tokensPerRun: 1, maxLength: 1, config: undefined, device: 'CPU' }).compute).toBe(4 * (6 * 768 + 2 * 3072 + 2 * 12) + ONNX_SESSION_OVERHEAD_BYTES);
  });
});
