/**
 * Where ONNX models run: ONNX Runtime (the optional `onnxruntime-node` package, imported on first
 * use), the execution providers chosen for the hardware, and a pool of sessions — one worker thread
 * owning one InferenceSession each (see worker-source.ts) — that requests queue for.
 *
 * Threads: ONNX Runtime fixes a session's intra-op thread count when the session is created. The pool
 * gives each session `max(1, floor(threads / sessions))` of the model's threads and lets at most
 * `floor(budget / perSession)` sessions (at least one) run at once, so that a budget lowered later by
 * setThreads() still holds without recreating sessions — except that one session always may run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { ModelpoolError } from '../../errors.js';
import { SESSION_WORKER_SOURCE } from './worker-source.js';

/** An execution provider as onnxruntime-node takes it: a name ('cpu', 'cuda', 'coreml', ...) or `{ name, ...options }`. */
export type OnnxExecutionProvider = string | { readonly name: string; readonly [option: string]: unknown };

/** A tensor crossing the worker boundary. */
export interface OnnxTensorData {
  type: string;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Float64Array | Uint8Array | Int8Array | Uint16Array;
}

/** A graph input or output as the session describes it (a string dimension is symbolic). */
export interface OnnxValueMetadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape: Array<number | string>;
}

/** The part of onnxruntime-node's exports modelpool checks on the main thread (the workers use the rest). */
interface OnnxRuntimeModule {
  InferenceSession: { create: unknown };
  env?: { versions?: Record<string, string> };
}

/** The runtime found: its module path (for the workers) and version. */
export interface OnnxRuntime {
  /** The resolved path of the module, which each session worker imports. */
  path: string;
  version: string | undefined;
}

const runtimes = new Map<string, Promise<OnnxRuntime>>();

/**
 * Imports `onnxruntime-node` (or `specifier`) once, checking that its native binding loads on this
 * platform; LOAD_FAILED saying how to install it when it does not.
 */
export function loadOnnxRuntime(specifier = 'onnxruntime-node'): Promise<OnnxRuntime> {
  let pending = runtimes.get(specifier);
  if (pending === undefined) {
    pending = importRuntime(specifier);
    runtimes.set(specifier, pending);
    // A failed import is not cached: the package may be installed while the process runs.
    pending.catch(() => runtimes.delete(specifier));
  }
  return pending;
}

async function importRuntime(specifier: string): Promise<OnnxRuntime> {
  let module: OnnxRuntimeModule;
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(specifier);
    module = (await import(specifier)) as OnnxRuntimeModule;
  } catch (error) {
    throw new ModelpoolError(
      'LOAD_FAILED',
      `ONNX models need the optional package ${specifier}, which could not be loaded on ${platform()}-${arch()} (${(error as Error).message}). ` +
        `Install it with "npm install onnxruntime-node" (it ships CPU binaries for Linux, macOS and Windows on x64 and arm64; ` +
        `CUDA needs its CUDA 12 binaries, installed with "npm install onnxruntime-node --onnxruntime-node-install=cuda12").`,
      { cause: error, details: { package: specifier, platform: platform(), arch: arch() } },
    );
  }
  if (typeof module.InferenceSession?.create !== 'function') {
    throw new ModelpoolError('LOAD_FAILED', `${specifier} does not export InferenceSession.create: not onnxruntime-node?`, { details: { package: specifier, path } });
  }
  return { path, version: module.env?.versions?.node ?? module.env?.versions?.common };
}

/** Whether onnxruntime-node's CUDA execution provider library is installed beside its binding. */
export function cudaProviderInstalled(runtimePath: string | undefined): boolean {
  if (runtimePath === undefined || platform() !== 'linux') return false;
  const library = join(dirname(runtimePath), '..', 'bin', 'napi-v6', platform(), arch(), 'libonnxruntime_providers_cuda.so');
  return existsSync(library);
}

/** The name of an execution provider entry. */
export function providerName(provider: OnnxExecutionProvider): string {
  return typeof provider === 'string' ? provider : provider.name;
}

/**
 * The execution provider lists to try, in order: the first that creates a session is used.
 * - `requested`: those (CPU appended as ONNX Runtime's fallback for unsupported nodes), then CPU alone.
 * - `gpu: false` (the pool's `gpuLayers: 0`): CPU.
 * - macOS on Apple silicon: Core ML, then CPU.
 * - Linux with onnxruntime-node's CUDA library installed: CUDA, then CPU.
 * - otherwise CPU.
 */
export function executionAttempts(requested: readonly OnnxExecutionProvider[] | undefined, gpu: boolean, cudaInstalled: boolean, os = platform(), cpu = arch()): OnnxExecutionProvider[][] {
  const withCpu = (list: readonly OnnxExecutionProvider[]): OnnxExecutionProvider[] => (list.some((p) => providerName(p) === 'cpu') ? [...list] : [...list, 'cpu']);
  if (requested !== undefined && requested.length > 0) {
    const first = withCpu(requested);
    return first.length === 1 ? [first] : [first, ['cpu']];
  }
  if (!gpu) return [['cpu']];
  if (os === 'darwin' && cpu === 'arm64') return [['coreml', 'cpu'], ['cpu']];
  if (cudaInstalled) return [['cuda', 'cpu'], ['cpu']];
  return [['cpu']];
}

/** The memory device an execution provider puts the weights on: "CUDA<id>" for CUDA and TensorRT, else "CPU" (Core ML's memory is unified). */
export function providerDevice(provider: OnnxExecutionProvider): string {
  const name = providerName(provider);
  if (name !== 'cuda' && name !== 'tensorrt') return 'CPU';
  const id = typeof provider === 'object' && typeof provider.deviceId === 'number' ? provider.deviceId : 0;
  return `CUDA${id}`;
}

/** What a session worker is created with. */
export interface SessionConfig {
  runtimePath: string;
  modelPath: string;
  attempts: OnnxExecutionProvider[][];
  /** Intra-op threads of this session. */
  threads: number;
}

/** The session a worker created: its graph's inputs and outputs and the providers it runs on. */
export interface SessionDescription {
  inputs: OnnxValueMetadata[];
  outputs: OnnxValueMetadata[];
  providers: OnnxExecutionProvider[];
  /** Execution provider lists tried before, and why each failed. */
  failures: Array<{ providers: OnnxExecutionProvider[]; message: string }>;
}

type WorkerMessage =
  | ({ type: 'ready' } & SessionDescription)
  | { type: 'failed'; message: string; failures: SessionDescription['failures'] }
  | { type: 'result'; id: number; outputs: Record<string, OnnxTensorData> }
  | { type: 'error'; id: number; message: string }
  | { type: 'released' };

/** One worker thread owning one InferenceSession. */
export class SessionWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (outputs: Record<string, OnnxTensorData>) => void; reject: (error: unknown) => void }>();
  #nextId = 1;
  #released: (() => void) | undefined;
  /** The worker stopped (crashed, or was terminated): runs fail and the pool replaces it. */
  broken = false;
  readonly threads: number;
  description!: SessionDescription;

  private constructor(config: SessionConfig) {
    this.threads = config.threads;
    this.#worker = new Worker(SESSION_WORKER_SOURCE, {
      eval: true,
      workerData: {
        runtimePath: config.runtimePath,
        modelPath: config.modelPath,
        attempts: config.attempts,
        sessionOptions: {
          intraOpNumThreads: config.threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          // Failures reach the caller as typed errors with ONNX Runtime's message; printing them too would say it twice.
          logSeverityLevel: 4,
          // Idle intra-op threads must not spin: they would burn CPU the pool's budget gave to other models.
          extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
        },
      },
    });
  }

  /** Starts a worker and waits for its session; LOAD_FAILED when none of the attempts creates one. */
  static start(config: SessionConfig, signal?: AbortSignal): Promise<SessionWorker> {
    const session = new SessionWorker(config);
    const worker = session.#worker;
    return new Promise<SessionWorker>((resolve, reject) => {
      const fail = (error: ModelpoolError): void => {
        cleanup();
        session.broken = true;
        void worker.terminate();
        reject(error);
      };
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === 'ready') {
          cleanup();
          session.description = { inputs: message.inputs, outputs: message.outputs, providers: message.providers, failures: message.failures };
          session.#listen();
          // An idle worker must not keep the process alive; a run in flight refs it again (see run()).
          worker.unref();
          resolve(session);
        } else if (message.type === 'failed') {
          fail(new ModelpoolError('LOAD_FAILED', `ONNX Runtime could not load ${config.modelPath}: ${message.message}`, { details: { path: config.modelPath, failures: message.failures } }));
        }
      };
      const onError = (error: Error): void => fail(new ModelpoolError('LOAD_FAILED', `The ONNX session worker for ${config.modelPath} failed: ${error.message}`, { cause: error, details: { path: config.modelPath } }));
      const onExit = (code: number): void => fail(new ModelpoolError('LOAD_FAILED', `The ONNX session worker for ${config.modelPath} exited with code ${code} while loading`, { details: { path: config.modelPath } }));
      const onAbort = (): void => fail(new ModelpoolError('ABORTED', `Loading ${config.modelPath} was aborted`, { cause: signal?.reason }));
      const cleanup = (): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #listen(): void {
    const breakDown = (reason: string, cause?: unknown): void => {
      if (this.broken) return;
      this.broken = true;
      const error = new ModelpoolError('GENERATION_FAILED', `The ONNX session worker stopped: ${reason}`, cause === undefined ? {} : { cause });
      for (const { reject } of this.#pending.values()) reject(error);
      this.#pending.clear();
      this.#released?.();
    };
    this.#worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'result' || message.type === 'error') {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (this.#pending.size === 0) this.#worker.unref();
        if (message.type === 'result') pending?.resolve(message.outputs);
        else pending?.reject(new ModelpoolError('GENERATION_FAILED', `ONNX Runtime failed to run the model: ${message.message}`));
      } else if (message.type === 'released') {
        this.#released?.();
      }
    });
    this.#worker.on('error', (error) => breakDown(error.message, error));
    this.#worker.on('exit', (code) => breakDown(`it exited with code ${code}`));
  }

  /** Runs the session on `feeds` (their buffers are moved to the worker), returning the `fetches` outputs. */
  run(feeds: Record<string, OnnxTensorData>, fetches: string[]): Promise<Record<string, OnnxTensorData>> {
    if (this.broken) return Promise.reject(new ModelpoolError('GENERATION_FAILED', 'The ONNX session worker stopped'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      const buffers = new Set<ArrayBuffer>();
      for (const feed of Object.values(feeds)) if (feed.data.buffer instanceof ArrayBuffer) buffers.add(feed.data.buffer);
      this.#worker.postMessage({ type: 'run', id, feeds, fetches }, [...buffers]);
    });
  }

  /** Releases the session (after the run in flight, if any) and ends the worker. */
  async close(): Promise<void> {
    if (!this.broken) {
      await new Promise<void>((resolve) => {
        this.#released = resolve;
        this.#worker.ref();
        this.#worker.postMessage({ type: 'release' });
      });
    }
    this.broken = true;
    await this.#worker.terminate();
  }
}
