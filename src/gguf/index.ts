/**
 * GGUF in pure TypeScript (no native code): a reader that validates a header before llama.cpp sees the
 * file, a streaming writer, and `inspect()`, a model's metadata without loading tensors.
 */
export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_STRING_LENGTH,
  GGUF_MAX_ARRAY_ELEMENTS,
  GGML_MAX_NAME,
  GGML_MAX_DIMS,
  GGUF_MAX_ARRAY_DEPTH,
  isGgufArray,
  ggmlType,
  ggmlTensorBytes,
  type GgufValueType,
  type GgufArray,
  type GgufValue,
  type GgufMetadataEntry,
  type GgmlTypeInfo,
  type GgmlTypeName,
  type GgufInspection,
} from './types.js';
export type { GgufTensorInfo, GgufHeader, GgufParseOptions, GgufReadOptions } from './header.js';
export { encodeGgufString } from './strings.js';
export { parseGgufHeader, readGgufHeader } from './reader.js';
export { writeGguf, type GgufTensorData, type GgufTensorToWrite, type GgufFileContents, type GgufWriteResult } from './writer.js';
export { float32ToFloat16Bits, encodeFloat16, float16BitsToFloat32 } from './float16.js';
export { fileTypeName, inspect, inspectGgufHeader } from './inspect.js';
