/**
 * The native boundary: the only file that knows the raw shape of the addon's exports, and the loader
 * that finds the binary (prebuilds/<platform>-<arch>/modelpool.node, then a local build).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelpoolError } from '../errors.js';

declare const nativeModelBrand: unique symbol;
declare const nativeSlotBrand: unique symbol;

/** Every field is required: the addon keeps no defaults (they are src/engine/'s); a missing one is a TypeError. */
export interface NativeLoadParams {
  path: string;
  contextSize: number;
  parallel: number;
  threads: number;
  batchThreads: number;
  gpuLayers: number;
  batchSize: number;
  mmap: boolean;
  mlock: boolean;
  embeddings: boolean;
}

export interface NativeMemoryEntry {
  device: string;
  weights: number;
  kvCache: number;
  compute: number;
  /** Mapped file bytes no tensor reads after the load. */
  reclaimable: number;
}

/** Every field but seed, jsonSchema and grammar is required: the sampler defaults live only in engine.ts. */
export interface NativeGenerateParams {
  prompt: string;
  addSpecial: boolean;
  parseSpecial: boolean;
  maxTokens: number;
  stop: string[];
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  repeatLastN: number;
  frequencyPenalty: number;
  presencePenalty: number;
  seed?: number;
  /** JSON text of the schema. */
  jsonSchema?: string;
  grammar?: string;
}

export interface NativeResult {
  errorCode?: string;
  errorMessage?: string;
  finishReason: string;
  text: string;
  promptTokens: number;
  generatedTokens: number;
  queuedMs: number;
  firstTokenMs: number;
  promptMs: number;
  decodeMs: number;
  totalMs: number;
  nativeMs: number;
  cpuMs: number;
  embeddings?: Float32Array[];
}

/** kind "text": a chunk; kind "done": the last unsent text and the result. */
export type NativeRequestCallback = (kind: 'text' | 'done', text: string, result?: NativeResult) => void;

export interface NativeRequestHandle {
  abort(): void;
  promptTokens: number;
  /** Set by Slot.generate: the model the request was queued on. */
  model?: NativeModel;
}

export interface NativeModelInfo {
  description: string;
  architecture: string;
  path: string;
  parameterCount: number;
  sizeBytes: number;
  contextSize: number;
  trainContextSize: number;
  parallel: number;
  embeddingSize: number;
  layers: number;
  vocabularySize: number;
  chatTemplate?: string;
  embeddings: boolean;
  loadMs: number;
}

export interface NativeModel {
  readonly [nativeModelBrand]: true;
  info(): NativeModelInfo;
  memory(): NativeMemoryEntry[];
  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(tokens: Int32Array): string;
  applyChatTemplate(messages: Array<{ role: string; content: string }>, addAssistant: boolean): string;
  /** With deferWake the scheduler is not woken until wake(). */
  generate(params: NativeGenerateParams, callback: NativeRequestCallback, deferWake?: boolean): NativeRequestHandle;
  wake(): void;
  embed(texts: string[], callback: NativeRequestCallback): NativeRequestHandle;
  setThreads(threads: number, batchThreads: number): void;
  stats(): { threads: number; activeRequests: number; closed: boolean; decodeSteps: number };
  close(abort: boolean): Promise<void>;
}

export interface NativeSlot {
  readonly [nativeSlotBrand]: true;
  replace(model: NativeModel): NativeModel;
  current(): NativeModel;
  generation(): number;
  generate(params: NativeGenerateParams, callback: NativeRequestCallback): NativeRequestHandle;
}

export interface NativeDeviceInfo {
  cpu: { model: string; cores: number; features: string[] };
  ram: { total: number; free: number };
  gpus: Array<{ name: string; description: string; type: string; total: number; free: number }>;
  backends: string[];
  systemInfo: string;
  supportsGpuOffload: boolean;
  supportsMmap: boolean;
  supportsMlock: boolean;
}

export interface NativeAddon {
  Slot: new (model: NativeModel) => NativeSlot;
  loadModel(
    params: NativeLoadParams,
    onProgress?: (progress: number) => void,
  ): { promise: Promise<NativeModel>; abort(): void };
  estimateMemory(params: NativeLoadParams): Promise<{ devices: NativeMemoryEntry[]; contextSize: number }>;
  /** ftype: llama_ftype enum value. */
  quantize(input: string, output: string, ftype: number, threads: number): Promise<void>;
  deviceInfo(): NativeDeviceInfo;
  setLogLevel(level: number): void;
  /** Aborts every request and joins every scheduler thread (process exit). */
  shutdown(): void;
  llamaVersion: string;
  /** Every code a native error carries (native/errors.h); each is an ErrorCode of src/errors.ts. */
  errorCodes: readonly string[];
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function libc(): string {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** Prebuilt CPU variants, best first, with the CPU flags (as /proc/cpuinfo names them) each needs. */
export const CPU_VARIANTS: Array<{ name: string; needs: string[] }> = [
  { name: 'haswell', needs: ['avx', 'avx2', 'fma', 'f16c', 'bmi2', 'sse4_2'] },
  { name: 'x64', needs: [] },
  { name: 'default', needs: [] },
];

/** The CPU's feature flags (Linux); empty elsewhere, which selects only variants that need none. */
export function cpuFlags(cpuinfo?: string): Set<string> {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return new Set();
    }
  }
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return new Set(line ? line.split(':')[1]!.trim().split(/\s+/) : []);
}

/** Paths tried, in order: an explicit binary, prebuilt variants this CPU can run (best first), the local build. */
export function candidateBinaryPaths(root = packageRoot, flags = cpuFlags()): string[] {
  const target = `${process.platform}-${process.arch}`;
  const paths = [];
  if (process.env.MODELPOOL_NATIVE_BINARY) paths.push(resolve(process.env.MODELPOOL_NATIVE_BINARY));
  for (const variant of CPU_VARIANTS) {
    if (variant.needs.every((f) => flags.has(f))) paths.push(join(root, 'prebuilds', target, variant.name, 'modelpool.node'));
  }
  paths.push(join(root, 'build', 'Release', 'modelpool.node'));
  return paths;
}

let addon: NativeAddon | undefined;
let addonPath: string | undefined;

/** The binary native() loaded, once it has. */
export function loadedBinaryPath(): string | undefined {
  return addonPath;
}

/** Loads the addon once; on failure the error names platform, arch, libc, the paths tried and the fix. */
export function native(): NativeAddon {
  if (addon) return addon;
  const { binding, path } = loadBinding(candidateBinaryPaths());
  addon = binding;
  addonPath = path;
  // process.exit() runs native static destructors without environment cleanup: stop threads first.
  process.once('exit', () => binding.shutdown());
  return binding;
}

/** Tries each path in order; throws NATIVE_BINARY_NOT_FOUND listing every attempt. */
export function loadBinding(paths: string[]): { binding: NativeAddon; path: string } {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) {
      tried.push(`${path} (missing)`);
      continue;
    }
    try {
      return { binding: require(path) as NativeAddon, path };
    } catch (error) {
      tried.push(`${path} (${(error as Error).message.split('\n')[0]})`);
    }
  }
  const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const c = libc();
  throw new ModelpoolError(
    'NATIVE_BINARY_NOT_FOUND',
    `No usable modelpool native binary for ${process.platform}-${process.arch}${c ? ` (${c})` : ''}, ` +
      `Node ${process.versions.node}, modelpool ${version}.\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      'Fix: run `npm run build:native` in the modelpool package (needs cmake and a C++17 compiler), ' +
      'or set MODELPOOL_NATIVE_BINARY to a built modelpool.node.',
    { details: { platform: process.platform, arch: process.arch, libc: c, tried } },
  );
}
