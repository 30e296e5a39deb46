/**
 * The llama provider: GGUF files loaded in this process by src/engine (llama.cpp). The engine module
 * (and with it the native addon) is imported on first use, so importing the pool costs nothing and a
 * pool with another provider never touches the addon.
 */

import { freemem } from 'node:os';
import type { DeviceInfo, GgufInspection } from '../engine/types.js';
import type { ModelHandle } from '../model/handle.js';
import type { DeviceMemoryInfo, ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from '../model/provider.js';
import type { EstimateOptions, MemoryReport } from '../model/types.js';

/** The part of src/engine/index.ts the llama provider uses. */
export interface EngineModule {
  inspect(path: string): Promise<GgufInspection>;
  estimateMemory(path: string, options: EstimateOptions): Promise<MemoryReport>;
  loadModel(path: string, options: ProviderLoadOptions): Promise<ModelHandle>;
  deviceInfo(): DeviceInfo;
}

let enginePromise: Promise<EngineModule> | undefined;

function engine(): Promise<EngineModule> {
  enginePromise ??= import('../engine/index.js');
  return enginePromise;
}

/**
 * Device memory as the pool budgets it: "CPU" for host RAM, then each GPU by name. Free RAM is the
 * lower of the engine's figure and the operating system's available memory (MemAvailable on
 * Linux): ggml's CPU device may report its total as free, which would make unload confirmation
 * and the default budget meaningless.
 */
export function devicesFromInfo(info: DeviceInfo, osFree: number = freemem()): DeviceMemoryInfo[] {
  const ramFree = Math.min(info.ram.free, osFree);
  return [{ device: 'CPU', total: info.ram.total, free: ramFree }, ...info.gpus.map((g) => ({ device: g.name, total: g.total, free: g.free }))];
}

/** The llama provider (name 'llama'): `spec.source` is a GGUF path; its models are the engine's local `Model`s. */
export function createLlamaProvider(engineModule?: EngineModule): Provider {
  const get = (): Promise<EngineModule> => (engineModule === undefined ? engine() : Promise.resolve(engineModule));
  let cores: number | undefined;
  return {
    name: 'llama',
    async estimate(spec: ModelRef, options: EstimateOptions): Promise<ModelEstimate> {
      const e = await get();
      const [inspection, memory] = await Promise.all([e.inspect(spec.source), e.estimateMemory(spec.source, options)]);
      return { memory, architecture: inspection.architecture, layers: inspection.layers, trainContextLength: inspection.contextLength };
    },
    async load(spec: ModelRef, options: ProviderLoadOptions): Promise<ModelHandle> {
      const e = await get();
      return e.loadModel(spec.source, options);
    },
    async devices(): Promise<DeviceMemoryInfo[]> {
      const info = (await get()).deviceInfo();
      cores = info.cpu.cores;
      return devicesFromInfo(info);
    },
    cpuCores(): number | undefined {
      return cores;
    },
  };
}

/**
 * The llama provider under its 0.1.0 name.
 * @deprecated Use {@link createLlamaProvider} (the same function).
 */
export const createEngineLoader: (engineModule?: EngineModule) => Provider = createLlamaProvider;
