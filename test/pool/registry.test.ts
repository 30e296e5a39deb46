/** The pool connected to the registry (public API only), on real models. */

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelPool } from '../../src/pool/index.js';
import { mirrorLifecycle, registryResolver, specFromResolved, swapToVersion } from '../../src/runtime/index.js';
import { ModelRegistry } from '../../src/registry/index.js';
import { SMALL_LOAD, realModels, type RealModels } from './real-fixtures.js';

let models: RealModels;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  models = await realModels();
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(keepAliveMs = -1) {
  const registry = await ModelRegistry.open({ refreshIntervalMs: 0 });
  await registry.registerModel({ id: 'story', aliases: ['story:latest'], version: { version: '1', source: { kind: 'gguf', path: models.stories } } });
  await registry.registerModel({ id: 'remote', version: { version: '1', source: { kind: 'openai', model: 'gpt-x' } } });
  const pool = new ModelPool({ resolve: registryResolver(registry, { ...SMALL_LOAD, parallel: 2 }), keepAliveMs });
  const stop = mirrorLifecycle(pool, registry);
  cleanup.push(async () => registry.close());
  cleanup.push(async () => pool.dispose());
  return { registry, pool, stop };
}

const stateOf = (registry: ModelRegistry, version: string): string => registry.resolve('story', version).version.state;

describe('pool ↔ registry', () => {
  it('loads registered models by id or alias and mirrors the lifecycle', async () => {
    const { registry, pool, stop } = await setup();
    const text = await pool.use('story:latest', async (l) => (await l.model.complete({ prompt: 'Once upon a time', maxTokens: 6, temperature: 0 })).text);
    expect(text).toContain('there was');
    await stop.flush();
    expect(stateOf(registry, '1')).toBe('ready');
    await expect(pool.acquire('nobody')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    // A remote source needs its provider, which this pool was not given.
    await expect(pool.acquire('remote')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'spec.provider', value: 'openai' });
    expect(specFromResolved(registry.resolve('remote'))).toEqual({ id: 'remote', source: 'gpt-x', version: '1', provider: 'openai' });
    await pool.unload('story:latest');
    await stop.flush();
    expect(stateOf(registry, '1')).toBe('registered');
    stop();
  });

  it('an id and its alias share one loaded instance; a swap through the alias swaps it', async () => {
    const { registry, pool } = await setup();
    await pool.use('story', () => undefined);
    await pool.use('story:latest', () => undefined);
    const loaded = pool.status().models.filter((m) => m.state === 'ready');
    expect(loaded.map((m) => m.id)).toEqual(['story']);
    await registry.registerVersion('story', { version: '2', source: { kind: 'gguf', path: models.small } });
    await swapToVersion(pool, registry, 'story:latest', '2', { defaults: { ...SMALL_LOAD, parallel: 2 } });
    const after = pool.status().models;
    expect(after.map((m) => [m.id, m.version])).toEqual([['story', '2']]);
    await pool.remove('story:latest');
    expect(pool.status().models).toEqual([]);
  });

  it('swaps to a registered version: new one ready and default, old one retired; a failed candidate goes back to registered', async () => {
    const { registry, pool, stop } = await setup();
    await pool.load('story');
    await registry.registerVersion('story', { version: '2', source: { kind: 'gguf', path: models.small } });
    const result = await swapToVersion(pool, registry, 'story', '2', { defaults: { ...SMALL_LOAD, parallel: 2 } });
    expect(result).toMatchObject({ from: '1', to: '2', strategy: 'beside' });
    await new Promise((r) => setTimeout(r, 30)); // the old version unloads once drained
    await stop.flush();
    expect(registry.resolve('story').version.version).toBe('2');
    expect(stateOf(registry, '2')).toBe('ready');
    expect(stateOf(registry, '1')).toBe('retired');

    // A version that fails its health check: the swap rolls back and the registry keeps it loadable.
    await registry.registerVersion('story', { version: '4', source: { kind: 'gguf', path: models.medium } });
    const failing = swapToVersion(pool, registry, 'story', '4', { defaults: { ...SMALL_LOAD }, healthCheck: { validate: () => false } });
    await expect(failing).rejects.toMatchObject({ code: 'ROLLED_BACK' });
    await stop.flush();
    expect(stateOf(registry, '4')).toBe('registered');
    expect(stateOf(registry, '2')).toBe('ready');
    expect(registry.resolve('story').version.version).toBe('2');
    await expect(swapToVersion(pool, registry, 'remote', '1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('keep-alive 0 unloads back to registered; a model that cannot even be estimated stays registered', async () => {
    const { registry, pool, stop } = await setup(0);
    const unloaded = new Promise((resolve) => pool.on('unload', resolve));
    await pool.use('story', () => undefined);
    await unloaded;
    await stop.flush();
    expect(stateOf(registry, '1')).toBe('registered');
    const moves = registry.resolve('story', '1').version.transitionCount;
    pool.define({ id: 'story', source: '/nonexistent/gone.gguf', version: '1' });
    await expect(pool.acquire('story')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await stop.flush();
    // The estimate failed before any load began: the registry never saw it loading (not even briefly).
    expect(stateOf(registry, '1')).toBe('registered');
    expect(registry.resolve('story', '1').version.transitionCount).toBe(moves);
  });
});
