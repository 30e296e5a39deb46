/**
 * The writer streams tensor data to disk, so files of several GiB can be written without holding them in
 * memory.
 */
import { open, stat, unlink } from 'node:fs/promises';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString } from '../validate.js';
import { alignUp } from './reader.js';
import { encodeGgufString } from './strings.js';
import { GGML_MAX_DIMS, GGML_MAX_NAME, GGML_TYPES_BY_NAME, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgmlTypeInfo, type GgmlTypeName, type GgufArray, type GgufMetadataEntry, type GgufValue, type GgufValueType, INT64_MAX, VALUE_TYPE_IDS, ggmlTensorBytes, isGgufArray } from './types.js';

// ---------------------------------------------------------------------------------------------
// Writer

/** Tensor data: the bytes, or a function giving them at write time (all at once or in chunks). */
export type GgufTensorData =
  | Uint8Array
  | (() => Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array> | Promise<Uint8Array>);

export interface GgufTensorToWrite {
  name: string;
  type: GgmlTypeName;
  /** ggml order: shape[0] is the row length. */
  shape: readonly number[];
  data: GgufTensorData;
}

export interface GgufFileContents {
  /** Written in this order. */
  metadata: readonly GgufMetadataEntry[];
  tensors: readonly GgufTensorToWrite[];
  /**
   * Data alignment. Default: general.alignment when the metadata has it, else 32. A value other than
   * 32 adds general.alignment to the metadata if it is missing.
   */
  alignment?: number;
  /** Default 3. */
  version?: 2 | 3;
}

export interface GgufWriteResult {
  fileSize: number;
  dataOffset: number;
}

/**
 * Writes a GGUF file, streaming tensor data: a tensor's data function is called only when that
 * tensor is written, and each chunk it yields is written before the next is asked for (so a producer
 * may reuse one buffer). On failure the partial file is removed.
 */
export async function writeGguf(path: string, contents: GgufFileContents): Promise<GgufWriteResult> {
  nonEmptyString('path', path);
  const { metadata, alignment } = checkMetadataToWrite(contents);
  const tensors = checkTensorsToWrite(contents.tensors);
  const version = contents.version ?? 3;
  if (version !== 2 && version !== 3) throw invalidArgument('version', '2 or 3', version);

  const header = new ByteWriter();
  header.u32(GGUF_MAGIC);
  header.u32(version);
  header.u64(BigInt(tensors.length));
  header.u64(BigInt(metadata.length));
  for (const entry of metadata) {
    header.string(entry.key);
    header.u32(VALUE_TYPE_IDS.get(entry.type)!);
    writeValue(header, entry.type, entry.value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    header.string(tensor.name);
    header.u32(tensor.shape.length);
    for (const dim of tensor.shape) header.u64(BigInt(dim));
    header.u32(tensor.info.id);
    header.u64(BigInt(offset));
    offset = alignUp(offset + tensor.byteSize, alignment);
  }
  const dataOffset = tensors.length > 0 ? alignUp(header.length, alignment) : header.length;

  const handle = await open(path, 'w');
  let position = 0;
  const write = async (chunk: Uint8Array): Promise<void> => {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position);
      done += bytesWritten;
      position += bytesWritten;
    }
  };
  const pad = async (): Promise<void> => {
    const padding = alignUp(position, alignment) - position;
    if (padding > 0) await write(new Uint8Array(padding));
  };
  try {
    await write(header.bytes());
    if (tensors.length > 0) await pad();
    for (let i = 0; i < tensors.length; i++) {
      const tensor = tensors[i]!;
      const start = position;
      const wrongSize = (received: string): ModelpoolError =>
        new ModelpoolError(
          'INVALID_ARGUMENT',
          `Expected ${tensor.byteSize} bytes of data for tensors[${i}] (${tensor.name}) but received ${received}`,
          { field: `tensors[${i}].data`, value: tensor.name },
        );
      for await (const chunk of tensorChunks(tensor.data)) {
        if (!(chunk instanceof Uint8Array)) throw invalidArgument(`tensors[${i}].data`, 'Uint8Array chunks', chunk);
        if (position - start + chunk.length > tensor.byteSize) throw wrongSize('more');
        await write(chunk);
      }
      if (position - start !== tensor.byteSize) throw wrongSize(`${position - start}`);
      await pad();
    }
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  return { fileSize: (await stat(path)).size, dataOffset };
}

async function* tensorChunks(data: GgufTensorData): AsyncGenerator<Uint8Array> {
  const produced = typeof data === 'function' ? await data() : data;
  if (produced instanceof Uint8Array) {
    yield produced;
    return;
  }
  yield* produced as Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

interface CheckedTensor {
  name: string;
  shape: readonly number[];
  info: GgmlTypeInfo;
  byteSize: number;
  data: GgufTensorData;
}

function checkMetadataToWrite(contents: GgufFileContents): { metadata: GgufMetadataEntry[]; alignment: number } {
  if (!Array.isArray(contents.metadata)) throw invalidArgument('metadata', 'an array', contents.metadata);
  const metadata = [...contents.metadata];
  const keys = new Set<string>();
  metadata.forEach((entry, i) => {
    const field = `metadata[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw invalidArgument(field, 'a {key, type, value} object', entry);
    if (typeof entry.key !== 'string' || entry.key.length === 0) {
      throw invalidArgument(`${field}.key`, 'a non-empty string', entry.key);
    }
    if (keys.has(entry.key)) throw invalidArgument(`${field}.key`, 'a key not used before', entry.key);
    keys.add(entry.key);
    if (!VALUE_TYPE_IDS.has(entry.type)) throw invalidArgument(`${field}.type`, 'a GGUF value type name', entry.type);
    checkValue(`${field}.value`, entry.type, entry.value);
  });
  const declared = metadata.find((entry) => entry.key === 'general.alignment');
  if (declared !== undefined && declared.type !== 'uint32') {
    throw invalidArgument('general.alignment', 'a uint32 entry', declared.type);
  }
  const alignment = contents.alignment ?? (declared?.value as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1 || alignment > 2 ** 31 || (alignment & (alignment - 1)) !== 0) {
    throw invalidArgument('alignment', 'a power of two', alignment);
  }
  if (declared !== undefined && declared.value !== alignment) {
    throw invalidArgument('alignment', `the same value as general.alignment (${String(declared.value)})`, alignment);
  }
  if (declared === undefined && alignment !== GGUF_DEFAULT_ALIGNMENT) {
    metadata.push({ key: 'general.alignment', type: 'uint32', value: alignment });
  }
  return { metadata, alignment };
}

const INTEGER_RANGES: Partial<Record<GgufValueType, readonly [bigint, bigint]>> = {
  uint8: [0n, 0xffn],
  int8: [-0x80n, 0x7fn],
  uint16: [0n, 0xffffn],
  int16: [-0x8000n, 0x7fffn],
  uint32: [0n, 0xffff_ffffn],
  int32: [-0x8000_0000n, 0x7fff_ffffn],
  uint64: [0n, (1n << 64n) - 1n],
  int64: [-(1n << 63n), INT64_MAX],
};

function checkValue(field: string, type: GgufValueType, value: unknown): void {
  const range = INTEGER_RANGES[type];
  if (range !== undefined) {
    const ok =
      (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) &&
      BigInt(value) >= range[0] &&
      BigInt(value) <= range[1];
    if (!ok) throw invalidArgument(field, `a ${type} integer between ${range[0]} and ${range[1]}`, value);
    return;
  }
  switch (type) {
    case 'float32':
    case 'float64':
      if (typeof value !== 'number') throw invalidArgument(field, `a number (${type})`, value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw invalidArgument(field, 'a boolean', value);
      return;
    case 'string':
      if (typeof value !== 'string') throw invalidArgument(field, 'a string', value);
      return;
    default: {
      if (!isGgufArray(value) || !Array.isArray(value.items) || !VALUE_TYPE_IDS.has(value.itemType)) {
        throw invalidArgument(field, 'an array value {itemType, items}', value);
      }
      const { itemType, items } = value;
      for (let i = 0; i < items.length; i++) checkValue(`${field}.items[${i}]`, itemType, items[i]);
    }
  }
}

function checkTensorsToWrite(tensors: readonly GgufTensorToWrite[]): CheckedTensor[] {
  if (!Array.isArray(tensors)) throw invalidArgument('tensors', 'an array', tensors);
  const names = new Set<string>();
  return tensors.map((tensor, i) => {
    const field = `tensors[${i}]`;
    if (typeof tensor !== 'object' || tensor === null) throw invalidArgument(field, 'a tensor object', tensor);
    const { name, shape, data } = tensor;
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) >= GGML_MAX_NAME) {
      throw invalidArgument(`${field}.name`, `a non-empty string of at most ${GGML_MAX_NAME - 1} bytes`, name);
    }
    if (names.has(name)) throw invalidArgument(`${field}.name`, 'a tensor name not used before', name);
    names.add(name);
    const info = GGML_TYPES_BY_NAME.get(tensor.type);
    if (info === undefined) throw invalidArgument(`${field}.type`, 'a ggml type name such as "F32"', tensor.type);
    if (
      !Array.isArray(shape) ||
      shape.length < 1 ||
      shape.length > GGML_MAX_DIMS ||
      !shape.every((dim) => Number.isSafeInteger(dim) && dim > 0)
    ) {
      throw invalidArgument(`${field}.shape`, `1 to ${GGML_MAX_DIMS} positive integers`, shape);
    }
    if (shape[0]! % info.blockSize !== 0) {
      throw invalidArgument(`${field}.shape[0]`, `a multiple of the ${info.name} block size ${info.blockSize}`, shape[0]);
    }
    if (!(data instanceof Uint8Array) && typeof data !== 'function') {
      throw invalidArgument(`${field}.data`, 'a Uint8Array or a function returning the data', data);
    }
    const byteSize = ggmlTensorBytes(info, shape);
    if (data instanceof Uint8Array && data.length !== byteSize) {
      throw invalidArgument(`${field}.data`, `${byteSize} bytes`, data);
    }
    return { name, shape, info, byteSize, data };
  });
}

function writeValue(out: ByteWriter, type: GgufValueType, value: GgufValue): void {
  switch (type) {
    case 'uint8': out.reserve(1).setUint8(out.at, value as number); out.advance(1); return;
    case 'int8': out.reserve(1).setInt8(out.at, value as number); out.advance(1); return;
    case 'bool': out.reserve(1).setInt8(out.at, value ? 1 : 0); out.advance(1); return;
    case 'uint16': out.reserve(2).setUint16(out.at, value as number, true); out.advance(2); return;
    case 'int16': out.reserve(2).setInt16(out.at, value as number, true); out.advance(2); return;
    case 'uint32': out.u32(value as number); return;
    case 'int32': out.reserve(4).setInt32(out.at, value as number, true); out.advance(4); return;
    case 'float32': out.reserve(4).setFloat32(out.at, value as number, true); out.advance(4); return;
    case 'float64': out.reserve(8).setFloat64(out.at, value as number, true); out.advance(8); return;
    case 'uint64': out.u64(BigInt(value as number | bigint)); return;
    case 'int64': out.reserve(8).setBigInt64(out.at, BigInt(value as number | bigint), true); out.advance(8); return;
    case 'string': out.string(value as string); return;
    default: {
      const array = value as GgufArray;
      out.u32(VALUE_TYPE_IDS.get(array.itemType)!);
      out.u64(BigInt(array.items.length));
      for (const item of array.items) writeValue(out, array.itemType, item);
    }
  }
}

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buffer = Buffer.alloc(64 * 1024);
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  at = 0;

  get length(): number {
    return this.at;
  }

  reserve(n: number): DataView {
    if (this.at + n > this.buffer.length) {
      const next = Buffer.alloc(Math.max(this.buffer.length * 2, this.at + n));
      this.buffer.copy(next, 0, 0, this.at);
      this.buffer = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    return this.view;
  }

  advance(n: number): void {
    this.at += n;
  }

  u32(value: number): void {
    this.reserve(4).setUint32(this.at, value, true);
    this.at += 4;
  }

  u64(value: bigint): void {
    this.reserve(8).setBigUint64(this.at, value, true);
    this.at += 8;
  }

  string(text: string): void {
    const bytes = encodeGgufString(text);
    this.u64(BigInt(bytes.length));
    this.reserve(bytes.length);
    bytes.copy(this.buffer, this.at);
    this.at += bytes.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.at);
  }
}
