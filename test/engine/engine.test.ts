import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import {
  Model,
  ModelSlot,
  deviceInfo,
  estimateMemory,
  inspect,
  loadModel,
  quantizeModel,
  setLogLevel,
} from '../../src/engine/index.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES, collect, repoRoot } from '../helpers/models.js';

const tmp = mkdtempSync(join(tmpdir(), 'modelpool-engine-'));
const reference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'stories260K-greedy.json'), 'utf8')) as {
  prompt: string;
  nPredict: number;
  text: string;
};


describe('deviceInfo', () => {
  it('reports the CPU, RAM and the compiled backends', () => {
    const info = deviceInfo();
    expect(info.cpu.cores).toBeGreaterThanOrEqual(1);
    expect(info.ram.total).toBeGreaterThan(0);
    expect(info.ram.free).toBeGreaterThan(0);
    expect(info.ram.free).toBeLessThanOrEqual(info.ram.total);
    expect(info.backends).toContain('CPU');
    expect(Array.isArray(info.gpus)).toBe(true);
  });
});

describe('loadModel: bad input', () => {
  it('MODEL_NOT_FOUND for a missing file', async () => {
    await expectCode(loadModel(join(tmp, 'nope.gguf')), 'MODEL_NOT_FOUND', 'path');
  });
  it('INVALID_GGUF for a file that is not a GGUF', async () => {
    const path = join(tmp, 'text.gguf');
    writeFileSync(path, 'hello world, not a model at all');
    await expectCode(loadModel(path), 'INVALID_GGUF');
  });
  it('INVALID_GGUF for a truncated GGUF', async () => {
    const path = join(tmp, 'truncated.gguf');
    writeFileSync(path, readFileSync(STORIES).subarray(0, 600_000));
    await expectCode(loadModel(path), 'INVALID_GGUF');
  });
  it('UNSUPPORTED_ARCHITECTURE for an architecture llama.cpp does not know', async () => {
    const bytes = readFileSync(STORIES);
    const key = Buffer.from('general.architecture');
    const at = bytes.indexOf(key) + key.length + 4 + 8; // value type (u32), string length (u64)
    expect(bytes.subarray(at, at + 5).toString()).toBe('llama');
    bytes.write('llamx', at);
    const path = join(tmp, 'unknown-arch.gguf');
    writeFileSync(path, bytes);
    const e = await expectCode(loadModel(path), 'UNSUPPORTED_ARCHITECTURE');
    expect(e.message).toContain('llamx');
  });

  it('INVALID_ARGUMENT naming the field for bad options', async () => {
    const e = await expectCode(loadModel(STORIES, { contextSize: -5 }), 'INVALID_ARGUMENT', 'contextSize');
    expect(e.message).toContain('-5');
    await expectCode(loadModel(STORIES, { threads: 0 }), 'INVALID_ARGUMENT', 'threads');
    await expectCode(loadModel(STORIES, { gpuLayers: 'some' as never }), 'INVALID_ARGUMENT', 'gpuLayers');
    await expectCode(loadModel(STORIES, { probe: 'maybe' as never }), 'INVALID_ARGUMENT', 'probe');
    await expectCode(loadModel(STORIES, { onProgress: 5 as never }), 'INVALID_ARGUMENT', 'onProgress');
    await expectCode(loadModel(42 as never), 'INVALID_ARGUMENT', 'path');
  });
  it('CONTEXT_TOO_LARGE beyond the trained context', async () => {
    await expectCode(loadModel(STORIES, { contextSize: 4096 }), 'CONTEXT_TOO_LARGE', 'contextSize');
  });
  it('ABORTED when the signal is already aborted or fires during the load', async () => {
    await expectCode(loadModel(STORIES, { signal: AbortSignal.abort() }), 'ABORTED');
    const controller = new AbortController();
    await expectCode(
      loadModel(STORIES, { signal: controller.signal, onProgress: () => controller.abort() }),
      'ABORTED',
    );
  });
});

describe('Model on stories260K', () => {
  let model: Model;
  beforeAll(async () => {
    const progress: number[] = [];
    model = await loadModel(STORIES, { contextSize: 256, parallel: 4, threads: 1, onProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBeCloseTo(1, 1);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('reports what was loaded', () => {
    expect(model.info).toMatchObject({
      architecture: 'llama',
      contextSize: 256,
      trainContextSize: 2048,
      parallel: 4,
      embeddingSize: 64,
      layers: 5,
      vocabularySize: 512,
      embeddings: false,
    });
    expect(model.info.parameterCount).toBe(292_800);
    expect(model.threads).toBe(1);
    expect(model.loadMs).toBeGreaterThan(0);
  });

  it('measures memory by kind: KV cache is exactly 2·ctx·parallel·layers·kv_dim·f16', () => {
    // K and V, 256 tokens x 4 sequences, 5 layers, 4 KV heads x head dim 8, 2 bytes each.
    expect(model.memory.kvCache).toBe(2 * 256 * 4 * 5 * 32 * 2);
    expect(model.memory.weights).toBe(model.info.sizeBytes);
    expect(model.memory.compute).toBeGreaterThan(0);
    expect(model.memory.total).toBe(model.memory.weights + model.memory.kvCache + model.memory.compute);
    expect(model.memory.devices[0]!.device).toBe('CPU');
  });

  it('estimateMemory (dry run) matches what the load really allocated', async () => {
    const estimate = await estimateMemory(STORIES, { contextSize: 256, parallel: 4 });
    expect(estimate.kvCache).toBe(model.memory.kvCache);
    expect(estimate.weights).toBe(model.memory.weights);
    expect(Math.abs(estimate.total - model.memory.total) / model.memory.total).toBeLessThan(0.05);
    const bigger = await estimateMemory(STORIES, { contextSize: 2048, parallel: 4 });
    expect(bigger.kvCache).toBe(8 * estimate.kvCache);
    await expectCode(estimateMemory(join(tmp, 'missing.gguf')), 'MODEL_NOT_FOUND');
  });

  it('tokenizes and detokenizes', () => {
    const tokens = model.tokenize('Once upon a time');
    expect(tokens[0]).toBe(1); // BOS
    expect(model.detokenize(tokens.slice(1)).trim()).toBe('Once upon a time');
    expect(model.tokenize('Once upon a time', { addSpecial: false })[0]).not.toBe(1);
    expect(() => model.detokenize([99999])).toThrow(ModelpoolError);
    expect(() => model.tokenize(5 as never)).toThrow(/text/);
  });

  it('greedy output equals llama.cpp reference tool token for token', async () => {
    const result = await model.complete({ prompt: reference.prompt, temperature: 0, maxTokens: reference.nPredict });
    expect(result.text).toBe(reference.text);
    expect(result.generatedTokens).toBe(reference.nPredict);
    expect(result.finishReason).toBe('length');
  });

  it('streams chunks that add up to the result, with stats', async () => {
    const { chunks, result } = await collect(model.generate({ prompt: 'Once upon a time', temperature: 0, maxTokens: 80 }));
    const r = result as Awaited<ReturnType<Model['complete']>>;
    expect(chunks.join('')).toBe(r.text);
    expect(r.promptTokens).toBe(model.tokenize('Once upon a time').length);
    expect(r.generatedTokens).toBe(80);
    expect(r.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(r.promptTokensPerSecond).toBeGreaterThan(0);
    expect(r.nativeMs).toBeGreaterThan(0);
    expect(r.nativeMs).toBeLessThanOrEqual(r.totalMs + 1);
    expect(r.cpuMs).toBeGreaterThan(0);
    // Submitted → admitted is the start of submitted → first token, which is within submitted → finished.
    expect(Number.isFinite(r.queuedMs)).toBe(true);
    expect(r.queuedMs).toBeGreaterThanOrEqual(0);
    expect(r.queuedMs).toBeLessThanOrEqual(r.timeToFirstTokenMs);
    expect(r.timeToFirstTokenMs).toBeLessThanOrEqual(r.totalMs);
  });

  it('stops at stop strings and never streams them', async () => {
    const full = await model.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 60 });
    const stopAt = full.text.indexOf('Lily');
    expect(stopAt).toBeGreaterThan(0);
    const { chunks, result } = await collect(
      model.generate({ prompt: 'Once upon a time', temperature: 0, maxTokens: 60, stop: ['Lily', 'zzz'] }),
    );
    const r = result as Awaited<ReturnType<Model['complete']>>;
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(full.text.slice(0, stopAt));
    expect(chunks.join('')).toBe(r.text);
  });

  it('samples reproducibly with a seed', async () => {
    const req = { prompt: 'The cat', temperature: 1.0, topK: 40, topP: 0.9, minP: 0.05, maxTokens: 40, seed: 1234 };
    const a = await model.complete(req);
    const b = await model.complete(req);
    expect(a.text).toBe(b.text);
    const texts = new Set<string>();
    for (let seed = 1; seed <= 4; seed++) texts.add((await model.complete({ ...req, seed })).text);
    expect(texts.size).toBeGreaterThan(1);
    const penalised = await model.complete({ ...req, repeatPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: 0.5 });
    expect(penalised.generatedTokens).toBeGreaterThan(0);
  });

  it('rejects invalid sampling values with the field named', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ temperature: -1 }, 'request.temperature'],
      [{ topP: 2 }, 'request.topP'],
      [{ topK: 1.5 }, 'request.topK'],
      [{ minP: Number.NaN }, 'request.minP'],
      [{ maxTokens: 0 }, 'request.maxTokens'],
      [{ seed: -3 }, 'request.seed'],
      [{ stop: 'x' }, 'request.stop'],
      [{ stop: [''] }, 'request.stop[0]'],
      [{ repeatPenalty: 0 }, 'request.repeatPenalty'],
      [{ signal: 'no' }, 'request.signal'],
    ];
    for (const [extra, field] of bad) {
      await expectCode(() => model.generate({ prompt: 'x', ...extra } as never), 'INVALID_ARGUMENT', field);
    }
    await expectCode(() => model.generate({} as never), 'INVALID_ARGUMENT', 'request.prompt');
    await expectCode(() => model.generate({ prompt: 'a', messages: [] } as never), 'INVALID_ARGUMENT', 'request.prompt');
    await expectCode(() => model.generate({ messages: [{ role: 'user' }] } as never), 'INVALID_ARGUMENT', 'messages[0].content');
    await expectCode(model.complete({ prompt: 'x', temperature: -1 }), 'INVALID_ARGUMENT', 'request.temperature');
  });

  it('constrains output to a JSON schema', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 99 } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    for (const seed of [1, 2, 3]) {
      const r = await model.complete({ prompt: 'Lily is', jsonSchema: schema, temperature: 0.8, seed, maxTokens: 120 });
      const value = JSON.parse(r.text) as { name: string; age: number };
      expect(typeof value.name).toBe('string');
      expect(value.name.length).toBeLessThanOrEqual(12);
      expect(Number.isInteger(value.age)).toBe(true);
      expect(r.finishReason).toBe('eos');
    }
  });

  it('constrains output with a GBNF grammar and rejects a bad one', async () => {
    const r = await model.complete({ prompt: 'Answer:', grammar: 'root ::= ("yes" | "no") "."', temperature: 0.5, seed: 3 });
    expect(['yes.', 'no.']).toContain(r.text);
    await expectCode(() => model.generate({ prompt: 'x', grammar: 'root ::= (' }), 'INVALID_ARGUMENT');
  });

  it('rejects invalid JSON schemas with INVALID_SCHEMA', async () => {
    await expectCode(() => model.generate({ prompt: 'x', jsonSchema: 'string' as never }), 'INVALID_SCHEMA', 'request.jsonSchema');
    await expectCode(
      () => model.generate({ prompt: 'x', jsonSchema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } }),
      'INVALID_SCHEMA',
    );
  });

  it('batches concurrent requests: each equals its single-stream output', async () => {
    const prompts = ['Once upon a time', 'The little dog', 'Tom and Sue', 'One day, a bird', 'The sun was', 'Mom said', 'A big tree', 'Lily had'];
    const alone = [];
    for (const prompt of prompts) alone.push((await model.complete({ prompt, temperature: 0, maxTokens: 40 })).text);
    // 8 requests on 4 sequences: 4 run batched, 4 queue and join as sequences free up.
    const together = await Promise.all(prompts.map((prompt) => model.complete({ prompt, temperature: 0, maxTokens: 40 })));
    expect(together.map((r) => r.text)).toEqual(alone);
    expect(Math.max(...together.map((r) => r.queuedMs))).toBeGreaterThan(0);
  });

  it('starts requests made in one event-loop turn together: one decode step per token for all of them', async () => {
    const before = model.decodeSteps;
    const prompts = ['Once upon a time', 'The little dog', 'Tom and Sue', 'Mom said'];
    const results = await Promise.all(prompts.map((prompt) => model.complete({ prompt, temperature: 0, maxTokens: 20 })));
    expect(results.every((r) => r.generatedTokens === 20)).toBe(true);
    // One step takes every prompt and yields each first token; 19 more steps yield the rest.
    expect(model.decodeSteps - before).toBe(20);
  });

  it('lets a request join while another is generating', async () => {
    const long = model.generate({ prompt: 'Once upon a time', temperature: 0, maxTokens: 200 });
    const iterator = long[Symbol.asyncIterator]();
    await iterator.next();
    const joined = await model.complete({ prompt: 'The little dog', temperature: 0, maxTokens: 20 });
    expect(joined.generatedTokens).toBe(20);
    for (let n = await iterator.next(); !n.done; n = await iterator.next());
    expect((await long.result).generatedTokens).toBeGreaterThan(20);
  });

  it('aborts during generation with ABORTED and the partial text', async () => {
    const controller = new AbortController();
    const stream = model.generate({ prompt: 'Once upon a time', temperature: 0, maxTokens: 2000, signal: controller.signal });
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const chunk of stream) {
        seen.push(chunk);
        if (seen.length === 2) controller.abort();
      }
    } catch (e) {
      error = e;
    }
    expect((error as ModelpoolError).code).toBe('ABORTED');
    const e = await expectCode(stream.result, 'ABORTED');
    expect(String(e.details?.partialText).startsWith(seen.join(''))).toBe(true);
    await expectCode(() => model.generate({ prompt: 'x', signal: AbortSignal.abort() }), 'ABORTED');
    expect(model.activeRequests).toBe(0);
  });

  it('aborts a request while it is still queued', async () => {
    const running = Array.from({ length: 4 }, () => model.complete({ prompt: 'Once', temperature: 0, maxTokens: 150 }));
    const controller = new AbortController();
    const queued = model.complete({ prompt: 'Queued', temperature: 0, maxTokens: 10, signal: controller.signal });
    controller.abort();
    const e = await expectCode(queued, 'ABORTED');
    expect(e.details?.generatedTokens).toBe(0);
    await Promise.all(running);
  });

  it('returns length when a sequence fills its context, CONTEXT_OVERFLOW when the prompt cannot fit', async () => {
    const r = await model.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 10_000 });
    expect(r.finishReason === 'length' || r.finishReason === 'eos').toBe(true);
    expect(r.promptTokens + r.generatedTokens).toBeLessThanOrEqual(256);
    const long = 'word '.repeat(400);
    await expectCode(() => model.generate({ prompt: long }), 'CONTEXT_OVERFLOW');
  });

  it('formats chat messages (ChatML when the GGUF has no template)', async () => {
    const text = model.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    expect(text).toContain('<|im_start|>user\nHi<|im_end|>');
    expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
    const r = await model.complete({ messages: [{ role: 'user', content: 'Tell me a story' }], temperature: 0, maxTokens: 8 });
    expect(r.generatedTokens).toBeGreaterThan(0);
  });

  it('changes threads at run time', async () => {
    model.setThreads(2);
    expect(model.threads).toBe(2);
    expect((await model.complete({ prompt: 'Once', temperature: 0, maxTokens: 5 })).generatedTokens).toBe(5);
    model.setThreads(1);
    expect(() => model.setThreads(0)).toThrow(ModelpoolError);
  });

  it('refuses embeddings on a generation model', async () => {
    await expectCode(model.embed(['x']), 'INVALID_ARGUMENT');
    await expectCode(model.embed([] as never), 'INVALID_ARGUMENT', 'texts');
  });
});

describe('Model lifecycle', () => {
  it('dispose waits for in-flight requests, is idempotent, and later calls get DISPOSED', async () => {
    const model = await loadModel(STORIES, { contextSize: 128, threads: 1 });
    const pending = model.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 60 });
    const d1 = model.dispose();
    const d2 = model.dispose();
    expect(d1).toBe(d2);
    expect((await pending).generatedTokens).toBe(60);
    await d1;
    expect(model.disposed).toBe(true);
    await expectCode(() => model.generate({ prompt: 'x' }), 'DISPOSED');
    expect(() => model.tokenize('x')).toThrow(/disposed/);
  });

  it('dispose({ abort: true }) ends in-flight requests with ABORTED', async () => {
    const model = await loadModel(STORIES, { contextSize: 256, threads: 1 });
    const pending = model.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 5000 });
    await new Promise((r) => setTimeout(r, 5));
    await model.dispose({ abort: true });
    await expectCode(pending, 'ABORTED');
  });

  it('supports await using (Symbol.asyncDispose)', async () => {
    let ref: Model | undefined;
    {
      await using model = await loadModel(STORIES, { contextSize: 64 });
      ref = model;
      expect(ref.disposed).toBe(false);
    }
    expect(ref!.disposed).toBe(true);
  });

  it('loads for embeddings and embeds texts', async () => {
    const model = await loadModel(STORIES, { contextSize: 128, embeddings: true });
    const [a, b, a2] = await model.embed(['Once upon a time', 'The dog ran home', 'Once upon a time']);
    expect(a!.length).toBe(64);
    expect(Array.from(a!)).toEqual(Array.from(a2!));
    expect(Array.from(a!)).not.toEqual(Array.from(b!));
    await expectCode(() => model.generate({ prompt: 'x' }), 'INVALID_ARGUMENT');
    await model.dispose();
  });
});

describe('ModelSlot (hot swap primitive)', () => {
  it('switches atomically: requests accepted before replace finish on the old model', async () => {
    const oldModel = await loadModel(STORIES, { contextSize: 256, parallel: 2 });
    const newModel = await loadModel(STORIES, { contextSize: 256, parallel: 2 });
    const slot = new ModelSlot(oldModel);
    expect(slot.current).toBe(oldModel);
    expect(slot.generation).toBe(1);
    const before = [slot.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 80 }), slot.complete({ prompt: 'The dog', temperature: 0, maxTokens: 80 })];
    expect(oldModel.activeRequests).toBe(2);
    const replaced = slot.replace(newModel);
    expect(slot.current).toBe(newModel);
    expect(slot.generation).toBe(2);
    const after = slot.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 80 });
    expect(newModel.activeRequests).toBe(1);
    const results = await Promise.all([...before, after]);
    expect(results.every((r) => r.generatedTokens === 80)).toBe(true);
    expect(results[0]!.text).toBe(results[2]!.text);
    expect(await replaced).toBe(oldModel);
    expect(oldModel.disposed).toBe(true);
    await expectCode(() => new ModelSlot(oldModel), 'DISPOSED');
    expect(() => new ModelSlot({} as never)).toThrow(ModelpoolError);
    await newModel.dispose();
  });
});

describe('quantizeModel', () => {
  it('writes a Q8_0 model that loads and generates', async () => {
    const src = join(tmp, 'stories-f32.gguf');
    copyFileSync(STORIES, src);
    const out = join(tmp, 'stories-q8.gguf');
    await quantizeModel(src, out, 'Q8_0', { threads: 1 });
    const model = await loadModel(out, { contextSize: 64 });
    expect(model.memory.weights).toBeLessThan(readFileSync(STORIES).length);
    const r = await model.complete({ prompt: 'Once upon a time', temperature: 0, maxTokens: 10 });
    expect(r.generatedTokens).toBe(10);
    await model.dispose();
    await expectCode(quantizeModel(src, out, 'Q3' as never), 'INVALID_ARGUMENT', 'type');
    await expectCode(quantizeModel(join(tmp, 'none.gguf'), out, 'Q8_0'), 'LOAD_FAILED');
  });
});

describe('generated test models', () => {
  it.each(['F16', 'Q8_0', 'Q4_0'] as const)('a generated %s llama model with a real vocabulary loads and generates', async (type) => {
    const path = await cachedTestModel({ type, layers: 2, embeddingSize: 128, heads: 4, kvHeads: 2, feedForwardSize: 256 });
    const info = await inspect(path);
    expect(info.architecture).toBe('llama');
    expect(info.vocabularySize).toBe(32000);
    const model = await loadModel(path, { contextSize: 128 });
    expect(model.info.layers).toBe(2);
    const r = await model.complete({ prompt: 'Hello world', temperature: 0, maxTokens: 8 });
    expect(r.generatedTokens).toBeGreaterThan(0);
    const estimate = await estimateMemory(path, { contextSize: 128 });
    // Exact for F16/Q8_0; for Q4_0 the CPU backend repacks weights at load (within 1%).
    expect(Math.abs(estimate.total - model.memory.total) / model.memory.total).toBeLessThan(0.01);
    await model.dispose();
  });
});

describe('setLogLevel', () => {
  it('accepts known levels and rejects others', () => {
    setLogLevel('error');
    expect(() => setLogLevel('loud' as never)).toThrow(ModelpoolError);
  });
});
