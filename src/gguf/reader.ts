/**
 * The reader: parses the header, every key/value and the tensor-info table, reading only the header region
 * of the file (never tensor data), and validates everything that ggml's gguf.cpp and llama.cpp's model
 * loader would otherwise assert on or reject, so that an untrusted file is turned away with an
 * `INVALID_GGUF` error before llama.cpp sees it. The layout rules mirror `gguf_init_from_reader` in
 * deps/llama.cpp/ggml/src/gguf.cpp.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString } from '../validate.js';
import { type GgufHeader, type GgufParseOptions, type GgufReadOptions, type GgufTensorInfo, HeaderCursor, NeedMoreBytes, invalidGguf } from './header.js';
import { FIXED_HEADER_SIZE, FIXED_VALUE_SIZES, GGML_MAX_DIMS, GGML_MAX_NAME, GGML_TYPES_BY_ID, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_ARRAY_DEPTH, GGUF_MAX_ARRAY_ELEMENTS, type GgufArray, type GgufMetadataEntry, type GgufValue, type GgufValueType, INT64_MAX, MIN_KV_BYTES, MIN_TENSOR_INFO_BYTES, VALUE_TYPES } from './types.js';

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

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
