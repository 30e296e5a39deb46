/**
 * The tokenizer of an ONNX model — its Hugging Face `tokenizer.json`, run by @huggingface/tokenizers
 * (imported on first use) — and the tensors a batch of encoded texts becomes.
 *
 * Truncation is done here, not by the tokenizer (tokenizers.js ignores tokenizer.json's truncation):
 * a text longer than the model's maximum keeps its start and its closing special tokens ([SEP], </s>),
 * so for a pair the second text is cut first.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { ModelpoolError } from '../../errors.js';
import type { OnnxTensorData, OnnxValueMetadata } from './execution.js';

/** A text or a pair of texts (a query and a passage, for a cross-encoder). */
export type OnnxTextInput = string | readonly [string, string];

/** One text's tokens, with special tokens and truncated. */
export interface EncodedText {
  ids: number[];
  typeIds: number[];
}

/** The inputs modelpool knows how to fill. */
export const KNOWN_INPUTS: readonly string[] = ['input_ids', 'attention_mask', 'token_type_ids', 'position_ids'];

interface HfTokenizer {
  encode(text: string, options: { text_pair?: string | null; add_special_tokens?: boolean; return_token_type_ids: true }): { ids: number[]; token_type_ids?: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  get_added_tokens_decoder(): Map<number, { special: boolean }>;
}

/** A JSON object from `path`; undefined when it is missing and not `required` (LOAD_FAILED naming `field` otherwise). */
export async function readJson(path: string, what: string, field: string, required: boolean, hint = ''): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelpoolError('LOAD_FAILED', `No ${what} at ${path}${hint}`, { field, value: path, cause: error, details: { path } });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ModelpoolError('LOAD_FAILED', `${path} is not a valid ${what}: ${(error as Error).message}`, { field, value: path, cause: error, details: { path } });
  }
}

export class OnnxTokenizer {
  readonly #tokenizer: HfTokenizer;
  readonly #special: ReadonlySet<number>;
  /** The id padding positions hold. */
  readonly padId: number;
  readonly vocabularySize: number;

  private constructor(
    readonly path: string,
    tokenizer: HfTokenizer,
    json: Record<string, unknown>,
  ) {
    this.#tokenizer = tokenizer;
    const special = new Set<number>();
    for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (token.special) special.add(id);
    this.#special = special;
    const padding = json.padding as { pad_id?: unknown } | null | undefined;
    const padToken = ['[PAD]', '<pad>', '<|padding|>'].map((t) => tokenizer.token_to_id(t)).find((id) => id !== undefined);
    this.padId = typeof padding?.pad_id === 'number' ? padding.pad_id : (padToken ?? 0);
    this.vocabularySize = tokenizer.get_vocab(true).size;
  }

  /**
   * Reads `path` (a tokenizer.json) and the tokenizer_config.json beside it, if any. LOAD_FAILED with
   * field `field` naming the path when it is missing or not a tokenizer the library can run.
   */
  static async load(path: string, field = 'tokenizerPath'): Promise<OnnxTokenizer> {
    const hint = ': ONNX models need the tokenizer.json of their Hugging Face repository beside the .onnx file (or in its parent folder), or options.tokenizerPath';
    const json = (await readJson(path, 'tokenizer.json', field, true, hint))!;
    const config = await readJson(join(dirname(path), 'tokenizer_config.json'), 'tokenizer_config.json', field, false);
    const { Tokenizer } = await import('@huggingface/tokenizers');
    let tokenizer: HfTokenizer;
    try {
      tokenizer = new Tokenizer(json, config ?? {}) as unknown as HfTokenizer;
    } catch (error) {
      throw new ModelpoolError('LOAD_FAILED', `${path} is not a tokenizer @huggingface/tokenizers can run: ${(error as Error).message}`, { field, value: path, cause: error, details: { path } });
    }
    return new OnnxTokenizer(path, tokenizer, json);
  }

  /** Token ids of `text` (with the special tokens the tokenizer adds, unless `addSpecial` is false). */
  tokenize(text: string, addSpecial = true): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: addSpecial, return_token_type_ids: true }).ids;
  }

  detokenize(ids: readonly number[]): string {
    return this.#tokenizer.decode([...ids]);
  }

  /** A text or a pair, with special tokens, truncated to `maxLength` tokens (see the file's comment). */
  encode(input: OnnxTextInput, maxLength: number): EncodedText {
    const [text, pair] = typeof input === 'string' ? [input, null] : input;
    const encoding = this.#tokenizer.encode(text, { text_pair: pair, add_special_tokens: true, return_token_type_ids: true });
    const ids = encoding.ids;
    const typeIds = encoding.token_type_ids ?? new Array<number>(ids.length).fill(0);
    if (ids.length <= maxLength) return { ids, typeIds };
    let closing = 0;
    while (closing < ids.length && this.#special.has(ids[ids.length - 1 - closing]!)) closing++;
    if (closing >= maxLength) closing = 0;
    const cut = (values: number[]): number[] => [...values.slice(0, maxLength - closing), ...values.slice(values.length - closing)];
    return { ids: cut(ids), typeIds: cut(typeIds) };
  }
}

/** An int64 or int32 tensor of `rows` × `length`, as `type` says. */
function integerTensor(type: string | undefined, rows: number, length: number, fill: (row: number, column: number) => number): OnnxTensorData {
  const size = rows * length;
  if (type === 'int32') {
    const data = new Int32Array(size);
    for (let r = 0; r < rows; r++) for (let c = 0; c < length; c++) data[r * length + c] = fill(r, c);
    return { type: 'int32', dims: [rows, length], data };
  }
  const data = new BigInt64Array(size);
  for (let r = 0; r < rows; r++) for (let c = 0; c < length; c++) data[r * length + c] = BigInt(fill(r, c));
  return { type: 'int64', dims: [rows, length], data };
}

/** The feeds of a batch: every input the graph takes, padded to the longest text (padding masked out). */
export function batchFeeds(batch: readonly EncodedText[], inputs: readonly OnnxValueMetadata[], padId: number): Record<string, OnnxTensorData> {
  const length = Math.max(1, ...batch.map((e) => e.ids.length));
  const rows = batch.length;
  const feeds: Record<string, OnnxTensorData> = {};
  for (const input of inputs) {
    switch (input.name) {
      case 'input_ids':
        feeds[input.name] = integerTensor(input.type, rows, length, (r, c) => batch[r]!.ids[c] ?? padId);
        break;
      case 'attention_mask':
        feeds[input.name] = integerTensor(input.type, rows, length, (r, c) => (c < batch[r]!.ids.length ? 1 : 0));
        break;
      case 'token_type_ids':
        feeds[input.name] = integerTensor(input.type, rows, length, (r, c) => batch[r]!.typeIds[c] ?? 0);
        break;
      case 'position_ids':
        feeds[input.name] = integerTensor(input.type, rows, length, (_r, c) => c);
        break;
      default:
        throw new ModelpoolError('UNSUPPORTED_ARCHITECTURE', `The ONNX model takes an input "${input.name}" modelpool cannot fill (it fills ${KNOWN_INPUTS.join(', ')})`);
    }
  }
  return feeds;
}
