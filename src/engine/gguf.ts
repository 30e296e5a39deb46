/**
 * A pure-TypeScript GGUF (v2/v3, little-endian) reader and writer.
 *
 * The reader parses the header, every key/value and the tensor-info table, reading only the header
 * region of the file (never tensor data), and validates everything that ggml's gguf.cpp and
 * llama.cpp's model loader would otherwise assert on or reject, so that an untrusted file is turned
 * away with an `INVALID_GGUF` error before llama.cpp sees it. The layout rules mirror
 * `gguf_init_from_reader` in deps/llama.cpp/ggml/src/gguf.cpp.
 *
 * The writer streams tensor data to disk, so files of several GiB can be written without holding
 * them in memory.
 */
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';

import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString } from '../validate.js';

export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Same limits as gguf.cpp (GGUF_MAX_STRING_LENGTH, GGUF_MAX_ARRAY_ELEMENTS). */
export const GGUF_MAX_STRING_LENGTH = 1024 * 1024 * 1024;
export const GGUF_MAX_ARRAY_ELEMENTS = 1024 * 1024 * 1024;
/** ggml's GGML_MAX_NAME includes the terminating NUL: names are at most 63 bytes. */
export const GGML_MAX_NAME = 64;
export const GGML_MAX_DIMS = 4;
/** Nesting limit for arrays of arrays (only read when `allowNestedArrays` is set). */
export const GGUF_MAX_ARRAY_DEPTH = 8;

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
const FIXED_HEADER_SIZE = 24; // magic, version, tensor count, kv count
const INT64_MAX = (1n << 63n) - 1n;
/** Smallest possible encodings, used to reject absurd counts before parsing them. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length, one key byte, value type, one-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length, one name byte, n_dims, one dim, type, offset

// ---------------------------------------------------------------------------------------------
// Value types

/** GGUF metadata value types, by their on-disk id. */
export type GgufValueType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'bool'
  | 'string'
  | 'array'
  | 'uint64'
  | 'int64'
  | 'float64';

const VALUE_TYPES: readonly GgufValueType[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];
const VALUE_TYPE_IDS = new Map<GgufValueType, number>(VALUE_TYPES.map((type, id) => [type, id]));
const FIXED_VALUE_SIZES: Partial<Record<GgufValueType, number>> = {
  uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8,
};

/** An array value. Items of 64-bit integer arrays are bigints; items of arrays of arrays are GgufArrays. */
export interface GgufArray {
  itemType: GgufValueType;
  items: GgufValue[];
}

/** A metadata value: uint64/int64 are bigints, bool is a boolean, the other numeric types are numbers. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufMetadataEntry {
  key: string;
  type: GgufValueType;
  value: GgufValue;
}

export function isGgufArray(value: unknown): value is GgufArray {
  return typeof value === 'object' && value !== null && 'itemType' in value && 'items' in value;
}

// ---------------------------------------------------------------------------------------------
// ggml tensor types

export interface GgmlTypeInfo {
  id: number;
  name: GgmlTypeName;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

export type GgmlTypeName =
  | 'F32' | 'F16' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q8_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_K'
  | 'IQ2_XXS' | 'IQ2_XS' | 'IQ3_XXS' | 'IQ1_S' | 'IQ4_NL' | 'IQ3_S' | 'IQ2_S' | 'IQ4_XS'
  | 'I8' | 'I16' | 'I32' | 'I64' | 'F64' | 'IQ1_M' | 'BF16' | 'TQ1_0' | 'TQ2_0'
  | 'MXFP4' | 'NVFP4' | 'Q1_0' | 'Q2_0';

/**
 * Block and type sizes of every ggml type a GGUF file may hold (ggml.h `enum ggml_type`, ggml.c
 * `type_traits`). Ids 4, 5, 31-33 and 36-38 are removed types that gguf.cpp rejects.
 */
const GGML_TYPE_TABLE: ReadonlyArray<readonly [number, GgmlTypeName, number, number]> = [
  [0, 'F32', 1, 4], [1, 'F16', 1, 2], [2, 'Q4_0', 32, 18], [3, 'Q4_1', 32, 20],
  [6, 'Q5_0', 32, 22], [7, 'Q5_1', 32, 24], [8, 'Q8_0', 32, 34], [9, 'Q8_1', 32, 36],
  [10, 'Q2_K', 256, 84], [11, 'Q3_K', 256, 110], [12, 'Q4_K', 256, 144], [13, 'Q5_K', 256, 176],
  [14, 'Q6_K', 256, 210], [15, 'Q8_K', 256, 292], [16, 'IQ2_XXS', 256, 66], [17, 'IQ2_XS', 256, 74],
  [18, 'IQ3_XXS', 256, 98], [19, 'IQ1_S', 256, 50], [20, 'IQ4_NL', 32, 18], [21, 'IQ3_S', 256, 110],
  [22, 'IQ2_S', 256, 82], [23, 'IQ4_XS', 256, 136], [24, 'I8', 1, 1], [25, 'I16', 1, 2],
  [26, 'I32', 1, 4], [27, 'I64', 1, 8], [28, 'F64', 1, 8], [29, 'IQ1_M', 256, 56], [30, 'BF16', 1, 2],
  [34, 'TQ1_0', 256, 54], [35, 'TQ2_0', 256, 66], [39, 'MXFP4', 32, 17], [40, 'NVFP4', 64, 36],
  [41, 'Q1_0', 128, 18], [42, 'Q2_0', 64, 18],
];

const GGML_TYPES_BY_ID = new Map<number, GgmlTypeInfo>();
const GGML_TYPES_BY_NAME = new Map<string, GgmlTypeInfo>();
for (const [id, name, blockSize, typeSize] of GGML_TYPE_TABLE) {
  const info: GgmlTypeInfo = Object.freeze({ id, name, blockSize, typeSize });
  GGML_TYPES_BY_ID.set(id, info);
  GGML_TYPES_BY_NAME.set(name, info);
}

/** The ggml type with this id or name (names as in GgmlTypeName), or undefined. */
export function ggmlType(idOrName: number | string): GgmlTypeInfo | undefined {
  return typeof idOrName === 'number' ? GGML_TYPES_BY_ID.get(idOrName) : GGML_TYPES_BY_NAME.get(idOrName);
}

/** Bytes taken by a tensor of this type and shape (ne0 must be a multiple of the block size). */
export function ggmlTensorBytes(type: GgmlTypeInfo, shape: readonly number[]): number {
  let rows = 1;
  for (let i = 1; i < shape.length; i++) rows *= shape[i]!;
  return ((shape[0] ?? 1) / type.blockSize) * type.typeSize * rows;
}

// ---------------------------------------------------------------------------------------------
// Parsed header

export interface GgufTensorInfo {
  name: string;
  /** Dimensions in ggml order: shape[0] (ne0) is the innermost (row) dimension. */
  shape: number[];
  type: GgmlTypeName;
  typeId: number;
  /** Offset of the data from the start of the data section. */
  offset: number;
  elementCount: number;
  byteSize: number;
}

export interface GgufHeader {
  version: number;
  fileSize: number;
  alignment: number;
  /** Every key/value in file order. */
  metadata: Map<string, GgufMetadataEntry>;
  tensors: GgufTensorInfo[];
  /** Where the tensor-info table ends. */
  headerSize: number;
  /** Where the (aligned) tensor data section begins. */
  dataOffset: number;
}

export interface GgufParseOptions {
  /**
   * Size of the whole file. Defaults to the length of the bytes given; tensor data ranges are checked
   * against it.
   */
  fileSize?: number;
  /**
   * Accept arrays of arrays. The GGUF format allows them but llama.cpp's reader rejects them, so by
   * default they are an error.
   */
  allowNestedArrays?: boolean;
  /** Name used in error messages (the path). */
  source?: string;
}

export interface GgufReadOptions {
  allowNestedArrays?: boolean;
  /** Largest header region read into memory. Default 256 MiB (real headers are a few MiB at most). */
  maxHeaderBytes?: number;
}

/** Thrown inside the parser when the bytes in memory end before the header does; never escapes. */
class NeedMoreBytes {
  constructor(readonly needed: number) {}
}

function invalidGguf(source: string, field: string, message: string, value?: unknown, offset?: number): ModelpoolError {
  const details: Record<string, unknown> = { path: source };
  if (offset !== undefined) details.offset = offset;
  // bigints would make the error unserialisable (JSON.stringify throws on them)
  const shown = typeof value === 'bigint' ? (Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()) : value;
  return new ModelpoolError('INVALID_GGUF', `Invalid GGUF file ${source}: ${field} ${message}`, { field, value: shown, details });
}

/**
 * Field names of array items are built only when an error needs them (vocabularies have hundreds of
 * thousands of strings): the cursor takes the array's field and the item's index separately.
 */
function fieldName(field: string, index: number): string {
  return index < 0 ? field : `${field}[${index}]`;
}

/** Sequential little-endian reads over the header bytes, checked against the file size. */
class HeaderCursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Buffer,
    readonly fileSize: number,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  invalid(field: string, message: string, value?: unknown, offset = this.pos): ModelpoolError {
    return invalidGguf(this.source, field, message, value, offset);
  }

  /** Ensures n more bytes exist in the file (else INVALID_GGUF) and in memory (else NeedMoreBytes). */
  need(n: number, field: string, index = -1): void {
    if (n > this.fileSize - this.pos) {
      throw this.invalid(
        fieldName(field, index),
        `runs past the end of the file (needs ${n} bytes at offset ${this.pos}, file size ${this.fileSize})`,
      );
    }
    if (this.pos + n > this.bytes.length) throw new NeedMoreBytes(this.pos + n);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  i32(field: string): number {
    this.need(4, field);
    const value = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return value;
  }

  i64(field: string): bigint {
    this.need(8, field);
    const value = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** A uint64 length or count as a number (inexact above 2^53, which is past any limit anyway). */
  length(field: string, index = -1): number {
    this.need(8, field, index);
    const low = this.view.getUint32(this.pos, true);
    const high = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return high * 0x1_0000_0000 + low;
  }

  string(field: string, index = -1): string {
    const start = this.pos;
    const length = this.length(field, index);
    if (length > GGUF_MAX_STRING_LENGTH) {
      throw this.invalid(
        fieldName(field, index),
        `has length ${length}, over the limit of ${GGUF_MAX_STRING_LENGTH} bytes`,
        length,
        start,
      );
    }
    if (length > this.remaining) {
      throw this.invalid(
        fieldName(field, index),
        `has length ${length}, past the end of the file (${this.remaining} bytes left)`,
        length,
        start,
      );
    }
    this.need(length, field, index);
    const value = decodeGgufString(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  /** Reads one value of a fixed-size type; the caller has checked the bytes are there. */
  fixed(type: GgufValueType): GgufValue {
    const { view } = this;
    const at = this.pos;
    switch (type) {
      case 'uint8': this.pos += 1; return view.getUint8(at);
      case 'int8': this.pos += 1; return view.getInt8(at);
      case 'bool': this.pos += 1; return view.getInt8(at) !== 0; // gguf.cpp: any non-zero byte is true
      case 'uint16': this.pos += 2; return view.getUint16(at, true);
      case 'int16': this.pos += 2; return view.getInt16(at, true);
      case 'uint32': this.pos += 4; return view.getUint32(at, true);
      case 'int32': this.pos += 4; return view.getInt32(at, true);
      case 'float32': this.pos += 4; return view.getFloat32(at, true);
      case 'uint64': this.pos += 8; return view.getBigUint64(at, true);
      case 'int64': this.pos += 8; return view.getBigInt64(at, true);
      default: this.pos += 8; return view.getFloat64(at, true); // float64
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Strings: UTF-8, with invalid bytes kept losslessly as lone surrogates U+DC80..U+DCFF (like
// Python's "surrogateescape"), so that a vocabulary copied through read and write keeps its exact
// bytes and two different invalid byte strings never compare equal.

function decodeGgufString(bytes: Buffer, start: number, end: number): string {
  // Most strings are short ASCII tokens: validating in JavaScript is faster than a native call.
  let i = start;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return bytes.toString('latin1', start, end);
  while (i < end) {
    const length = validUtf8SequenceLength(bytes, i, end);
    if (length === 0) return decodeWithEscapes(bytes, start, end);
    i += length;
  }
  return bytes.toString('utf8', start, end);
}

function decodeWithEscapes(bytes: Buffer, start: number, end: number): string {
  const units: number[] = [];
  let i = start;
  while (i < end) {
    const length = validUtf8SequenceLength(bytes, i, end);
    if (length === 0) {
      units.push(0xdc00 + bytes[i]!);
      i += 1;
      continue;
    }
    const codePoint = length === 1 ? bytes[i]! : decodeCodePoint(bytes, i, length);
    if (codePoint > 0xffff) {
      const v = codePoint - 0x10000;
      units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else {
      units.push(codePoint);
    }
    i += length;
  }
  let text = '';
  for (let k = 0; k < units.length; k += 4096) text += String.fromCharCode(...units.slice(k, k + 4096));
  return text;
}

/** Length of the well-formed UTF-8 sequence at i (WHATWG rules), or 0 when none starts there. */
function validUtf8SequenceLength(b: Uint8Array, i: number, end: number): number {
  const lead = b[i]!;
  if (lead < 0x80) return 1;
  const inRange = (k: number, low: number, high: number): boolean => {
    if (i + k >= end) return false;
    const c = b[i + k]!;
    return c >= low && c <= high;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return inRange(1, 0x80, 0xbf) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return inRange(1, low, high) && inRange(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return inRange(1, low, high) && inRange(2, 0x80, 0xbf) && inRange(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

function decodeCodePoint(b: Uint8Array, i: number, length: number): number {
  let codePoint = b[i]! & (length === 2 ? 0x1f : length === 3 ? 0x0f : 0x07);
  for (let k = 1; k < length; k++) codePoint = (codePoint << 6) | (b[i + k]! & 0x3f);
  return codePoint;
}

/** UTF-8 bytes of a string as the writer stores it (lone U+DC80..U+DCFF become the raw byte again). */
export function encodeGgufString(text: string): Buffer {
  if (!hasLoneSurrogate(text)) return Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out.push(...Buffer.from(text.slice(i, i + 2), 'utf8'));
      i += 1;
    } else if (unit >= 0xdc80 && unit <= 0xdcff) {
      out.push(unit - 0xdc00);
    } else {
      out.push(...Buffer.from(text[i]!, 'utf8')); // other lone surrogates become U+FFFD
    }
  }
  return Buffer.from(out);
}

function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i += 1;
      continue;
    }
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reader

/**
 * Parses and validates a GGUF header held in memory. `bytes` must hold at least the whole header
 * region (everything before the tensor data); the tensor data itself is never looked at.
 */
export function parseGgufHeader(bytes: Uint8Array, options: GgufParseOptions = {}): GgufHeader {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const source = options.source ?? '<buffer>';
  const fileSize = options.fileSize ?? buffer.length;
  try {
    return parseHeader(buffer, fileSize, source, options.allowNestedArrays ?? false);
  } catch (error) {
    if (error instanceof NeedMoreBytes) {
      throw invalidGguf(source, 'header', `extends past the ${buffer.length} bytes given (needs ${error.needed})`, error.needed);
    }
    throw error;
  }
}

/**
 * Reads and validates the header of a GGUF file, reading only the header region. Throws
 * MODEL_NOT_FOUND when the file does not exist, INVALID_GGUF when it is malformed.
 */
export async function readGgufHeader(path: string, options: GgufReadOptions = {}): Promise<GgufHeader> {
  nonEmptyString('path', path);
  const maxHeaderBytes = options.maxHeaderBytes ?? 256 * 1024 * 1024;
  const allowNestedArrays = options.allowNestedArrays ?? false;
  const { handle, fileSize } = await openForReading(path);
  try {
    let buffer: Buffer = Buffer.alloc(0);
    let wanted = Math.min(fileSize, 256 * 1024);
    for (;;) {
      buffer = await extendBuffer(handle, buffer, wanted);
      try {
        return parseHeader(buffer, fileSize, path, allowNestedArrays);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        if (buffer.length < wanted) {
          throw invalidGguf(
            path,
            'header',
            `could not be read: the file ended at ${buffer.length} bytes (was it truncated while being read?)`,
            buffer.length,
          );
        }
        if (error.needed > maxHeaderBytes) {
          throw invalidGguf(path, 'header', `region is larger than ${maxHeaderBytes} bytes`, error.needed);
        }
        wanted = Math.min(fileSize, maxHeaderBytes, Math.max(error.needed, buffer.length * 8));
      }
    }
  } finally {
    await handle.close();
  }
}

async function openForReading(path: string): Promise<{ handle: FileHandle; fileSize: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(path, error);
  }
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw invalidArgument('path', 'a path to a GGUF file', path);
  }
  return { handle, fileSize: info.size };
}

function fileError(path: string, error: unknown): ModelpoolError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ModelpoolError('MODEL_NOT_FOUND', `Model file not found: ${path}`, { field: 'path', value: path, cause: error });
  }
  if (code === 'EISDIR') return invalidArgument('path', 'a path to a GGUF file', path);
  return new ModelpoolError('LOAD_FAILED', `Cannot read ${path}: ${(error as Error).message}`, {
    field: 'path',
    value: path,
    cause: error,
  });
}

async function extendBuffer(handle: FileHandle, buffer: Buffer, size: number): Promise<Buffer> {
  if (size <= buffer.length) return buffer;
  const next = Buffer.allocUnsafe(size);
  buffer.copy(next);
  let filled = buffer.length;
  while (filled < size) {
    const { bytesRead } = await handle.read(next, filled, size - filled, filled);
    if (bytesRead === 0) break; // file shrank under us: parse what is there
    filled += bytesRead;
  }
  return filled === size ? next : next.subarray(0, filled);
}

function parseHeader(bytes: Buffer, fileSize: number, source: string, allowNestedArrays: boolean): GgufHeader {
  const cursor = new HeaderCursor(bytes, fileSize, source);

  const magic = cursor.u32('header.magic');
  if (magic !== GGUF_MAGIC) {
    const shown = Buffer.alloc(4);
    shown.writeUInt32LE(magic);
    throw cursor.invalid('header.magic', `is ${JSON.stringify(shown.toString('latin1'))}, expected "GGUF"`, magic, 0);
  }
  const version = cursor.u32('header.version');
  if (version !== 2 && version !== 3) {
    const hint =
      (version & 0xffff) === 0
        ? ' (a big-endian file? only little-endian GGUF is supported)'
        : version === 1
          ? ' (GGUF v1 is no longer supported)'
          : '';
    throw cursor.invalid('header.version', `is ${version}, expected 2 or 3${hint}`, version, 4);
  }
  const tensorCount = cursor.i64('header.tensorCount');
  const kvCount = cursor.i64('header.kvCount');
  const room = BigInt(fileSize - FIXED_HEADER_SIZE);
  if (tensorCount < 0n || tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) > room) {
    throw cursor.invalid('header.tensorCount', `is ${tensorCount}, impossible for a file of ${fileSize} bytes`, tensorCount, 8);
  }
  if (kvCount < 0n || kvCount * BigInt(MIN_KV_BYTES) + tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) > room) {
    throw cursor.invalid('header.kvCount', `is ${kvCount}, impossible for a file of ${fileSize} bytes`, kvCount, 16);
  }

  const metadata = new Map<string, GgufMetadataEntry>();
  for (let i = 0; i < Number(kvCount); i++) {
    const entry = readMetadataEntry(cursor, i, allowNestedArrays);
    if (metadata.has(entry.key)) {
      throw cursor.invalid(`metadata[${i}].key`, `${JSON.stringify(entry.key)} is a duplicate key`, entry.key);
    }
    metadata.set(entry.key, entry);
  }

  const alignment = readAlignment(cursor, metadata);

  const tensors: GgufTensorInfo[] = [];
  const tensorNames = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const tensor = readTensorInfo(cursor, i);
    if (tensorNames.has(tensor.name)) {
      throw cursor.invalid(`tensors[${i}].name`, `${JSON.stringify(tensor.name)} is a duplicate tensor name`, tensor.name);
    }
    tensorNames.add(tensor.name);
    tensors.push(tensor);
  }

  const headerSize = cursor.pos;
  const dataOffset = tensors.length > 0 ? alignUp(headerSize, alignment) : headerSize;
  if (dataOffset > fileSize) {
    throw cursor.invalid(
      'header',
      `data section would start at ${dataOffset}, past the end of the file (${fileSize} bytes)`,
      dataOffset,
    );
  }
  checkTensorLayout(cursor, tensors, alignment, dataOffset);

  return { version, fileSize, alignment, metadata, tensors, headerSize, dataOffset };
}

function readMetadataEntry(cursor: HeaderCursor, index: number, allowNestedArrays: boolean): GgufMetadataEntry {
  const field = `metadata[${index}]`;
  const key = cursor.string(`${field}.key`);
  if (key.length === 0) throw cursor.invalid(`${field}.key`, 'is empty', key);
  // gguf_find_key compares C strings: "a\0b" would be found as "a", ahead of the real "a"
  if (key.includes('\0')) throw cursor.invalid(`${field}.key`, `${JSON.stringify(key)} contains a NUL byte`, key);
  const typeId = cursor.u32(`${field}.type`);
  const type = VALUE_TYPES[typeId];
  if (type === undefined) {
    throw cursor.invalid(
      `${field}.type`,
      `of key ${JSON.stringify(key)} is ${typeId}, not a GGUF value type (0..12)`,
      typeId,
      cursor.pos - 4,
    );
  }
  const value = readValue(cursor, type, `${field}.value`, 0, allowNestedArrays);
  return { key, type, value };
}

function readValue(
  cursor: HeaderCursor,
  type: GgufValueType,
  field: string,
  depth: number,
  allowNestedArrays: boolean,
): GgufValue {
  if (type === 'string') return cursor.string(field);
  if (type === 'array') return readArray(cursor, field, depth, allowNestedArrays);
  cursor.need(FIXED_VALUE_SIZES[type]!, field);
  return cursor.fixed(type);
}

function readArray(cursor: HeaderCursor, field: string, depth: number, allowNestedArrays: boolean): GgufArray {
  const itemTypeId = cursor.u32(`${field}.type`);
  const itemType = VALUE_TYPES[itemTypeId];
  if (itemType === undefined) {
    throw cursor.invalid(`${field}.type`, `is ${itemTypeId}, not a GGUF value type (0..12)`, itemTypeId, cursor.pos - 4);
  }
  if (itemType === 'array' && !allowNestedArrays) {
    throw cursor.invalid(`${field}.type`, 'is an array of arrays, which llama.cpp cannot read', itemTypeId, cursor.pos - 4);
  }
  if (itemType === 'array' && depth + 1 >= GGUF_MAX_ARRAY_DEPTH) {
    throw cursor.invalid(`${field}.type`, `nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH} levels`, depth + 1, cursor.pos - 4);
  }
  const lengthAt = cursor.pos;
  const length = cursor.length(`${field}.length`);
  if (length > GGUF_MAX_ARRAY_ELEMENTS) {
    throw cursor.invalid(
      `${field}.length`,
      `is ${length}, over the limit of ${GGUF_MAX_ARRAY_ELEMENTS} elements`,
      length,
      lengthAt,
    );
  }
  const itemSize = FIXED_VALUE_SIZES[itemType];
  const minimumBytes = length * (itemSize ?? (itemType === 'string' ? 8 : 12));
  if (minimumBytes > cursor.remaining) {
    throw cursor.invalid(
      `${field}.length`,
      `is ${length}, needing at least ${minimumBytes} bytes but only ${cursor.remaining} are left in the file`,
      length,
      lengthAt,
    );
  }
  const items: GgufValue[] = new Array<GgufValue>(length);
  if (itemSize !== undefined) {
    cursor.need(minimumBytes, field);
    for (let i = 0; i < length; i++) items[i] = cursor.fixed(itemType);
  } else if (itemType === 'string') {
    for (let i = 0; i < length; i++) items[i] = cursor.string(field, i);
  } else {
    for (let i = 0; i < length; i++) items[i] = readArray(cursor, `${field}[${i}]`, depth + 1, allowNestedArrays);
  }
  return { itemType, items };
}

function readAlignment(cursor: HeaderCursor, metadata: Map<string, GgufMetadataEntry>): number {
  const entry = metadata.get('general.alignment');
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (entry.type !== 'uint32') {
    throw cursor.invalid('general.alignment', `must be a uint32 but is a ${entry.type}`, entry.type);
  }
  const alignment = entry.value as number;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
    throw cursor.invalid('general.alignment', `is ${alignment}, not a power of two`, alignment);
  }
  return alignment;
}

function readTensorInfo(cursor: HeaderCursor, index: number): GgufTensorInfo {
  const field = `tensors[${index}]`;
  const nameAt = cursor.pos;
  const name = cursor.string(`${field}.name`);
  if (name.length === 0) throw cursor.invalid(`${field}.name`, 'is empty', name, nameAt);
  if (name.includes('\0')) throw cursor.invalid(`${field}.name`, `${JSON.stringify(name)} contains a NUL byte`, name, nameAt);
  const nameBytes = cursor.pos - nameAt - 8;
  if (nameBytes >= GGML_MAX_NAME) {
    throw cursor.invalid(
      `${field}.name`,
      `${JSON.stringify(name)} is ${nameBytes} bytes long, over ggml's limit of ${GGML_MAX_NAME - 1}`,
      name,
      nameAt,
    );
  }

  const dimCount = cursor.u32(`${field}.dims`);
  if (dimCount < 1 || dimCount > GGML_MAX_DIMS) {
    throw cursor.invalid(
      `${field}.dims`,
      `of tensor ${JSON.stringify(name)} is ${dimCount}, expected 1 to ${GGML_MAX_DIMS}`,
      dimCount,
      cursor.pos - 4,
    );
  }
  const dims: bigint[] = [];
  let elements = 1n;
  for (let j = 0; j < dimCount; j++) {
    const dimAt = cursor.pos;
    const dim = cursor.i64(`${field}.shape[${j}]`);
    if (dim <= 0n) {
      throw cursor.invalid(`${field}.shape[${j}]`, `of tensor ${JSON.stringify(name)} is ${dim}, must be positive`, dim, dimAt);
    }
    elements *= dim;
    if (elements >= INT64_MAX) {
      throw cursor.invalid(
        `${field}.shape`,
        `of tensor ${JSON.stringify(name)} has ${elements} or more elements, over the int64 limit`,
        dim,
        dimAt,
      );
    }
    dims.push(dim);
  }

  const typeAt = cursor.pos;
  const typeId = cursor.i32(`${field}.type`);
  const type = GGML_TYPES_BY_ID.get(typeId);
  if (type === undefined) {
    throw cursor.invalid(
      `${field}.type`,
      `of tensor ${JSON.stringify(name)} is ${typeId}, not a ggml type id that GGUF files may hold`,
      typeId,
      typeAt,
    );
  }
  if (dims[0]! % BigInt(type.blockSize) !== 0n) {
    throw cursor.invalid(
      `${field}.shape[0]`,
      `of tensor ${JSON.stringify(name)} is ${dims[0]}, not a multiple of the ${type.name} block size ${type.blockSize}`,
      dims[0],
      typeAt,
    );
  }
  const byteSize = (elements / BigInt(type.blockSize)) * BigInt(type.typeSize);
  if (byteSize > BigInt(cursor.fileSize)) {
    throw cursor.invalid(
      `${field}.shape`,
      `of tensor ${JSON.stringify(name)} needs ${byteSize} bytes, more than the whole file (${cursor.fileSize})`,
      byteSize,
      typeAt,
    );
  }
  const offsetAt = cursor.pos;
  const offset = cursor.length(`${field}.offset`);
  if (offset > cursor.fileSize) {
    throw cursor.invalid(
      `${field}.offset`,
      `of tensor ${JSON.stringify(name)} is ${offset}, past the end of the file`,
      offset,
      offsetAt,
    );
  }
  return {
    name,
    shape: dims.map(Number),
    type: type.name,
    typeId,
    offset,
    // exact: elements <= byteSize * 256 / typeSize, and byteSize <= fileSize
    elementCount: Number(elements),
    byteSize: Number(byteSize),
  };
}

/**
 * gguf.cpp requires tensor data to be packed in table order: each offset equals the end of the
 * previous tensor rounded up to the alignment. That also rules out overlaps and gaps. The model
 * loader then requires each tensor's range to lie inside the file.
 */
function checkTensorLayout(
  cursor: HeaderCursor,
  tensors: readonly GgufTensorInfo[],
  alignment: number,
  dataOffset: number,
): void {
  let expected = 0;
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i]!;
    const field = `tensors[${i}].offset`;
    const quoted = JSON.stringify(tensor.name);
    if (tensor.offset % alignment !== 0) {
      throw cursor.invalid(
        field,
        `of tensor ${quoted} is ${tensor.offset}, not a multiple of the alignment ${alignment}`,
        tensor.offset,
      );
    }
    if (tensor.offset < expected) {
      throw cursor.invalid(
        field,
        `of tensor ${quoted} is ${tensor.offset}, overlapping the previous tensor (which ends at ${expected})`,
        tensor.offset,
      );
    }
    if (tensor.offset > expected) {
      throw cursor.invalid(
        field,
        `of tensor ${quoted} is ${tensor.offset}, expected ${expected}: tensor data must be packed in table order`,
        tensor.offset,
      );
    }
    const end = dataOffset + tensor.offset + tensor.byteSize;
    if (end > cursor.fileSize) {
      throw cursor.invalid(
        field,
        `of tensor ${quoted}: its data [${dataOffset + tensor.offset}, ${end}) extends past the end of the file ` +
          `(${cursor.fileSize} bytes)`,
        tensor.offset,
      );
    }
    expected = alignUp(tensor.offset + tensor.byteSize, alignment);
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

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

// ---------------------------------------------------------------------------------------------
// Half-precision conversion (for writing F16 tensors)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of a number, rounded to nearest even (overflow gives infinity, NaN stays NaN). */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  return float16FromFloat32Bits(u32Scratch[0]!);
}

function float16FromFloat32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // too small even for a subnormal: signed zero
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) !== 0)) half += 1;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0)) half += 1; // may carry into the exponent: still correct
  return sign | half;
}

/** Converts a Float32Array to binary16 bits (into `out` when given). */
export function encodeFloat16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16FromFloat32Bits(bits[i]!);
  return out;
}

/** The number a binary16 bit pattern stands for. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
