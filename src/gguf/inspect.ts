/**
 * inspect(): what a GGUF model is, read from its header without loading it, and a check of the
 * llama-level hyperparameters whose bad values make llama.cpp divide by zero or abort on an assert
 * (GGML_ASSERT in llama_model_base::load_hparams, the vocabulary loader) rather than fail cleanly.
 * Architectures llama.cpp does not know are not an error here; the loader reports them.
 */
import { ModelpoolError } from '../errors.js';
import { nonEmptyString } from '../validate.js';
import type { GgufHeader } from './header.js';
import { readGgufHeader } from './reader.js';
import { isGgufArray, type GgufInspection, type GgufMetadataEntry, type GgufValue } from './types.js';

/** llama-hparams.h */
const LLAMA_MAX_LAYERS = 512;
const LLAMA_MAX_EXPERTS = 1024;
const UINT32_MAX = 0xffff_ffff;
/** llama_model's LLAMA_ROPE_SCALING_TYPES; any other value aborts the load on an assert. */
const ROPE_SCALING_TYPES = new Set(['none', 'linear', 'yarn', 'longrope']);
const INTEGER_TYPES = new Set(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64']);

/** `enum llama_ftype` (llama.h) by value, named as in the enum without LLAMA_FTYPE_(ALL_|MOSTLY_). */
const FILE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K',
  11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M',
  18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S',
  25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M',
  32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE', 39: 'NVFP4', 40: 'Q1_0', 41: 'Q2_0',
};
const LLAMA_FTYPE_GUESSED = 1024;

/** The name of a `general.file_type` value ("Q4_K_M"), or "unknown". */
export function fileTypeName(fileType: number | undefined): string {
  if (fileType === undefined) return 'unknown';
  return FILE_TYPE_NAMES[fileType & ~LLAMA_FTYPE_GUESSED] ?? 'unknown';
}

/**
 * Reads a GGUF file's header and describes the model. Throws MODEL_NOT_FOUND when the file does not
 * exist and INVALID_GGUF (naming the field or key) when the file or its hyperparameters are bad.
 */
export async function inspect(path: string): Promise<GgufInspection> {
  nonEmptyString('path', path);
  const header = await readGgufHeader(path);
  return inspectGgufHeader(header, path);
}

/** inspect() on a header already read (see readGgufHeader / parseGgufHeader). */
export function inspectGgufHeader(header: GgufHeader, path: string): GgufInspection {
  const keys = new HyperparameterReader(header, path);

  const architecture = keys.string('general.architecture', true);
  if (architecture.length === 0) throw keys.invalid('general.architecture', 'is empty', architecture);
  // llama.cpp reads it as a C string: "llama\0x" would be checked as one model and loaded as another
  if (architecture.includes('\0')) throw keys.invalid('general.architecture', 'contains a NUL byte', architecture);
  const arch = (name: string): string => `${architecture}.${name}`;

  // A file with no keys under its architecture's name cannot be checked here: llama.cpp either does not
  // know the architecture (the loader reports UNSUPPORTED_ARCHITECTURE) or fails cleanly on missing keys.
  const hasOwnKeys = [...header.metadata.keys()].some((key) => key.startsWith(`${architecture}.`));
  const { layers, contextLength, embeddingSize, feedForward, heads, kvHeads, keyLength, valueLength, expertCount } =
    hasOwnKeys ? checkHyperparameters(keys, arch) : UNCHECKED_HYPERPARAMETERS;

  const vocabularySize = checkVocabulary(keys);

  const fileType = keys.uint('general.file_type', false, 0);
  const name = keys.string('general.name', false);
  const chatTemplate = keys.string('tokenizer.chat_template', false);

  let parameterCount = 0;
  let tensorBytes = 0;
  const bytesByType = new Map<string, number>();
  for (const tensor of header.tensors) {
    parameterCount += tensor.elementCount;
    tensorBytes += tensor.byteSize;
    bytesByType.set(tensor.type, (bytesByType.get(tensor.type) ?? 0) + tensor.byteSize);
  }
  let quantization = 'unknown';
  let mostBytes = -1;
  for (const [type, bytes] of bytesByType) {
    if (bytes > mostBytes) {
      quantization = type;
      mostBytes = bytes;
    }
  }

  const inspection: GgufInspection = {
    path,
    fileSize: header.fileSize,
    ggufVersion: header.version,
    architecture,
    parameterCount,
    layers,
    heads,
    kvHeads,
    embeddingSize,
    contextLength,
    vocabularySize,
    fileType: fileTypeName(fileType),
    quantization,
    keyLength,
    valueLength,
    tensorCount: header.tensors.length,
    tensorBytes,
    metadata: summariseMetadata(header),
  };
  if (name !== undefined) inspection.name = name;
  if (feedForward !== undefined) inspection.feedForwardSize = Math.max(...feedForward);
  if (expertCount !== undefined) inspection.expertCount = expertCount;
  if (chatTemplate !== undefined) inspection.chatTemplate = chatTemplate;
  return inspection;
}

interface Hyperparameters {
  layers: number;
  contextLength: number;
  embeddingSize: number;
  feedForward: number[] | undefined;
  heads: number;
  kvHeads: number;
  keyLength: number;
  valueLength: number;
  expertCount: number | undefined;
}

const UNCHECKED_HYPERPARAMETERS: Hyperparameters = {
  layers: 0, contextLength: 0, embeddingSize: 0, feedForward: undefined, heads: 0, kvHeads: 0, keyLength: 0,
  valueLength: 0, expertCount: undefined,
};

function checkHyperparameters(keys: HyperparameterReader, arch: (name: string) => string): Hyperparameters {
  const layers = keys.uint(arch('block_count'), true, 1, LLAMA_MAX_LAYERS);
  const contextLength = keys.uint(arch('context_length'), true, 1);
  const embeddingSize = keys.uint(arch('embedding_length'), true, 1);
  const feedForward = keys.perLayer(arch('feed_forward_length'), layers);

  const { heads, kvHeads, headCount0 } = checkAttentionHeads(keys, arch, layers);
  const { keyLength, valueLength } = checkHeadSizes(keys, arch, embeddingSize, headCount0);
  const expertCount = checkExperts(keys, arch, layers);

  const nextn = keys.uint(arch('nextn_predict_layers'), false, 0);
  if (nextn !== undefined && nextn > layers) {
    throw keys.invalid(arch('nextn_predict_layers'), `is ${nextn}, more than the ${layers} blocks`, nextn);
  }
  const ropeScaling = keys.string(arch('rope.scaling.type'), false);
  if (ropeScaling !== undefined && !ROPE_SCALING_TYPES.has(ropeScaling)) {
    throw keys.invalid(
      arch('rope.scaling.type'),
      `is ${JSON.stringify(ropeScaling)}, expected one of ${[...ROPE_SCALING_TYPES].join(', ')}`,
      ropeScaling,
    );
  }

  return { layers, contextLength, embeddingSize, feedForward, heads, kvHeads, keyLength, valueLength, expertCount };
}

/**
 * head_count and head_count_kv may be one number or one per layer. Zero kv heads in a per-layer
 * array mark non-attention layers of hybrid models (Jamba, LFM2); elsewhere they must be positive
 * and divide the layer's head count (llama.cpp computes n_head / n_head_kv).
 */
function checkAttentionHeads(
  keys: HyperparameterReader,
  arch: (name: string) => string,
  layers: number,
): { heads: number; kvHeads: number; headCount0: number } {
  const headKey = arch('attention.head_count');
  const kvKey = arch('attention.head_count_kv');
  const headCounts = keys.perLayer(headKey, layers);
  if (headCounts === undefined) return { heads: 0, kvHeads: 0, headCount0: 0 };
  const heads = Math.max(...headCounts);
  if (heads === 0) throw keys.invalid(headKey, 'is 0', 0);

  const kvCounts = keys.perLayer(kvKey, layers) ?? headCounts;
  // head_count_kv defaults to head_count, per layer when head_count is per layer
  const kvIsArray = keys.entry(kvKey) === undefined ? keys.isArray(headKey) : keys.isArray(kvKey);
  for (let layer = 0; layer < layers; layer++) {
    const kv = kvCounts[layer]!;
    const head = headCounts[layer]!;
    const field = kvIsArray ? `${kvKey}[${layer}]` : kvKey;
    if (kv === 0) {
      if (!kvIsArray) throw keys.invalid(kvKey, 'is 0', 0);
      continue;
    }
    if (head === 0 || head % kv !== 0) {
      throw keys.invalid(field, `is ${kv}, which does not divide the ${head} attention heads of layer ${layer}`, kv);
    }
  }
  return { heads, kvHeads: Math.max(...kvCounts), headCount0: headCounts[0]! };
}

function checkHeadSizes(
  keys: HyperparameterReader,
  arch: (name: string) => string,
  embeddingSize: number,
  headCount0: number,
): { keyLength: number; valueLength: number } {
  // llama.cpp: head sizes default to n_embd / n_head(0), and are 0 for models without attention.
  if (headCount0 === 0) {
    return {
      keyLength: keys.uint(arch('attention.key_length'), false, 0) ?? 0,
      valueLength: keys.uint(arch('attention.value_length'), false, 0) ?? 0,
    };
  }
  const keyLength = keys.uint(arch('attention.key_length'), false, 1);
  const valueLength = keys.uint(arch('attention.value_length'), false, 1);
  if ((keyLength === undefined || valueLength === undefined) && embeddingSize % headCount0 !== 0) {
    throw keys.invalid(
      arch('embedding_length'),
      `is ${embeddingSize}, not divisible by the ${headCount0} attention heads ` +
        `(and ${arch('attention.key_length')}/value_length are not given)`,
      embeddingSize,
    );
  }
  const fallback = embeddingSize / headCount0;
  return { keyLength: keyLength ?? fallback, valueLength: valueLength ?? fallback };
}

/** The GGML_ASSERTs on expert counts in llama_model_base::load_hparams. */
function checkExperts(keys: HyperparameterReader, arch: (name: string) => string, layers: number): number | undefined {
  const countKey = arch('expert_count');
  const usedKey = arch('expert_used_count');
  const groupKey = arch('expert_group_count');
  const groupUsedKey = arch('expert_group_used_count');
  const expertCount = keys.uint(countKey, false, 0, LLAMA_MAX_EXPERTS);
  const experts = expertCount ?? 0;
  const used = Math.max(0, ...(keys.perLayer(usedKey, layers) ?? [0]));
  const groups = keys.uint(groupKey, false, 0) ?? 0;
  const groupsUsed = keys.uint(groupUsedKey, false, 0) ?? 0;
  if (used > experts) throw keys.invalid(usedKey, `is ${used}, more than the ${experts} experts`, used);
  if (experts > 0) {
    if (used === 0) throw keys.invalid(usedKey, `is 0 (or missing) but the model has ${experts} experts`, used);
    if (groups >= experts) throw keys.invalid(groupKey, `is ${groups}, not fewer than the ${experts} experts`, groups);
    if (groups > 1) {
      if (experts % groups !== 0) {
        throw keys.invalid(groupKey, `is ${groups}, which does not divide the ${experts} experts`, groups);
      }
      if (groupsUsed === 0 || groupsUsed >= groups) {
        throw keys.invalid(groupUsedKey, `is ${groupsUsed}, expected 1 to ${groups - 1}`, groupsUsed);
      }
    }
  } else if (groups !== 0) {
    throw keys.invalid(groupKey, `is ${groups} but the model has no experts`, groups);
  }
  return expertCount;
}

/**
 * tokenizer.ggml.tokens must be a non-empty string array without duplicates as llama.cpp sees them
 * (it asserts that every token maps to a distinct id); scores and token types must match it in length; BOS/EOS ids must
 * be inside it. A vocabulary-less model (tokenizer.ggml.model "none") has size 0.
 */
function checkVocabulary(keys: HyperparameterReader): number {
  const tokenizerModel = keys.string('tokenizer.ggml.model', false);
  const tokensEntry = keys.entry('tokenizer.ggml.tokens');
  if (tokensEntry === undefined && tokenizerModel === 'none') return 0;
  const tokens = keys.array('tokenizer.ggml.tokens', true, ['string']);
  if (tokens.length === 0) throw keys.invalid('tokenizer.ggml.tokens', 'is empty', 0);
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    // llama.cpp reads tokens as C strings (cut at the first NUL) and renames empty ones
    const token = tokens[i] as string;
    const nul = token.indexOf('\0');
    const cString = nul === -1 ? token : token.slice(0, nul);
    const text = cString === '' ? `[EMPTY_${i}]` : cString;
    if (seen.has(text)) {
      throw keys.invalid(
        `tokenizer.ggml.tokens[${i}]`,
        `${JSON.stringify(text)} appears twice (llama.cpp aborts on duplicate tokens)`,
        text,
      );
    }
    seen.add(text);
  }
  const vocabularySize = tokens.length;
  const scores = keys.array('tokenizer.ggml.scores', false, ['float32', 'int32']);
  if (scores !== undefined && scores.length !== vocabularySize) {
    throw keys.invalid('tokenizer.ggml.scores', `has ${scores.length} entries for ${vocabularySize} tokens`, scores.length);
  }
  const tokenTypes = keys.array('tokenizer.ggml.token_type', false, ['int32']);
  if (tokenTypes !== undefined && tokenTypes.length !== vocabularySize) {
    throw keys.invalid(
      'tokenizer.ggml.token_type',
      `has ${tokenTypes.length} entries for ${vocabularySize} tokens`,
      tokenTypes.length,
    );
  }
  for (const key of ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id']) {
    const id = keys.integer(key);
    // UINT32_MAX (-1 as int32) means "no such token"
    if (id !== undefined && id !== UINT32_MAX && id !== -1 && (id < 0 || id >= vocabularySize)) {
      throw keys.invalid(key, `is ${id}, outside the vocabulary of ${vocabularySize} tokens`, id);
    }
  }
  return vocabularySize;
}

function summariseMetadata(header: GgufHeader): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  for (const entry of header.metadata.values()) {
    const value = isGgufArray(entry.value)
      ? { type: entry.value.itemType, length: entry.value.items.length }
      : typeof entry.value === 'bigint'
        ? Number.isSafeInteger(Number(entry.value))
          ? Number(entry.value)
          : entry.value.toString()
        : entry.value;
    // defineProperty: a key such as "__proto__" must become a plain property
    Object.defineProperty(summary, entry.key, { value, enumerable: true, writable: true, configurable: true });
  }
  return summary;
}

/** Typed access to metadata keys; every failure is INVALID_GGUF naming the key. */
class HyperparameterReader {
  constructor(
    private readonly header: GgufHeader,
    private readonly path: string,
  ) {}

  invalid(field: string, message: string, value?: unknown): ModelpoolError {
    return new ModelpoolError('INVALID_GGUF', `Invalid GGUF file ${this.path}: ${field} ${message}`, {
      field,
      value,
      details: { path: this.path },
    });
  }

  entry(key: string): GgufMetadataEntry | undefined {
    return this.header.metadata.get(key);
  }

  isArray(key: string): boolean {
    return this.entry(key)?.type === 'array';
  }

  string(key: string, required: true): string;
  string(key: string, required: false): string | undefined;
  string(key: string, required: boolean): string | undefined {
    const entry = this.entry(key);
    if (entry === undefined) {
      if (required) throw this.invalid(key, 'is missing');
      return undefined;
    }
    if (entry.type !== 'string') throw this.invalid(key, `must be a string but is a ${describeType(entry)}`, entry.type);
    return entry.value as string;
  }

  /** Any integer-typed scalar, as a number (64-bit values beyond 2^53 are rounded; callers range-check). */
  integer(key: string): number | undefined {
    const entry = this.entry(key);
    if (entry === undefined) return undefined;
    if (!INTEGER_TYPES.has(entry.type)) throw this.invalid(key, `must be an integer but is a ${describeType(entry)}`, entry.type);
    return Number(entry.value);
  }

  uint(key: string, required: true, min: number, max?: number): number;
  uint(key: string, required: false, min: number, max?: number): number | undefined;
  uint(key: string, required: boolean, min: number, max = UINT32_MAX): number | undefined {
    const value = this.integer(key);
    if (value === undefined) {
      if (required) throw this.invalid(key, 'is missing');
      return undefined;
    }
    if (value < min || value > max) throw this.invalid(key, `is ${value}, expected ${min} to ${max}`, value);
    return value;
  }

  /** A value given once for all layers or as an array of one unsigned integer per layer. */
  perLayer(key: string, layers: number): number[] | undefined {
    const entry = this.entry(key);
    if (entry === undefined) return undefined;
    if (!isGgufArray(entry.value)) return new Array<number>(layers).fill(this.uint(key, true, 0));
    const { itemType, items } = entry.value;
    if (!INTEGER_TYPES.has(itemType)) throw this.invalid(key, `must hold integers but holds ${itemType} values`, itemType);
    if (items.length !== layers) throw this.invalid(key, `has ${items.length} entries for ${layers} layers`, items.length);
    return items.map((item, layer) => {
      const value = Number(item);
      if (value < 0 || value > UINT32_MAX) {
        throw this.invalid(`${key}[${layer}]`, `is ${value}, expected 0 to ${UINT32_MAX}`, value);
      }
      return value;
    });
  }

  array(key: string, required: true, itemTypes: readonly string[]): GgufValue[];
  array(key: string, required: false, itemTypes: readonly string[]): GgufValue[] | undefined;
  array(key: string, required: boolean, itemTypes: readonly string[]): GgufValue[] | undefined {
    const entry = this.entry(key);
    if (entry === undefined) {
      if (required) throw this.invalid(key, 'is missing');
      return undefined;
    }
    if (!isGgufArray(entry.value) || !itemTypes.includes(entry.value.itemType)) {
      throw this.invalid(key, `must be an array of ${itemTypes.join(' or ')} but is a ${describeType(entry)}`, entry.type);
    }
    return entry.value.items;
  }
}

function describeType(entry: GgufMetadataEntry): string {
  return isGgufArray(entry.value) ? `${entry.value.itemType} array` : entry.type;
}
