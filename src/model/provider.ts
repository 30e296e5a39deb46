/**
 * Providers: where models come from. A provider estimates what a model would need and loads it,
 * returning a {@link ModelHandle}; the pool reaches models only through one. The llama provider
 * loads GGUF files in this process; remote providers (an Ollama or OpenAI-compatible server,
 * Anthropic) and the fake one in src/testing/ implement the same interface.
 */

import type { ModelHandle } from './handle.js';
import type { EstimateOptions, LoadOptions, MemoryReport } from './types.js';

/** Which model a provider is asked for. The pool's `ModelSpec` is one. */
export interface ModelRef {
  /** The pool's id for the model. */
  id: string;
  version?: string;
  /** What the provider reads: a GGUF path for llama, a model name for a remote API. */
  source: string;
}

/** What a provider knows before loading: the memory a load would take and the model's shape. */
export interface ModelEstimate {
  /** Bytes by device and kind; all zero for a model that takes no memory in this process (a remote one). */
  memory: MemoryReport;
  /** The pool learns its estimate calibration per architecture. */
  architecture: string;
  /** Layer count, for offloading fewer layers when a GPU budget is short. */
  layers?: number;
  /** The model's trained context length. */
  trainContextLength?: number;
}

/** Free and total memory of one device, as a provider reports it. */
export interface DeviceMemoryInfo {
  device: string;
  total: number;
  free: number;
}

/**
 * Load options as the pool passes them to a provider: the spec's options, with the threads the
 * pool decided. A provider uses those that apply to it (a remote one ignores threads, GPU layers,
 * mmap, ...).
 */
export type ProviderLoadOptions = Omit<LoadOptions, 'threads'> & { threads: number };

/** Where a pool's models come from. */
export interface Provider {
  /** Short name for logs and status: 'llama', 'fake', 'ollama', ... */
  readonly name: string;
  /** What loading `spec` with `options` would need. */
  estimate(spec: ModelRef, options: EstimateOptions): Promise<ModelEstimate>;
  /** Loads `spec`; `options.signal` aborts the load (ABORTED). */
  load(spec: ModelRef, options: ProviderLoadOptions): Promise<ModelHandle>;
  /** Free/total memory per device now: the pool's default budgets, and its check that an unload gave memory back. */
  devices?(): DeviceMemoryInfo[] | Promise<DeviceMemoryInfo[]>;
  /** CPU cores for the pool's default thread budget (undefined: ask the operating system). */
  cpuCores?(): number | undefined;
}
