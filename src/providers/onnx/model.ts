/**
 * A loaded ONNX model: an embedding model (embed()) or a classifier (classify()), served by a pool of
 * sessions. It is a local model ({@link LocalModelHandle}): it runs in this process, on the pool's CPU
 * threads and memory; it has a tokenizer, but no chat template, generation or adapters.
 */
import { ModelpoolError, invalidArgument } from '../../errors.js';
import type { AdapterInfo, LocalModelHandle, ModelCapabilities, ModelInfo } from '../../model/handle.js';
import type { EvaluationResult, GenerateRequest, GenerationResult, GenerationStream, MemoryReport, TokenizeOptions } from '../../model/types.js';
import { integer } from '../../validate.js';
import type { OnnxExecutionProvider, OnnxTensorData } from './execution.js';
import { floatOutput, normalizeInPlace, poolRows, scoresOf, type OnnxPooling, type OnnxScoreFunction, type OnnxTask, type OutputPlan } from './pooling.js';
import type { SessionPool } from './sessions.js';
import { batchFeeds, type EncodedText, type OnnxTextInput, type OnnxTokenizer } from './tokenize.js';

/** What an ONNX model says about itself. */
export interface OnnxModelInfo extends ModelInfo {
  /** Tokens per text (longer texts are truncated): the model's maximum length. */
  readonly contextSize: number;
  /** Sessions: requests (batches) served at once. */
  readonly parallel: number;
  readonly architecture: 'onnx';
  readonly path: string;
  readonly tokenizerPath: string;
  readonly task: OnnxTask;
  /** The execution provider the sessions run on ('cpu', 'cuda', 'coreml', ...). */
  readonly executionProvider: string;
  /** The whole list the sessions were created with (ONNX Runtime runs a node on the first that supports it). */
  readonly executionProviders: OnnxExecutionProvider[];
  /** Why the sessions run on another provider than the first tried (its error), when they do. */
  readonly executionProviderNote?: string;
  /** Intra-op threads of each session, fixed when it was created. */
  readonly sessionThreads: number;
  /** The output read. */
  readonly output: string;
  /** Embedding models: how token states become one vector. */
  readonly pooling: OnnxPooling;
  /** Embedding models: vectors scaled to unit length. */
  readonly normalize: boolean;
  /** Embedding models: the vector's length; classifiers: the number of labels. */
  readonly embeddingSize: number;
  /** Classifiers: the labels by index (config.json id2label, else LABEL_i). */
  readonly labels: readonly string[];
  /** Classifiers: how logits become scores. */
  readonly scoreFunction: OnnxScoreFunction;
  /** Texts per run, at most. */
  readonly batchSize: number;
  /** Tokens per run (texts × the longest, padding included), at most (one text may exceed it up to contextSize). */
  readonly batchTokens: number;
  readonly vocabularySize: number;
  /** Bytes of one copy of the weights. */
  readonly sizeBytes: number;
}

/** One text's classification. */
/** {@link OnnxModel.sessionStatus}. */
export interface OnnxSessionStatus {
  sessions: number;
  /** Runs in flight, and waiting for a session. */
  running: number;
  waiting: number;
  /** Sessions that may run at once under the thread budget now. */
  concurrency: number;
  /** Intra-op threads of a session now (the most of any while a rebuild is under way). */
  sessionThreads: number;
  /** Sessions rebuilt for a new thread budget so far, and whether a rebuild is under way. */
  rebuilt: number;
  rebuilding: boolean;
  /** Why the last rebuild failed (the session is started again on its next run). */
  rebuildError?: string;
}

export interface OnnxClassification {
  /** The most probable label. */
  label: string;
  /** Its index. */
  index: number;
  /** Its score. */
  score: number;
  /** Every label's score, by index (softmax: they sum to 1). */
  scores: number[];
  logits: number[];
}

/** What a model is built from (provider.ts assembles it). */
export interface OnnxModelParts {
  info: OnnxModelInfo;
  memory: MemoryReport;
  plan: OutputPlan;
  tokenizer: OnnxTokenizer;
  sessions: SessionPool;
  loadMs: number;
}

const NO_GENERATION = 'a model that declares capabilities.generate (ONNX models embed or classify)';

/** Whether `model` is an ONNX model (and so has classify()). */
export function isOnnxModel(model: unknown): model is OnnxModel {
  return model instanceof OnnxModel;
}

export class OnnxModel implements LocalModelHandle {
  readonly local = true;
  readonly capabilities: ModelCapabilities;
  readonly info: OnnxModelInfo;
  readonly memory: MemoryReport;
  readonly loadMs: number;
  readonly #plan: OutputPlan;
  readonly #tokenizer: OnnxTokenizer;
  readonly #sessions: SessionPool;
  readonly #abort = new AbortController();
  readonly #idle: Array<() => void> = [];
  #active = 0;
  #disposing: Promise<void> | undefined;

  constructor(parts: OnnxModelParts) {
    this.info = Object.freeze(parts.info);
    this.memory = parts.memory;
    this.loadMs = parts.loadMs;
    this.#plan = parts.plan;
    this.#tokenizer = parts.tokenizer;
    this.#sessions = parts.sessions;
    const embed = parts.plan.task === 'embed';
    this.capabilities = Object.freeze({ generate: false, chat: false, embed, jsonSchema: false, grammar: false, streaming: false });
  }

  get activeRequests(): number {
    return this.#active;
  }
  get disposed(): boolean {
    return this.#disposing !== undefined;
  }
  /** The model's CPU thread budget (see setThreads()). */
  get threads(): number {
    return this.#sessions.budget;
  }
  get adapters(): string[] {
    return [];
  }
  /**
   * The sessions now: how many there are, run, wait for one, and may run at once under the thread budget;
   * each one's intra-op threads, and the rebuilds for a new budget (see setThreads()).
   */
  get sessionStatus(): OnnxSessionStatus {
    const s = this.#sessions;
    const { rebuilt, rebuilding, lastError } = s.rebuilds;
    const status: OnnxSessionStatus = { sessions: s.size, running: s.running, waiting: s.waiting, concurrency: s.concurrency, sessionThreads: s.sessionThreads, rebuilt, rebuilding };
    if (lastError !== undefined) status.rebuildError = lastError;
    return status;
  }

  #throwIfDisposed(): void {
    if (this.disposed) throw new ModelpoolError('DISPOSED', `The ONNX model ${this.info.path} has been disposed`);
  }

  /**
   * Sets the model's thread budget. Sessions start while the threads of those running stay within it (one
   * always may). ONNX Runtime fixes a session's threads when it is created, so a session with more threads
   * than the budget is rebuilt with its share at once (when free), and sessions are rebuilt with a larger
   * share once it has lasted `rebuildDelayMs` (CPU execution provider only).
   */
  setThreads(threads: number, _batchThreads?: number): void {
    this.#throwIfDisposed();
    this.#sessions.setBudget(integer('threads', threads, 1, 4096));
  }

  /** Always INVALID_ARGUMENT (DISPOSED once disposed): ONNX models do not generate. */
  generate(request: GenerateRequest): GenerationStream {
    this.#throwIfDisposed();
    throw invalidArgument(request?.messages === undefined ? 'request.prompt' : 'request.messages', NO_GENERATION, request?.prompt ?? request?.messages);
  }

  async complete(request: GenerateRequest): Promise<GenerationResult> {
    return this.generate(request).result;
  }

  /**
   * One embedding per text (embedding models): tokenized and truncated to info.contextSize tokens,
   * run in batches, pooled per info.pooling and, with info.normalize, scaled to unit length.
   */
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.#throwIfDisposed();
    if (!this.capabilities.embed) throw invalidArgument('texts', 'a model that declares capabilities.embed (this ONNX model classifies: use classify())', texts);
    if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) throw invalidArgument('texts', 'a non-empty array of strings', texts);
    return this.#run(texts, (outputs, lengths) => {
      const vectors = poolRows(floatOutput(outputs, this.#plan.output, this.#plan.pooling === 'pooled' ? 2 : 3, lengths.length), this.#plan.pooling, lengths);
      return this.info.normalize ? vectors.map(normalizeInPlace) : vectors;
    });
  }

  /** Labels and scores per text, or per pair of texts (a cross-encoder's query and passage). Classifiers only. */
  async classify(inputs: OnnxTextInput[]): Promise<OnnxClassification[]> {
    this.#throwIfDisposed();
    if (this.#plan.task !== 'classify') throw invalidArgument('inputs', 'a classification model (this ONNX model embeds: use embed())', inputs);
    const isInput = (i: unknown): boolean => typeof i === 'string' || (Array.isArray(i) && i.length === 2 && i.every((t) => typeof t === 'string'));
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every(isInput)) throw invalidArgument('inputs', 'a non-empty array of texts or [text, text] pairs', inputs);
    return this.#run(inputs, (outputs, lengths) => {
      const { data, dims } = floatOutput(outputs, this.#plan.output, 2, lengths.length);
      const width = dims[1]!;
      return lengths.map((_, row) => {
        const logits = Array.from(data.subarray(row * width, (row + 1) * width));
        const scores = scoresOf(logits, this.info.scoreFunction);
        const index = scores.indexOf(Math.max(...scores));
        return { label: this.info.labels[index] ?? `LABEL_${index}`, index, score: scores[index]!, scores, logits };
      });
    });
  }

  /**
   * Encodes every input, sorts them by length (less padding), cuts batches of at most batchSize texts
   * and batchTokens padded tokens, and runs them, at most `sessions` at a time for this request, so
   * that a large request does not queue all its batches ahead of requests that come after it.
   */
  async #run<R>(inputs: readonly OnnxTextInput[], read: (outputs: Record<string, OnnxTensorData>, lengths: number[]) => R[]): Promise<R[]> {
    this.#active++;
    try {
      const encoded = inputs.map((input) => this.#tokenizer.encode(input, this.info.contextSize));
      const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length);
      const batches: number[][] = [];
      let batch: number[] = [];
      for (const index of order) {
        const length = encoded[index]!.ids.length; // the longest so far: they are sorted
        if (batch.length > 0 && (batch.length >= this.info.batchSize || (batch.length + 1) * length > this.info.batchTokens)) {
          batches.push(batch);
          batch = [];
        }
        batch.push(index);
      }
      batches.push(batch);
      const results = new Array<R>(inputs.length);
      let next = 0;
      const lane = async (): Promise<void> => {
        try {
          while (next < batches.length) {
            const indexes = batches[next++]!;
            const rows: EncodedText[] = indexes.map((i) => encoded[i]!);
            const feeds = batchFeeds(rows, this.#sessions.description.inputs, this.#tokenizer.padId);
            const outputs = await this.#sessions.run(feeds, [this.#plan.output], this.#abort.signal);
            read(outputs, rows.map((r) => r.ids.length)).forEach((result, row) => (results[indexes[row]!] = result));
          }
        } catch (error) {
          next = batches.length; // the other lanes stop after their run in flight
          throw error;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#sessions.size, batches.length) }, lane));
      return results;
    } finally {
      this.#active--;
      if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /** Token ids of `text` (with [CLS]/[SEP] or the like unless `addSpecial` is false); not truncated. */
  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    this.#throwIfDisposed();
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    return this.#tokenizer.tokenize(text, options.addSpecial ?? true);
  }

  detokenize(tokens: readonly number[]): string {
    this.#throwIfDisposed();
    if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t))) throw invalidArgument('tokens', 'an array of token ids', tokens);
    return this.#tokenizer.detokenize(tokens);
  }

  /** Always INVALID_ARGUMENT: ONNX models have no chat template. */
  applyChatTemplate(messages: unknown): string {
    this.#throwIfDisposed();
    throw invalidArgument('messages', 'a model with a chat template (ONNX models have none)', messages);
  }

  /** Always INVALID_ARGUMENT: ONNX models do not give token probabilities. */
  async evaluate(request: unknown): Promise<EvaluationResult> {
    this.#throwIfDisposed();
    throw invalidArgument('request', NO_GENERATION, request);
  }

  /** Always INVALID_ARGUMENT: LoRA adapters are for llama.cpp models. */
  async loadAdapter(name: string, path: string): Promise<AdapterInfo> {
    this.#throwIfDisposed();
    throw invalidArgument('path', `a GGUF LoRA adapter for a llama.cpp model (ONNX models take none; adapter ${String(name)})`, path);
  }

  removeAdapter(name: string): void {
    this.#throwIfDisposed();
    throw invalidArgument('name', 'the name of an adapter loaded on this model (ONNX models have none)', name);
  }

  /**
   * Stops taking requests, waits for those accepted (or, with `abort`, ends them with ABORTED: a run
   * already in a session still finishes there first), then releases every session. Idempotent.
   */
  dispose(options: { abort?: boolean } = {}): Promise<void> {
    if (options.abort === true) this.#abort.abort(new ModelpoolError('ABORTED', `The ONNX model ${this.info.path} was disposed`));
    this.#disposing ??= (async () => {
      if (this.#active > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      await this.#sessions.close();
    })();
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
