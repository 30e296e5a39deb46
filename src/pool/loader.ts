/**
 * The default {@link ModelLoader}: GGUF files loaded in process by src/engine. The engine module
 * (and with it the native addon) is imported on first use, so importing the pool costs nothing
 * and a pool with its own loader never touches the addon.
 */

import { freemem } from 'node:os';
import type { DeviceInfo, EngineModel, EstimateOptions, GgufInspection, MemoryReport } from '../engine/types.js';
import type { DeviceMemoryInfo } from './budget.js';
import type { ModelEstimate, ModelLoader, ModelSpec, PoolLoadOptions } from './types.js';

/** The part of src/engine/index.ts the loader uses. */
export interface EngineModule {
  inspect(path: string): Promise<GgufInspection>;
  estimateMemory(path: string, options: EstimateOptions): Promise<MemoryReport>;
  loadModel(path: string, options: PoolLoadOptions): Promise<EngineModel>;
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

export function createEngineLoader(engineModule?: EngineModule): ModelLoader {
  const get = (): Promise<EngineModule> => (engineModule === undefined ? engine() : Promise.resolve(engineModule));
  let cores: number | undefined;
  return {
    async estimate(spec: ModelSpec, options: EstimateOptions): Promise<ModelEstimate> {
      const e = await get();
      const [inspection, memory] = await Promise.all([e.inspect(spec.source), e.estimateMemory(spec.source, options)]);
      return { memory, architecture: inspection.architecture, layers: inspection.layers, trainContextLength: inspection.contextLength };
    },
    async load(spec: ModelSpec, options: PoolLoadOptions): Promise<EngineModel> {
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
