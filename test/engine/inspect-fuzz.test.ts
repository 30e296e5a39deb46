// Fuzzes inspect() with seeded random corruptions of stories260K's header: whatever the damage,
// inspect() must either describe the file or throw INVALID_GGUF naming a field, never anything else
// (no RangeError, no hang, no crash), since it is what stands between untrusted files and llama.cpp.
import { copyFile, mkdtemp, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ModelpoolError } from '../../src/errors.js';
import { parseGgufHeader } from '../../src/gguf/index.js';
import { inspect, inspectGgufHeader } from '../../src/gguf/index.js';
import { STORIES } from '../helpers/models.js';

const ITERATIONS = 2500;
const SEED = 0x5eed_2026;

/** mulberry32: a small seeded PRNG. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FieldPositions {
  /** uint64 counts and lengths: header counts, string lengths, array lengths, tensor offsets. */
  lengths: number[];
  /** uint32/int32 type ids: value types, array item types, ggml tensor types. */
  types: number[];
  /** tensor n_dims. */
  dimCounts: number[];
  /** int64 tensor dimensions. */
  dims: number[];
  /** uint32 scalar values (the hyperparameters and token ids). */
  scalars: number[];
}

/** Where each field of a valid GGUF header lies (an independent walk, not the reader under test). */
function fieldPositions(bytes: Buffer): FieldPositions {
  const positions: FieldPositions = { lengths: [8, 16], types: [], dimCounts: [], dims: [], scalars: [] };
  const fixedSizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  let at = 24;
  const string = (): void => {
    positions.lengths.push(at);
    at += 8 + Number(bytes.readBigUInt64LE(at));
  };
  const value = (type: number): void => {
    if (type === 8) return string();
    if (type === 9) {
      positions.types.push(at);
      const itemType = bytes.readUInt32LE(at);
      positions.lengths.push(at + 4);
      const length = Number(bytes.readBigUInt64LE(at + 4));
      at += 12;
      for (let i = 0; i < length; i++) value(itemType);
      return;
    }
    at += fixedSizes[type]!;
  };
  const tensorCount = Number(bytes.readBigInt64LE(8));
  const kvCount = Number(bytes.readBigInt64LE(16));
  for (let i = 0; i < kvCount; i++) {
    string();
    positions.types.push(at);
    const type = bytes.readUInt32LE(at);
    at += 4;
    if (type === 4) positions.scalars.push(at);
    value(type);
  }
  for (let i = 0; i < tensorCount; i++) {
    string();
    positions.dimCounts.push(at);
    const dimCount = bytes.readUInt32LE(at);
    at += 4;
    for (let d = 0; d < dimCount; d++) {
      positions.dims.push(at);
      at += 8;
    }
    positions.types.push(at);
    positions.lengths.push(at + 4);
    at += 12;
  }
  return positions;
}

const HUGE_LENGTHS = [2n ** 64n - 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 32n, 2n ** 30n + 1n, 1_185_376n, 1_185_377n, 0n, 1n, 14_000n];
const BAD_TYPES = [13, 9, 43, 4, 5, 31, 36, 38, 0xffffffff, 0x80000000, 100, 12];
const BAD_DIMS = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, 3n, 33n, 1_000_000n];
const BAD_DIM_COUNTS = [0, 5, 0xffffffff, 3, 1];
const BAD_SCALARS = [0, 1, 2, 3, 5, 7, 512, 513, 1024, 0x7fffffff, 0xffffffff];

describe('inspect fuzz', () => {
  let dir: string;
  let path: string;
  let original: Buffer;
  let headerRegion: Buffer;
  let positions: FieldPositions;
  let handle: FileHandle;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelpool-fuzz-'));
    path = join(dir, 'fuzzed.gguf');
    await copyFile(STORIES, path);
    original = await readFile(STORIES);
    const header = parseGgufHeader(original);
    headerRegion = Buffer.from(original.subarray(0, header.dataOffset));
    positions = fieldPositions(headerRegion);
    handle = await open(path, 'r+');
  });

  afterAll(async () => {
    await handle?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds every field of the stories260K header', () => {
    expect(positions.dimCounts).toHaveLength(48);
    expect(positions.scalars).toHaveLength(12);
    expect(positions.types.length).toBe(19 + 3 + 48); // 19 value types, 3 array item types, 48 tensor types
    // counts, keys, string values, tokens, array lengths, tensor names and offsets
    expect(positions.lengths.length).toBe(2 + 19 + 3 + 512 + 3 + 48 * 2);
  });

  it(`inspect() returns or throws INVALID_GGUF for ${ITERATIONS} seeded mutations`, async () => {
    const next = random(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const outcomes = new Map<string, number>();
    let accepted = 0;

    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const bytes = Buffer.from(headerRegion);
      let fileLength = original.length;
      const applied: string[] = [];
      const mutations = 1 + Math.floor(next() * 3);
      for (let m = 0; m < mutations; m++) {
        const kind = Math.floor(next() * 7);
        if (kind === 0) {
          const at = Math.floor(next() * bytes.length);
          bytes[at]! ^= 1 << Math.floor(next() * 8);
          applied.push(`flip@${at}`);
        } else if (kind === 1) {
          const at = Math.floor(next() * bytes.length);
          bytes[at] = Math.floor(next() * 256);
          applied.push(`byte@${at}`);
        } else if (kind === 2) {
          // truncate, mostly inside the header region, sometimes inside the tensor data
          fileLength = next() < 0.8 ? Math.floor(next() * bytes.length) : bytes.length + Math.floor(next() * (original.length - bytes.length));
          applied.push(`truncate@${fileLength}`);
        } else if (kind === 3) {
          const at = pick(positions.lengths);
          const value = next() < 0.7 ? pick(HUGE_LENGTHS) : BigInt(Math.floor(next() * 2 ** 32)) * BigInt(Math.floor(next() * 2 ** 32));
          bytes.writeBigUInt64LE(value % 2n ** 64n, at);
          applied.push(`length@${at}=${value}`);
        } else if (kind === 4) {
          const at = pick(positions.types);
          const value = next() < 0.8 ? pick(BAD_TYPES) : Math.floor(next() * 2 ** 32);
          bytes.writeUInt32LE(value, at);
          applied.push(`type@${at}=${value}`);
        } else if (kind === 5) {
          const at = pick(positions.scalars);
          const value = pick(BAD_SCALARS);
          bytes.writeUInt32LE(value, at);
          applied.push(`scalar@${at}=${value}`);
        } else if (next() < 0.5) {
          const at = pick(positions.dims);
          const value = pick(BAD_DIMS);
          bytes.writeBigInt64LE(value, at);
          applied.push(`dim@${at}=${value}`);
        } else {
          const at = pick(positions.dimCounts);
          const value = pick(BAD_DIM_COUNTS);
          bytes.writeUInt32LE(value, at);
          applied.push(`dims@${at}=${value}`);
        }
      }

      await handle.truncate(fileLength);
      const written = Math.min(fileLength, bytes.length);
      if (written > 0) await handle.write(bytes, 0, written, 0);

      try {
        const info = await inspect(path);
        expect(info.fileSize).toBe(fileLength);
        accepted += 1;
        outcomes.set('accepted', (outcomes.get('accepted') ?? 0) + 1);
      } catch (error) {
        if (!(error instanceof ModelpoolError) || error.code !== 'INVALID_GGUF' || typeof error.field !== 'string' || error.field === '') {
          throw new Error(`iteration ${iteration} (${applied.join(', ')}) threw ${String(error)}`, { cause: error });
        }
        const field = error.field.replace(/\[\d+\]/g, '[]');
        outcomes.set(field, (outcomes.get(field) ?? 0) + 1);
      }
    }

    // The mutations reach deep into the reader and the hyperparameter checks, not just the magic.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(ITERATIONS / 2);
    expect(outcomes.size).toBeGreaterThan(20);
    for (const field of [
      'header.kvCount',
      'header.tensorCount',
      'metadata[].type',
      'tensors[].type',
      'tensors[].shape[]',
      'tensors[].offset',
      'tensors[].dims',
      'llama.block_count',
      'llama.attention.head_count_kv',
    ]) {
      expect(outcomes.get(field), field).toBeGreaterThan(0);
    }
  });

  it('inspectGgufHeader agrees with inspect() on in-memory mutations', async () => {
    /** 'accepted', or the field named by INVALID_GGUF; anything else thrown fails the test. */
    const verdict = (run: () => unknown, what: string): { field: string; sliceTooShort: boolean } => {
      try {
        run();
        return { field: 'accepted', sliceTooShort: false };
      } catch (error) {
        if (!(error instanceof ModelpoolError) || error.code !== 'INVALID_GGUF' || typeof error.field !== 'string' || error.field === '') {
          throw new Error(`${what} threw ${String(error)}`, { cause: error });
        }
        return { field: error.field, sliceTooShort: /bytes given/.test(error.message) };
      }
    };
    const next = random(SEED + 1);
    const counts = { accepted: 0, rejected: 0, compared: 0 };
    const onDisk = join(dir, 'agree.gguf');
    for (let iteration = 0; iteration < 2000; iteration++) {
      const bytes = Buffer.from(original.subarray(0, headerRegion.length + 64));
      const at = Math.floor(next() * headerRegion.length);
      bytes[at] = Math.floor(next() * 256);
      const what = `byte ${at} set to ${bytes[at]}`;
      const inMemory = verdict(() => inspectGgufHeader(parseGgufHeader(bytes, { fileSize: original.length, source: 'memory' }), 'memory'), what);
      counts[inMemory.field === 'accepted' ? 'accepted' : 'rejected'] += 1;
      // Now and then the same file on disk: inspect() reaches the same verdict, naming the same field
      // (unless the mutated header outgrew the bytes given in memory, which a file read goes past).
      if (iteration % 20 === 0 && !inMemory.sliceTooShort) {
        const file = Buffer.from(original);
        file[at] = bytes[at]!;
        await writeFile(onDisk, file);
        const fromFile = await inspect(onDisk).then(
          () => 'accepted',
          (error: unknown) => verdict(() => { throw error; }, `inspect() with ${what}`).field,
        );
        expect(fromFile, what).toBe(inMemory.field);
        counts.compared += 1;
      }
    }
    // Both verdicts occur (the mutations reach the checks; harmless ones, inside token text, pass) and
    // most of the sampled mutations were compared with a file.
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
    expect(counts.compared).toBeGreaterThan(80);
  });
});
