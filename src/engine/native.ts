/**
 * The native boundary: the only file that knows the raw shape of the addon's exports, and the loader
 * that finds the binary (a local build, then prebuilds/<platform>-<arch>/modelpool.<tags>.node).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/** Fields of every generation and evaluation: the prompt cache, log probabilities, the adapter. */
export interface NativeRequestParams {
  cachePrompt: boolean;
  /** -1: none; 0: each token's own; k: also the top k (k <= 20 for generations, <= vocabulary size for evaluations). */
  logprobs: number;
  /** Name of an adapter loaded on the model; adapterScale is then required. */
  adapter?: string;
  adapterScale?: number;
}

/** Every field but seed, jsonSchema and grammar is required: the sampler defaults live only in request.ts (generateParams). */
export interface NativeGenerateParams extends NativeRequestParams {
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

/** Decodes a prompt into a sequence and returns that sequence's KV state (NativeResult.state). */
export interface NativeSaveStateParams extends NativeRequestParams {
  /** Text (with addSpecial and parseSpecial), or token ids in promptTokens. */
  prompt?: string;
  promptTokens?: Int32Array;
  addSpecial: boolean;
  parseSpecial: boolean;
  saveState: true;
}

/** A sequence's saved KV state as the addon takes and gives it. */
export interface NativeSavedState {
  tokens: Int32Array;
  data: Uint8Array;
  adapter?: string;
  adapterScale?: number;
}

/** Scores continuationTokens after promptTokens: nothing is sampled. */
export interface NativeEvaluateParams extends NativeRequestParams {
  promptTokens: Int32Array;
  continuationTokens: Int32Array;
}

export interface NativeTopLogprob {
  id: number;
  text: string;
  logprob: number;
}

export interface NativeTokenLogprob extends NativeTopLogprob {
  top?: NativeTopLogprob[];
}

export interface NativeResult {
  errorCode?: string;
  errorMessage?: string;
  finishReason: string;
  text: string;
  promptTokens: number;
  generatedTokens: number;
  queuedMs: number;
  cachedPromptTokens?: number;
  firstTokenMs: number;
  promptMs: number;
  decodeMs: number;
  totalMs: number;
  nativeMs: number;
  cpuMs: number;
  embeddings?: Float32Array[];
  /** Every reported token's log probability (requests with logprobs >= 0, and evaluations). */
  logprobs?: NativeTokenLogprob[];
  /** saveState requests: the sequence's tokens and KV state. */
  stateTokens?: Int32Array;
  state?: Uint8Array;
}

/**
 * kind "text": a chunk; kind "done": the last unsent text and the result. `tokens`: the log
 * probabilities of the tokens whose text starts in this chunk (requests with logprobs >= 0).
 */
export type NativeRequestCallback = (kind: 'text' | 'done', text: string, result?: NativeResult, tokens?: NativeTokenLogprob[]) => void;

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
  generate(
    params: NativeGenerateParams | NativeEvaluateParams | NativeSaveStateParams,
    callback: NativeRequestCallback,
    deferWake?: boolean,
  ): NativeRequestHandle;
  /** The KV state of every free sequence that caches at least minTokens tokens. */
  savePromptCache(minTokens: number): Promise<NativeSavedState[]>;
  /** Into a free sequence as its prompt cache; resolves to the sequence id. */
  restoreState(state: NativeSavedState): Promise<number>;
  wake(): void;
  embed(texts: string[], callback: NativeRequestCallback): NativeRequestHandle;
  setThreads(threads: number, batchThreads: number): void;
  stats(): { threads: number; activeRequests: number; closed: boolean; decodeSteps: number };
  close(abort: boolean): Promise<void>;
  /** Loads a LoRA adapter (checked by src/engine/adapters.ts first); rejects for a name in use. */
  loadAdapter(name: string, path: string): Promise<{ name: string; path: string; loadMs: number }>;
  /** False when no adapter has that name. */
  removeAdapter(name: string): boolean;
  adapters(): string[];
}

export interface NativeSlot {
  readonly [nativeSlotBrand]: true;
  replace(model: NativeModel): NativeModel;
  current(): NativeModel;
  generation(): number;
  generate(params: NativeGenerateParams | NativeEvaluateParams, callback: NativeRequestCallback): NativeRequestHandle;
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

/**
 * CPU variants of the x64 prebuilds, best first: a tag in the file name (`modelpool.glibc.haswell.node`)
 * and the CPU flags (as /proc/cpuinfo names them) the variant needs. A prebuild with none of these tags
 * (every other platform: one build each) needs no flags.
 */
export const CPU_VARIANTS: Array<{ name: string; needs: string[] }> = [
  { name: 'haswell', needs: ['avx', 'avx2', 'fma', 'f16c', 'bmi2', 'sse4_2'] },
  { name: 'x64', needs: [] },
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

interface PrebuildTags {
  file: string;
  specificity: number;
}

interface PrebuildTuple {
  name: string;
  platform: string;
  architectures: string[];
}

/** The parts of node-gyp-build (prebuildify's loader) used here: its file-name conventions. */
interface NodeGypBuild {
  parseTuple(name: string): PrebuildTuple | undefined;
  matchTuple(platform: string, arch: string): (tuple: PrebuildTuple | undefined) => tuple is PrebuildTuple;
  compareTuples(a: PrebuildTuple, b: PrebuildTuple): number;
  parseTags(file: string): PrebuildTags | undefined;
  matchTags(runtime: string, abi: string): (tags: PrebuildTags | undefined) => boolean;
  compareTags(runtime: string): (a: PrebuildTags, b: PrebuildTags) => number;
}

const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild;

function readdir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Prebuilt binaries under `<root>/prebuilds/<platform>-<arch>/` this process can load, best first. Platform,
 * arch, runtime, Node-API and libc follow node-gyp-build's own rules (its parseTuple/parseTags/matchTags). Its
 * resolver cannot choose by CPU feature (it ignores unknown tags, so it could hand an AVX2 build to an older
 * CPU), so the CPU-variant tag is matched here against the CPU's flags and ranks first.
 */
export function prebuildPaths(root = packageRoot, flags = cpuFlags()): string[] {
  const prebuilds = join(root, 'prebuilds');
  const tuple = readdir(prebuilds)
    .map(nodeGypBuild.parseTuple)
    .filter(nodeGypBuild.matchTuple(process.platform, process.arch))
    .sort(nodeGypBuild.compareTuples)[0];
  if (!tuple) return [];
  const dir = join(prebuilds, tuple.name);
  const matchesRuntime = nodeGypBuild.matchTags('node', process.versions.modules);
  const compareTags = nodeGypBuild.compareTags('node');
  const usable = [];
  for (const file of readdir(dir)) {
    const tags = nodeGypBuild.parseTags(file);
    if (!tags || !matchesRuntime(tags)) continue;
    const names = file.split('.');
    const index = CPU_VARIANTS.findIndex((v) => names.includes(v.name));
    if (index >= 0 && !CPU_VARIANTS[index]!.needs.every((f) => flags.has(f))) continue;
    usable.push({ tags, rank: index >= 0 ? index : CPU_VARIANTS.length });
  }
  usable.sort((a, b) => a.rank - b.rank || compareTags(a.tags, b.tags));
  return usable.map((u) => join(dir, u.tags.file));
}

/**
 * Paths tried, in order: an explicit binary, a local build (as node-gyp-build does: a source build, made
 * because no prebuild matched or on purpose, wins), then the prebuilds this CPU can run, best first.
 */
export function candidateBinaryPaths(root = packageRoot, flags = cpuFlags()): string[] {
  const paths = [];
  if (process.env.MODELPOOL_NATIVE_BINARY) paths.push(resolve(process.env.MODELPOOL_NATIVE_BINARY));
  paths.push(join(root, 'build', 'Release', 'modelpool.node'));
  paths.push(...prebuildPaths(root, flags));
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
