// Test-model generator. Q8_0/Q4_0 files go through llama.cpp's quantizer (the native addon): here the
// quantizer is replaced by a stub to test the plumbing; real quantized models are tested with the engine.
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { ModelpoolError } from '../../src/errors.js';
import { float16BitsToFloat32, readGgufHeader, writeGguf, type GgufHeader } from '../../src/gguf/index.js';
import { inspect } from '../../src/gguf/index.js';
import {
  DEFAULT_CACHE_DIR,
  DEFAULT_VOCAB_PATH,
  TEST_MODEL_SHAPES,
  cachedTestModel,
  generateTestModel,
  type TestModelOptions,
} from '../../src/testing/model-generator.js';
import { VOCAB_SPM, repoRoot } from '../helpers/models.js';

const quantizeCalls = vi.hoisted(() => [] as Array<{ input: string; output: string; type: string; options: unknown; header: unknown }>);
vi.mock('../../src/engine/quantize.js', () => ({
  quantizeModel: async (input: string, output: string, type: string, options: unknown) => {
    const header = await readGgufHeader(input);
    quantizeCalls.push({ input, output, type, options, header });
    if (options && (options as { threads?: number }).threads === 13) throw new Error('quantizer failed');
    await copyFile(input, output);
  },
}));

/** Small enough to write in milliseconds: 1 layer, 32 wide (the 32000-token vocabulary dominates). */
const tiny: TestModelOptions = { layers: 1, embeddingSize: 32, heads: 4, kvHeads: 2, feedForwardSize: 64, contextLength: 128 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelpool-generator-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function tensorFloats(file: Buffer, header: GgufHeader, name: string): number[] {
  const tensor = header.tensors.find((t) => t.name === name)!;
  const start = header.dataOffset + tensor.offset;
  const bytes = file.subarray(start, start + tensor.byteSize);
  const values: number[] = [];
  for (let i = 0; i < tensor.elementCount; i++) {
    values.push(tensor.type === 'F32' ? bytes.readFloatLE(i * 4) : float16BitsToFloat32(bytes.readUInt16LE(i * 2)));
  }
  return values;
}

describe('generateTestModel', () => {
  it('writes the llama tensors with the shapes llama.cpp expects (F32)', async () => {
    const path = join(dir, 'tiny-f32.gguf');
    const info = await generateTestModel({ ...tiny, layers: 2, outPath: path });
    const header = await readGgufHeader(path);
    const embd = 32;
    const kv = (embd / 4) * 2;
    const vocab = 32000;
    expect(header.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['token_embd.weight', [embd, vocab]],
      ...[0, 1].flatMap((layer) => [
        [`blk.${layer}.attn_norm.weight`, [embd]],
        [`blk.${layer}.attn_q.weight`, [embd, embd]],
        [`blk.${layer}.attn_k.weight`, [embd, kv]],
        [`blk.${layer}.attn_v.weight`, [embd, kv]],
        [`blk.${layer}.attn_output.weight`, [embd, embd]],
        [`blk.${layer}.ffn_norm.weight`, [embd]],
        [`blk.${layer}.ffn_gate.weight`, [embd, 64]],
        [`blk.${layer}.ffn_down.weight`, [64, embd]],
        [`blk.${layer}.ffn_up.weight`, [embd, 64]],
      ]),
      ['output_norm.weight', [embd]],
      ['output.weight', [embd, vocab]],
    ]);
    expect(header.tensors.every((t) => t.type === 'F32')).toBe(true);
    expect(info).toMatchObject({ path, type: 'F32', layers: 2, vocabularySize: vocab, seed: 1 });
    expect(info.parameterCount).toBe(header.tensors.reduce((sum, t) => sum + t.elementCount, 0));

    const model = await inspect(path);
    expect(model).toMatchObject({
      architecture: 'llama',
      layers: 2,
      embeddingSize: embd,
      heads: 4,
      kvHeads: 2,
      feedForwardSize: 64,
      contextLength: 128,
      vocabularySize: vocab,
      fileType: 'F32',
      quantization: 'F32',
      keyLength: 8,
      parameterCount: info.parameterCount,
    });
    expect(model.metadata['llama.rope.dimension_count']).toBe(8);

    // every tokenizer.* key is copied from the vocabulary file, in order and unchanged
    const vocabulary = await readGgufHeader(VOCAB_SPM);
    const copied = [...header.metadata.values()].filter((e) => e.key.startsWith('tokenizer.'));
    expect(copied).toEqual([...vocabulary.metadata.values()].filter((e) => e.key.startsWith('tokenizer.')));

    // weights are small and centred, norms are ones
    const file = await readFile(path);
    const weights = tensorFloats(file, header, 'blk.0.attn_q.weight');
    const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
    const std = Math.sqrt(weights.reduce((a, b) => a + (b - mean) ** 2, 0) / weights.length);
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(Math.max(...weights.map(Math.abs))).toBeLessThanOrEqual(0.02 * Math.sqrt(3));
    expect(tensorFloats(file, header, 'blk.1.ffn_norm.weight').every((v) => v === 1)).toBe(true);
  });

  it('writes F16 matrices and F32 norms', async () => {
    const path = join(dir, 'tiny-f16.gguf');
    await generateTestModel({ ...tiny, type: 'F16', outPath: path });
    const header = await readGgufHeader(path);
    const types = Object.fromEntries(header.tensors.map((t) => [t.name, t.type]));
    expect(types['token_embd.weight']).toBe('F16');
    expect(types['blk.0.ffn_down.weight']).toBe('F16');
    expect(types['blk.0.attn_norm.weight']).toBe('F32');
    expect(types['output_norm.weight']).toBe('F32');
    const model = await inspect(path);
    expect(model).toMatchObject({ fileType: 'F16', quantization: 'F16' });
    const weights = tensorFloats(await readFile(path), header, 'output.weight');
    const std = Math.sqrt(weights.reduce((a, b) => a + b * b, 0) / weights.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
  });

  it('is deterministic for a seed', async () => {
    const a = join(dir, 'seed-a.gguf');
    const b = join(dir, 'seed-b.gguf');
    const c = join(dir, 'seed-c.gguf');
    await generateTestModel({ ...tiny, type: 'F16', seed: 7, outPath: a });
    await generateTestModel({ ...tiny, type: 'F16', seed: 7, outPath: b });
    await generateTestModel({ ...tiny, type: 'F16', seed: 8, outPath: c });
    expect(await sha256(a)).toBe(await sha256(b));
    expect(await sha256(a)).not.toBe(await sha256(c));
    expect((await readdir(dir)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('has TinyLlama-1.1B as a preset and a small default', async () => {
    expect(TEST_MODEL_SHAPES['1.1b']).toEqual({ layers: 22, embeddingSize: 2048, heads: 32, kvHeads: 4, feedForwardSize: 5632, contextLength: 2048 });
    // explicit sizes override the preset's (checked here through validation, without writing 2 GB)
    await expect(generateTestModel({ shape: '1.1b', type: 'Q4_0', embeddingSize: 2040, outPath: join(dir, 'x.gguf') })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'embeddingSize',
    });
    const path = join(dir, 'default.gguf');
    const info = await generateTestModel({ outPath: path });
    expect(info).toMatchObject({ layers: 2, embeddingSize: 64, heads: 4, kvHeads: 2, feedForwardSize: 128, contextLength: 512, type: 'F32' });
    expect(DEFAULT_VOCAB_PATH).toBe(VOCAB_SPM);
    expect(DEFAULT_CACHE_DIR).toBe(join(repoRoot, '.cache/models'));
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a non-object', null as never, 'options'],
    ['an unknown shape', { shape: '7b' }, 'shape'],
    ['zero layers', { layers: 0 }, 'layers'],
    ['fractional heads', { heads: 2.5 }, 'heads'],
    ['heads not dividing the embedding', { embeddingSize: 60, heads: 8 }, 'embeddingSize'],
    ['an odd head size', { embeddingSize: 12, heads: 4 }, 'embeddingSize'],
    ['kv heads not dividing heads', { heads: 4, kvHeads: 3 }, 'kvHeads'],
    ['an unknown type', { type: 'Q5_0' }, 'type'],
    ['Q8_0 with a feed-forward size not a multiple of 32', { type: 'Q8_0', feedForwardSize: 100 }, 'feedForwardSize'],
    ['a negative seed', { seed: -1 }, 'seed'],
    ['a seed over 32 bits', { seed: 2 ** 32 }, 'seed'],
    ['an empty vocab path', { vocabPath: '' }, 'vocabPath'],
    ['zero threads', { threads: 0 }, 'threads'],
    ['an empty output path', { outPath: '' }, 'outPath'],
  ])('rejects %s', async (_name, options, field) => {
    const full = options === null ? null : { outPath: join(dir, 'rejected.gguf'), ...options };
    await expect(generateTestModel(full as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field });
  });

  it('rejects a vocabulary file without tokens', async () => {
    const vocabless = join(dir, 'vocabless.gguf');
    await writeGguf(vocabless, { metadata: [{ key: 'general.architecture', type: 'string', value: 'llama' }], tensors: [] });
    const error = await generateTestModel({ ...tiny, vocabPath: vocabless, outPath: join(dir, 'out.gguf') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelpoolError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'vocabPath' });
    await expect(generateTestModel({ ...tiny, vocabPath: join(dir, 'none.gguf'), outPath: join(dir, 'out.gguf') })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
    });
  });
});

describe('generateTestModel with a quantized type', () => {
  it('writes an F16 file, quantizes it to a temporary name and renames the result', async () => {
    const path = join(dir, 'quantized', 'q8.gguf');
    quantizeCalls.length = 0;
    const info = await generateTestModel({ ...tiny, type: 'Q8_0', threads: 2, outPath: path });
    expect(info.type).toBe('Q8_0');
    expect(quantizeCalls).toHaveLength(1);
    const call = quantizeCalls[0]!;
    expect(call.type).toBe('Q8_0');
    expect(call.options).toEqual({ threads: 2 });
    expect(call.input.startsWith(`${path}.tmp-`)).toBe(true);
    expect(call.output.startsWith(`${path}.tmp-`)).toBe(true);
    expect((call.header as GgufHeader).tensors.find((t) => t.name === 'output.weight')?.type).toBe('F16');
    expect(await readdir(join(dir, 'quantized'))).toEqual(['q8.gguf']);

    await generateTestModel({ ...tiny, type: 'Q4_0', outPath: join(dir, 'quantized', 'q4.gguf') });
    expect(quantizeCalls[1]).toMatchObject({ type: 'Q4_0', options: {} });
  });

  it('leaves no file behind when quantizing fails', async () => {
    const folder = join(dir, 'failed');
    await expect(generateTestModel({ ...tiny, type: 'Q4_0', threads: 13, outPath: join(folder, 'q4.gguf') })).rejects.toThrow('quantizer failed');
    expect(await readdir(folder)).toEqual([]);
  });
});

describe('cachedTestModel', () => {
  it('generates once per set of options and reuses the file', async () => {
    const cacheDir = join(dir, 'cache');
    const [first, concurrent] = await Promise.all([cachedTestModel({ ...tiny, cacheDir }), cachedTestModel({ ...tiny, cacheDir })]);
    expect(concurrent).toBe(first);
    expect(first.startsWith(cacheDir)).toBe(true);
    expect(first).toMatch(/llama-1x32-F32-[0-9a-f]{16}\.gguf$/);
    const before = await stat(first);
    const again = await cachedTestModel({ ...tiny, cacheDir, threads: 3 }); // threads do not change the file
    expect(again).toBe(first);
    expect((await stat(again)).mtimeMs).toBe(before.mtimeMs);
    const other = await cachedTestModel({ ...tiny, cacheDir, seed: 2 });
    expect(other).not.toBe(first);
    expect((await readdir(cacheDir)).sort()).toEqual([first, other].map((p) => p.slice(cacheDir.length + 1)).sort());
    expect((await inspect(other)).layers).toBe(1);
  });
});
