/**
 * Providers: where models come from. A provider estimates what a model would need and loads it,
 * returning a {@link ModelHandle}; the pool reaches models only through one. The llama provider
 * loads GGUF files in this process; remote providers (an Ollama or OpenAI-compatible server,
 * Anthropic) and the fake one in src/testing/ implement the same interface.
 */

import { invalidArgument } from '../errors.js';
import type { ModelHandle } from './handle.js';
import type { EstimateOptions, LoadOptions, MemoryReport } from './types.js';

/** Which model a provider is asked for. The pool's `ModelSpec` is one. */
export interface ModelRef {
  /** The pool's id for the model. */
  id: string;
  version?: string;
  /** What the provider reads: a GGUF path for llama, a model name for a remote API. */
  source: string;
  /** Which of the pool's providers loads it (its `name`). Default: the pool's first provider. */
  provider?: string;
  /** A remote model's server (base URL), when not the provider's default. */
  endpoint?: string;
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

/**
 * Several providers as one: each model goes to the provider its `ref.provider` names, or to the first
 * one. Devices and cores are the first provider's (the in-process one, whose memory and threads the
 * pool budgets). An unknown name is INVALID_ARGUMENT naming `spec.provider`.
 */
export class ProviderSet implements Provider {
  readonly name: string;
  readonly #byName = new Map<string, Provider>();
  readonly #first: Provider;
  readonly devices?: Provider['devices'];
  readonly cpuCores?: Provider['cpuCores'];

  constructor(providers: readonly Provider[]) {
    if (providers.length === 0) throw invalidArgument('options.providers', 'at least one provider', providers);
    providers.forEach((p, i) => {
      if (typeof p?.estimate !== 'function' || typeof p.load !== 'function' || typeof p.name !== 'string' || p.name.length === 0) {
        throw invalidArgument(`options.providers[${i}]`, 'a Provider (name, estimate, load)', p);
      }
      if (this.#byName.has(p.name)) throw invalidArgument(`options.providers[${i}].name`, 'a name no other provider of the pool has', p.name);
      this.#byName.set(p.name, p);
    });
    this.#first = providers[0]!;
    this.name = providers.map((p) => p.name).join('+');
    const first = this.#first;
    if (first.devices !== undefined) this.devices = () => first.devices!();
    if (first.cpuCores !== undefined) this.cpuCores = () => first.cpuCores!();
  }

  /** The providers' names, the first (default) one first. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** The provider that loads `ref`. */
  of(ref: ModelRef): Provider {
    if (ref.provider === undefined) return this.#first;
    const provider = this.#byName.get(ref.provider);
    if (provider === undefined) throw invalidArgument('spec.provider', `one of the pool's providers (${this.names.join(', ')})`, ref.provider);
    return provider;
  }

  estimate(ref: ModelRef, options: EstimateOptions): Promise<ModelEstimate> {
    return this.of(ref).estimate(ref, options);
  }

  load(ref: ModelRef, options: ProviderLoadOptions): Promise<ModelHandle> {
    return this.of(ref).load(ref, options);
  }
}
