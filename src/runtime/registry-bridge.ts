/**
 * The pool and the registry, connected through the registry's public API only:
 * - `registryResolver` lets the pool load any registered model by id or alias (GGUF sources);
 * - `mirrorLifecycle` moves each version through its lifecycle as the pool loads, serves, swaps
 *   and unloads it (registered → loading → ready → draining → registered/retired, failed);
 * - `swapToVersion` swaps a pool model to a registered version and makes it the default.
 * Performance history carries over to a new version in the registry itself, when the version is
 * registered (its prior); the pool needs no part in that.
 */

import { ModelpoolError, isModelpoolError } from '../errors.js';
import type { ModelRegistry } from '../registry/index.js';
import type { LifecycleState, ResolvedModel } from '../registry/types.js';
import type { ModelPool, ModelSpec, PoolEvent, SwapOptions, SwapResult } from '../pool/index.js';

/** Pool settings a registry does not hold (context, parallel sequences, keep-alive, ...). */
export type SpecDefaults = Partial<Omit<ModelSpec, 'id' | 'source' | 'version'>>;

/**
 * The pool spec of a registered version. A GGUF loads in process (the pool's default provider); an ONNX
 * file through the 'onnx' provider; a remote source through the provider named as its kind
 * ('ollama', 'openai-compatible', 'openai', 'anthropic'), its `baseUrl` as the spec's endpoint — the
 * pool must have been given that provider (PoolOptions.providers). A model whose only task is
 * 'embedding' loads for embeddings.
 */
export function specFromResolved(resolved: ResolvedModel, id: string = resolved.model.id, defaults: SpecDefaults = {}): ModelSpec {
  const source = resolved.version.source;
  const version = resolved.version.version;
  switch (source.kind) {
    case 'gguf': {
      const tasks = resolved.model.tasks;
      const embeddings = defaults.embeddings ?? (tasks.length > 0 && tasks.every((task) => task === 'embedding'));
      return { ...defaults, id, source: source.path, version, ...(embeddings ? { embeddings } : {}) };
    }
    case 'onnx':
      return { ...defaults, id, source: source.path, version, provider: 'onnx' };
    case 'ollama':
      return { ...defaults, id, source: source.model, version, provider: 'ollama', ...(source.baseUrl !== undefined ? { endpoint: source.baseUrl } : {}) };
    case 'openai-compatible':
      return { ...defaults, id, source: source.model, version, provider: 'openai-compatible', endpoint: source.baseUrl };
    case 'openai':
    case 'anthropic':
      return { ...defaults, id, source: source.model, version, provider: source.kind };
  }
}

/**
 * A `resolve` option for the pool: registry ids and aliases, their default version. The spec carries
 * the registry id, so every alias of a model shares the pool's one entry for it.
 */
export function registryResolver(registry: ModelRegistry, defaults: SpecDefaults = {}): (id: string) => ModelSpec | undefined {
  return (name) => {
    try {
      return specFromResolved(registry.resolve(name), undefined, defaults);
    } catch (error) {
      if (isModelpoolError(error, 'MODEL_NOT_FOUND') || isModelpoolError(error, 'VERSION_NOT_FOUND')) return undefined;
      throw error;
    }
  };
}

/**
 * A `resolve` option for the pool that also knows versions: `id@version` (how the front door names a
 * version other than the default, see `poolId`) loads that version under that pool id.
 */
export function versionedResolver(registry: ModelRegistry, defaults: SpecDefaults = {}): (id: string) => ModelSpec | undefined {
  const plain = registryResolver(registry, defaults);
  return (name) => {
    const at = name.lastIndexOf('@');
    if (at <= 0) return plain(name);
    try {
      return specFromResolved(registry.resolve(name.slice(0, at), name.slice(at + 1)), name, defaults);
    } catch (error) {
      if (isModelpoolError(error, 'MODEL_NOT_FOUND') || isModelpoolError(error, 'VERSION_NOT_FOUND')) return undefined;
      throw error;
    }
  };
}

/** The pool events that move a registry version through its lifecycle (see `stepsFor`). */
const LIFECYCLE_EVENTS = ['load', 'ready', 'load-failed', 'swap', 'rollback', 'unload'] as const;

/** Registry states the pool's events lead to, in order (each step must be legal from the last). */
function stepsFor(event: PoolEvent): Array<{ version: string | undefined; to: LifecycleState[] }> {
  switch (event.type) {
    case 'load':
      return [{ version: event.version, to: ['loading'] }];
    case 'ready':
      return [{ version: event.version, to: ['ready'] }];
    case 'load-failed':
      return [{ version: event.version, to: ['failed'] }];
    case 'swap':
      return [{ version: event.from, to: ['draining'] }];
    case 'rollback':
      return [{ version: event.to, to: ['draining', 'registered'] }];
    case 'unload':
      if (event.reason === 'swap') return [{ version: event.version, to: ['draining', 'retired'] }];
      if (event.reason === 'rollback') return [];
      return [{ version: event.version, to: ['draining', 'registered'] }];
    default:
      return [];
  }
}

/**
 * Mirrors pool events into registry lifecycle transitions. Pool model ids are resolved through
 * the registry (ids or aliases); events for unknown models or unnamed versions are ignored. Moves
 * that are not legal from the version's current state are skipped (the registry may have been
 * changed by someone else); failures are reported through `onError` and never reach the pool.
 * Returns a function that stops mirroring; `flush()` on it waits for pending transitions.
 */
export function mirrorLifecycle(
  pool: ModelPool,
  registry: ModelRegistry,
  onError: (error: unknown) => void = (error) => process.emitWarning(`modelpool: registry lifecycle update failed: ${String(error)}`),
): (() => void) & { flush(): Promise<void> } {
  // Transitions of one version run in order.
  const chains = new Map<string, Promise<void>>();
  const apply = async (modelId: string, version: string, states: LifecycleState[], reason: string): Promise<void> => {
    for (const to of states) {
      let current: ResolvedModel;
      try {
        // A version loaded under `id@version` (see versionedResolver) belongs to model `id`.
        const at = modelId.lastIndexOf('@');
        current = registry.resolve(at > 0 ? modelId.slice(0, at) : modelId, version);
      } catch {
        return;
      }
      if (current.version.state === to) continue;
      try {
        await registry.transition(current.model.id, version, to, { reason });
      } catch (error) {
        if (!isModelpoolError(error, 'ILLEGAL_TRANSITION')) throw error;
      }
    }
  };
  // Only the events that move a lifecycle: a '*' listener would make the pool build every per-request event.
  const listener = (event: PoolEvent) => {
    if (!('modelId' in event)) return;
    for (const step of stepsFor(event)) {
      if (step.version === undefined) continue;
      const key = `${event.modelId}\u0000${step.version}`;
      const reason = `pool: ${event.type}${'reason' in event ? ` (${String(event.reason)})` : ''}`;
      const next = (chains.get(key) ?? Promise.resolve()).then(() => apply(event.modelId, step.version!, step.to, reason)).catch(onError);
      chains.set(key, next);
      void next.then(() => {
        if (chains.get(key) === next) chains.delete(key);
      });
    }
  };
  const offs = LIFECYCLE_EVENTS.map((type) => pool.on(type, listener));
  const stop = (() => {
    for (const off of offs) off();
  }) as (() => void) & { flush(): Promise<void> };
  stop.flush = async () => {
    while (chains.size > 0) await Promise.all([...chains.values()]);
  };
  return stop;
}

/**
 * Swaps the pool's model to a registered version (health check, canary and rollback as in
 * {@link ModelPool.swapVersion}) and, once it serves, makes it the registry's default version.
 */
export async function swapToVersion(
  pool: ModelPool,
  registry: ModelRegistry,
  modelId: string,
  version: string,
  options: SwapOptions & { defaults?: SpecDefaults; makeDefault?: boolean } = {},
): Promise<SwapResult> {
  const { defaults, makeDefault, ...swapOptions } = options;
  const resolved = registry.resolve(modelId, version);
  const spec = specFromResolved(resolved, modelId, defaults);
  if (spec === undefined) {
    throw new ModelpoolError('INVALID_ARGUMENT', `Version ${version} of model "${modelId}" has a ${resolved.version.source.kind} source, which the in-process pool cannot load`, {
      field: 'version',
      value: version,
    });
  }
  const result = await pool.swapVersion(modelId, spec, swapOptions);
  if (makeDefault !== false) await registry.setDefaultVersion(resolved.model.id, version);
  return result;
}
