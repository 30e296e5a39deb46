/**
 * Loading: inspection once per file version, the child-process probe of untrusted files, the dry-run
 * estimate and loadModel.
 */
import { spawn } from 'node:child_process';
import { freemem } from 'node:os';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { optionalSignal, plainObject } from '../validate.js';
import { inspect } from '../gguf/inspect.js';
import { loadedBinaryPath, native } from './native.js';
import { type NativeLoadParams } from './native.js';
import { type EstimateOptions, type LoadOptions, type MemoryReport } from '../model/types.js';
import { type DeviceInfo, type GgufInspection } from './types.js';
import { fromNative, toMemoryReport, loadParams, checkedPath } from './convert.js';
import { Model } from './model.js';
import { readChatTemplates } from '../template/choose.js';

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
  // The chat templates and BOS/EOS texts, read from the header beside the load (none if that fails).
  const templates = readChatTemplates(p).catch(() => undefined);
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
    return new Model(nativeModel, performance.now() - started, await templates);
  } catch (error) {
    const e = fromNative(error);
    throw e.code === 'ABORTED' ? aborted() : e;
  } finally {
    settled = true;
    signal?.removeEventListener('abort', onAbort);
  }
}
