// Embeddings: texts batched into one decode give what one-at-a-time decodes give, on a decoder
// (stories260K, no pooling: the mean of token embeddings) and on generated BERT models of every pooling
// type; and they match llama.cpp's own llama-embedding on the same file and texts — always against the
// committed reference vectors (test/fixtures/embeddings, made by scripts/embedding-fixtures.mjs), and
// also against a live run when build/bin/llama-embedding exists.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../../src/engine/index.js';
import { generateBertTestModel, cachedBertTestModel, type BertPooling } from '../../src/testing/bert-generator.js';
// @ts-expect-error: a plain .mjs script; the test shares its texts, options and llama-embedding runner.
import { EMBEDDING_TEXTS, MODEL_OPTIONS, POOLINGS, runLlamaEmbedding } from '../../scripts/embedding-fixtures.mjs';
import { expectCode } from '../helpers/expect.js';
import { STORIES, repoRoot } from '../helpers/models.js';

interface Fixture {
  options: typeof MODEL_OPTIONS & { pooling: BertPooling };
  sha256: string;
  texts: string[];
  vectors: number[][];
}

const LLAMA_EMBEDDING = join(repoRoot, 'build', 'bin', 'llama-embedding');
const texts = EMBEDDING_TEXTS as string[];

function fixture(pooling: BertPooling): Fixture {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'embeddings', `bert-${pooling}.json`), 'utf8')) as Fixture;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Batched and one-at-a-time vectors agree to float rounding (different packing, different sums). */
function expectSameVectors(actual: Float32Array[], expected: Float32Array[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(maxAbsDiff(v, expected[i]!), `vector ${i}`).toBeLessThan(1e-4));
}

async function oneAtATime(model: Model, inputs: string[], options: { normalize?: boolean } = {}): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const text of inputs) out.push((await model.embed([text], options))[0]!);
  return out;
}

/**
 * What modelpool should return for the texts, from llama-embedding's vectors: the same pooled vectors,
 * and for a model without pooling (llama-embedding prints every token's) the mean of each text's tokens.
 */
function expectedFrom(model: Model, pooling: BertPooling, vectors: number[][]): number[][] {
  if (pooling !== 'none') return vectors;
  let row = 0;
  return texts.map((text) => {
    const count = model.tokenize(text).length;
    const mean = new Array<number>(vectors[0]!.length).fill(0);
    for (let t = 0; t < count; t++, row++) vectors[row]!.forEach((x, j) => (mean[j]! += x / count));
    return mean;
  });
}

function expectMatchesLlamaEmbedding(actual: Float32Array[], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    // Reranker scores are single numbers: compare them directly, cosine would always be ±1.
    if (v.length > 1) expect(cosine(v, expected[i]!), `cosine of text ${i}`).toBeGreaterThanOrEqual(0.999);
    expect(maxAbsDiff(v, expected[i]!), `text ${i}`).toBeLessThan(1e-3);
  });
}

describe('Model.embed on stories260K (decoder, no pooling: mean of token embeddings)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 128, embeddings: true, threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('batches many texts into one decode and equals one text at a time', async () => {
    expect(model.info.parallel).toBe(64); // the embedding default: texts one decode may hold
    const inputs = [...texts, 'Once upon a time', 'The dog ran home'];
    const batched = await model.embed(inputs);
    expect(batched.length).toBe(inputs.length);
    expect(batched[0]!.length).toBe(model.info.embeddingSize);
    expectSameVectors(batched, await oneAtATime(model, inputs));
    expect(maxAbsDiff(batched[0]!, batched[1]!)).toBeGreaterThan(1e-3); // different texts, different vectors
  });

  it('normalize: unit-length vectors, the raw ones scaled', async () => {
    const [raw] = await model.embed(['Once upon a time']);
    const [unit] = await model.embed(['Once upon a time'], { normalize: true });
    const norm = Math.hypot(...raw!);
    expect(Math.hypot(...unit!)).toBeCloseTo(1, 5);
    expect(maxAbsDiff(unit!, raw!.map((x) => x / norm))).toBeLessThan(1e-6);
  });

  it('packs by sequences and by tokens: any packing gives the same vectors', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => `Story number ${i}: once upon a time there was a ${i % 2 ? 'dog' : 'cat'}.`);
    const reference = await model.embed(inputs);
    // Two sequences per decode; then 32 tokens per decode (about two texts each).
    const bySequences = await loadModel(STORIES, { contextSize: 32, embeddings: true, threads: 1, parallel: 2 });
    const byTokens = await loadModel(STORIES, { contextSize: 32, batchSize: 32, embeddings: true, threads: 1 });
    try {
      expectSameVectors(await bySequences.embed(inputs), reference);
      expectSameVectors(await byTokens.embed(inputs), reference);
    } finally {
      await bySequences.dispose();
      await byTokens.dispose();
    }
  });

  it('refuses bad input with typed errors naming the field and the value', async () => {
    await expectCode(model.embed([]), 'INVALID_ARGUMENT', 'texts');
    await expectCode(model.embed('text' as never), 'INVALID_ARGUMENT', 'texts');
    await expectCode(model.embed(['ok', 42 as never]), 'INVALID_ARGUMENT', 'texts[1]');
    await expectCode(model.embed(['ok'], { normalize: 'yes' as never }), 'INVALID_ARGUMENT', 'options.normalize');
    await expectCode(model.embed(['ok'], null as never), 'INVALID_ARGUMENT', 'options');
    const long = 'once upon a time '.repeat(100);
    const error = await model.embed(['short', long]).catch((e: unknown) => e as Error & { code: string });
    expect(error).toMatchObject({ code: 'CONTEXT_OVERFLOW' });
    expect((error as Error).message).toMatch(/texts\[1\] has \d{3} tokens; embeddings need between 1 and 128/);
    // The model still embeds after refusing.
    expect((await model.embed(['short'])).length).toBe(1);
  });

  it('a model loaded for generation refuses embeddings, as before', async () => {
    const generator = await loadModel(STORIES, { contextSize: 64, threads: 1 });
    try {
      await expectCode(generator.embed(['x']), 'INVALID_ARGUMENT');
    } finally {
      await generator.dispose();
    }
  });
});

describe.each(POOLINGS as BertPooling[])('Model.embed on a generated BERT model, pooling %s', (pooling) => {
  const reference = fixture(pooling);
  let path: string;
  let model: Model;
  beforeAll(async () => {
    path = await cachedBertTestModel({ ...MODEL_OPTIONS, pooling });
    model = await loadModel(path, { embeddings: true, threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('the generated file is the one the reference vectors were made from', () => {
    expect(reference.options).toEqual({ ...MODEL_OPTIONS, pooling });
    expect(reference.texts).toEqual(texts);
    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(reference.sha256);
    expect(model.info.architecture).toBe('bert');
  });

  it('batched equals one text at a time', async () => {
    const batched = await model.embed(texts);
    expect(batched[0]!.length).toBe(pooling === 'rank' ? 1 : MODEL_OPTIONS.embeddingSize);
    expectSameVectors(batched, await oneAtATime(model, texts));
  });

  it("matches llama-embedding's reference vectors (fixture)", async () => {
    const normalize = pooling !== 'none' && pooling !== 'rank'; // as the fixture was made (see the script)
    expectMatchesLlamaEmbedding(await model.embed(texts, { normalize }), expectedFrom(model, pooling, reference.vectors));
  });

  it.runIf(existsSync(LLAMA_EMBEDDING))('matches a live llama-embedding run on the same file', async () => {
    const normalize = pooling !== 'none' && pooling !== 'rank';
    const live = runLlamaEmbedding(LLAMA_EMBEDDING, path, pooling, texts) as number[][];
    expectMatchesLlamaEmbedding(await model.embed(texts, { normalize }), expectedFrom(model, pooling, live));
  });
});

describe('BERT pooling types differ', () => {
  it('mean, CLS and last-token vectors of one model file differ only by the pooling key', async () => {
    const vectors = await Promise.all(
      (['mean', 'cls', 'last'] as const).map(async (pooling) => {
        const model = await loadModel(await cachedBertTestModel({ ...MODEL_OPTIONS, pooling }), { embeddings: true, threads: 1 });
        try {
          return (await model.embed(['hello world']))[0]!;
        } finally {
          await model.dispose();
        }
      }),
    );
    expect(maxAbsDiff(vectors[0]!, vectors[1]!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(vectors[1]!, vectors[2]!)).toBeGreaterThan(1e-3);
  });
});

describe('generateBertTestModel', () => {
  it('writes the same bytes for the same seed and refuses bad options', async () => {
    const dir = join(repoRoot, '.cache', 'models');
    const a = await generateBertTestModel({ ...MODEL_OPTIONS, pooling: 'cls', outPath: join(dir, `bert-test-${process.pid}-a.gguf`) });
    const b = await cachedBertTestModel({ ...MODEL_OPTIONS, pooling: 'cls' });
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(sha(a.path)).toBe(sha(b));
    expect(a).toMatchObject({ pooling: 'cls', layers: 2, embeddingSize: 64, vocabularySize: 30522, seed: 7 });
    await import('node:fs/promises').then((fs) => fs.unlink(a.path));
    await expectCode(cachedBertTestModel({ pooling: 'max' as never }), 'INVALID_ARGUMENT', 'pooling');
    await expectCode(cachedBertTestModel({ embeddingSize: 30, heads: 4 }), 'INVALID_ARGUMENT', 'embeddingSize');
    await expectCode(cachedBertTestModel({ type: 'Q4_0' as never }), 'INVALID_ARGUMENT', 'type');
    await expectCode(cachedBertTestModel(null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(cachedBertTestModel({ vocabPath: join(repoRoot, 'deps/llama.cpp/models/ggml-vocab-llama-spm.gguf') }), 'INVALID_ARGUMENT', 'vocabPath');
  });
});
