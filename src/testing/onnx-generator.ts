/**
 * ONNX test models: tiny embedding and classification models in the shape of Hugging Face BERT exports
 * (inputs `input_ids`, `attention_mask`, optionally `token_type_ids`; output `last_hidden_state`, a pooled
 * `sentence_embedding`, or `logits`), with seeded weights, a WordPiece `tokenizer.json` and a
 * `config.json` beside them, for testing the ONNX provider without downloading a model. The weights are
 * returned too, so a test can compute what the model must output by hand.
 *
 * The ONNX file is written by a small protobuf encoder below (ONNX's schema, onnx.proto, is stable; the
 * field numbers are its own), so neither Python nor the onnx package is needed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { invalidArgument } from '../errors.js';
import { integer, nonEmptyString, optionalBoolean, optionalStringArray } from '../validate.js';

// ---------------------------------------------------------------------------------------------------------
// The protobuf encoder

/** Protobuf wire types. */
const VARINT = 0;
const FIXED32 = 5;
const LENGTH = 2;

/** Builds one protobuf message: fields appended in order. */
class ProtoWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  #push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }
  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }
  #varint(value: number | bigint): void {
    // Negative int64 values are written as their 64-bit two's complement (ten bytes), as protobuf does.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v === 0n ? byte : byte | 0x80);
    } while (v !== 0n);
    this.#push(Uint8Array.from(out));
  }
  varint(field: number, value: number | bigint): this {
    this.#tag(field, VARINT);
    this.#varint(value);
    return this;
  }
  float(field: number, value: number): this {
    this.#tag(field, FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.#push(bytes);
    return this;
  }
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, LENGTH);
    this.#varint(value.length);
    this.#push(value);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The ONNX graph description and its encoding

/** ONNX TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

/** An attribute of a node: a number is an INT, a float (`{ float }`) a FLOAT, an array of integers INTS, a string STRING. */
export type OnnxAttributeValue = number | { float: number } | number[] | string;

export interface OnnxNodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, OnnxAttributeValue>;
}

export interface OnnxInitializerSpec {
  name: string;
  dims: number[];
  /** Float32Array: a FLOAT tensor; BigInt64Array: an INT64 tensor (written as raw_data, little-endian). */
  data: Float32Array | BigInt64Array;
  /**
   * Stored outside the model: the file (relative to the model's folder) and the offset where the caller
   * writes `data`'s bytes; the model holds only their location and length.
   */
  external?: { location: string; offset: number };
}

/** A graph input or output: its element type and its shape (a string is a symbolic dimension). */
export interface OnnxValueSpec {
  name: string;
  elemType: number;
  shape: Array<number | string>;
}

export interface OnnxModelSpec {
  nodes: OnnxNodeSpec[];
  initializers: OnnxInitializerSpec[];
  inputs: OnnxValueSpec[];
  outputs: OnnxValueSpec[];
  /** Default 'modelpool-test'. */
  graphName?: string;
  /** Default 17 (with IR version 8). */
  opset?: number;
  /** Default 8. */
  irVersion?: number;
}

// onnx.proto AttributeProto.AttributeType
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

function encodeAttribute(name: string, value: OnnxAttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') return w.varint(3, value).varint(20, ATTRIBUTE_INT);
  if (typeof value === 'string') return w.string(4, value).varint(20, ATTRIBUTE_STRING);
  if (Array.isArray(value)) {
    for (const v of value) w.varint(8, v);
    return w.varint(20, ATTRIBUTE_INTS);
  }
  return w.float(2, value.float).varint(20, ATTRIBUTE_FLOAT);
}

function encodeTensor(tensor: OnnxInitializerSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of tensor.dims) w.varint(1, d);
  w.varint(2, tensor.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  w.string(8, tensor.name);
  if (tensor.external !== undefined) {
    const entry = (key: string, value: string): ProtoWriter => new ProtoWriter().string(1, key).string(2, value);
    w.message(13, entry('location', tensor.external.location));
    w.message(13, entry('offset', String(tensor.external.offset)));
    w.message(13, entry('length', String(tensor.data.byteLength)));
    return w.varint(14, 1); // data_location: EXTERNAL
  }
  // raw_data is little-endian; typed arrays are in the machine's order, which is little-endian on every
  // platform Node.js ships for.
  w.bytes(9, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  return w;
}

function encodeValueInfo(value: OnnxValueSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of value.shape) shape.message(1, typeof d === 'number' ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().varint(1, value.elemType).message(2, shape);
  return new ProtoWriter().string(1, value.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** The bytes of an ONNX ModelProto holding `spec`'s graph. */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const graph = new ProtoWriter();
  spec.nodes.forEach((node, index) => {
    const n = new ProtoWriter();
    for (const input of node.inputs) n.string(1, input);
    for (const output of node.outputs) n.string(2, output);
    n.string(3, node.name ?? `${node.opType.toLowerCase()}_${index}`);
    n.string(4, node.opType);
    for (const [name, value] of Object.entries(node.attributes ?? {})) n.message(5, encodeAttribute(name, value));
    graph.message(1, n);
  });
  graph.string(2, spec.graphName ?? 'modelpool-test');
  for (const tensor of spec.initializers) graph.message(5, encodeTensor(tensor));
  for (const input of spec.inputs) graph.message(11, encodeValueInfo(input));
  for (const output of spec.outputs) graph.message(12, encodeValueInfo(output));
  return new ProtoWriter()
    .varint(1, spec.irVersion ?? 8)
    .string(2, 'modelpool-test')
    .string(3, '1')
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').varint(2, spec.opset ?? 17))
    .finish();
}

// ---------------------------------------------------------------------------------------------------------
// The tokenizer

/** The special tokens every generated vocabulary starts with, ids 0..4. */
export const ONNX_TEST_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** The words of the default vocabulary, after the special tokens. */
export const ONNX_TEST_WORDS: readonly string[] = [
  'the', 'a', 'cat', 'dog', 'sat', 'on', 'mat', 'hello', 'world', 'good', 'bad', 'great', 'terrible',
  'movie', 'film', 'is', 'was', 'very', 'not', 'i', 'love', 'hate', 'this', 'that', 'it', 'and', 'once',
  'upon', 'time', 'there', 'play', '##s', '##ing', '##ed', '##ly', ',', '.', '!', '?', "'",
];

/**
 * A Hugging Face `tokenizer.json` for a lower-casing BERT WordPiece tokenizer over `vocabulary` (ids by
 * position; the first five must be {@link ONNX_TEST_SPECIAL_TOKENS}): `[CLS] … [SEP]` around a text,
 * `[CLS] a [SEP] b [SEP]` around a pair with token types 0 and 1.
 */
export function wordPieceTokenizerJson(vocabulary: readonly string[]): Record<string, unknown> {
  ONNX_TEST_SPECIAL_TOKENS.forEach((token, id) => {
    if (vocabulary[id] !== token) throw invalidArgument(`vocabulary[${id}]`, `the special token ${token}`, vocabulary[id]);
  });
  const id = (token: string): number => vocabulary.indexOf(token);
  const special = (token: string, typeId: number): Record<string, unknown> => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (name: 'A' | 'B', typeId: number): Record<string, unknown> => ({ Sequence: { id: name, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ONNX_TEST_SPECIAL_TOKENS.map((content, i) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, i) => [token, i])),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The test models

export type OnnxTestModelKind = 'embedding' | 'classifier';

export interface OnnxTestModelOptions {
  /** 'embedding' (output `last_hidden_state`) or 'classifier' (output `logits`). Default 'embedding'. */
  kind?: OnnxTestModelKind;
  /** Width of the embeddings. Default 16. */
  hiddenSize?: number;
  /** After the embedding lookup, a dense layer: tanh(x · W + b). Default false. */
  layer?: boolean;
  /** A `token_type_ids` input, whose embedding (a second table of 2 rows) is added to the word's. Default false. */
  tokenTypes?: boolean;
  /**
   * Embedding models: a second output, `sentence_embedding` [batch, hidden], the mean of `last_hidden_state`
   * over the attention mask computed in the graph (as sentence-transformers exports have). Default false.
   */
  pooledOutput?: boolean;
  /** Classifier labels (config.json `id2label`). Default ['negative', 'positive']. */
  labels?: string[];
  /** config.json `max_position_embeddings`. Default 512. */
  maxLength?: number;
  /** Words after the special tokens. Default {@link ONNX_TEST_WORDS}. */
  words?: string[];
  /** Seed of the weights: the same options give byte-identical files. Default 1. */
  seed?: number;
  /** Write config.json. Default true. */
  config?: boolean;
  /** Write tokenizer.json. Default true. */
  tokenizer?: boolean;
  /** Store the embedding table in `model.onnx_data` beside the model (ONNX external data), as models over 2 GB must. Default false. */
  externalData?: boolean;
}

/** The weights of a generated model (row-major), for computing its outputs by hand. */
export interface OnnxTestModelWeights {
  /** [vocabulary, hidden]: row i is token i's embedding. */
  embeddings: Float32Array;
  /** [2, hidden], with `tokenTypes`. */
  tokenTypeEmbeddings?: Float32Array;
  /** With `layer`: [hidden, hidden] and [hidden]. */
  dense?: { weight: Float32Array; bias: Float32Array };
  /** Classifiers: [hidden, labels] and [labels]. */
  classifier?: { weight: Float32Array; bias: Float32Array };
}

/** What was generated. */
export interface OnnxTestModel {
  dir: string;
  /** `<dir>/model.onnx`. */
  modelPath: string;
  /** `<dir>/tokenizer.json` (written unless `tokenizer: false`). */
  tokenizerPath: string;
  /** `<dir>/config.json` (written unless `config: false`). */
  configPath: string;
  kind: OnnxTestModelKind;
  hiddenSize: number;
  /** Tokens by id. */
  vocabulary: string[];
  /** Classifiers: labels by index; embedding models: []. */
  labels: string[];
  maxLength: number;
  weights: OnnxTestModelWeights;
}

/** Seeded uniform values in [-1, 1) (mulberry32). */
function seededValues(seed: number, count: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** The graph of a generated model (exported for tests that need a variant of it). */
export function onnxTestModelSpec(
  options: { kind: OnnxTestModelKind; hiddenSize: number; vocabularySize: number; layer: boolean; tokenTypes: boolean; pooledOutput: boolean; labels: number },
  weights: OnnxTestModelWeights,
): OnnxModelSpec {
  const h = options.hiddenSize;
  const ids = (name: string): OnnxValueSpec => ({ name, elemType: ONNX_INT64, shape: ['batch', 'sequence'] });
  const inputs = [ids('input_ids'), ids('attention_mask')];
  if (options.tokenTypes) inputs.push(ids('token_type_ids'));
  const initializers: OnnxInitializerSpec[] = [{ name: 'embeddings.word', dims: [options.vocabularySize, h], data: weights.embeddings }];
  const nodes: OnnxNodeSpec[] = [{ opType: 'Gather', inputs: ['embeddings.word', 'input_ids'], outputs: ['words'], attributes: { axis: 0 } }];
  let x = 'words';
  if (options.tokenTypes) {
    initializers.push({ name: 'embeddings.token_type', dims: [2, h], data: weights.tokenTypeEmbeddings! });
    nodes.push({ opType: 'Gather', inputs: ['embeddings.token_type', 'token_type_ids'], outputs: ['types'], attributes: { axis: 0 } });
    nodes.push({ opType: 'Add', inputs: [x, 'types'], outputs: ['embedded'] });
    x = 'embedded';
  }
  if (options.layer) {
    initializers.push({ name: 'dense.weight', dims: [h, h], data: weights.dense!.weight }, { name: 'dense.bias', dims: [h], data: weights.dense!.bias });
    nodes.push({ opType: 'MatMul', inputs: [x, 'dense.weight'], outputs: ['dense.product'] });
    nodes.push({ opType: 'Add', inputs: ['dense.product', 'dense.bias'], outputs: ['dense.sum'] });
    nodes.push({ opType: 'Tanh', inputs: ['dense.sum'], outputs: ['dense.out'] });
    x = 'dense.out';
  }
  const outputs: OnnxValueSpec[] = [];
  if (options.kind === 'embedding') {
    nodes.push({ opType: 'Identity', inputs: [x], outputs: ['last_hidden_state'] });
    outputs.push({ name: 'last_hidden_state', elemType: ONNX_FLOAT, shape: ['batch', 'sequence', h] });
  }
  if (options.kind === 'classifier' || options.pooledOutput) {
    // Mean over the tokens the attention mask keeps: sum(x · mask) / max(sum(mask), 1e-9), as sentence-transformers pools.
    const pooled = options.kind === 'classifier' ? 'pooled' : 'sentence_embedding';
    initializers.push(
      { name: 'axes.last', dims: [1], data: BigInt64Array.of(-1n) },
      { name: 'axes.sequence', dims: [1], data: BigInt64Array.of(1n) },
      { name: 'epsilon', dims: [1], data: Float32Array.of(1e-9) },
    );
    nodes.push(
      { opType: 'Cast', inputs: ['attention_mask'], outputs: ['mask.float'], attributes: { to: ONNX_FLOAT } },
      { opType: 'Unsqueeze', inputs: ['mask.float', 'axes.last'], outputs: ['mask.column'] },
      { opType: 'Mul', inputs: [x, 'mask.column'], outputs: ['masked'] },
      { opType: 'ReduceSum', inputs: ['masked', 'axes.sequence'], outputs: ['masked.sum'], attributes: { keepdims: 0 } },
      { opType: 'ReduceSum', inputs: ['mask.column', 'axes.sequence'], outputs: ['mask.count'], attributes: { keepdims: 0 } },
      { opType: 'Max', inputs: ['mask.count', 'epsilon'], outputs: ['mask.safe'] },
      { opType: 'Div', inputs: ['masked.sum', 'mask.safe'], outputs: [pooled] },
    );
    if (options.kind === 'embedding') outputs.push({ name: 'sentence_embedding', elemType: ONNX_FLOAT, shape: ['batch', h] });
  }
  if (options.kind === 'classifier') {
    const l = options.labels;
    initializers.push({ name: 'classifier.weight', dims: [h, l], data: weights.classifier!.weight }, { name: 'classifier.bias', dims: [l], data: weights.classifier!.bias });
    nodes.push({ opType: 'MatMul', inputs: ['pooled', 'classifier.weight'], outputs: ['classifier.product'] });
    nodes.push({ opType: 'Add', inputs: ['classifier.product', 'classifier.bias'], outputs: ['logits'] });
    outputs.push({ name: 'logits', elemType: ONNX_FLOAT, shape: ['batch', l] });
  }
  return { nodes, initializers, inputs, outputs };
}

/** Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves a partial file. */
async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Writes an ONNX test model into `outDir` (created if needed): `model.onnx`, `tokenizer.json` and
 * `config.json`. The same options give byte-identical files.
 */
export async function generateOnnxTestModel(options: OnnxTestModelOptions & { outDir: string }): Promise<OnnxTestModel> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const dir = resolve(nonEmptyString('outDir', options.outDir));
  const kind = options.kind ?? 'embedding';
  if (kind !== 'embedding' && kind !== 'classifier') throw invalidArgument('kind', "'embedding' or 'classifier'", kind);
  const hiddenSize = integer('hiddenSize', options.hiddenSize ?? 16, 1, 4096);
  const seed = integer('seed', options.seed ?? 1, 0, 0xffff_ffff);
  const maxLength = integer('maxLength', options.maxLength ?? 512, 2, 1 << 20);
  const layer = optionalBoolean('layer', options.layer) ?? false;
  const tokenTypes = optionalBoolean('tokenTypes', options.tokenTypes) ?? false;
  const pooledOutput = optionalBoolean('pooledOutput', options.pooledOutput) ?? false;
  const labels = kind === 'classifier' ? (optionalStringArray('labels', options.labels) ?? ['negative', 'positive']) : [];
  if (kind === 'classifier' && labels.length === 0) throw invalidArgument('labels', 'at least one label', labels);
  const words = optionalStringArray('words', options.words) ?? [...ONNX_TEST_WORDS];
  const vocabulary = [...ONNX_TEST_SPECIAL_TOKENS, ...words];

  // Each tensor has its own seed, so adding one never changes another's values.
  const weights: OnnxTestModelWeights = { embeddings: seededValues(seed * 16 + 1, vocabulary.length * hiddenSize) };
  if (tokenTypes) weights.tokenTypeEmbeddings = seededValues(seed * 16 + 2, 2 * hiddenSize);
  if (layer) weights.dense = { weight: seededValues(seed * 16 + 3, hiddenSize * hiddenSize), bias: seededValues(seed * 16 + 4, hiddenSize) };
  if (kind === 'classifier') weights.classifier = { weight: seededValues(seed * 16 + 5, hiddenSize * labels.length), bias: seededValues(seed * 16 + 6, labels.length) };
  const spec = onnxTestModelSpec({ kind, hiddenSize, vocabularySize: vocabulary.length, layer, tokenTypes, pooledOutput, labels: labels.length }, weights);
  const externalData = optionalBoolean('externalData', options.externalData) ?? false;
  if (externalData) spec.initializers[0]!.external = { location: 'model.onnx_data', offset: 0 };

  await mkdir(dir, { recursive: true });
  const model: OnnxTestModel = {
    dir,
    modelPath: join(dir, 'model.onnx'),
    tokenizerPath: join(dir, 'tokenizer.json'),
    configPath: join(dir, 'config.json'),
    kind,
    hiddenSize,
    vocabulary,
    labels,
    maxLength,
    weights,
  };
  if (externalData) {
    const table = weights.embeddings;
    await writeAtomically(join(dir, 'model.onnx_data'), new Uint8Array(table.buffer, table.byteOffset, table.byteLength));
  }
  await writeAtomically(model.modelPath, encodeOnnxModel(spec));
  if (options.tokenizer !== false) await writeAtomically(model.tokenizerPath, JSON.stringify(wordPieceTokenizerJson(vocabulary), null, 2));
  if (options.config !== false) {
    const config: Record<string, unknown> = {
      architectures: [kind === 'classifier' ? 'BertForSequenceClassification' : 'BertModel'],
      model_type: 'bert',
      hidden_size: hiddenSize,
      num_attention_heads: 1,
      num_hidden_layers: layer ? 1 : 0,
      intermediate_size: hiddenSize,
      max_position_embeddings: maxLength,
      type_vocab_size: tokenTypes ? 2 : 1,
      vocab_size: vocabulary.length,
    };
    if (kind === 'classifier') {
      config.id2label = Object.fromEntries(labels.map((label, i) => [String(i), label]));
      config.label2id = Object.fromEntries(labels.map((label, i) => [label, i]));
    }
    await writeAtomically(model.configPath, JSON.stringify(config, null, 2));
  }
  return model;
}
