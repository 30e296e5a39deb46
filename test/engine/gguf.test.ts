import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelpoolError } from '../../src/errors.js';
import {
  GGUF_MAX_ARRAY_DEPTH,
  encodeFloat16,
  encodeGgufString,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  ggmlTensorBytes,
  ggmlType,
  parseGgufHeader,
  readGgufHeader,
  writeGguf,
  type GgufMetadataEntry,
  type GgufTensorToWrite,
} from '../../src/gguf/index.js';
import { fileTypeName, inspect, inspectGgufHeader } from '../../src/gguf/index.js';
import { STORIES, VOCAB_SPM, repoRoot } from '../helpers/models.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelpool-gguf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Little-endian byte builder for hand-made (and deliberately broken) GGUF files. */
class RawGguf {
  private readonly parts: Buffer[] = [];
  get length(): number {
    return this.parts.reduce((sum, part) => sum + part.length, 0);
  }
  bytes(data: Uint8Array | string): this {
    this.parts.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
    return this;
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    return this.bytes(b);
  }
  i32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    return this.bytes(b);
  }
  u64(value: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    return this.bytes(b);
  }
  i64(value: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(value));
    return this.bytes(b);
  }
  str(text: string | Uint8Array): this {
    const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
    return this.u64(b.length).bytes(b);
  }
  kvU32(key: string, value: number): this {
    return this.str(key).u32(4).u32(value);
  }
  kvString(key: string, value: string): this {
    return this.str(key).u32(8).str(value);
  }
  tensor(name: string, shape: Array<number | bigint>, type: number, offset: number | bigint): this {
    this.str(name).u32(shape.length);
    for (const dim of shape) this.i64(dim);
    return this.i32(type).u64(offset);
  }
  /** Pads to the alignment, then appends `dataBytes` zero bytes of tensor data. */
  data(dataBytes: number, alignment = 32): this {
    const padding = (alignment - (this.length % alignment)) % alignment;
    return this.bytes(new Uint8Array(padding + dataBytes));
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function gguf(tensorCount: number | bigint, kvCount: number | bigint, version = 3): RawGguf {
  return new RawGguf().bytes('GGUF').u32(version).i64(tensorCount).i64(kvCount);
}

function expectInvalid(run: () => unknown, field: string, message?: RegExp): ModelpoolError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected INVALID_GGUF for ${field}`).toBeInstanceOf(ModelpoolError);
  const error = caught as ModelpoolError;
  expect({ code: error.code, field: error.field }).toEqual({ code: 'INVALID_GGUF', field });
  if (message) expect(error.message).toMatch(message);
  return error;
}

async function expectRejects(promise: Promise<unknown>, code: string, field?: string): Promise<ModelpoolError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ModelpoolError);
  expect((error as ModelpoolError).code).toBe(code);
  if (field !== undefined) expect((error as ModelpoolError).field).toBe(field);
  return error as ModelpoolError;
}

describe('readGgufHeader on stories260K', () => {
  it('reads the header, metadata and tensor table', async () => {
    const header = await readGgufHeader(STORIES);
    expect(header.version).toBe(3);
    expect(header.fileSize).toBe(1_185_376);
    expect(header.alignment).toBe(32);
    expect(header.metadata.size).toBe(19);
    expect(header.tensors).toHaveLength(48);
    expect(header.tensors.every((t) => t.type === 'F32' && t.typeId === 0)).toBe(true);
    expect(header.dataOffset % 32).toBe(0);
    expect(header.dataOffset).toBeGreaterThanOrEqual(header.headerSize);
    expect(header.metadata.get('general.architecture')).toEqual({ key: 'general.architecture', type: 'string', value: 'llama' });
    expect(header.metadata.get('llama.block_count')?.value).toBe(5);
    const tokens = header.metadata.get('tokenizer.ggml.tokens')!.value;
    expect(tokens).toMatchObject({ itemType: 'string' });
    expect((tokens as { items: string[] }).items.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);

    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')).toMatchObject({ shape: [64, 512], elementCount: 32768, byteSize: 131072, offset: 0 });
    expect(byName.get('blk.0.attn_k.weight')?.shape).toEqual([64, 32]);
    expect(byName.get('blk.4.ffn_down.weight')?.shape).toEqual([172, 64]);
    expect(byName.get('output_norm.weight')?.shape).toEqual([64]);
    const elements = header.tensors.reduce((sum, t) => sum + t.elementCount, 0);
    expect(elements).toBe(292_800);
    const last = header.tensors.at(-1)!;
    expect(header.dataOffset + last.offset + last.byteSize).toBe(header.fileSize);
  });

  it('parses the same header from memory', async () => {
    const bytes = await readFile(STORIES);
    const header = parseGgufHeader(bytes);
    expect(header.tensors).toHaveLength(48);
    expect(header.metadata.get('llama.attention.head_count_kv')?.value).toBe(4);
  });
});

describe('inspect', () => {
  it('describes stories260K', async () => {
    const info = await inspect(STORIES);
    expect(info).toMatchObject({
      path: STORIES,
      fileSize: 1_185_376,
      ggufVersion: 3,
      architecture: 'llama',
      name: 'llama',
      layers: 5,
      embeddingSize: 64,
      feedForwardSize: 172,
      heads: 8,
      kvHeads: 4,
      contextLength: 2048,
      vocabularySize: 512,
      tensorCount: 48,
      parameterCount: 292_800,
      tensorBytes: 292_800 * 4,
      quantization: 'F32',
      fileType: 'unknown', // stories260K has no general.file_type
      keyLength: 8,
      valueLength: 8,
    });
    expect(info.expertCount).toBeUndefined();
    expect(info.chatTemplate).toBeUndefined();
    expect(info.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'string', length: 512 });
    expect(info.metadata['llama.rope.dimension_count']).toBe(8);
    expect(info.metadata['tokenizer.ggml.padding_token_id']).toBe(4294967295);
  });

  it('rejects bad paths', async () => {
    await expectRejects(inspect(join(dir, 'missing.gguf')), 'MODEL_NOT_FOUND', 'path');
    await expectRejects(inspect(42 as unknown as string), 'INVALID_ARGUMENT', 'path');
    await expectRejects(inspect(''), 'INVALID_ARGUMENT', 'path');
    await expectRejects(inspect(dir), 'INVALID_ARGUMENT', 'path');
  });
});

describe('vocab-only GGUFs', () => {
  const vocabDir = join(repoRoot, 'deps/llama.cpp/models');
  it.each([
    ['ggml-vocab-llama-spm.gguf', 'llama', 32000, 'llama'],
    ['ggml-vocab-phi-3.gguf', 'phi3', 32064, 'llama'],
    ['ggml-vocab-bert-bge.gguf', 'bert', 30522, 'bert'],
    ['ggml-vocab-gpt-2.gguf', 'gpt2', 50257, 'gpt2'],
  ])('reads %s', async (file, architecture, vocabularySize, tokenizer) => {
    const header = await readGgufHeader(join(vocabDir, file));
    expect(header.tensors).toHaveLength(0);
    expect(header.dataOffset).toBe(header.headerSize);
    expect(header.metadata.get('tokenizer.ggml.model')?.value).toBe(tokenizer);
    const info = inspectGgufHeader(header, file);
    expect(info).toMatchObject({ architecture, vocabularySize, tensorCount: 0, parameterCount: 0, quantization: 'unknown' });
  });

  it('reads the llama-spm vocabulary exactly', async () => {
    const header = await readGgufHeader(VOCAB_SPM);
    const tokens = header.metadata.get('tokenizer.ggml.tokens')!.value as { items: string[] };
    expect(tokens.items[1]).toBe('<s>');
    expect(tokens.items[13]).toBe('<0x0A>');
    expect(header.metadata.get('tokenizer.ggml.add_bos_token')).toEqual({ key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true });
    expect(inspectGgufHeader(header, VOCAB_SPM).fileType).toBe('F16');
  });
});

describe('writeGguf', () => {
  const everyType: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: 'test' },
    { key: 'u8', type: 'uint8', value: 255 },
    { key: 'i8', type: 'int8', value: -128 },
    { key: 'u16', type: 'uint16', value: 65535 },
    { key: 'i16', type: 'int16', value: -32768 },
    { key: 'u32', type: 'uint32', value: 4294967295 },
    { key: 'i32', type: 'int32', value: -2147483648 },
    { key: 'f32', type: 'float32', value: 0.5 },
    { key: 'f64', type: 'float64', value: Math.PI },
    { key: 'bool.true', type: 'bool', value: true },
    { key: 'bool.false', type: 'bool', value: false },
    { key: 'u64', type: 'uint64', value: 18446744073709551615n },
    { key: 'i64', type: 'int64', value: -9223372036854775808n },
    { key: 'unicode', type: 'string', value: 'héllo 🦙 ✓' },
    { key: 'empty', type: 'string', value: '' },
    { key: 'strings', type: 'array', value: { itemType: 'string', items: ['a', '', 'ü'] } },
    { key: 'floats', type: 'array', value: { itemType: 'float32', items: [1, -2.5] } },
    { key: 'bools', type: 'array', value: { itemType: 'bool', items: [true, false] } },
    { key: 'u64s', type: 'array', value: { itemType: 'uint64', items: [1n, 2n] } },
    { key: 'none', type: 'array', value: { itemType: 'int32', items: [] } },
    {
      key: 'nested',
      type: 'array',
      value: { itemType: 'array', items: [{ itemType: 'int16', items: [1, -1] }, { itemType: 'string', items: ['x'] }] },
    },
  ];

  it('round-trips every value type, nested arrays and several tensor types', async () => {
    const path = join(dir, 'roundtrip.gguf');
    const f32 = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const q8 = new Uint8Array(2 * 34).map((_, i) => i);
    const tensors: GgufTensorToWrite[] = [
      { name: 'a', type: 'F32', shape: [3, 2], data: f32 },
      { name: 'b', type: 'Q8_0', shape: [64], data: () => q8 },
      {
        name: 'c',
        type: 'F16',
        shape: [4, 2, 3, 1],
        data: function* () {
          yield new Uint8Array(20).fill(7);
          yield new Uint8Array(28).fill(9);
        },
      },
      {
        name: 'd',
        type: 'Q4_K',
        shape: [256],
        data: async function* () {
          yield new Uint8Array(144).fill(3);
        },
      },
      { name: 'e', type: 'I8', shape: [5], data: async () => new Uint8Array([1, 2, 3, 4, 5]) },
    ];
    const result = await writeGguf(path, { metadata: everyType, tensors, alignment: 64 });
    const header = await readGgufHeader(path, { allowNestedArrays: true });
    expect(header.alignment).toBe(64);
    expect(header.dataOffset).toBe(result.dataOffset);
    expect(header.fileSize).toBe(result.fileSize);
    const entries = [...header.metadata.values()];
    expect(entries.slice(0, everyType.length)).toEqual(everyType.map((e) => (e.key === 'f32' ? { ...e, value: 0.5 } : e)));
    expect(entries.at(-1)).toEqual({ key: 'general.alignment', type: 'uint32', value: 64 });
    expect(header.tensors.map((t) => [t.name, t.type, t.shape, t.offset, t.byteSize])).toEqual([
      ['a', 'F32', [3, 2], 0, 24],
      ['b', 'Q8_0', [64], 64, 68],
      ['c', 'F16', [4, 2, 3, 1], 192, 48],
      ['d', 'Q4_K', [256], 256, 144],
      ['e', 'I8', [5], 448, 5],
    ]);
    const file = await readFile(path);
    const at = (i: number): Buffer => {
      const t = header.tensors[i]!;
      return file.subarray(header.dataOffset + t.offset, header.dataOffset + t.offset + t.byteSize);
    };
    expect([...at(0)]).toEqual([...f32]);
    expect([...at(1)]).toEqual([...q8]);
    expect([...at(2)]).toEqual([...new Uint8Array(20).fill(7), ...new Uint8Array(28).fill(9)]);
    expect(at(3).every((b) => b === 3)).toBe(true);
    expect([...at(4)]).toEqual([1, 2, 3, 4, 5]);
    expect(file.length).toBe(header.dataOffset + 512); // the last tensor is padded to the alignment
  });

  it('writes a version 2 file without tensors and takes the alignment from general.alignment', async () => {
    const path = join(dir, 'v2.gguf');
    await writeGguf(path, { metadata: [{ key: 'general.alignment', type: 'uint32', value: 16 }], tensors: [], version: 2 });
    const header = await readGgufHeader(path);
    expect(header).toMatchObject({ version: 2, alignment: 16, tensors: [] });
    expect(header.dataOffset).toBe(header.fileSize);
  });

  it('keeps strings that are not valid UTF-8 byte for byte', () => {
    const raw = Buffer.from([0x41, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0xa6, 0x99, 0xed, 0xa0, 0x80, 0xc3]);
    const bytes = gguf(0, 1).str('k').u32(8).str(raw).build();
    const value = parseGgufHeader(bytes).metadata.get('k')!.value as string;
    expect(value).toBe('A\udcff\udcc3(€🦙\udced\udca0\udc80\udcc3');
    expect([...encodeGgufString(value)]).toEqual([...raw]);
    // a lone high surrogate (not produced by the reader) is written as U+FFFD
    expect([...encodeGgufString('a\ud800b')]).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62]);
    expect([...encodeGgufString('🦙\udc80')]).toEqual([0xf0, 0x9f, 0xa6, 0x99, 0x80]);
  });

  it('removes the partial file when tensor data is wrong', async () => {
    const path = join(dir, 'partial.gguf');
    const short = writeGguf(path, { metadata: [], tensors: [{ name: 't', type: 'F32', shape: [4], data: () => new Uint8Array(8) }] });
    await expectRejects(short, 'INVALID_ARGUMENT', 'tensors[0].data');
    const long = writeGguf(path, {
      metadata: [],
      tensors: [{ name: 't', type: 'F32', shape: [1], data: () => [new Uint8Array(4), new Uint8Array(4)] }],
    });
    await expectRejects(long, 'INVALID_ARGUMENT', 'tensors[0].data');
    const notBytes = writeGguf(path, { metadata: [], tensors: [{ name: 't', type: 'F32', shape: [1], data: () => ['x'] as never }] });
    await expectRejects(notBytes, 'INVALID_ARGUMENT', 'tensors[0].data');
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a non-array metadata', { metadata: {} }, 'metadata'],
    ['a non-object entry', { metadata: [null] }, 'metadata[0]'],
    ['an empty key', { metadata: [{ key: '', type: 'uint8', value: 1 }] }, 'metadata[0].key'],
    ['a duplicate key', { metadata: [{ key: 'k', type: 'uint8', value: 1 }, { key: 'k', type: 'uint8', value: 1 }] }, 'metadata[1].key'],
    ['an unknown type', { metadata: [{ key: 'k', type: 'uint128', value: 1 }] }, 'metadata[0].type'],
    ['an out-of-range uint8', { metadata: [{ key: 'k', type: 'uint8', value: 256 }] }, 'metadata[0].value'],
    ['a fractional int32', { metadata: [{ key: 'k', type: 'int32', value: 1.5 }] }, 'metadata[0].value'],
    ['a negative uint64', { metadata: [{ key: 'k', type: 'uint64', value: -1n }] }, 'metadata[0].value'],
    ['a string float', { metadata: [{ key: 'k', type: 'float32', value: '1' }] }, 'metadata[0].value'],
    ['a numeric bool', { metadata: [{ key: 'k', type: 'bool', value: 1 }] }, 'metadata[0].value'],
    ['a numeric string', { metadata: [{ key: 'k', type: 'string', value: 1 }] }, 'metadata[0].value'],
    ['a plain-array array', { metadata: [{ key: 'k', type: 'array', value: [1] }] }, 'metadata[0].value'],
    ['a bad array item', { metadata: [{ key: 'k', type: 'array', value: { itemType: 'uint8', items: [1, 300] } }] }, 'metadata[0].value.items[1]'],
    ['a non-uint32 alignment', { metadata: [{ key: 'general.alignment', type: 'uint64', value: 32n }] }, 'general.alignment'],
    ['an alignment that is not a power of two', { metadata: [], alignment: 48 }, 'alignment'],
    ['an alignment unlike general.alignment', { metadata: [{ key: 'general.alignment', type: 'uint32', value: 64 }], alignment: 32 }, 'alignment'],
    ['a bad version', { metadata: [], version: 1 }, 'version'],
    ['non-array tensors', { tensors: {} }, 'tensors'],
    ['a null tensor', { tensors: [null] }, 'tensors[0]'],
    ['an empty tensor name', { tensors: [{ name: '', type: 'F32', shape: [1], data: new Uint8Array(4) }] }, 'tensors[0].name'],
    ['a 64-byte tensor name', { tensors: [{ name: 'x'.repeat(64), type: 'F32', shape: [1], data: new Uint8Array(4) }] }, 'tensors[0].name'],
    [
      'a duplicate tensor name',
      { tensors: [{ name: 't', type: 'F32', shape: [1], data: new Uint8Array(4) }, { name: 't', type: 'F32', shape: [1], data: new Uint8Array(4) }] },
      'tensors[1].name',
    ],
    ['an unknown tensor type', { tensors: [{ name: 't', type: 'Q4_2', shape: [1], data: new Uint8Array(4) }] }, 'tensors[0].type'],
    ['an empty shape', { tensors: [{ name: 't', type: 'F32', shape: [], data: new Uint8Array(4) }] }, 'tensors[0].shape'],
    ['five dimensions', { tensors: [{ name: 't', type: 'F32', shape: [1, 1, 1, 1, 1], data: new Uint8Array(4) }] }, 'tensors[0].shape'],
    ['a zero dimension', { tensors: [{ name: 't', type: 'F32', shape: [1, 0], data: new Uint8Array(0) }] }, 'tensors[0].shape'],
    ['a row not a multiple of the block', { tensors: [{ name: 't', type: 'Q4_0', shape: [16], data: new Uint8Array(9) }] }, 'tensors[0].shape[0]'],
    ['missing data', { tensors: [{ name: 't', type: 'F32', shape: [1] }] }, 'tensors[0].data'],
    ['data of the wrong size', { tensors: [{ name: 't', type: 'F32', shape: [2], data: new Uint8Array(4) }] }, 'tensors[0].data'],
  ])('rejects %s', async (_name, contents, field) => {
    const full = { metadata: [], tensors: [], ...contents } as never;
    await expectRejects(writeGguf(join(dir, 'rejected.gguf'), full), 'INVALID_ARGUMENT', field);
  });

  it('rejects a bad path', async () => {
    await expectRejects(writeGguf('', { metadata: [], tensors: [] }), 'INVALID_ARGUMENT', 'path');
  });
});

describe('parseGgufHeader rejections', () => {
  /** A valid file with one 4-element F32 tensor. */
  const valid = (): Buffer => gguf(1, 1).kvU32('k', 1).tensor('t', [4], 0, 0).data(16).build();

  it('accepts the valid base file', () => {
    expect(parseGgufHeader(valid()).tensors[0]).toMatchObject({ name: 't', byteSize: 16 });
  });

  it.each<[string, () => Buffer, string, RegExp?]>([
    ['a short file', () => Buffer.from('GG'), 'header.magic', /end of the file/],
    ['a bad magic', () => new RawGguf().bytes('GGUX').u32(3).i64(0).i64(0).build(), 'header.magic', /"GGUX"/],
    ['version 1', () => gguf(0, 0, 1).build(), 'header.version', /v1/],
    ['version 4', () => gguf(0, 0, 4).build(), 'header.version'],
    ['a big-endian file', () => gguf(0, 0, 0x03000000).build(), 'header.version', /big-endian/],
    ['a missing tensor count', () => new RawGguf().bytes('GGUF').u32(3).u32(0).build(), 'header.tensorCount'],
    ['a negative tensor count', () => gguf(-1, 0).build(), 'header.tensorCount'],
    ['a huge tensor count', () => gguf(2n ** 62n, 0).build(), 'header.tensorCount'],
    ['a negative kv count', () => gguf(0, -5).build(), 'header.kvCount'],
    ['a huge kv count', () => gguf(0, 1_000_000).build(), 'header.kvCount', /impossible/],
    ['an empty key', () => gguf(0, 1).kvU32('', 1).build(), 'metadata[0].key', /empty/],
    ['a duplicate key', () => gguf(0, 2).kvU32('k', 1).kvU32('k', 2).build(), 'metadata[1].key', /duplicate/],
    ['a key with a NUL byte', () => gguf(0, 1).kvU32('llama.block_count\0x', 1).build(), 'metadata[0].key', /NUL/],
    ['a key longer than the file', () => gguf(0, 1).u64(1000).bytes('abcdefghijklmnop').build(), 'metadata[0].key', /past the end/],
    ['a key over 1 GiB', () => gguf(0, 1).u64(2n ** 31n).u64(0).build(), 'metadata[0].key', /limit/],
    ['an invalid value type', () => gguf(0, 1).str('k').u32(13).u32(0).build(), 'metadata[0].type', /not a GGUF value type/],
    ['a truncated value', () => gguf(0, 1).str('k').u32(10).u32(0).build(), 'metadata[0].value', /end of the file/],
    ['a missing value type', () => gguf(0, 1).str('long-key').build(), 'metadata[0].type'],
    ['an invalid array item type', () => gguf(0, 1).str('k').u32(9).u32(77).u64(0).build(), 'metadata[0].value.type'],
    ['an array of arrays', () => gguf(0, 1).str('k').u32(9).u32(9).u64(0).build(), 'metadata[0].value.type', /arrays of arrays|array of arrays/],
    ['an array longer than the file', () => gguf(0, 1).str('k').u32(9).u32(4).u64(1000).u32(0).build(), 'metadata[0].value.length', /bytes/],
    ['a string array longer than the file', () => gguf(0, 1).str('k').u32(9).u32(8).u64(10).str('a').build(), 'metadata[0].value.length'],
    ['an array over 2^30 elements', () => gguf(0, 1).str('k').u32(9).u32(0).u64(2n ** 31n).build(), 'metadata[0].value.length', /limit/],
    ['a string item past the end', () => gguf(0, 1).str('k').u32(9).u32(8).u64(2).str('a').u64(99).u64(0).build(), 'metadata[0].value[1]'],
    ['a missing array length', () => gguf(0, 1).str('k').u32(9).u32(8).build(), 'metadata[0].value.length'],
    ['a non-uint32 alignment', () => gguf(0, 1).str('general.alignment').u32(5).i32(32).build(), 'general.alignment', /uint32/],
    ['a zero alignment', () => gguf(0, 1).kvU32('general.alignment', 0).build(), 'general.alignment', /power of two/],
    ['a non-power-of-two alignment', () => gguf(0, 1).kvU32('general.alignment', 48).build(), 'general.alignment'],
    ['an empty tensor name', () => gguf(1, 0).tensor('', [4], 0, 0).data(16).build(), 'tensors[0].name', /empty/],
    ['a 64-byte tensor name', () => gguf(1, 0).tensor('n'.repeat(64), [4], 0, 0).data(16).build(), 'tensors[0].name', /63/],
    [
      'a duplicate tensor name',
      () => gguf(2, 0).tensor('t', [8], 0, 0).tensor('t', [8], 0, 32).data(64).build(),
      'tensors[1].name',
      /duplicate/,
    ],
    ['a tensor name with a NUL byte', () => gguf(1, 0).tensor('t\0x', [4], 0, 0).data(16).build(), 'tensors[0].name', /NUL/],
    ['zero dimensions', () => gguf(1, 0).str('t').u32(0).i32(0).u64(0).data(64).build(), 'tensors[0].dims'],
    ['five dimensions', () => gguf(1, 0).tensor('t', [1, 1, 1, 1, 1], 0, 0).data(64).build(), 'tensors[0].dims'],
    ['a zero dimension', () => gguf(1, 0).tensor('t', [4, 0], 0, 0).data(64).build(), 'tensors[0].shape[1]', /positive/],
    ['a negative dimension', () => gguf(1, 0).tensor('t', [-4], 0, 0).data(64).build(), 'tensors[0].shape[0]'],
    ['an element count over int64', () => gguf(1, 0).tensor('t', [2n ** 32n, 2n ** 32n], 0, 0).data(64).build(), 'tensors[0].shape', /int64/],
    ['an invalid ggml type', () => gguf(1, 0).tensor('t', [4], 99, 0).data(64).build(), 'tensors[0].type', /99/],
    ['a removed ggml type (Q4_2)', () => gguf(1, 0).tensor('t', [32], 4, 0).data(64).build(), 'tensors[0].type'],
    ['a removed ggml type (Q4_0_4_4)', () => gguf(1, 0).tensor('t', [32], 31, 0).data(64).build(), 'tensors[0].type'],
    ['a negative ggml type', () => gguf(1, 0).tensor('t', [4], -1, 0).data(64).build(), 'tensors[0].type'],
    ['a row not a multiple of the block size', () => gguf(1, 0).tensor('t', [16], 2, 0).data(64).build(), 'tensors[0].shape[0]', /block size 32/],
    ['a tensor bigger than the file', () => gguf(1, 0).tensor('t', [1_000_000], 0, 0).data(64).build(), 'tensors[0].shape', /more than the whole file/],
    ['an offset past the end of the file', () => gguf(1, 0).tensor('t', [4], 0, 2n ** 40n).data(64).build(), 'tensors[0].offset'],
    ['a misaligned offset', () => gguf(2, 0).tensor('a', [4], 0, 0).tensor('b', [4], 0, 16).data(64).build(), 'tensors[1].offset', /alignment/],
    ['overlapping tensors', () => gguf(2, 0).tensor('a', [16], 0, 0).tensor('b', [4], 0, 32).data(128).build(), 'tensors[1].offset', /overlapping/],
    ['a gap between tensors', () => gguf(2, 0).tensor('a', [4], 0, 0).tensor('b', [4], 0, 64).data(128).build(), 'tensors[1].offset', /packed/],
    ['a first tensor not at offset 0', () => gguf(1, 0).tensor('a', [4], 0, 32).data(64).build(), 'tensors[0].offset', /expected 0/],
    ['tensor data past the end of the file', () => gguf(2, 0).tensor('a', [4], 0, 0).tensor('b', [8], 0, 32).data(40).build(), 'tensors[1].offset', /extends past/],
    ['a data section past the end of the file', () => gguf(1, 0).tensor('t', [1], 24, 0).build(), 'header', /data section/],
    ['a truncated tensor table', () => valid().subarray(0, 72), 'tensors[0].offset', /end of the file/],
  ])('rejects %s', (_name, make, field, message) => {
    expectInvalid(() => parseGgufHeader(make()), field, message);
  });

  it('reads nested arrays only when asked, up to a depth limit', () => {
    const nested = (depth: number): Buffer => {
      const raw = gguf(0, 1).str('k').u32(9);
      for (let i = 0; i < depth; i++) raw.u32(9).u64(1);
      return raw.u32(4).u64(1).u32(7).build();
    };
    expectInvalid(() => parseGgufHeader(nested(1)), 'metadata[0].value.type');
    const value = parseGgufHeader(nested(2), { allowNestedArrays: true }).metadata.get('k')!.value;
    expect(value).toEqual({ itemType: 'array', items: [{ itemType: 'array', items: [{ itemType: 'uint32', items: [7] }] }] });
    expectInvalid(() => parseGgufHeader(nested(GGUF_MAX_ARRAY_DEPTH), { allowNestedArrays: true }), `metadata[0].value${'[0]'.repeat(GGUF_MAX_ARRAY_DEPTH - 1)}.type`, /deeper/);
  });

  it('reports the source and byte offset', () => {
    const error = expectInvalid(() => parseGgufHeader(gguf(0, 0, 9).build(), { source: 'x.gguf' }), 'header.version');
    expect(error.message).toMatch(/^Invalid GGUF file x\.gguf: header\.version is 9/);
    expect(error.details).toEqual({ path: 'x.gguf', offset: 4 });
    expect(error.value).toBe(9);
  });

  it('keeps error values serialisable', () => {
    const error = expectInvalid(() => parseGgufHeader(gguf(-1, 0).build()), 'header.tensorCount');
    expect(error.value).toBe(-1);
    const huge = expectInvalid(() => parseGgufHeader(gguf(2n ** 62n, 0).build()), 'header.tensorCount');
    expect(huge.value).toBe('4611686018427387904');
    expect(JSON.parse(JSON.stringify(huge))).toMatchObject({ code: 'INVALID_GGUF', field: 'header.tensorCount', value: '4611686018427387904' });
  });

  it('rejects bytes that end before the header does', () => {
    const bytes = valid();
    expectInvalid(() => parseGgufHeader(bytes.subarray(0, 40), { fileSize: bytes.length }), 'header', /bytes given/);
  });
});

describe('readGgufHeader files', () => {
  it('grows its read buffer for headers larger than the first read', async () => {
    const path = join(dir, 'big-header.gguf');
    const items = Array.from({ length: 15_000 }, (_, i) => `token-${i}-${'x'.repeat(i % 17)}`);
    await writeGguf(path, {
      metadata: [{ key: 'tokens', type: 'array', value: { itemType: 'string', items } }],
      tensors: [{ name: 't', type: 'F32', shape: [8], data: new Uint8Array(32) }],
    });
    const header = await readGgufHeader(path);
    expect(header.headerSize).toBeGreaterThan(256 * 1024); // the first read
    expect((header.metadata.get('tokens')!.value as { items: string[] }).items).toEqual(items);
    await expectRejects(readGgufHeader(path, { maxHeaderBytes: 300 * 1024 }), 'INVALID_GGUF', 'header');
  });

  it('rejects a file truncated inside the header', async () => {
    const path = join(dir, 'truncated.gguf');
    await writeFile(path, (await readFile(STORIES)).subarray(0, 5000));
    const error = await expectRejects(readGgufHeader(path), 'INVALID_GGUF');
    expect(error.field).toMatch(/^metadata\[\d+\]/);
    expect(error.details).toMatchObject({ path });
  });

  it('maps file errors to typed errors', async () => {
    await expectRejects(readGgufHeader(join(dir, 'nope.gguf')), 'MODEL_NOT_FOUND', 'path');
    await expectRejects(readGgufHeader(join(STORIES, 'inside-a-file')), 'MODEL_NOT_FOUND', 'path');
    await expectRejects(readGgufHeader(dir), 'INVALID_ARGUMENT', 'path');
    await expectRejects(readGgufHeader(undefined as unknown as string), 'INVALID_ARGUMENT', 'path');
  });
});

describe('ggml types', () => {
  it('knows block and type sizes', () => {
    expect(ggmlType('Q4_0')).toMatchObject({ id: 2, blockSize: 32, typeSize: 18 });
    expect(ggmlType(8)).toMatchObject({ name: 'Q8_0', blockSize: 32, typeSize: 34 });
    expect(ggmlType('Q6_K')).toMatchObject({ blockSize: 256, typeSize: 210 });
    expect(ggmlType('MXFP4')).toMatchObject({ id: 39, blockSize: 32, typeSize: 17 });
    expect(ggmlType('BF16')).toMatchObject({ id: 30, blockSize: 1, typeSize: 2 });
    expect(ggmlType(4)).toBeUndefined();
    expect(ggmlType(43)).toBeUndefined();
    expect(ggmlTensorBytes(ggmlType('Q4_K')!, [512, 3])).toBe(2 * 144 * 3);
  });
});

describe('half precision', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // a tie rounds to even (zero)
    [3 * 2 ** -25, 0x0002], // a tie rounds to even (two)
    [2 ** -14, 0x0400], // smallest normal
    [1e-10, 0x0000],
    [1 + 2 ** -11, 0x3c00], // a tie rounds to even
    [1 + 3 * 2 ** -11, 0x3c02],
  ])('converts %d', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('keeps NaN a NaN and round-trips every finite half', () => {
    expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(float32ToFloat16Bits(NaN) & 0x3ff).not.toBe(0);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    const halves = new Float32Array(0x7c00);
    for (let bits = 0; bits < 0x7c00; bits++) halves[bits] = float16BitsToFloat32(bits);
    const encoded = encodeFloat16(halves);
    for (let bits = 0; bits < 0x7c00; bits++) {
      if (encoded[bits] !== bits) throw new Error(`half ${bits} came back as ${encoded[bits]}`);
    }
    expect(float32ToFloat16Bits(float16BitsToFloat32(0x8001))).toBe(0x8001);
  });
});

describe('fileTypeName', () => {
  it('names llama_ftype values', () => {
    expect(fileTypeName(0)).toBe('F32');
    expect(fileTypeName(15)).toBe('Q4_K_M');
    expect(fileTypeName(38)).toBe('MXFP4_MOE');
    expect(fileTypeName(1024 | 2)).toBe('Q4_0'); // LLAMA_FTYPE_GUESSED
    expect(fileTypeName(4)).toBe('unknown');
    expect(fileTypeName(undefined)).toBe('unknown');
  });
});

describe('inspect hyperparameter checks', () => {
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: 'uint32', value });
  const ints = (key: string, items: number[], itemType: 'uint32' | 'int32' = 'uint32'): GgufMetadataEntry => ({
    key,
    type: 'array',
    value: { itemType, items },
  });
  const tokens = ['<unk>', '<s>', '</s>', 'a', 'b'];
  const base = (): GgufMetadataEntry[] => [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    u32('llama.block_count', 2),
    u32('llama.context_length', 128),
    u32('llama.embedding_length', 16),
    u32('llama.feed_forward_length', 32),
    u32('llama.attention.head_count', 4),
    u32('llama.attention.head_count_kv', 2),
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', items: tokens } },
    { key: 'tokenizer.ggml.scores', type: 'array', value: { itemType: 'float32', items: [0, 0, 0, -1, -2] } },
    ints('tokenizer.ggml.token_type', [2, 3, 3, 1, 1], 'int32'),
    u32('tokenizer.ggml.bos_token_id', 1),
    u32('tokenizer.ggml.eos_token_id', 2),
  ];
  let fileNumber = 0;

  /** Writes the base metadata with entries replaced, added (appended) or removed (null). */
  async function inspectWith(changes: Record<string, GgufMetadataEntry | null>, tensors: GgufTensorToWrite[] = []) {
    const entries = base().filter((entry) => !(entry.key in changes));
    for (const change of Object.values(changes)) if (change !== null) entries.push(change);
    const path = join(dir, `hparams-${fileNumber++}.gguf`);
    await writeGguf(path, { metadata: entries, tensors });
    return inspect(path);
  }

  async function expectInvalidKey(changes: Record<string, GgufMetadataEntry | null>, field: string, message?: RegExp) {
    const error = await expectRejects(inspectWith(changes), 'INVALID_GGUF', field);
    if (message) expect(error.message).toMatch(message);
  }

  it('accepts the base model and reports defaults', async () => {
    const info = await inspectWith({});
    expect(info).toMatchObject({ layers: 2, heads: 4, kvHeads: 2, keyLength: 4, valueLength: 4, vocabularySize: 5, fileType: 'unknown' });
  });

  it.each<[string, Record<string, GgufMetadataEntry | null>, string, RegExp?]>([
    ['a missing architecture', { 'general.architecture': null }, 'general.architecture', /missing/],
    ['a numeric architecture', { 'general.architecture': u32('general.architecture', 1) }, 'general.architecture', /string/],
    ['an architecture with a NUL byte', { 'general.architecture': { key: 'general.architecture', type: 'string', value: 'llama\0x' } }, 'general.architecture', /NUL/],
    ['an empty architecture', { 'general.architecture': { key: 'general.architecture', type: 'string', value: '' } }, 'general.architecture', /empty/],
    ['a missing block count', { 'llama.block_count': null }, 'llama.block_count', /missing/],
    ['zero blocks', { 'llama.block_count': u32('llama.block_count', 0) }, 'llama.block_count'],
    ['513 blocks', { 'llama.block_count': u32('llama.block_count', 513) }, 'llama.block_count', /1 to 512/],
    ['a string block count', { 'llama.block_count': { key: 'llama.block_count', type: 'string', value: '2' } }, 'llama.block_count', /integer/],
    ['a float block count', { 'llama.block_count': { key: 'llama.block_count', type: 'float32', value: 2 } }, 'llama.block_count'],
    ['zero context', { 'llama.context_length': u32('llama.context_length', 0) }, 'llama.context_length'],
    ['a missing context', { 'llama.context_length': null }, 'llama.context_length'],
    ['zero embedding', { 'llama.embedding_length': u32('llama.embedding_length', 0) }, 'llama.embedding_length'],
    ['zero heads', { 'llama.attention.head_count': u32('llama.attention.head_count', 0) }, 'llama.attention.head_count', /is 0/],
    ['a per-layer head count of the wrong length', { 'llama.attention.head_count': ints('llama.attention.head_count', [4]) }, 'llama.attention.head_count', /1 entries for 2 layers/],
    [
      'a per-layer head count of floats',
      { 'llama.attention.head_count': { key: 'llama.attention.head_count', type: 'array', value: { itemType: 'float32', items: [4, 4] } } },
      'llama.attention.head_count',
      /integers/,
    ],
    ['a negative per-layer head count', { 'llama.attention.head_count': ints('llama.attention.head_count', [4, -4], 'int32') }, 'llama.attention.head_count[1]'],
    ['zero kv heads', { 'llama.attention.head_count_kv': u32('llama.attention.head_count_kv', 0) }, 'llama.attention.head_count_kv', /is 0/],
    ['kv heads not dividing heads', { 'llama.attention.head_count_kv': u32('llama.attention.head_count_kv', 3) }, 'llama.attention.head_count_kv', /divide/],
    [
      'per-layer kv heads not dividing heads',
      { 'llama.attention.head_count_kv': ints('llama.attention.head_count_kv', [2, 3]) },
      'llama.attention.head_count_kv[1]',
    ],
    [
      'kv heads on a layer without heads',
      { 'llama.attention.head_count': ints('llama.attention.head_count', [4, 0]), 'llama.attention.head_count_kv': ints('llama.attention.head_count_kv', [2, 2]) },
      'llama.attention.head_count_kv[1]',
    ],
    ['an embedding not divisible by heads', { 'llama.embedding_length': u32('llama.embedding_length', 18) }, 'llama.embedding_length', /divisible/],
    ['a zero key length', { 'llama.attention.key_length': u32('llama.attention.key_length', 0) }, 'llama.attention.key_length'],
    ['too many experts', { 'llama.expert_count': u32('llama.expert_count', 1025) }, 'llama.expert_count'],
    ['more experts used than exist', { 'llama.expert_count': u32('llama.expert_count', 4), 'llama.expert_used_count': u32('llama.expert_used_count', 5) }, 'llama.expert_used_count'],
    ['experts used without experts', { 'llama.expert_used_count': u32('llama.expert_used_count', 1) }, 'llama.expert_used_count'],
    ['experts but none used', { 'llama.expert_count': u32('llama.expert_count', 4) }, 'llama.expert_used_count', /is 0/],
    [
      'as many expert groups as experts',
      { 'llama.expert_count': u32('llama.expert_count', 4), 'llama.expert_used_count': u32('llama.expert_used_count', 2), 'llama.expert_group_count': u32('llama.expert_group_count', 4) },
      'llama.expert_group_count',
    ],
    [
      'expert groups not dividing the experts',
      { 'llama.expert_count': u32('llama.expert_count', 8), 'llama.expert_used_count': u32('llama.expert_used_count', 2), 'llama.expert_group_count': u32('llama.expert_group_count', 3) },
      'llama.expert_group_count',
      /divide/,
    ],
    [
      'no expert groups used',
      { 'llama.expert_count': u32('llama.expert_count', 8), 'llama.expert_used_count': u32('llama.expert_used_count', 2), 'llama.expert_group_count': u32('llama.expert_group_count', 2) },
      'llama.expert_group_used_count',
    ],
    ['expert groups without experts', { 'llama.expert_group_count': u32('llama.expert_group_count', 2) }, 'llama.expert_group_count'],
    ['more next-token layers than blocks', { 'llama.nextn_predict_layers': u32('llama.nextn_predict_layers', 3) }, 'llama.nextn_predict_layers'],
    ['an unknown rope scaling', { 'llama.rope.scaling.type': { key: 'llama.rope.scaling.type', type: 'string', value: 'cubic' } }, 'llama.rope.scaling.type', /yarn/],
    ['a missing vocabulary', { 'tokenizer.ggml.tokens': null }, 'tokenizer.ggml.tokens', /missing/],
    ['an integer vocabulary', { 'tokenizer.ggml.tokens': ints('tokenizer.ggml.tokens', [1, 2]) }, 'tokenizer.ggml.tokens', /string/],
    ['a scalar vocabulary', { 'tokenizer.ggml.tokens': { key: 'tokenizer.ggml.tokens', type: 'string', value: 'a' } }, 'tokenizer.ggml.tokens'],
    ['an empty vocabulary', { 'tokenizer.ggml.tokens': { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', items: [] } } }, 'tokenizer.ggml.tokens', /empty/],
    [
      'a duplicate token',
      { 'tokenizer.ggml.tokens': { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', items: ['<unk>', '<s>', '</s>', 'a', 'a'] } } },
      'tokenizer.ggml.tokens[4]',
      /twice/,
    ],
    [
      'a token equal to another up to a NUL byte (llama.cpp reads C strings)',
      { 'tokenizer.ggml.tokens': { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', items: ['<unk>', '<s>', '</s>', 'a', 'a\0b'] } } },
      'tokenizer.ggml.tokens[4]',
      /"a" appears twice/,
    ],
    [
      'an empty token clashing with its placeholder',
      { 'tokenizer.ggml.tokens': { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', items: ['[EMPTY_1]', '', '</s>', 'a', 'b'] } } },
      'tokenizer.ggml.tokens[1]',
    ],
    ['too few scores', { 'tokenizer.ggml.scores': { key: 'tokenizer.ggml.scores', type: 'array', value: { itemType: 'float32', items: [0] } } }, 'tokenizer.ggml.scores', /1 entries for 5 tokens/],
    ['string scores', { 'tokenizer.ggml.scores': { key: 'tokenizer.ggml.scores', type: 'array', value: { itemType: 'string', items: ['0'] } } }, 'tokenizer.ggml.scores', /float32 or int32/],
    ['too many token types', { 'tokenizer.ggml.token_type': ints('tokenizer.ggml.token_type', [1, 1, 1, 1, 1, 1], 'int32') }, 'tokenizer.ggml.token_type'],
    ['a BOS outside the vocabulary', { 'tokenizer.ggml.bos_token_id': u32('tokenizer.ggml.bos_token_id', 5) }, 'tokenizer.ggml.bos_token_id', /outside/],
    ['a negative EOS', { 'tokenizer.ggml.eos_token_id': { key: 'tokenizer.ggml.eos_token_id', type: 'int32', value: -5 } }, 'tokenizer.ggml.eos_token_id'],
    ['a string EOS', { 'tokenizer.ggml.eos_token_id': { key: 'tokenizer.ggml.eos_token_id', type: 'string', value: '2' } }, 'tokenizer.ggml.eos_token_id'],
    ['a string file type', { 'general.file_type': { key: 'general.file_type', type: 'string', value: 'Q4_0' } }, 'general.file_type'],
    ['a numeric name', { 'general.name': u32('general.name', 1) }, 'general.name'],
    ['a numeric chat template', { 'tokenizer.chat_template': u32('tokenizer.chat_template', 1) }, 'tokenizer.chat_template'],
  ])('rejects %s', async (_name, changes, field, message) => {
    await expectInvalidKey(changes, field, message);
  });

  it('accepts what llama.cpp accepts', async () => {
    // hybrid models mark non-attention layers with 0 kv heads in a per-layer array
    const hybrid = await inspectWith({
      'llama.attention.head_count': ints('llama.attention.head_count', [4, 4]),
      'llama.attention.head_count_kv': ints('llama.attention.head_count_kv', [0, 2]),
      'llama.feed_forward_length': ints('llama.feed_forward_length', [32, 64]),
    });
    expect(hybrid).toMatchObject({ heads: 4, kvHeads: 2, feedForwardSize: 64 });
    // kv heads default to the (per-layer) head counts
    const perLayerHeads = await inspectWith({ 'llama.attention.head_count': ints('llama.attention.head_count', [0, 4]), 'llama.attention.head_count_kv': null });
    expect(perLayerHeads).toMatchObject({ heads: 4, kvHeads: 4, keyLength: 0, valueLength: 0 });
    // explicit head sizes make the embedding's divisibility irrelevant
    const explicit = await inspectWith({
      'llama.embedding_length': u32('llama.embedding_length', 18),
      'llama.attention.key_length': u32('llama.attention.key_length', 8),
      'llama.attention.value_length': u32('llama.attention.value_length', 6),
    });
    expect(explicit).toMatchObject({ keyLength: 8, valueLength: 6 });
    // recurrent models have no attention heads
    const recurrent = await inspectWith({ 'llama.attention.head_count': null, 'llama.attention.head_count_kv': null });
    expect(recurrent).toMatchObject({ heads: 0, kvHeads: 0, keyLength: 0, valueLength: 0 });
    // no vocabulary when the tokenizer model is "none"; -1 / UINT32_MAX mean "no such token"
    const noVocab = await inspectWith({
      'tokenizer.ggml.model': { key: 'tokenizer.ggml.model', type: 'string', value: 'none' },
      'tokenizer.ggml.tokens': null,
      'tokenizer.ggml.scores': null,
      'tokenizer.ggml.token_type': null,
      'tokenizer.ggml.bos_token_id': u32('tokenizer.ggml.bos_token_id', 0xffffffff),
      'tokenizer.ggml.eos_token_id': { key: 'tokenizer.ggml.eos_token_id', type: 'int32', value: -1 },
    });
    expect(noVocab.vocabularySize).toBe(0);
    const experts = await inspectWith({
      'llama.expert_count': u32('llama.expert_count', 8),
      'llama.expert_used_count': ints('llama.expert_used_count', [2, 1]),
      'llama.expert_group_count': u32('llama.expert_group_count', 4),
      'llama.expert_group_used_count': u32('llama.expert_group_used_count', 2),
      'llama.rope.scaling.type': { key: 'llama.rope.scaling.type', type: 'string', value: 'yarn' },
      'llama.nextn_predict_layers': u32('llama.nextn_predict_layers', 1),
    });
    expect(experts.expertCount).toBe(8);
    const unknownArchitecture = await inspectWith({
      'general.architecture': { key: 'general.architecture', type: 'string', value: 'future' },
      'future.block_count': u32('future.block_count', 1),
      'future.context_length': u32('future.context_length', 64),
      'future.embedding_length': u32('future.embedding_length', 8),
    });
    expect(unknownArchitecture).toMatchObject({ architecture: 'future', layers: 1, heads: 0 });
  });

  it('reports file type, quantization, template, name and metadata', async () => {
    const info = await inspectWith(
      {
        'general.file_type': u32('general.file_type', 15),
        'general.name': { key: 'general.name', type: 'string', value: 'tiny' },
        'tokenizer.chat_template': { key: 'tokenizer.chat_template', type: 'string', value: '{{ messages }}' },
        big: { key: 'big', type: 'uint64', value: 2n ** 60n },
        small: { key: 'small', type: 'int64', value: -3n },
        ['__proto__']: { key: '__proto__', type: 'string', value: 'plain' },
      },
      [
        { name: 'norm', type: 'F32', shape: [64], data: new Uint8Array(256) },
        { name: 'q', type: 'Q4_0', shape: [64, 8], data: new Uint8Array(16 * 18) },
        { name: 'k', type: 'Q8_0', shape: [32, 2], data: new Uint8Array(2 * 34) },
      ],
    );
    expect(info).toMatchObject({
      fileType: 'Q4_K_M',
      name: 'tiny',
      chatTemplate: '{{ messages }}',
      quantization: 'Q4_0',
      parameterCount: 64 + 512 + 64,
      tensorBytes: 256 + 288 + 68,
      tensorCount: 3,
    });
    expect(info.metadata.big).toBe('1152921504606846976');
    expect(info.metadata.small).toBe(-3);
    expect(Object.getPrototypeOf(info.metadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(info.metadata, '__proto__')?.value).toBe('plain');
    expect(info.metadata['tokenizer.ggml.scores']).toEqual({ type: 'float32', length: 5 });
  });
});
