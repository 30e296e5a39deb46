/**
 * GGUF value and ggml tensor types, and the format's limits (shared by the reader and the writer).
 */


export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Same limits as gguf.cpp (GGUF_MAX_STRING_LENGTH, GGUF_MAX_ARRAY_ELEMENTS). */
export const GGUF_MAX_STRING_LENGTH = 1024 * 1024 * 1024;
export const GGUF_MAX_ARRAY_ELEMENTS = 1024 * 1024 * 1024;
/** ggml's GGML_MAX_NAME includes the terminating NUL: names are at most 63 bytes. */
export const GGML_MAX_NAME = 64;
export const GGML_MAX_DIMS = 4;
/** Nesting limit for arrays of arrays (only read when `allowNestedArrays` is set). */
export const GGUF_MAX_ARRAY_DEPTH = 8;

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const FIXED_HEADER_SIZE = 24; // magic, version, tensor count, kv count
export const INT64_MAX = (1n << 63n) - 1n;
/** Smallest possible encodings, used to reject absurd counts before parsing them. */
export const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length, one key byte, value type, one-byte value
export const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length, one name byte, n_dims, one dim, type, offset

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

export const VALUE_TYPES: readonly GgufValueType[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];
export const VALUE_TYPE_IDS = new Map<GgufValueType, number>(VALUE_TYPES.map((type, id) => [type, id]));
export const FIXED_VALUE_SIZES: Partial<Record<GgufValueType, number>> = {
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

export const GGML_TYPES_BY_ID = new Map<number, GgmlTypeInfo>();
export const GGML_TYPES_BY_NAME = new Map<string, GgmlTypeInfo>();
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

/** Metadata read from a GGUF header without loading tensors (see inspect.ts). */
export interface GgufInspection {
  path: string;
  fileSize: number;
  ggufVersion: number;
  architecture: string;
  name?: string;
  /** Parameter count, from the tensor shapes. */
  parameterCount: number;
  layers: number;
  heads: number;
  kvHeads: number;
  embeddingSize: number;
  feedForwardSize?: number;
  contextLength: number;
  vocabularySize: number;
  /** `general.file_type` as a name ("F32", "F16", "Q8_0", "Q4_0", "Q4_K_M", ...), or "unknown". */
  fileType: string;
  /** Most common tensor type by bytes ("F32", "Q4_0", ...). */
  quantization: string;
  keyLength: number;
  valueLength: number;
  expertCount?: number;
  chatTemplate?: string;
  tensorCount: number;
  tensorBytes: number;
  /** Scalar metadata (arrays are summarised as `{ type, length }`). */
  metadata: Record<string, unknown>;
}
