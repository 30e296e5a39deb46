/**
 * The ONNX provider on tiny generated models (src/testing/onnx-generator.ts): embeddings and
 * classifications checked against the same sums done by hand from the generated weights, batching,
 * truncation, session pooling and threads, the model contract's lifecycle, and typed errors for
 * every way a load can go wrong.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isLocalModel } from '../../src/model/handle.js';
import { ModelPool } from '../../src/pool/pool.js';
import { createOnnxProvider, estimateOnnxModel, isOnnxModel, loadOnnxModel, type OnnxModel } from '../../src/providers/onnx/index.js';
import { generateOnnxTestModel, type OnnxTestModel, type OnnxTestModelOptions } from '../../src/testing/onnx-generator.js';
import { expectCode } from '../helpers/expect.js';

let root: string;
const loaded: OnnxModel[] = [];

/** Loads and remembers the model, so that afterAll disposes of it whatever a test does. */
async function load(path: string, options: Parameters<typeof loadOnnxModel>[1] = {}): Promise<OnnxModel> {
  const model = await loadOnnxModel(path, { threads: 1, ...options });
  loaded.push(model);
  return model;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelpool-onnx-'));
});
afterAll(async () => {
  await Promise.all(loaded.map((m) => m.dispose()));
  await rm(root, { recursive: true, force: true });
});

let folders = 0;
const generate = (options: OnnxTestModelOptions = {}): Promise<OnnxTestModel> =>
  generateOnnxTestModel({ outDir: join(root, `m${folders++}`), ...options });

// ---------------------------------------------------------------------------------------------------
// The reference: the same model computed by hand, in float64.

/** BERT tokenization of texts made of whole words of the test vocabulary: [CLS] words [SEP]. */
function referenceIds(model: OnnxTestModel, text: string): number[] {
  const words = text.toLowerCase().match(/[a-z]+|[^\sa-z]/g) ?? [];
  return [2, ...words.map((w) => Math.max(1, model.vocabulary.indexOf(w))), 3];
}

/** Token states: the embedding rows (plus token-type rows), through tanh(x·W + b) with a dense layer. */
function referenceStates(model: OnnxTestModel, ids: number[], typeIds: number[] = ids.map(() => 0)): number[][] {
  const h = model.hiddenSize;
  const { embeddings, tokenTypeEmbeddings, dense } = model.weights;
  return ids.map((id, t) => {
    const x = Array.from({ length: h }, (_, i) => embeddings[id * h + i]! + (tokenTypeEmbeddings?.[typeIds[t]! * h + i] ?? 0));
    if (dense === undefined) return x;
    return Array.from({ length: h }, (_, j) => Math.tanh(x.reduce((sum, v, k) => sum + v * dense.weight[k * h + j]!, 0) + dense.bias[j]!));
  });
}

const mean = (rows: number[][]): number[] => rows[0]!.map((_, i) => rows.reduce((s, r) => s + r[i]!, 0) / rows.length);
const unit = (v: number[]): number[] => {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  const worst = Array.from(actual).reduce((w, a, i) => Math.max(w, Math.abs(a - expected[i]!)), 0);
  expect(worst, `largest difference ${worst}`).toBeLessThanOrEqual(tolerance);
}

const TEXTS = ['the cat sat on the mat', 'Hello, world!', 'good', 'this movie is very good and i love it', '', 'a dog , a cat ? once upon a time there was a dog'];

// ---------------------------------------------------------------------------------------------------

describe('OnnxModel.embed', () => {
  let plain: OnnxTestModel;
  let model: OnnxModel;

  beforeAll(async () => {
    plain = await generate();
    model = await load(plain.modelPath);
  });

  it('is a local embedding model that says what it runs on', () => {
    expect(isLocalModel(model)).toBe(true);
    expect(isOnnxModel(model)).toBe(true);
    expect(model.capabilities).toEqual({ generate: false, chat: false, embed: true, jsonSchema: false, grammar: false, streaming: false });
    expect(model.info).toMatchObject({ architecture: 'onnx', task: 'embed', output: 'last_hidden_state', pooling: 'mean', normalize: true, embeddingSize: 16, parallel: 1, contextSize: 512, executionProvider: 'cpu' });
    expect(model.info.executionProviderNote).toBeUndefined();
    expect(model.memory.total).toBeGreaterThan(0);
    expect(model.memory.devices[0]!.device).toBe('CPU');
    expect(model.memory.weights).toBe(model.info.sizeBytes);
    expect(model.loadMs).toBeGreaterThan(0);
  });

  it('gives the mean of the token rows over the attention mask, normalised, to 1e-6', async () => {
    const vectors = await model.embed(TEXTS);
    expect(vectors).toHaveLength(TEXTS.length);
    TEXTS.forEach((text, i) => {
      expect(vectors[i]).toBeInstanceOf(Float32Array);
      expectClose(vectors[i]!, unit(mean(referenceStates(plain, referenceIds(plain, text)))));
    });
  });

  it('gives the same vectors in one batch, one at a time, and in small batches', async () => {
    const together = await model.embed(TEXTS);
    const alone = await Promise.all(TEXTS.map(async (t) => (await model.embed([t]))[0]!));
    expect(together.map((v) => [...v])).toEqual(alone.map((v) => [...v]));
    const small = await load(plain.modelPath, { batchSize: 2, batchTokens: 8 });
    expect((await small.embed(TEXTS)).map((v) => [...v])).toEqual(together.map((v) => [...v]));
  });

  it('pools as asked: cls, max, last, and without normalising', async () => {
    const ids = referenceIds(plain, 'the cat sat on the mat');
    const states = referenceStates(plain, ids);
    const expected = {
      cls: unit(states[0]!),
      last: unit(states.at(-1)!),
      max: unit(states[0]!.map((_, i) => Math.max(...states.map((r) => r[i]!)))),
    };
    for (const pooling of ['cls', 'max', 'last'] as const) {
      const m = await load(plain.modelPath, { pooling });
      expect(m.info.pooling).toBe(pooling);
      expectClose((await m.embed(['the cat sat on the mat']))[0]!, expected[pooling]);
    }
    const raw = await load(plain.modelPath, { normalize: false });
    expectClose((await raw.embed(['the cat sat on the mat']))[0]!, mean(states));
  });

  it('truncates texts to maxLength, keeping the closing [SEP]', async () => {
    const short = await load(plain.modelPath, { maxLength: 4 });
    expect(short.info.contextSize).toBe(4);
    const ids = referenceIds(plain, 'the cat sat on the mat');
    const kept = [...ids.slice(0, 3), 3];
    expectClose((await short.embed(['the cat sat on the mat']))[0]!, unit(mean(referenceStates(plain, kept))));
  });

  it('runs a dense layer and token types as the graph says', async () => {
    const layered = await generate({ layer: true, tokenTypes: true, seed: 7 });
    const m = await load(layered.modelPath);
    const vectors = await m.embed(TEXTS);
    TEXTS.forEach((text, i) => expectClose(vectors[i]!, unit(mean(referenceStates(layered, referenceIds(layered, text)))), 2e-6));
  });

  it("takes the graph's sentence_embedding when it has one, and the token states when asked", async () => {
    const pooled = await generate({ pooledOutput: true, seed: 3 });
    const auto = await load(pooled.modelPath);
    expect(auto.info).toMatchObject({ output: 'sentence_embedding', pooling: 'pooled' });
    const byHand = await load(pooled.modelPath, { pooling: 'mean' });
    expect(byHand.info.output).toBe('last_hidden_state');
    const [a, b] = [await auto.embed(TEXTS), await byHand.embed(TEXTS)];
    TEXTS.forEach((text, i) => {
      expectClose(a[i]!, b[i]!);
      expectClose(a[i]!, unit(mean(referenceStates(pooled, referenceIds(pooled, text)))));
    });
    await expectCode(load(plain.modelPath, { pooling: 'pooled' }), 'INVALID_ARGUMENT', 'pooling');
  });

  it('follows the repository: 1_Pooling/config.json, sentence_bert_config.json, and a folder as the source', async () => {
    const repo = await generate({ seed: 5 });
    await writeFile(join(repo.dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: 6 }));
    await mkdir(join(repo.dir, '1_Pooling'));
    await writeFile(join(repo.dir, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }));
    const m = await load(repo.dir);
    expect(m.info).toMatchObject({ pooling: 'cls', contextSize: 6, path: repo.modelPath });
    expectClose((await m.embed(['the cat']))[0]!, unit(referenceStates(repo, referenceIds(repo, 'the cat'))[0]!));
  });

  it('has a tokenizer but no chat template, generation or adapters', async () => {
    expect(model.tokenize('the cat')).toEqual([2, 5, 7, 3]);
    expect(model.tokenize('the cat', { addSpecial: false })).toEqual([5, 7]);
    expect(model.detokenize([2, 5, 7, 3])).toContain('the cat');
    await expectCode(() => model.generate({ prompt: 'x' }), 'INVALID_ARGUMENT', 'request.prompt');
    await expectCode(() => model.generate({ messages: [{ role: 'user', content: 'x' }] }), 'INVALID_ARGUMENT', 'request.messages');
    await expectCode(model.complete({ prompt: 'x' }), 'INVALID_ARGUMENT');
    await expectCode(() => model.applyChatTemplate([{ role: 'user', content: 'x' }]), 'INVALID_ARGUMENT');
    await expectCode(model.evaluate({ prompt: 'x', continuation: 'y' }), 'INVALID_ARGUMENT');
    await expectCode(model.loadAdapter('a', '/x.gguf'), 'INVALID_ARGUMENT');
    await expectCode(() => model.removeAdapter('a'), 'INVALID_ARGUMENT');
    expect(model.adapters).toEqual([]);
    await expectCode(model.embed([]), 'INVALID_ARGUMENT', 'texts');
    await expectCode(model.embed(['a', 3 as unknown as string]), 'INVALID_ARGUMENT', 'texts');
    await expectCode(model.classify(['a']), 'INVALID_ARGUMENT', 'inputs');
    await expectCode(() => model.tokenize(3 as unknown as string), 'INVALID_ARGUMENT', 'text');
    await expectCode(() => model.setThreads(0), 'INVALID_ARGUMENT', 'threads');
  });
});

describe('OnnxModel.classify', () => {
  it('gives the softmax of the logits of the known weights, with config.json labels', async () => {
    const labels = ['negative', 'positive', 'neutral'];
    const classifier = await generate({ kind: 'classifier', labels, layer: true, seed: 11 });
    const m = await load(classifier.modelPath);
    expect(m.capabilities.embed).toBe(false);
    expect(m.info).toMatchObject({ task: 'classify', output: 'logits', labels, embeddingSize: 3, scoreFunction: 'softmax' });
    const results = await m.classify(TEXTS);
    const { weight, bias } = classifier.weights.classifier!;
    TEXTS.forEach((text, i) => {
      const pooled = mean(referenceStates(classifier, referenceIds(classifier, text)));
      const logits = labels.map((_, l) => pooled.reduce((s, v, k) => s + v * weight[k * labels.length + l]!, 0) + bias[l]!);
      const exps = logits.map((x) => Math.exp(x - Math.max(...logits)));
      const scores = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
      const best = scores.indexOf(Math.max(...scores));
      const result = results[i]!;
      expectClose(result.logits, logits, 2e-6);
      expectClose(result.scores, scores, 2e-6);
      expect(result).toMatchObject({ label: labels[best], index: best });
      expect(result.score).toBe(result.scores[best]);
    });
    await expectCode(m.embed(['x']), 'INVALID_ARGUMENT', 'texts');
    await expectCode(m.classify([]), 'INVALID_ARGUMENT', 'inputs');
    await expectCode(m.classify([['a'] as unknown as [string, string]]), 'INVALID_ARGUMENT', 'inputs');
  });

  it('classifies pairs with token types, uses a sigmoid for one label, and names labels LABEL_i without config.json', async () => {
    const single = await generate({ kind: 'classifier', labels: ['relevant'], tokenTypes: true, config: false, seed: 13 });
    const m = await load(single.modelPath);
    expect(m.info).toMatchObject({ labels: ['LABEL_0'], scoreFunction: 'sigmoid' });
    const [result] = await m.classify([['the cat', 'a dog']]);
    const ids = [2, 5, 7, 3, 6, 8, 3];
    const pooled = mean(referenceStates(single, ids, [0, 0, 0, 0, 1, 1, 1]));
    const logit = pooled.reduce((s, v, k) => s + v * single.weights.classifier!.weight[k]!, 0) + single.weights.classifier!.bias[0]!;
    expectClose(result!.logits, [logit], 2e-6);
    expectClose(result!.scores, [1 / (1 + Math.exp(-logit))], 2e-6);
    const softmax = await load(single.modelPath, { scores: 'softmax' });
    expect((await softmax.classify(['x']))[0]!.scores).toEqual([1]);
  });
});

describe('OnnxModel sessions and threads', () => {
  let model: OnnxTestModel;
  beforeAll(async () => {
    model = await generate({ layer: true, hiddenSize: 32 });
  });

  it('serves concurrent requests on parallel sessions, queueing the rest', async () => {
    const m = await load(model.modelPath, { parallel: 2, threads: 2 });
    expect(m.info).toMatchObject({ parallel: 2, sessionThreads: 1 });
    expect(m.sessionStatus).toEqual({ sessions: 2, running: 0, waiting: 0, concurrency: 2, sessionThreads: 1, rebuilt: 0, rebuilding: false });
    const requests = [m.embed(['the cat']), m.embed(['a dog']), m.embed(['hello world'])];
    expect(m.sessionStatus).toMatchObject({ running: 2, waiting: 1 });
    expect(m.activeRequests).toBe(3);
    const results = await Promise.all(requests);
    expect(m.activeRequests).toBe(0);
    const alone = await Promise.all(['the cat', 'a dog', 'hello world'].map(async (t) => (await m.embed([t]))[0]!));
    results.forEach((r, i) => expectClose(r[0]!, alone[i]!));
    // A lower thread budget lets fewer sessions run at once; a higher one, all of them again.
    m.setThreads(1);
    expect(m.threads).toBe(1);
    expect(m.sessionStatus.concurrency).toBe(1);
    const two = [m.embed(['the cat']), m.embed(['a dog'])];
    expect(m.sessionStatus).toMatchObject({ running: 1, waiting: 1 });
    await Promise.all(two);
    m.setThreads(2);
    expect(m.sessionStatus.concurrency).toBe(2);
  });

  it('rebuilds a session with more threads than a lowered budget at once, and with a larger share once it lasted rebuildDelayMs', async () => {
    const tasks = () => readdirSync('/proc/self/task').length;
    const idle = async (m: OnnxModel) => {
      for (let i = 0; i < 2000 && m.sessionStatus.rebuilding; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(m.sessionStatus.rebuilding).toBe(false);
    };
    const m = await load(model.modelPath, { threads: 4, parallel: 1, rebuildDelayMs: 100 });
    const [expected] = await m.embed(['the cat']);
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 4, rebuilt: 0 });
    const before = tasks();
    // Below the session's 4 threads: rebuilt with 1 now — requests meanwhile wait for it and are served.
    m.setThreads(1);
    expect(m.sessionStatus.rebuilding).toBe(true);
    const during = await Promise.all([m.embed(['the cat']), m.embed(['the cat'])]);
    await idle(m);
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 1, rebuilt: 1, concurrency: 1 });
    for (const [row] of during) expectClose(row!, expected!);
    // ONNX Runtime's intra-op pool: 3 threads of its own for 4 intra-op threads, none for 1.
    if (process.platform === 'linux') expect(tasks()).toBeLessThanOrEqual(before - 3);
    // A larger budget that does not last: no rebuild.
    m.setThreads(3);
    m.setThreads(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 1, rebuilt: 1, rebuilding: false });
    // One that lasts: rebuilt with it after the delay.
    m.setThreads(3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await idle(m);
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 3, rebuilt: 2 });
    expectClose((await m.embed(['the cat']))[0]!, expected!);
    await m.dispose();
  });

  it('sessions of a model with two sessions are rebuilt one at a time, the other serving meanwhile', async () => {
    const m = await load(model.modelPath, { threads: 4, parallel: 2, rebuildDelayMs: -1 });
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 2, concurrency: 2 });
    m.setThreads(1);
    const results = await Promise.all(['the cat', 'a dog', 'hello world', 'the cat'].map((t) => m.embed([t])));
    expect(results).toHaveLength(4);
    for (let i = 0; i < 2000 && m.sessionStatus.rebuilding; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 1, rebuilt: 2, rebuilding: false, concurrency: 1 });
    // rebuildDelayMs negative: a larger budget never rebuilds.
    m.setThreads(8);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(m.sessionStatus).toMatchObject({ sessionThreads: 1, rebuilt: 2, concurrency: 2 });
    // Disposed while a rebuild is under way: it waits for it, and every worker ends.
    m.setThreads(1);
    await m.dispose();
    await expectCode(() => load(model.modelPath, { rebuildDelayMs: 1.5 }), 'INVALID_ARGUMENT', 'options.rebuildDelayMs');
  });

  it('gives each session its share of the threads', async () => {
    expect((await load(model.modelPath, { threads: 4, parallel: 2 })).info.sessionThreads).toBe(2);
    expect((await load(model.modelPath, { threads: 3, parallel: 2 })).info.sessionThreads).toBe(1);
    expect((await load(model.modelPath, { threads: 1, parallel: 3 })).info).toMatchObject({ sessionThreads: 1, parallel: 3 });
  });

  it.runIf(existsSync('/proc/self/task'))('creates ONNX Runtime with the threads given: a worker and threads − 1 intra-op threads, all gone after dispose', async () => {
    const osThreads = (): number => readdirSync('/proc/self/task').length;
    await (await loadOnnxModel(model.modelPath, { threads: 2 })).dispose(); // thread pools started lazily start now
    for (const threads of [1, 4]) {
      const before = osThreads();
      const m = await loadOnnxModel(model.modelPath, { threads });
      expect(osThreads() - before, `threads: ${threads}`).toBe(threads);
      await m.dispose();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(osThreads()).toBe(before);
    }
  });
});

describe('OnnxModel.dispose', () => {
  let model: OnnxTestModel;
  const many = Array.from({ length: 400 }, (_, i) => `the cat sat on the mat ${i % 7 === 0 ? 'and the dog' : ''} once upon a time`.repeat(1 + (i % 3)));
  beforeAll(async () => {
    model = await generate({ layer: true, hiddenSize: 64 });
  });

  it('waits for requests in flight, is idempotent, and every call after it is DISPOSED', async () => {
    const m = await loadOnnxModel(model.modelPath, { threads: 1, batchSize: 4 });
    const pending = m.embed(many);
    let settled = false;
    void pending.then(() => (settled = true));
    const first = m.dispose();
    const second = m.dispose();
    expect(m.disposed).toBe(true);
    await expectCode(m.embed(['x']), 'DISPOSED');
    await Promise.all([first, second]);
    expect(settled).toBe(true);
    expect(await pending).toHaveLength(many.length);
    expect(m.activeRequests).toBe(0);
    await m[Symbol.asyncDispose]();
    await expectCode(() => m.generate({ prompt: 'x' }), 'DISPOSED');
    await expectCode(m.complete({ prompt: 'x' }), 'DISPOSED');
    await expectCode(m.classify(['x']), 'DISPOSED');
    await expectCode(() => m.setThreads(1), 'DISPOSED');
    await expectCode(() => m.tokenize('x'), 'DISPOSED');
    await expectCode(() => m.detokenize([1]), 'DISPOSED');
  });

  it('dispose({ abort: true }) ends requests in flight with ABORTED', async () => {
    const m = await loadOnnxModel(model.modelPath, { threads: 1, batchSize: 4 });
    const pending = m.embed(many);
    const queued = m.embed(['the cat']);
    const outcomes = Promise.all([expectCode(pending, 'ABORTED'), expectCode(queued, 'ABORTED')]);
    await m.dispose({ abort: true });
    await outcomes;
    expect(m.activeRequests).toBe(0);
  });
});

describe('loadOnnxModel errors', () => {
  let good: OnnxTestModel;
  beforeAll(async () => {
    good = await generate();
  });

  const fileWith = async (name: string, bytes: Uint8Array | string): Promise<string> => {
    const path = join(good.dir, name);
    await writeFile(path, bytes);
    return path;
  };

  it('MODEL_NOT_FOUND without a file', async () => {
    const error = await expectCode(loadOnnxModel(join(root, 'nothing.onnx')), 'MODEL_NOT_FOUND', 'source');
    expect(error.message).toContain('nothing.onnx');
  });

  it('INVALID_ARGUMENT naming the path for garbage, empty, truncated and JSON files, and the process lives on', async () => {
    const bytes = await readFile(good.modelPath);
    const bad = {
      'garbage.onnx': Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
      'empty.onnx': new Uint8Array(0),
      'truncated.onnx': bytes.subarray(0, Math.floor(bytes.length / 2)),
      'json.onnx': JSON.stringify({ not: 'onnx' }),
    };
    for (const [name, content] of Object.entries(bad)) {
      const path = await fileWith(name, content);
      const error = await expectCode(loadOnnxModel(path), 'INVALID_ARGUMENT', 'source');
      expect(error.message).toContain(path);
      await expectCode(estimateOnnxModel(path), 'INVALID_ARGUMENT', 'source');
    }
    expect((await load(good.modelPath)).disposed).toBe(false);
  });

  it('LOAD_FAILED naming the tokenizer path when tokenizer.json is missing or broken', async () => {
    const bare = await generate({ tokenizer: false });
    const error = await expectCode(loadOnnxModel(bare.modelPath), 'LOAD_FAILED', 'tokenizerPath');
    expect(error.message).toContain(join(bare.dir, 'tokenizer.json'));
    const elsewhere = join(root, 'missing', 'tokenizer.json');
    expect((await expectCode(loadOnnxModel(good.modelPath, { tokenizerPath: elsewhere }), 'LOAD_FAILED', 'tokenizerPath')).message).toContain(elsewhere);
    const broken = await fileWith('broken-tokenizer.json', '{ not json');
    await expectCode(loadOnnxModel(good.modelPath, { tokenizerPath: broken }), 'LOAD_FAILED', 'tokenizerPath');
    // The tokenizer of another folder works when named.
    expect((await load(bare.modelPath, { tokenizerPath: good.tokenizerPath })).info.tokenizerPath).toBe(good.tokenizerPath);
  });

  it('LOAD_FAILED with how to install it when ONNX Runtime is missing', async () => {
    const error = await expectCode(loadOnnxModel(good.modelPath, { runtime: 'onnxruntime-node-that-is-not-installed' }), 'LOAD_FAILED');
    expect(error.message).toContain('npm install onnxruntime-node');
    expect(error.message).toContain(process.platform);
  });

  it('refuses bad options, naming the field', async () => {
    await expectCode(loadOnnxModel(good.modelPath, { pooling: 'sum' as never }), 'INVALID_ARGUMENT', 'options.pooling');
    await expectCode(loadOnnxModel(good.modelPath, { threads: 0 }), 'INVALID_ARGUMENT', 'options.threads');
    await expectCode(loadOnnxModel(good.modelPath, { executionProviders: [3] as never }), 'INVALID_ARGUMENT', 'options.executionProviders[0]');
    await expectCode(loadOnnxModel(good.modelPath, { colour: 'red' } as never), 'INVALID_ARGUMENT', 'options.colour');
    await expectCode(loadOnnxModel(''), 'INVALID_ARGUMENT', 'path');
    await expectCode(loadOnnxModel(good.modelPath, { signal: AbortSignal.abort() }), 'ABORTED');
  });

  it('falls back to the CPU when a requested execution provider cannot load, and says why', async () => {
    const m = await load(good.modelPath, { executionProviders: ['cuda'] });
    expect(m.info.executionProvider).toBe('cpu');
    expect(m.info.executionProviderNote).toMatch(/cuda/);
    expect((await m.embed(['the cat']))[0]).toHaveLength(16);
  });
});

describe('createOnnxProvider', () => {
  let embedding: OnnxTestModel;
  beforeAll(async () => {
    embedding = await generate({ seed: 21 });
  });

  it('estimates from the file: a copy of the weights per session, and an arena allowance', async () => {
    const provider = createOnnxProvider();
    expect(provider.name).toBe('onnx');
    const one = await provider.estimate({ id: 'e', source: embedding.modelPath }, {});
    const two = await provider.estimate({ id: 'e', source: embedding.modelPath }, { parallel: 2 });
    expect(one.architecture).toBe('onnx');
    expect(one.trainContextLength).toBe(512);
    expect(one.memory.weights).toBeGreaterThan(embedding.weights.embeddings.byteLength);
    expect(one.memory.compute).toBeGreaterThan(0);
    expect(two.memory.total).toBe(2 * one.memory.total);
    const shorter = await provider.estimate({ id: 'e', source: embedding.modelPath }, { contextSize: 16 });
    expect(shorter.memory.compute).toBeLessThan(one.memory.compute);
  });

  it('loads with the options the pool passes, and options per model', async () => {
    const provider = createOnnxProvider({ normalize: false, models: { cls: { pooling: 'cls' } } });
    const m = (await provider.load({ id: 'e', source: embedding.modelPath }, { threads: 2, parallel: 2, contextSize: 8, gpuLayers: 0 })) as OnnxModel;
    loaded.push(m);
    expect(isLocalModel(m)).toBe(true);
    expect(m.info).toMatchObject({ parallel: 2, contextSize: 8, normalize: false, pooling: 'mean', executionProvider: 'cpu' });
    expect(m.threads).toBe(2);
    const cls = (await provider.load({ id: 'cls', source: embedding.modelPath }, { threads: 1 })) as OnnxModel;
    loaded.push(cls);
    expect(cls.info.pooling).toBe('cls');
    await expectCode(provider.load({ id: 'e', source: embedding.modelPath }, { threads: 1, signal: AbortSignal.abort() }), 'ABORTED');
    expect(provider.cpuCores?.()).toBeGreaterThan(0);
    const devices = await provider.devices!();
    expect(devices[0]).toMatchObject({ device: 'CPU' });
    expect(() => createOnnxProvider({ models: { x: { pooling: 'sum' as never } } })).toThrow(/options\.models\.x\.pooling/);
  });

  it('serves a pool: leases, embeddings and classifications, memory and threads accounted, unload', async () => {
    const classifier = await generate({ kind: 'classifier', seed: 22 });
    const pool = new ModelPool({
      provider: createOnnxProvider(),
      threads: 2,
      models: [
        { id: 'embed', source: embedding.modelPath, parallel: 2 },
        { id: 'classify', source: classifier.modelPath },
      ],
    });
    try {
      const texts = ['the cat', 'a dog', 'hello world'];
      const direct = await load(embedding.modelPath);
      const pooled = await Promise.all(texts.map((t) => pool.use('embed', async (lease) => (await lease.model.embed([t]))[0]!)));
      const expected = await direct.embed(texts);
      pooled.forEach((v, i) => expect([...v]).toEqual([...expected[i]!]));
      const [verdict] = await pool.use('classify', (lease) => (isOnnxModel(lease.model) ? lease.model.classify(['a good movie']) : []));
      expect(['negative', 'positive']).toContain(verdict!.label);
      const instance = pool.status().models.find((m) => m.id === 'embed')!.instances[0]!;
      const estimate = await createOnnxProvider().estimate({ id: 'embed', source: embedding.modelPath }, { parallel: 2 });
      expect(instance).toMatchObject({ architecture: 'onnx', parallel: 2, contextSize: 512, measuredBytes: estimate.memory.total });
      expect(instance.threads).toBeGreaterThanOrEqual(1);
      await pool.unload('embed');
      expect(pool.status().models.find((m) => m.id === 'embed')!.state).toBe('unloaded');
    } finally {
      await pool.dispose();
    }
  });
});
