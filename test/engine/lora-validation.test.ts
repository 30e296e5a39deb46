/**
 * Adapter files that do not fit the model: each is refused with a typed error naming the key or
 * tensor and the value, before llama.cpp reads it (some of these make llama.cpp assert and abort).
 */
import { writeFile } from 'node:fs/promises';
import { mkdtemp, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAdapter } from '../../src/engine/adapters.js';
import { loadModel, type Model } from '../../src/engine/index.js';
import type { ErrorCode } from '../../src/errors.js';
import { readGgufHeader, writeGguf, type GgufMetadataEntry, type GgufTensorToWrite } from '../../src/gguf/index.js';
import { cachedTestLora, cachedTestModel } from '../../src/testing/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

let model: Model;
let good: string;
let dir: string;

/** A copy of `source` with its metadata and tensor list changed (tensor data is copied as it is). */
async function rewrite(
  source: string,
  name: string,
  change: { metadata?: (m: GgufMetadataEntry[]) => GgufMetadataEntry[]; tensors?: (t: GgufTensorToWrite[]) => GgufTensorToWrite[] },
): Promise<string> {
  const header = await readGgufHeader(source);
  const file = await open(source, 'r');
  const tensors: GgufTensorToWrite[] = [];
  try {
    for (const t of header.tensors) {
      const data = new Uint8Array(t.byteSize);
      await file.read(data, 0, data.length, header.dataOffset + t.offset);
      tensors.push({ name: t.name, type: t.type, shape: t.shape, data });
    }
  } finally {
    await file.close();
  }
  const path = join(dir, name);
  const metadata = [...header.metadata.values()];
  await writeGguf(path, { metadata: change.metadata?.(metadata) ?? metadata, tensors: change.tensors?.(tensors) ?? tensors });
  return path;
}

const setKey = (key: string, entry: Omit<GgufMetadataEntry, 'key'> | undefined) => (m: GgufMetadataEntry[]) => {
  const rest = m.filter((e) => e.key !== key);
  return entry === undefined ? rest : [...rest, { key, ...entry }];
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelpool-lora-bad-'));
  good = await cachedTestLora({ basePath: STORIES, seed: 11 });
  model = await loadModel(STORIES, { contextSize: 128, threads: 1 });
}, 60_000);
afterAll(() => model?.dispose());

async function expectRefused(path: string, code: ErrorCode, field: string, inMessage: string[] = []): Promise<void> {
  const e = await expectCode(model.loadAdapter('bad', path), code, field);
  for (const text of inMessage) expect(e.message).toContain(text);
  expect(model.adapters).not.toContain('bad');
}

describe('loadAdapter refuses an adapter that does not fit', () => {
  it('made for a base of other sizes: names the tensor and both shapes', async () => {
    const otherBase = await cachedTestModel({ embeddingSize: 32, heads: 4, kvHeads: 2, feedForwardSize: 64, layers: 2 });
    const lora = await cachedTestLora({ basePath: otherBase });
    await expectRefused(lora, 'INVALID_ADAPTER', 'blk.0.attn_q.weight.lora_a', ['[64, 4]', '[32, 4]', 'blk.0.attn_q.weight is [64, 64]']);
  });

  it('made for a base with more layers: names the tensor the base lacks', async () => {
    const deeper = await cachedTestModel({ embeddingSize: 64, heads: 8, kvHeads: 4, layers: 6 });
    const lora = await cachedTestLora({ basePath: deeper, targets: ['attn_v'] });
    await expectRefused(lora, 'INVALID_ADAPTER', 'blk.5.attn_v.weight.lora_a', ['blk.5.attn_v.weight is not one']);
  });

  it('a model, not an adapter: names general.type', async () => {
    await expectRefused(STORIES, 'INVALID_ADAPTER', 'general.type', ['"adapter"', 'no value']);
  });

  it('for another architecture: names general.architecture and the value', async () => {
    const path = await rewrite(good, 'arch.gguf', { metadata: setKey('general.architecture', { type: 'string', value: 'gpt2' }) });
    await expectRefused(path, 'INVALID_ADAPTER', 'general.architecture', ['"llama"', '"gpt2"']);
  });

  it('keys of the wrong type, on which llama.cpp would abort the process', async () => {
    const type = await rewrite(good, 'type.gguf', { metadata: setKey('general.type', { type: 'uint32', value: 1 }) });
    await expectRefused(type, 'INVALID_ADAPTER', 'general.type', ['a uint32']);
    const alpha = await rewrite(good, 'alpha.gguf', { metadata: setKey('adapter.lora.alpha', { type: 'uint32', value: 8 }) });
    await expectRefused(alpha, 'INVALID_ADAPTER', 'adapter.lora.alpha', ['a uint32']);
    const kind = await rewrite(good, 'kind.gguf', { metadata: setKey('adapter.type', { type: 'string', value: 'control_vector' }) });
    await expectRefused(kind, 'INVALID_ADAPTER', 'adapter.type', ['"control_vector"']);
    const tokens = await rewrite(good, 'alora.gguf', {
      metadata: setKey('adapter.alora.invocation_tokens', { type: 'array', value: { itemType: 'string', items: ['x'] } }),
    });
    await expectRefused(tokens, 'INVALID_ADAPTER', 'adapter.alora.invocation_tokens');
  });

  it('tensors llama.cpp cannot pair or use: names the tensor', async () => {
    const lone = await rewrite(good, 'lone.gguf', { tensors: (t) => t.filter((x) => x.name !== 'blk.1.attn_q.weight.lora_b') });
    await expectRefused(lone, 'INVALID_ADAPTER', 'blk.1.attn_q.weight.lora_b');
    const odd = await rewrite(good, 'odd.gguf', { tensors: (t) => t.map((x, i) => (i === 0 ? { ...x, name: 'blk.0.attn_q.weight.lora_c' } : x)) });
    await expectRefused(odd, 'INVALID_ADAPTER', 'blk.0.attn_q.weight.lora_c');
    const none = await rewrite(good, 'none.gguf', { tensors: () => [] });
    await expectRefused(none, 'INVALID_ADAPTER', 'tensors');
    // A [64, 4] with B [3, 64]: the two ranks differ.
    const rank = await rewrite(good, 'rank.gguf', {
      tensors: (t) => t.map((x) => (x.name === 'blk.0.attn_q.weight.lora_b' ? { ...x, shape: [3, 64], data: new Uint8Array(3 * 64 * 4) } : x)),
    });
    await expectRefused(rank, 'INVALID_ADAPTER', 'blk.0.attn_q.weight.lora_b', ['[4, 64]', '[3, 64]']);
    const quantized = await rewrite(good, 'q4.gguf', {
      tensors: (t) => t.map((x) => (x.name === 'blk.0.attn_q.weight.lora_a' ? { ...x, type: 'Q4_0', data: new Uint8Array((64 / 32) * 18 * 4) } : x)),
    });
    await expectRefused(quantized, 'INVALID_ADAPTER', 'blk.0.attn_q.weight.lora_a', ['Q4_0']);
  });

  it('a file that is not GGUF, or none: INVALID_GGUF, MODEL_NOT_FOUND naming path', async () => {
    const junk = join(dir, 'junk.gguf');
    await writeFile(junk, 'not a gguf file at all, just text'.repeat(4));
    await expectCode(model.loadAdapter('bad', junk), 'INVALID_GGUF');
    await expectCode(model.loadAdapter('bad', join(dir, 'absent.gguf')), 'MODEL_NOT_FOUND', 'path');
    await expectCode(model.loadAdapter('bad', ''), 'INVALID_ARGUMENT', 'path');
  });

  it('checks against every file of a split base model', async () => {
    const base = await readGgufHeader(STORIES);
    const split = await rewrite(STORIES, 'base-00001-of-00002.gguf', {
      metadata: setKey('split.count', { type: 'uint16', value: 2 }),
      tensors: (t) => t.slice(0, 20),
    });
    await rewrite(STORIES, 'base-00002-of-00002.gguf', { tensors: (t) => t.slice(20) });
    expect(base.tensors.length).toBeGreaterThan(20);
    await expect(checkAdapter(good, { path: split, architecture: 'llama' })).resolves.toMatchObject({ rank: 4, tensors: 10 });
    // The first file alone lacks the later layers' tensors.
    const alone = await rewrite(STORIES, 'alone.gguf', { tensors: (t) => t.slice(0, 20) });
    await expectCode(checkAdapter(good, { path: alone, architecture: 'llama' }), 'INVALID_ADAPTER');
  });

  it('leaves the model serving, with a good adapter loading after all of these', async () => {
    await model.loadAdapter('good', good);
    const r = await model.complete({ prompt: 'Once upon a time', maxTokens: 8, temperature: 0, adapter: 'good' });
    expect(r.generatedTokens).toBeGreaterThan(0);
    model.removeAdapter('good');
  });
});
