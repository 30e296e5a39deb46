/**
 * The ONNX provider: embedding and classification models exported to ONNX (Hugging Face BERT-style
 * exports), run in this process by ONNX Runtime. `ref.source` is the .onnx file (or a folder holding
 * `model.onnx` or `onnx/model.onnx`); its tokenizer.json, config.json, tokenizer_config.json,
 * sentence_bert_config.json and 1_Pooling/config.json are read from the model's folder or, as
 * Hugging Face repositories keep them beside an `onnx/` folder, from its parent.
 */
import { availableParallelism, freemem, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { ModelpoolError, invalidArgument } from '../../errors.js';
import type { DeviceMemoryInfo, ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from '../../model/provider.js';
import type { DeviceMemory, EstimateOptions, MemoryReport } from '../../model/types.js';
import { integer, nonEmptyString, onlyKnownKeys, optionalBoolean, optionalInteger, optionalSignal, plainObject } from '../../validate.js';
import { cudaProviderInstalled, executionAttempts, loadOnnxRuntime, providerDevice, providerName, type OnnxExecutionProvider } from './execution.js';
import { inspectOnnxModel, type OnnxInspection } from './inspect.js';
import { OnnxModel, type OnnxModelInfo } from './model.js';
import { planOutputs, type OnnxPooling, type OnnxScoreFunction, type OnnxTask } from './pooling.js';
import { SessionPool } from './sessions.js';
import { OnnxTokenizer, batchFeeds, readJson } from './tokenize.js';

/** How one ONNX model is read and run; every field is optional. */
export interface OnnxModelOptions {
  /** The tokenizer.json. Default: beside the model, else in its parent folder. */
  tokenizerPath?: string;
  /** The config.json (labels, sizes, maximum length). Default: beside the model, else in its parent folder; optional. */
  configPath?: string;
  /** 'embed' or 'classify'. Default: 'classify' when the graph has a `logits` output, else 'embed'. */
  task?: OnnxTask;
  /** Embedding models: see {@link OnnxPooling}. Default 'auto' (see planOutputs()). */
  pooling?: OnnxPooling | 'auto';
  /** Embedding models: scale vectors to unit length, as sentence-transformers' Normalize does. Default true. */
  normalize?: boolean;
  /**
   * Tokens per text. Default: sentence_bert_config.json's max_seq_length, else tokenizer_config.json's
   * model_max_length, else config.json's max_position_embeddings, else 512; never more than
   * max_position_embeddings.
   */
  maxLength?: number;
  /** Texts per run, at most. Default 32. */
  batchSize?: number;
  /** Padded tokens per run (texts × the longest), at most: what bounds the memory of a run. Default 4096. */
  batchTokens?: number;
  /** Execution providers, in order of preference. Default by hardware (see executionAttempts()). */
  executionProviders?: OnnxExecutionProvider[];
  /** Classifiers: 'softmax' or 'sigmoid'. Default: sigmoid for one label or config.json's multi_label_classification, else softmax. */
  scores?: OnnxScoreFunction;
  /**
   * How long a thread budget giving each session more threads than it has must last before the sessions
   * are rebuilt with them, ms (negative: never). Default 10 000. (A budget below a session's threads
   * rebuilds it at once.)
   */
  rebuildDelayMs?: number;
}

/** Options of {@link loadOnnxModel} and {@link estimateOnnxModel}. */
export interface OnnxLoadOptions extends OnnxModelOptions {
  /** CPU threads for the model, shared by its sessions. Default: the cores less one for the event loop (at least 1). */
  threads?: number;
  /** Sessions, each a worker thread with its own copy of the weights. Default 1. */
  parallel?: number;
  /** Use a GPU execution provider when there is one (Core ML, CUDA). Default true; the pool's gpuLayers 0 is false. */
  gpu?: boolean;
  /** The most tokens per text the caller wants (the pool's contextSize); lowers maxLength. */
  contextSize?: number;
  signal?: AbortSignal;
  onProgress?: (progress: number) => void;
  /** The module imported as ONNX Runtime. Default 'onnxruntime-node'. */
  runtime?: string;
}

/** Options of {@link createOnnxProvider}: defaults for every model, and options per model. */
export interface OnnxProviderOptions extends OnnxModelOptions {
  /** Options by model id (or source), over the defaults above. */
  models?: Record<string, OnnxModelOptions>;
  /** The module imported as ONNX Runtime. Default 'onnxruntime-node'. */
  runtime?: string;
}

/** What {@link estimateOnnxModel} finds. */
export interface OnnxEstimate extends ModelEstimate {
  architecture: 'onnx';
  inspection: OnnxInspection;
  /** Tokens per text. */
  maxLength: number;
  /** The execution provider lists a load would try. */
  executionAttempts: OnnxExecutionProvider[][];
}

/** Bytes each session takes besides its weights and activations: its worker thread's V8 isolate and ONNX Runtime's session state. */
export const ONNX_SESSION_OVERHEAD_BYTES = 8 * 1024 * 1024;

const MODEL_KEYS = ['tokenizerPath', 'configPath', 'task', 'pooling', 'normalize', 'maxLength', 'batchSize', 'batchTokens', 'executionProviders', 'scores', 'rebuildDelayMs'];
const LOAD_KEYS = [...MODEL_KEYS, 'threads', 'parallel', 'gpu', 'contextSize', 'signal', 'onProgress', 'runtime'];
const POOLINGS = ['auto', 'mean', 'cls', 'max', 'last', 'pooled'];

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly string[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value)) throw invalidArgument(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

/** Checks options (sharp's message shape: the field and the value received). */
function validateOptions(field: string, value: unknown, keys: readonly string[]): OnnxLoadOptions {
  if (value === undefined) return {};
  const o = plainObject(field, value) as OnnxLoadOptions;
  const at = (key: string): string => (field === '' ? key : `${field}.${key}`);
  onlyKnownKeys(field, o as Record<string, unknown>, keys);
  if (o.tokenizerPath !== undefined) nonEmptyString(at('tokenizerPath'), o.tokenizerPath);
  if (o.configPath !== undefined) nonEmptyString(at('configPath'), o.configPath);
  if (o.runtime !== undefined) nonEmptyString(at('runtime'), o.runtime);
  oneOf(at('task'), o.task, ['embed', 'classify']);
  oneOf(at('pooling'), o.pooling, POOLINGS);
  oneOf(at('scores'), o.scores, ['softmax', 'sigmoid']);
  optionalBoolean(at('normalize'), o.normalize);
  optionalBoolean(at('gpu'), o.gpu);
  optionalInteger(at('maxLength'), o.maxLength, 2, 1 << 20);
  optionalInteger(at('batchSize'), o.batchSize, 1, 65536);
  optionalInteger(at('batchTokens'), o.batchTokens, 1, 1 << 30);
  optionalInteger(at('threads'), o.threads, 1, 4096);
  optionalInteger(at('parallel'), o.parallel, 1, 256);
  optionalInteger(at('rebuildDelayMs'), o.rebuildDelayMs, Number.MIN_SAFE_INTEGER);
  optionalInteger(at('contextSize'), o.contextSize, 1);
  optionalSignal(at('signal'), o.signal);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgument(at('onProgress'), 'a function', o.onProgress);
  if (o.executionProviders !== undefined) {
    const list = o.executionProviders as unknown;
    if (!Array.isArray(list)) throw invalidArgument(at('executionProviders'), "an array of execution provider names ('cpu', 'cuda', 'coreml', ...) or { name } objects", list);
    list.forEach((p: unknown, i) => {
      const ok = (typeof p === 'string' && p.length > 0) || (typeof p === 'object' && p !== null && typeof (p as { name?: unknown }).name === 'string');
      if (!ok) throw invalidArgument(`${at('executionProviders')}[${i}]`, 'an execution provider name or { name } object', p);
    });
  }
  return o;
}

/** The model's files and what they say. */
interface ModelFiles {
  modelPath: string;
  tokenizerPath: string;
  config: Record<string, unknown> | undefined;
  inspection: OnnxInspection;
  maxLength: number;
  /** 1_Pooling/config.json's mode, when the repository has one. */
  pooling: OnnxPooling | undefined;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** The first of `names` that is a file in the model's folder or (for a model in `onnx/`-like subfolders) its parent. */
async function besideModel(modelPath: string, name: string): Promise<string | undefined> {
  for (const dir of [dirname(modelPath), dirname(dirname(modelPath))]) if (await isFile(join(dir, name))) return join(dir, name);
  return undefined;
}

const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value > 1 && value <= 1 << 20 ? value : undefined);

async function readModelFiles(source: string, options: OnnxLoadOptions): Promise<ModelFiles> {
  let modelPath = resolve(source);
  if ((await stat(modelPath).catch(() => undefined))?.isDirectory() === true) {
    const found = [join(modelPath, 'model.onnx'), join(modelPath, 'onnx', 'model.onnx')];
    modelPath = (await isFile(found[0]!)) ? found[0]! : found[1]!;
  }
  const inspection = await inspectOnnxModel(modelPath);
  const tokenizerPath = options.tokenizerPath === undefined ? ((await besideModel(modelPath, 'tokenizer.json')) ?? join(dirname(modelPath), 'tokenizer.json')) : resolve(options.tokenizerPath);
  const configPath = options.configPath === undefined ? await besideModel(modelPath, 'config.json') : resolve(options.configPath);
  const config = configPath === undefined ? undefined : await readJson(configPath, 'config.json', 'configPath', true);
  const root = dirname(tokenizerPath);
  const tokenizerConfig = await readJson(join(root, 'tokenizer_config.json'), 'tokenizer_config.json', 'tokenizerPath', false);
  const sentenceConfig = await readJson(join(root, 'sentence_bert_config.json'), 'sentence_bert_config.json', 'source', false);
  const poolingConfig = await readJson(join(root, '1_Pooling', 'config.json'), '1_Pooling/config.json', 'source', false);

  const positions = positive(config?.max_position_embeddings);
  const staticLength = inspection.inputs.find((i) => i.name === 'input_ids')?.shape[1];
  const limits = [positions, typeof staticLength === 'number' ? staticLength : undefined, options.contextSize].filter((v): v is number => v !== undefined);
  const preferred = options.maxLength ?? positive(sentenceConfig?.max_seq_length) ?? positive(tokenizerConfig?.model_max_length) ?? positions ?? 512;
  const maxLength = Math.max(2, Math.min(preferred, ...limits));

  const modes: Array<[string, OnnxPooling]> = [['pooling_mode_cls_token', 'cls'], ['pooling_mode_mean_tokens', 'mean'], ['pooling_mode_max_tokens', 'max'], ['pooling_mode_lasttoken', 'last']];
  const pooling = modes.find(([key]) => poolingConfig?.[key] === true)?.[1];
  return { modelPath, tokenizerPath, config, inspection, maxLength, pooling };
}

/** Where onnxruntime-node would be imported from, without importing it (undefined when it is not installed). */
function runtimePathIfInstalled(specifier: string): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch {
    return undefined;
  }
}

/**
 * Memory of `sessions` sessions: each holds a copy of the weights, an activation arena of
 * `tokensPerRun × 4 × (6·hidden + 2·intermediate + 2·heads·maxLength)` bytes (the hidden states,
 * feed-forward and attention-score buffers of the largest run, which ONNX Runtime's arena keeps once
 * grown) and {@link ONNX_SESSION_OVERHEAD_BYTES}. On CUDA the weights and the arena are on the GPU.
 * Sizes come from config.json (hidden_size, intermediate_size, num_attention_heads); without them a
 * BERT-base shape (768, 3072, 12) is assumed.
 */
export function onnxMemoryReport(input: { weightBytes: number; sessions: number; tokensPerRun: number; maxLength: number; config: Record<string, unknown> | undefined; device: string }): MemoryReport {
  const size = (key: string): number | undefined => (typeof input.config?.[key] === 'number' && (input.config[key] as number) > 0 ? (input.config[key] as number) : undefined);
  const hidden = size('hidden_size') ?? 768;
  const intermediate = size('intermediate_size') ?? 4 * hidden;
  const heads = size('num_attention_heads') ?? Math.max(1, Math.round(hidden / 64));
  const arena = input.tokensPerRun * 4 * (6 * hidden + 2 * intermediate + 2 * heads * input.maxLength);
  const device = (name: string, weights: number, compute: number): DeviceMemory => ({ device: name, weights, kvCache: 0, compute, total: weights + compute, reclaimable: 0 });
  const n = input.sessions;
  const devices =
    input.device === 'CPU'
      ? [device('CPU', n * input.weightBytes, n * (arena + ONNX_SESSION_OVERHEAD_BYTES))]
      : [device('CPU', 0, n * ONNX_SESSION_OVERHEAD_BYTES), device(input.device, n * input.weightBytes, n * arena)];
  const sum = (key: 'weights' | 'compute' | 'total'): number => devices.reduce((s, d) => s + d[key], 0);
  return { devices, total: sum('total'), weights: sum('weights'), kvCache: 0, compute: sum('compute'), reclaimable: 0 };
}

const batchLimits = (options: OnnxLoadOptions, maxLength: number): { batchSize: number; batchTokens: number; tokensPerRun: number } => {
  const batchSize = options.batchSize ?? 32;
  // One text of maxLength tokens must fit in a run.
  const batchTokens = Math.max(options.batchTokens ?? 4096, maxLength);
  return { batchSize, batchTokens, tokensPerRun: Math.min(batchTokens, batchSize * maxLength) };
};

/** What loading the ONNX model at `path` with `options` would take (no session is created; ONNX Runtime is not imported). */
export async function estimateOnnxModel(path: string, options: OnnxLoadOptions = {}): Promise<OnnxEstimate> {
  nonEmptyString('path', path);
  const o = validateOptions('options', options, LOAD_KEYS);
  const files = await readModelFiles(path, o);
  const attempts = executionAttempts(o.executionProviders, o.gpu ?? true, cudaProviderInstalled(runtimePathIfInstalled(o.runtime ?? 'onnxruntime-node')));
  const { tokensPerRun } = batchLimits(o, files.maxLength);
  const memory = onnxMemoryReport({ weightBytes: files.inspection.weightBytes, sessions: o.parallel ?? 1, tokensPerRun, maxLength: files.maxLength, config: files.config, device: providerDevice(attempts[0]![0]!) });
  const positions = positive(files.config?.max_position_embeddings);
  return { memory, architecture: 'onnx', inspection: files.inspection, maxLength: files.maxLength, executionAttempts: attempts, ...(positions === undefined ? {} : { trainContextLength: positions }) };
}

/** Labels by index from config.json's id2label; LABEL_i where it names none. */
function labelsOf(config: Record<string, unknown> | undefined, count: number): string[] {
  const id2label = config?.id2label;
  const named = typeof id2label === 'object' && id2label !== null ? (id2label as Record<string, unknown>) : {};
  return Array.from({ length: count }, (_, i) => (typeof named[String(i)] === 'string' ? (named[String(i)] as string) : `LABEL_${i}`));
}

/**
 * Loads the ONNX model at `path` (a .onnx file, or a folder holding model.onnx or onnx/model.onnx): its
 * tokenizer, then `parallel` sessions, then one warm-up run that checks the graph takes what modelpool
 * feeds and gives what it reads. MODEL_NOT_FOUND without a file, INVALID_ARGUMENT for a file that is
 * not ONNX, LOAD_FAILED when the tokenizer is missing, ONNX Runtime is not installed or refuses the
 * model, UNSUPPORTED_ARCHITECTURE for a graph that is neither an embedding model nor a classifier,
 * ABORTED through `options.signal`.
 */
export async function loadOnnxModel(path: string, options: OnnxLoadOptions = {}): Promise<OnnxModel> {
  const started = performance.now();
  nonEmptyString('path', path);
  const o = validateOptions('options', options, LOAD_KEYS);
  const signal = o.signal;
  const aborted = (): ModelpoolError => new ModelpoolError('ABORTED', `Loading ${path} was aborted`, { cause: signal?.reason });
  const throwIfAborted = (): void => {
    if (signal?.aborted === true) throw aborted();
  };
  throwIfAborted();
  o.onProgress?.(0);
  const files = await readModelFiles(path, o);
  const tokenizer = await OnnxTokenizer.load(files.tokenizerPath);
  const runtime = await loadOnnxRuntime(o.runtime);
  throwIfAborted();
  const threads = o.threads ?? Math.max(1, availableParallelism() - 1);
  const sessions = o.parallel ?? 1;
  const attempts = executionAttempts(o.executionProviders, o.gpu ?? true, cudaProviderInstalled(runtime.path));
  const pool = await SessionPool.create({ runtimePath: runtime.path, modelPath: files.modelPath, attempts, sessions, threads, ...(o.rebuildDelayMs === undefined ? {} : { rebuildDelayMs: o.rebuildDelayMs }) }, signal);
  try {
    o.onProgress?.(0.9);
    const plan = planOutputs(pool.description.outputs, o.task, o.pooling ?? 'auto', files.pooling);
    const { batchSize, batchTokens, tokensPerRun } = batchLimits(o, files.maxLength);
    // The warm-up: ONNX Runtime plans its memory on the first run, and a graph that takes inputs we cannot fill fails here, not on a request.
    const warm = await pool.run(batchFeeds([tokenizer.encode('', files.maxLength)], pool.description.inputs, tokenizer.padId), [plan.output], signal);
    const dims = warm[plan.output]?.dims ?? [];
    const width = dims.at(-1) ?? 0;
    throwIfAborted();
    const providers = pool.description.providers;
    const failure = pool.description.failures[0];
    const labels = plan.task === 'classify' ? labelsOf(files.config, width) : [];
    const multiLabel = files.config?.problem_type === 'multi_label_classification';
    const info: OnnxModelInfo = {
      contextSize: files.maxLength,
      parallel: sessions,
      architecture: 'onnx',
      path: files.modelPath,
      tokenizerPath: files.tokenizerPath,
      task: plan.task,
      executionProvider: providerName(providers[0]!),
      executionProviders: providers,
      ...(failure === undefined ? {} : { executionProviderNote: `${failure.providers.map(providerName).join(', ')} failed (${failure.message}); running on ${providers.map(providerName).join(', ')}` }),
      sessionThreads: pool.sessionThreads,
      output: plan.output,
      pooling: plan.pooling,
      normalize: o.normalize ?? true,
      embeddingSize: width,
      labels,
      scoreFunction: o.scores ?? (multiLabel || labels.length === 1 ? 'sigmoid' : 'softmax'),
      batchSize,
      batchTokens,
      vocabularySize: tokenizer.vocabularySize,
      sizeBytes: files.inspection.weightBytes,
    };
    const memory = onnxMemoryReport({ weightBytes: files.inspection.weightBytes, sessions, tokensPerRun, maxLength: files.maxLength, config: files.config, device: providerDevice(providers[0]!) });
    o.onProgress?.(1);
    return new OnnxModel({ info, memory, plan, tokenizer, sessions: pool, loadMs: performance.now() - started });
  } catch (error) {
    await pool.close();
    throwIfAborted();
    if (error instanceof ModelpoolError && error.code === 'GENERATION_FAILED') {
      throw new ModelpoolError('LOAD_FAILED', `The ONNX model ${files.modelPath} failed its first run: ${error.message}`, { cause: error, details: { path: files.modelPath } });
    }
    throw error;
  }
}

/**
 * The ONNX provider (name 'onnx'): `ref.source` is a .onnx file or a folder holding one. Its models are
 * {@link OnnxModel}s: local models on the pool's threads and memory, with embed() or classify().
 * From the pool's options it uses `parallel` (sessions), `threads`, `contextSize` (a cap on tokens per
 * text), `gpuLayers` (0: no GPU execution provider) and `signal`; batchSize, mmap, mlock and probe do
 * not apply (see OnnxModelOptions.batchSize for texts per run).
 */
export function createOnnxProvider(options: OnnxProviderOptions = {}): Provider {
  const { models, ...defaults } = validateOptions('options', options, [...MODEL_KEYS, 'models', 'runtime']) as OnnxProviderOptions;
  const perModel = new Map<string, OnnxModelOptions>();
  for (const [key, value] of Object.entries(models === undefined ? {} : plainObject('options.models', models))) {
    perModel.set(key, validateOptions(`options.models.${key}`, value, MODEL_KEYS));
  }
  const forRef = (ref: ModelRef): OnnxLoadOptions => ({ ...defaults, ...(perModel.get(ref.id) ?? perModel.get(ref.source)) });
  return {
    name: 'onnx',
    async estimate(ref: ModelRef, estimate: EstimateOptions): Promise<ModelEstimate> {
      const e = await estimateOnnxModel(ref.source, {
        ...forRef(ref),
        ...(estimate.parallel === undefined ? {} : { parallel: estimate.parallel }),
        ...(estimate.contextSize === undefined ? {} : { contextSize: estimate.contextSize }),
        gpu: estimate.gpuLayers !== 0,
      });
      return { memory: e.memory, architecture: e.architecture, ...(e.trainContextLength === undefined ? {} : { trainContextLength: e.trainContextLength }) };
    },
    async load(ref: ModelRef, load: ProviderLoadOptions): Promise<OnnxModel> {
      return loadOnnxModel(ref.source, {
        ...forRef(ref),
        threads: load.threads,
        ...(load.parallel === undefined ? {} : { parallel: load.parallel }),
        ...(load.contextSize === undefined ? {} : { contextSize: load.contextSize }),
        ...(load.signal === undefined ? {} : { signal: load.signal }),
        ...(load.onProgress === undefined ? {} : { onProgress: load.onProgress }),
        gpu: load.gpuLayers !== 0,
      });
    },
    /** Host memory only: ONNX Runtime does not report GPU memory. */
    devices(): DeviceMemoryInfo[] {
      return [{ device: 'CPU', total: totalmem(), free: freemem() }];
    },
    cpuCores(): number {
      return availableParallelism();
    },
  };
}
