/**
 * The parsed header's shape and the bounds-checked cursor the reader walks it with.
 */
import { ModelpoolError } from '../errors.js';
import { decodeGgufString } from './strings.js';
import { GGUF_MAX_STRING_LENGTH, type GgmlTypeName, type GgufMetadataEntry, type GgufValue, type GgufValueType } from './types.js';


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
export class NeedMoreBytes {
  constructor(readonly needed: number) {}
}

export function invalidGguf(source: string, field: string, message: string, value?: unknown, offset?: number): ModelpoolError {
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
export class HeaderCursor {
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
