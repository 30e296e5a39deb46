/**
 * What an ONNX model's outputs mean and how they become results: which output is read (token states,
 * a pooled embedding, or classification logits), how token states are pooled into one vector per text,
 * normalisation, and scores from logits.
 */
import { ModelpoolError, invalidArgument } from '../../errors.js';
import type { OnnxTensorData, OnnxValueMetadata } from './execution.js';

/** What the model is for: embed() or classify(). */
export type OnnxTask = 'embed' | 'classify';

/**
 * How an embedding model's token states become one vector per text:
 * - 'mean': the mean over the tokens the attention mask keeps (sentence-transformers' default);
 * - 'cls': the first token's state (BERT's [CLS]; BGE models);
 * - 'max': the elementwise maximum over the kept tokens;
 * - 'last': the last kept token's state (decoder embedding models);
 * - 'pooled': the graph's own pooled output (`sentence_embedding`, else `pooler_output`, `embeddings`, `text_embeds`).
 */
export type OnnxPooling = 'mean' | 'cls' | 'max' | 'last' | 'pooled';

/** How classification logits become scores: 'softmax' over the labels, or 'sigmoid' per label. */
export type OnnxScoreFunction = 'softmax' | 'sigmoid';

/** Which output a model reads and what it does with it. */
export interface OutputPlan {
  task: OnnxTask;
  output: string;
  /** Embedding models: how the output becomes one vector per text. */
  pooling: OnnxPooling;
}

const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const POOLED_OUTPUTS = ['sentence_embedding', 'pooler_output', 'embeddings', 'text_embeds', 'sentence_embeddings'];

const isFloat = (m: OnnxValueMetadata): boolean => m.isTensor && (m.type === 'float32' || m.type === undefined);

/**
 * The output plan for a graph with `outputs`. `pooling` 'auto': the graph's `sentence_embedding` when it
 * has one (a sentence-transformers export, pooled as the model was trained), else `fallback` (the
 * repository's 1_Pooling/config.json, or 'mean') over the token states. BERT's `pooler_output` is
 * never chosen by 'auto': it is the next-sentence head's tanh layer, not a sentence embedding.
 */
export function planOutputs(outputs: readonly OnnxValueMetadata[], task: OnnxTask | undefined, pooling: OnnxPooling | 'auto', fallback: OnnxPooling = 'mean'): OutputPlan {
  const named = (names: readonly string[]): OnnxValueMetadata | undefined => names.map((n) => outputs.find((o) => o.name === n)).find((o) => o !== undefined);
  const logits = named(['logits']);
  const names = outputs.map((o) => o.name).join(', ');
  if ((task ?? (logits === undefined ? 'embed' : 'classify')) === 'classify') {
    const chosen = logits ?? outputs.find((o) => isFloat(o) && o.shape.length === 2);
    if (chosen === undefined) throw new ModelpoolError('UNSUPPORTED_ARCHITECTURE', `The ONNX model has no logits output to classify with (its outputs: ${names})`);
    if (chosen.shape.length === 3) {
      throw new ModelpoolError('UNSUPPORTED_ARCHITECTURE', `The ONNX model's ${chosen.name} output has a label per token (token classification), which modelpool does not support`);
    }
    return { task: 'classify', output: chosen.name, pooling: 'pooled' };
  }
  const tokens = named(TOKEN_OUTPUTS) ?? outputs.find((o) => isFloat(o) && o.shape.length === 3);
  const pooled = named(POOLED_OUTPUTS) ?? outputs.find((o) => isFloat(o) && o.shape.length === 2 && o !== logits);
  if (pooling === 'auto') {
    const sentence = named(['sentence_embedding']);
    if (sentence !== undefined) return { task: 'embed', output: sentence.name, pooling: 'pooled' };
    if (tokens !== undefined) return { task: 'embed', output: tokens.name, pooling: fallback };
    if (pooled !== undefined) return { task: 'embed', output: pooled.name, pooling: 'pooled' };
    throw new ModelpoolError('UNSUPPORTED_ARCHITECTURE', `The ONNX model's outputs (${names}) are neither token states, a pooled embedding nor logits`);
  }
  if (pooling === 'pooled') {
    if (pooled === undefined) throw invalidArgument('pooling', `'pooled' only for a model with a pooled output (this one has ${names})`, pooling);
    return { task: 'embed', output: pooled.name, pooling };
  }
  if (tokens === undefined) throw invalidArgument('pooling', `'auto' or 'pooled' for a model without token states (this one has ${names})`, pooling);
  return { task: 'embed', output: tokens.name, pooling };
}

/** The float32 data of an output with `rank` dimensions and `rows` rows; GENERATION_FAILED otherwise. */
export function floatOutput(outputs: Record<string, OnnxTensorData>, name: string, rank: number, rows: number): { data: Float32Array; dims: number[] } {
  const tensor = outputs[name];
  if (tensor === undefined || !(tensor.data instanceof Float32Array) || tensor.dims.length !== rank || tensor.dims[0] !== rows) {
    const got = tensor === undefined ? 'nothing' : `${tensor.type} [${tensor.dims.join(', ')}]`;
    throw new ModelpoolError('GENERATION_FAILED', `Expected a float32 output ${name} of rank ${rank} with ${rows} rows from the ONNX model, but it gave ${got}`);
  }
  return { data: tensor.data, dims: tensor.dims };
}

/**
 * One vector per row of a batch's output. `lengths[i]` is row i's token count: its attention mask is
 * 1 for the first lengths[i] positions and 0 after (batchFeeds pads at the end).
 */
export function poolRows(output: { data: Float32Array; dims: number[] }, pooling: OnnxPooling, lengths: readonly number[]): Float32Array[] {
  if (pooling === 'pooled') {
    const width = output.dims[1]!;
    return lengths.map((_, row) => output.data.slice(row * width, (row + 1) * width));
  }
  const [, sequence, width] = output.dims as [number, number, number];
  return lengths.map((length, row) => {
    const base = row * sequence * width;
    const at = (token: number, i: number): number => output.data[base + token * width + i]!;
    const out = new Float32Array(width);
    if (pooling === 'cls' || pooling === 'last') {
      const token = pooling === 'cls' ? 0 : Math.max(0, length - 1);
      for (let i = 0; i < width; i++) out[i] = at(token, i);
    } else if (pooling === 'max') {
      for (let i = 0; i < width; i++) {
        let max = -Infinity;
        for (let t = 0; t < length; t++) max = Math.max(max, at(t, i));
        out[i] = max;
      }
    } else {
      for (let i = 0; i < width; i++) {
        let sum = 0; // summed in float64
        for (let t = 0; t < length; t++) sum += at(t, i);
        out[i] = sum / Math.max(length, 1e-9);
      }
    }
    return out;
  });
}

/** Scales `vector` to unit L2 length, in place (a zero vector stays zero). */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let squares = 0;
  for (const v of vector) squares += v * v;
  const norm = Math.sqrt(squares);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm;
  return vector;
}

/** Probabilities from logits: softmax over them, or a sigmoid of each. */
export function scoresOf(logits: ArrayLike<number>, fn: OnnxScoreFunction): number[] {
  const values = Array.from(logits);
  if (fn === 'sigmoid') return values.map((v) => 1 / (1 + Math.exp(-v)));
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
