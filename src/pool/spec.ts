/** Validation of pool inputs: model specs, pool options, acquire options. */

import { invalidArgument } from '../errors.js';
import type { EstimateOptions, GpuLayers } from '../model/types.js';
import { integer, nonEmptyString, optionalBoolean, optionalInteger, optionalSignal, plainObject } from '../validate.js';
import { validateBudgetOptions } from './budget.js';
import type { Priority } from './queue.js';
import type { AcquireOptions, ModelSpec, PoolOptions } from './types.js';

const PRIORITIES: ReadonlySet<string> = new Set(['high', 'normal', 'low']);

function optionalGpuLayers(field: string, value: unknown): GpuLayers | undefined {
  if (value === undefined || value === 'auto' || value === 'max') return value;
  return integer(field, value, 0);
}

/** Checks a spec and returns a copy, so later changes by the caller do not reach the pool. */
export function validateSpec(value: unknown, field = 'spec'): ModelSpec {
  const spec = plainObject(field, value);
  const out: ModelSpec = {
    id: nonEmptyString(`${field}.id`, spec.id, 256),
    source: nonEmptyString(`${field}.source`, spec.source),
  };
  if (spec.version !== undefined) out.version = nonEmptyString(`${field}.version`, spec.version, 256);
  if (spec.provider !== undefined) out.provider = nonEmptyString(`${field}.provider`, spec.provider, 64);
  if (spec.endpoint !== undefined) out.endpoint = nonEmptyString(`${field}.endpoint`, spec.endpoint, 2048);
  const ints: Array<[keyof ModelSpec, number]> = [
    ['contextSize', 1],
    ['minContextSize', 1],
    ['parallel', 1],
    ['batchSize', 1],
    ['maxQueue', 0],
    ['maxThreads', 1],
  ];
  for (const [key, min] of ints) {
    const v = optionalInteger(`${field}.${key}`, spec[key], min);
    if (v !== undefined) (out as unknown as Record<string, unknown>)[key] = v;
  }
  if (spec.keepAliveMs !== undefined) {
    out.keepAliveMs = integer(`${field}.keepAliveMs`, spec.keepAliveMs, Number.MIN_SAFE_INTEGER);
  }
  const gpuLayers = optionalGpuLayers(`${field}.gpuLayers`, spec.gpuLayers);
  if (gpuLayers !== undefined) out.gpuLayers = gpuLayers;
  for (const key of ['embeddings', 'mmap', 'mlock', 'pinned'] as const) {
    const v = optionalBoolean(`${field}.${key}`, spec[key]);
    if (v !== undefined) out[key] = v;
  }
  if (spec.probe !== undefined) {
    if (spec.probe !== 'auto' && spec.probe !== 'always' && spec.probe !== 'never') {
      throw invalidArgument(`${field}.probe`, '"auto", "always" or "never"', spec.probe);
    }
    out.probe = spec.probe;
  }
  if (out.minContextSize !== undefined && out.contextSize !== undefined && out.minContextSize > out.contextSize) {
    throw invalidArgument(`${field}.minContextSize`, `an integer at most contextSize (${out.contextSize})`, out.minContextSize);
  }
  return out;
}

export function validatePoolOptions(options: unknown): PoolOptions {
  if (options === undefined) return {};
  const o = plainObject('options', options) as PoolOptions;
  for (const key of ['provider', 'loader'] as const) {
    if (o[key] === undefined) continue;
    const provider = plainObject(`options.${key}`, o[key]);
    if (typeof provider.estimate !== 'function' || typeof provider.load !== 'function') {
      throw invalidArgument(`options.${key}`, 'an object with estimate() and load() methods', o[key]);
    }
  }
  if (o.providers !== undefined && !Array.isArray(o.providers)) throw invalidArgument('options.providers', 'an array of providers', o.providers);
  if (o.provider !== undefined && o.loader !== undefined) throw invalidArgument('options.loader', 'no loader when options.provider is given (loader is its old name)', o.loader);
  if (o.resolve !== undefined && typeof o.resolve !== 'function') throw invalidArgument('options.resolve', 'a function', o.resolve);
  if (o.models !== undefined && !Array.isArray(o.models)) throw invalidArgument('options.models', 'an array of model specs', o.models);
  optionalInteger('options.threads', o.threads, 1, 4096);
  optionalInteger('options.maxLoadedModels', o.maxLoadedModels, 1);
  if (o.keepAliveMs !== undefined) integer('options.keepAliveMs', o.keepAliveMs, Number.MIN_SAFE_INTEGER);
  optionalInteger('options.maxQueuePerModel', o.maxQueuePerModel, 0);
  optionalInteger('options.maxQueued', o.maxQueued, 0);
  optionalInteger('options.priorityStepMs', o.priorityStepMs, 0);
  optionalInteger('options.swapDelayMs', o.swapDelayMs, 0);
  optionalInteger('options.memoryWaitMs', o.memoryWaitMs, 0);
  optionalInteger('options.maxConcurrentLoads', o.maxConcurrentLoads, 1);
  optionalInteger('options.turnWaitMs', o.turnWaitMs, 0);
  if (o.memory !== undefined) {
    plainObject('options.memory', o.memory);
    validateBudgetOptions(o.memory);
    optionalInteger('options.memory.confirmTimeoutMs', o.memory.confirmTimeoutMs, 0);
    optionalInteger('options.memory.confirmMinBytes', o.memory.confirmMinBytes, 0);
  }
  if (o.calibrationAlpha !== undefined && (typeof o.calibrationAlpha !== 'number' || !(o.calibrationAlpha > 0 && o.calibrationAlpha <= 1))) {
    throw invalidArgument('options.calibrationAlpha', 'a number in (0, 1]', o.calibrationAlpha);
  }
  if (o.eviction !== undefined) {
    plainObject('options.eviction', o.eviction);
    for (const key of ['halfLifeMs', 'horizonMs', 'reloadOverheadMs', 'busyPenalty'] as const) {
      const v = o.eviction[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (key === 'halfLifeMs' && v === 0))) {
        throw invalidArgument(`options.eviction.${key}`, key === 'halfLifeMs' ? 'a number > 0' : 'a number >= 0', v);
      }
    }
  }
  return o;
}

export interface ValidAcquireOptions {
  priority: Priority;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
}

const DEFAULT_ACQUIRE: ValidAcquireOptions = { priority: 'normal', timeoutMs: undefined, signal: undefined };

export function validateAcquireOptions(options: AcquireOptions | undefined): ValidAcquireOptions {
  if (options === undefined) return DEFAULT_ACQUIRE;
  plainObject('options', options);
  const priority = options.priority ?? 'normal';
  if (!PRIORITIES.has(priority)) throw invalidArgument('options.priority', '"high", "normal" or "low"', options.priority);
  return {
    priority,
    timeoutMs: optionalInteger('options.timeoutMs', options.timeoutMs, 0),
    signal: optionalSignal('options.signal', options.signal),
  };
}

/** The engine estimate options a spec asks for. */
export function estimateOptionsOf(spec: ModelSpec): EstimateOptions {
  const out: EstimateOptions = {};
  if (spec.contextSize !== undefined) out.contextSize = spec.contextSize;
  if (spec.parallel !== undefined) out.parallel = spec.parallel;
  if (spec.gpuLayers !== undefined) out.gpuLayers = spec.gpuLayers;
  if (spec.batchSize !== undefined) out.batchSize = spec.batchSize;
  if (spec.embeddings !== undefined) out.embeddings = spec.embeddings;
  if (spec.mmap !== undefined) out.mmap = spec.mmap;
  return out;
}
