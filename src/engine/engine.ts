/**
 * The engine: loads GGUF models into this process through the native core and runs requests on them.
 * Arguments are validated here; the native side converts them once and does the work off the
 * JavaScript thread (load, estimate) or on each model's scheduler thread (generation, embeddings).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { availableParallelism, freemem } from 'node:os';
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import {
  integer,
  nonEmptyString,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalSignal,
  plainObject,
} from '../validate.js';
import { inspect } from '../gguf/inspect.js';
import { loadedBinaryPath, native } from './native.js';
import type {
  NativeGenerateParams,
  NativeLoadParams,
  NativeMemoryEntry,
  NativeModel,
  NativeModelInfo,
  NativeRequestCallback,
  NativeRequestHandle,
  NativeResult,
  NativeSlot,
} from './native.js';
import type { LocalModelHandle, ModelCapabilities } from '../model/handle.js';
import type {
  ChatMessage,
  EstimateOptions,
  FinishReason,
  GenerateRequest,
  GenerationResult,
  GenerationStream,
  LoadOptions,
  MemoryReport,
  TokenizeOptions,
} from '../model/types.js';
import type { DeviceInfo, GgufInspection, LoadedModelInfo } from './types.js';

/** Threads a model gets by default: the cores left after the event loop, at least one. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

const ERROR_CODES = new Set<string>([
  'INVALID_ARGUMENT', 'MODEL_NOT_FOUND', 'INVALID_GGUF', 'UNSUPPORTED_ARCHITECTURE', 'CONTEXT_TOO_LARGE',
  'CONTEXT_OVERFLOW', 'INSUFFICIENT_MEMORY', 'LOAD_FAILED', 'GENERATION_FAILED', 'INVALID_SCHEMA', 'ABORTED', 'DISPOSED',
]);

/** Turns an error thrown by the addon (an Error with a string `code`) into a ModelpoolError. */
function fromNative(error: unknown, fallback: ErrorCode = 'LOAD_FAILED'): ModelpoolError {
  if (isModelpoolError(error)) return error;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new ModelpoolError(typeof code === 'string' && ERROR_CODES.has(code) ? (code as ErrorCode) : fallback, message, {
    cause: error,
  });
}

function toMemoryReport(entries: NativeMemoryEntry[]): MemoryReport {
  const devices = entries.map((e) => ({ ...e, total: e.weights + e.kvCache + e.compute }));
  const sum = (key: 'weights' | 'kvCache' | 'compute' | 'total' | 'reclaimable') => devices.reduce((n, d) => n + d[key], 0);
  return { devices, total: sum('total'), weights: sum('weights'), kvCache: sum('kvCache'), compute: sum('compute'), reclaimable: sum('reclaimable') };
}

function gpuLayersValue(value: unknown): number {
  if (value === undefined || value === 'auto' || value === 'max') return -1;
  return integer('gpuLayers', value, 0, 100_000);
}

function loadParams(path: string, options: LoadOptions, forEstimate: boolean): NativeLoadParams {
  const threads = forEstimate ? 1 : optionalInteger('threads', options.threads, 1, 1024) ?? defaultThreads();
  return {
    path,
    contextSize: optionalInteger('contextSize', options.contextSize, 1, 16_777_216) ?? 0,
    parallel: optionalInteger('parallel', options.parallel, 1, 256) ?? 1,
    threads,
    batchThreads: forEstimate ? 1 : optionalInteger('batchThreads', options.batchThreads, 1, 1024) ?? threads,
    gpuLayers: gpuLayersValue(options.gpuLayers),
    batchSize: optionalInteger('batchSize', options.batchSize, 1, 1_048_576) ?? 512,
    mmap: optionalBoolean('mmap', options.mmap) ?? true,
    mlock: forEstimate ? false : optionalBoolean('mlock', options.mlock) ?? false,
    embeddings: optionalBoolean('embeddings', options.embeddings) ?? false,
  };
}

async function checkedPath(path: unknown): Promise<{ path: string; key: string }> {
  const p = nonEmptyString('path', path);
  let info;
  try {
    info = await stat(p);
  } catch (error) {
    throw new ModelpoolError('MODEL_NOT_FOUND', `No model file at path ${JSON.stringify(p)}`, {
      field: 'path',
      value: p,
      cause: error,
    });
  }
  if (!info.isFile()) {
    throw new ModelpoolError('MODEL_NOT_FOUND', `path ${JSON.stringify(p)} is not a file`, { field: 'path', value: p });
  }
  // Identity of this version of the file: a replaced file is inspected and probed again.
  return { path: p, key: `${p}\0${info.size}\0${info.mtimeMs}` };
}

// Header validation costs milliseconds of main-thread parsing (more with 100k-token vocabularies):
// done once per version of a file, not on every load or swap.
const inspections = new Map<string, Promise<GgufInspection>>();

function inspectOnce(file: { path: string; key: string }): Promise<GgufInspection> {
  let pending = inspections.get(file.key);
  if (!pending) {
    if (inspections.size >= 256) inspections.delete(inspections.keys().next().value!);
    pending = inspect(file.path);
    inspections.set(file.key, pending);
    pending.catch(() => inspections.delete(file.key));
  }
  return pending;
}

// ---------------------------------------------------------------------------------------------
// Child-process probe: a corrupted file that makes llama.cpp abort kills only the child.

const probed = new Map<string, Promise<void>>();

function probeScript(binary: string, params: NativeLoadParams): string {
  return `
const addon = require(${JSON.stringify(binary)});
addon.estimateMemory(${JSON.stringify(params)}).then(
  () => { process.stdout.write('{"ok":true}'); },
  (e) => { process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: e.message })); },
);`;
}

function runProbe(path: string, params: NativeLoadParams): Promise<void> {
  native();
  const binary = loadedBinaryPath()!;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', probeScript(binary, params)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('close', (code, signal) => {
      if (signal || code !== 0) {
        reject(
          new ModelpoolError(
            'INVALID_GGUF',
            `llama.cpp crashed while reading ${path} in a probe process (${signal ?? `exit ${code}`}): the file is corrupted` +
              (err ? `\n${err.trim().split('\n').slice(-3).join('\n')}` : ''),
            { field: 'path', value: path },
          ),
        );
        return;
      }
      try {
        const result = JSON.parse(out) as { ok: boolean; code?: string; message?: string };
        if (result.ok) resolvePromise();
        else reject(fromNative(Object.assign(new Error(result.message), { code: result.code })));
      } catch {
        reject(new ModelpoolError('LOAD_FAILED', `unexpected probe output for ${path}: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function probe(file: { path: string; key: string }, params: NativeLoadParams, mode: 'auto' | 'always' | 'never'): Promise<void> {
  if (mode === 'never') return;
  const path = file.path;
  const key = `${file.key}\0${params.embeddings}`;
  let pending = mode === 'auto' ? probed.get(key) : undefined;
  if (!pending) {
    // The probe validates the file, not the memory: a small context keeps it quick.
    pending = runProbe(path, { ...params, contextSize: 0, parallel: 1, gpuLayers: 0, threads: 1, batchThreads: 1 });
    probed.set(key, pending);
    pending.catch(() => probed.delete(key));
  }
  return pending;
}

// ---------------------------------------------------------------------------------------------
// Public functions

/**
 * Measures the memory a load would take, by device and kind, with llama.cpp's dry-run load
 * (weights, KV cache and compute buffers sized exactly, nothing allocated).
 */
export async function estimateMemory(path: string, options: EstimateOptions = {}): Promise<MemoryReport> {
  plainObject('options', options);
  const file = await checkedPath(path);
  const params = loadParams(file.path, options, true);
  await inspectOnce(file);
  try {
    const result = await native().estimateMemory(params);
    return toMemoryReport(result.devices);
  } catch (error) {
    throw fromNative(error);
  }
}

/** CPU, RAM and GPU devices as ggml's backend registry sees them. */
export function deviceInfo(): DeviceInfo {
  const info = native().deviceInfo();
  // ggml's CPU device reports total RAM as free; the OS knows what is available.
  return { cpu: info.cpu, ram: { total: info.ram.total, free: Math.min(info.ram.free, freemem()) }, gpus: info.gpus, backends: info.backends };
}

const LOG_LEVELS = { debug: 1, info: 2, warn: 3, error: 4, none: 5 } as const;

/** Which llama.cpp log messages reach stderr. Default 'none': load errors reach callers inside typed errors. */
export function setLogLevel(level: keyof typeof LOG_LEVELS): void {
  if (!(level in LOG_LEVELS)) throw invalidArgument('level', `one of ${Object.keys(LOG_LEVELS).join(', ')}`, level);
  native().setLogLevel(LOG_LEVELS[level]);
}

/** Loads a GGUF model with its context and starts its scheduler thread. */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Model> {
  plainObject('options', options);
  const file = await checkedPath(path);
  const p = file.path;
  const params = loadParams(p, options, false);
  const signal = optionalSignal('signal', options.signal);
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidArgument('onProgress', 'a function', onProgress);
  }
  const probeMode = options.probe ?? 'auto';
  if (!['auto', 'always', 'never'].includes(probeMode)) {
    throw invalidArgument('probe', "'auto', 'always' or 'never'", probeMode);
  }
  const aborted = () => new ModelpoolError('ABORTED', `loading ${p} was aborted`, { cause: signal?.reason });
  if (signal?.aborted) throw aborted();

  const inspection = await inspectOnce(file);
  if (params.contextSize > 0 && inspection.contextLength > 0 && params.contextSize > inspection.contextLength) {
    throw new ModelpoolError(
      'CONTEXT_TOO_LARGE',
      `Expected contextSize of at most ${inspection.contextLength} (the model's trained context) but received ${params.contextSize}`,
      { field: 'contextSize', value: params.contextSize },
    );
  }
  await probe(file, params, probeMode);
  if (signal?.aborted) throw aborted();

  const started = performance.now();
  // Progress arrives through its own queue and may trail the load's completion: report 1 at the end
  // and nothing after it.
  let lastProgress = 0;
  let settled = false;
  const progress = onProgress
    ? (value: number) => {
        if (settled) return;
        lastProgress = value;
        onProgress(value);
      }
    : undefined;
  const handle = native().loadModel(params, progress);
  const onAbort = () => handle.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const nativeModel = await handle.promise;
    settled = true;
    if (onProgress && lastProgress < 1) onProgress(1);
    if (signal?.aborted) {
      await nativeModel.close(true);
      throw aborted();
    }
    return new Model(nativeModel, performance.now() - started);
  } catch (error) {
    const e = fromNative(error);
    throw e.code === 'ABORTED' ? aborted() : e;
  } finally {
    settled = true;
    signal?.removeEventListener('abort', onAbort);
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

function validateMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidArgument('messages', 'a non-empty array', value);
  return value.map((m, i) => {
    const o = plainObject(`messages[${i}]`, m);
    return { role: nonEmptyString(`messages[${i}].role`, o.role), content: stringField(`messages[${i}].content`, o.content) };
  });
}

function stringField(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgument(field, 'a string', value);
  return value;
}

function generateParams(model: NativeModel, request: GenerateRequest): NativeGenerateParams {
  plainObject('request', request);
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  if (hasPrompt === hasMessages) {
    throw invalidArgument('request.prompt', 'exactly one of prompt or messages', hasPrompt ? 'both' : undefined);
  }
  let prompt: string;
  let parseSpecial = false;
  if (hasMessages) {
    prompt = model.applyChatTemplate(validateMessages(request.messages), true);
    parseSpecial = true;
  } else {
    prompt = stringField('request.prompt', request.prompt);
  }
  let stop: string[] = [];
  if (request.stop !== undefined) {
    if (!Array.isArray(request.stop) || request.stop.length > 16) {
      throw invalidArgument('request.stop', 'an array of at most 16 non-empty strings', request.stop);
    }
    stop = request.stop.map((s, i) => nonEmptyString(`request.stop[${i}]`, s, 1000));
  }
  if (request.jsonSchema !== undefined && request.grammar !== undefined) {
    throw invalidArgument('request.grammar', 'no grammar when jsonSchema is given', request.grammar);
  }
  let jsonSchema: string | undefined;
  if (request.jsonSchema !== undefined) {
    if (typeof request.jsonSchema !== 'object' || request.jsonSchema === null || Array.isArray(request.jsonSchema)) {
      throw new ModelpoolError('INVALID_SCHEMA', `Expected a JSON schema object for request.jsonSchema but received ${typeof request.jsonSchema}`, {
        field: 'request.jsonSchema',
        value: request.jsonSchema,
      });
    }
    jsonSchema = JSON.stringify(request.jsonSchema);
  }
  const params: NativeGenerateParams = {
    prompt,
    addSpecial: optionalBoolean('request.addSpecial', request.addSpecial) ?? true,
    parseSpecial,
    maxTokens: optionalInteger('request.maxTokens', request.maxTokens, 1, 1_000_000) ?? 256,
    stop,
    temperature: optionalNumber('request.temperature', request.temperature, 0, 100) ?? 0.8,
    topK: optionalInteger('request.topK', request.topK, 0, 1_000_000) ?? 40,
    topP: optionalNumber('request.topP', request.topP, 0, 1) ?? 0.95,
    minP: optionalNumber('request.minP', request.minP, 0, 1) ?? 0.05,
    repeatPenalty: optionalNumber('request.repeatPenalty', request.repeatPenalty, 0.01, 100) ?? 1,
    repeatLastN: optionalInteger('request.repeatLastN', request.repeatLastN, 0, 1_000_000) ?? 64,
    frequencyPenalty: optionalNumber('request.frequencyPenalty', request.frequencyPenalty, -100, 100) ?? 0,
    presencePenalty: optionalNumber('request.presencePenalty', request.presencePenalty, -100, 100) ?? 0,
  };
  const seed = optionalInteger('request.seed', request.seed, 0, 0xfffffffe);
  if (seed !== undefined) params.seed = seed;
  if (jsonSchema !== undefined) params.jsonSchema = jsonSchema;
  if (request.grammar !== undefined) params.grammar = nonEmptyString('request.grammar', request.grammar);
  return params;
}

function toResult(r: NativeResult): GenerationResult {
  const decodeMs = r.decodeMs;
  const promptMs = r.promptMs;
  return {
    text: r.text,
    finishReason: r.finishReason as FinishReason,
    promptTokens: r.promptTokens,
    generatedTokens: r.generatedTokens,
    timeToFirstTokenMs: r.firstTokenMs,
    promptTokensPerSecond: promptMs > 0 ? (r.promptTokens * 1000) / promptMs : 0,
    decodeTokensPerSecond: decodeMs > 0 && r.generatedTokens > 1 ? ((r.generatedTokens - 1) * 1000) / decodeMs : 0,
    totalMs: r.totalMs,
    nativeMs: r.nativeMs,
    cpuMs: r.cpuMs,
    queuedMs: r.queuedMs,
  };
}

/** Chunks pushed by the native callback, pulled by one async iterator. */
class ChunkQueue {
  readonly chunks: string[] = [];
  done = false;
  error: unknown;
  wake: (() => void) | undefined;

  push(text: string): void {
    this.chunks.push(text);
    this.notify();
  }
  end(error?: unknown): void {
    this.done = true;
    this.error = error;
    this.notify();
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  async *iterate(): AsyncGenerator<string> {
    for (;;) {
      if (this.chunks.length > 0) {
        yield this.chunks.splice(0).join('');
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

type Submit = (params: NativeGenerateParams, callback: NativeRequestCallback) => NativeRequestHandle;

/** Runs one request through `submit` and exposes it as a GenerationStream. */
function startRequest(
  submit: Submit,
  params: NativeGenerateParams,
  signal: AbortSignal | undefined,
  onSettled: (handle: NativeRequestHandle) => Model | undefined,
): GenerationStream {
  const queue = new ChunkQueue();
  let resolveResult!: (r: GenerationResult) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<GenerationResult>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  // The caller may only iterate: a rejection must not become an unhandled one.
  result.catch(() => undefined);

  let handle: NativeRequestHandle | undefined;
  const onAbort = () => handle?.abort();
  const callback: NativeRequestCallback = (kind, text, native) => {
    if (text) queue.push(text);
    if (kind !== 'done' || !native) return;
    signal?.removeEventListener('abort', onAbort);
    if (handle) onSettled(handle);
    if (native.errorCode) {
      const error = fromNative(Object.assign(new Error(native.errorMessage), { code: native.errorCode }), 'GENERATION_FAILED');
      queue.end(error);
      rejectResult(error);
    } else if (native.finishReason === 'abort') {
      const error = new ModelpoolError('ABORTED', 'the request was aborted', {
        cause: signal?.reason,
        details: { partialText: native.text, ...toResult(native) },
      });
      queue.end(error);
      rejectResult(error);
    } else {
      queue.end();
      resolveResult(toResult(native));
    }
  };
  if (signal?.aborted) throw new ModelpoolError('ABORTED', 'the request was aborted before it started', { cause: signal.reason });
  try {
    handle = submit(params, callback);
  } catch (error) {
    throw fromNative(error, 'INVALID_ARGUMENT');
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  return { result, [Symbol.asyncIterator]: () => queue.iterate() };
}

// ---------------------------------------------------------------------------------------------
// Model

const models = new WeakMap<NativeModel, Model>();

/** Capabilities of a model loaded for generation, and of one loaded for embeddings. */
const GENERATION: ModelCapabilities = Object.freeze({ generate: true, chat: true, embed: false, jsonSchema: true, grammar: true, streaming: true });
const EMBEDDING: ModelCapabilities = Object.freeze({ generate: false, chat: false, embed: true, jsonSchema: false, grammar: false, streaming: false });

/** A model loaded in this process: the model contract with its local extension (see {@link LocalModelHandle}). */
export class Model implements LocalModelHandle {
  readonly #native: NativeModel;
  readonly local = true;
  /** A model without a chat template of its own formats messages as ChatML, as llama.cpp's server does. */
  readonly capabilities: ModelCapabilities;
  readonly info: LoadedModelInfo;
  readonly memory: MemoryReport;
  readonly loadMs: number;
  #active = 0;
  #threads: number;
  #disposing: Promise<void> | undefined;

  /** @internal Use {@link loadModel}. */
  constructor(nativeModel: NativeModel, loadMs: number) {
    this.#native = nativeModel;
    const info: NativeModelInfo = nativeModel.info();
    const { loadMs: _nativeLoadMs, ...rest } = info;
    this.info = rest;
    this.capabilities = rest.embeddings ? EMBEDDING : GENERATION;
    this.memory = toMemoryReport(nativeModel.memory());
    this.loadMs = loadMs;
    this.#threads = nativeModel.stats().threads;
    models.set(nativeModel, this);
  }

  get threads(): number {
    return this.#threads;
  }
  get activeRequests(): number {
    return this.#active;
  }
  /** Batched decode steps run for generation so far (all sequences of a step count once). */
  get decodeSteps(): number {
    return this.#native.stats().decodeSteps;
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  #live(): NativeModel {
    if (this.#disposing) throw new ModelpoolError('DISPOSED', `the model ${this.info.path} has been disposed`);
    return this.#native;
  }

  /** @internal */
  get nativeModel(): NativeModel {
    return this.#live();
  }

  setThreads(threads: number, batchThreads = threads): void {
    integer('threads', threads, 1, 1024);
    integer('batchThreads', batchThreads, 1, 1024);
    this.#live().setThreads(threads, batchThreads);
    this.#threads = threads;
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    stringField('text', text);
    const addSpecial = optionalBoolean('options.addSpecial', options.addSpecial) ?? true;
    const parseSpecial = optionalBoolean('options.parseSpecial', options.parseSpecial) ?? false;
    return Array.from(this.#live().tokenize(text, addSpecial, parseSpecial));
  }

  detokenize(tokens: readonly number[]): string {
    if (!Array.isArray(tokens)) throw invalidArgument('tokens', 'an array of token ids', tokens);
    tokens.forEach((t, i) => integer(`tokens[${i}]`, t, 0, this.info.vocabularySize - 1));
    return this.#live().detokenize(Int32Array.from(tokens));
  }

  applyChatTemplate(messages: ChatMessage[], addAssistant = true): string {
    const valid = validateMessages(messages);
    try {
      return this.#live().applyChatTemplate(valid, addAssistant);
    } catch (error) {
      throw fromNative(error, 'INVALID_ARGUMENT');
    }
  }

  /** @internal Bookkeeping shared with ModelSlot. */
  track(delta: number): void {
    this.#active += delta;
  }

  generate(request: GenerateRequest): GenerationStream {
    const nativeModel = this.#live();
    const params = generateParams(nativeModel, request);
    const signal = optionalSignal('request.signal', request.signal);
    const stream = startRequest((p, cb) => this.#submit(nativeModel, p, cb), params, signal, () => {
      this.track(-1);
      return this;
    });
    this.track(1);
    return stream;
  }

  #wakePending = false;

  // Requests made in one turn of the event loop wake the scheduler once, at the end of the turn, so they
  // start as one batch instead of the first running alone while the others are still being submitted.
  #submit(nativeModel: NativeModel, params: NativeGenerateParams, callback: NativeRequestCallback): NativeRequestHandle {
    const handle = nativeModel.generate(params, callback, true);
    if (!this.#wakePending) {
      this.#wakePending = true;
      queueMicrotask(() => {
        this.#wakePending = false;
        nativeModel.wake();
      });
    }
    return handle;
  }

  complete(request: GenerateRequest): Promise<GenerationResult> {
    try {
      return this.generate(request).result;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (!Array.isArray(texts) || texts.length === 0) throw invalidArgument('texts', 'a non-empty array of strings', texts);
    texts.forEach((t, i) => stringField(`texts[${i}]`, t));
    const nativeModel = this.#live();
    return new Promise<Float32Array[]>((resolve, reject) => {
      try {
        nativeModel.embed(texts, (kind, _text, r) => {
          if (kind !== 'done' || !r) return;
          this.track(-1);
          if (r.errorCode) reject(fromNative(Object.assign(new Error(r.errorMessage), { code: r.errorCode })));
          else if (r.finishReason === 'abort') reject(new ModelpoolError('ABORTED', 'the embedding request was aborted'));
          else resolve(r.embeddings ?? []);
        });
        this.track(1);
      } catch (error) {
        reject(fromNative(error, 'INVALID_ARGUMENT'));
      }
    });
  }

  dispose(options: { abort?: boolean } = {}): Promise<void> {
    if (!this.#disposing) {
      const abort = optionalBoolean('options.abort', options.abort) ?? false;
      this.#disposing = this.#native.close(abort);
    }
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// ModelSlot

/**
 * The hot-swap primitive: a slot holding the model that serves. `replace()` publishes a new model
 * atomically (in C++); a request runs on the model that was current when it was accepted, and the old
 * model is freed once its last request has finished.
 */
export class ModelSlot {
  readonly #native: NativeSlot;

  constructor(model: Model) {
    if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel()', model);
    try {
      this.#native = new (native().Slot)(model.nativeModel);
    } catch (error) {
      throw fromNative(error, 'DISPOSED');
    }
  }

  /** The model that serves new requests. */
  get current(): Model {
    return models.get(this.#native.current())!;
  }

  /** How many times a model was published (1 after construction). */
  get generation(): number {
    return this.#native.generation();
  }

  /**
   * Publishes `model`; returns the previous one. With `disposeOld` (default true) the previous model
   * stops taking requests at once and is freed when the requests already on it have finished.
   */
  async replace(model: Model, options: { disposeOld?: boolean } = {}): Promise<Model> {
    if (!(model instanceof Model)) throw invalidArgument('model', 'a Model from loadModel()', model);
    const disposeOld = optionalBoolean('options.disposeOld', options.disposeOld) ?? true;
    let previousNative: NativeModel;
    try {
      previousNative = this.#native.replace(model.nativeModel);
    } catch (error) {
      throw fromNative(error, 'DISPOSED');
    }
    const previous = models.get(previousNative)!;
    if (disposeOld && previous !== model) await previous.dispose();
    return previous;
  }

  generate(request: GenerateRequest): GenerationStream {
    const current = this.current;
    const params = generateParams(current.nativeModel, request);
    const signal = optionalSignal('request.signal', request.signal);
    let owner: Model | undefined;
    const stream = startRequest(
      (p, cb) => {
        const handle = this.#native.generate(p, cb);
        owner = handle.model ? models.get(handle.model) : current;
        owner?.track(1);
        return handle;
      },
      params,
      signal,
      () => {
        owner?.track(-1);
        return owner;
      },
    );
    return stream;
  }

  complete(request: GenerateRequest): Promise<GenerationResult> {
    try {
      return this.generate(request).result;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
