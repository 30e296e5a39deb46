/** Conversions between the engine's options and results and the addon's raw shapes, and native errors. */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { ERROR_CODES, ModelpoolError, isModelpoolError, type ErrorCode } from '../errors.js';
import { integer, nonEmptyString, optionalBoolean, optionalInteger } from '../validate.js';
import { type NativeLoadParams, type NativeMemoryEntry } from './native.js';
import { type LoadOptions, type MemoryReport } from '../model/types.js';

/** Threads a model gets by default: the cores left after the event loop, at least one. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** A code the addon throws (native/errors.h) is kept when it is an ErrorCode; test/engine/native-guards checks all are. */
const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** Turns an error thrown by the addon (an Error with a string `code`) into a ModelpoolError. */
export function fromNative(error: unknown, fallback: ErrorCode = 'LOAD_FAILED'): ModelpoolError {
  if (isModelpoolError(error)) return error;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return new ModelpoolError(typeof code === 'string' && KNOWN_CODES.has(code) ? (code as ErrorCode) : fallback, message, {
    cause: error,
  });
}

export function toMemoryReport(entries: NativeMemoryEntry[]): MemoryReport {
  const devices = entries.map((e) => ({ ...e, total: e.weights + e.kvCache + e.compute }));
  const sum = (key: 'weights' | 'kvCache' | 'compute' | 'total' | 'reclaimable') => devices.reduce((n, d) => n + d[key], 0);
  return { devices, total: sum('total'), weights: sum('weights'), kvCache: sum('kvCache'), compute: sum('compute'), reclaimable: sum('reclaimable') };
}

function gpuLayersValue(value: unknown): number {
  if (value === undefined || value === 'auto' || value === 'max') return -1;
  return integer('gpuLayers', value, 0, 100_000);
}

/** Texts one decode may batch in a model loaded for embeddings, unless `parallel` says otherwise. */
const EMBEDDING_SEQUENCES = 64;

export function loadParams(path: string, options: LoadOptions, forEstimate: boolean): NativeLoadParams {
  const threads = forEstimate ? 1 : optionalInteger('threads', options.threads, 1, 1024) ?? defaultThreads();
  const embeddings = optionalBoolean('embeddings', options.embeddings) ?? false;
  return {
    path,
    contextSize: optionalInteger('contextSize', options.contextSize, 1, 16_777_216) ?? 0,
    // An embedding load's sequences are the texts one decode batches (one cache of batchSize tokens serves them all).
    parallel: optionalInteger('parallel', options.parallel, 1, 256) ?? (embeddings ? EMBEDDING_SEQUENCES : 1),
    threads,
    batchThreads: forEstimate ? 1 : optionalInteger('batchThreads', options.batchThreads, 1, 1024) ?? threads,
    gpuLayers: gpuLayersValue(options.gpuLayers),
    batchSize: optionalInteger('batchSize', options.batchSize, 1, 1_048_576) ?? 512,
    mmap: optionalBoolean('mmap', options.mmap) ?? true,
    mlock: forEstimate ? false : optionalBoolean('mlock', options.mlock) ?? false,
    embeddings,
  };
}

export async function checkedPath(path: unknown): Promise<{ path: string; key: string }> {
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
