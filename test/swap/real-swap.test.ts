/** Hot swap on real models through the real engine: zero failed requests, rollbacks, canaries. */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateMemory } from '../../src/engine/index.js';
import { isModelpoolError, type ModelpoolError } from '../../src/errors.js';
import { ModelPool } from '../../src/pool/index.js';
import type { PoolEvent } from '../../src/pool/types.js';
import { SMALL_LOAD, realModels, type RealModels } from '../pool/real-fixtures.js';

let models: RealModels;
let scratch: string;

beforeAll(async () => {
  models = await realModels();
  scratch = await mkdtemp(join(tmpdir(), 'modelpool-swap-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const PROMPTS = ['Once upon a time', 'The little dog', 'One day, Lily'];

function newPool(budget?: number): { pool: ModelPool; events: PoolEvent[] } {
  const pool = new ModelPool({
    models: [{ id: 'story', source: models.stories, version: '1', parallel: 4, ...SMALL_LOAD }],
    keepAliveMs: -1,
    ...(budget === undefined ? {} : { memory: { budgets: { CPU: budget } } }),
  });
  const events: PoolEvent[] = [];
  pool.on('*', (e) => events.push(e));
  return { pool, events };
}

/** Runs `clients` loops of short generations until stop(); counts successes and failures. */
function steadyLoad(pool: ModelPool, clients: number) {
  let stop = false;
  const failures: unknown[] = [];
  const versions = new Map<string, number>();
  let ok = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (!stop) {
      try {
        await pool.use('story', async (lease) => {
          await lease.model.complete({ prompt: 'Once upon a time', maxTokens: 4, temperature: 0 });
          versions.set(lease.version!, (versions.get(lease.version!) ?? 0) + 1);
        });
        ok++;
      } catch (error) {
        failures.push(error);
      }
    }
  });
  return {
    async stop() {
      stop = true;
      await Promise.all(loops);
      return { ok, failures, versions };
    },
  };
}

describe('swapVersion on real models', () => {
  it('swaps stories260K for another model under steady concurrent load with zero failed requests', async () => {
    const { pool, events } = newPool();
    try {
      await pool.load('story');
      const oldModel = await pool.use('story', (l) => l.model);
      const load = steadyLoad(pool, 4);
      await new Promise((r) => setTimeout(r, 50));
      const result = await pool.swapVersion('story', { source: models.small, version: '2', parallel: 4, ...SMALL_LOAD });
      await new Promise((r) => setTimeout(r, 50));
      const { ok, failures, versions } = await load.stop();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(10);
      expect(result).toMatchObject({ strategy: 'beside', from: '1', to: '2' });
      expect(result.health.ok).toBe(true);
      expect(versions.get('1')).toBeGreaterThan(0);
      expect(versions.get('2')).toBeGreaterThan(0);
      // The old version was unloaded once its last lease ended.
      await new Promise((r) => setTimeout(r, 20));
      expect(oldModel.disposed).toBe(true);
      expect(pool.status().models[0]!.instances.map((i) => i.version)).toEqual(['2']);
      expect(events.filter((e) => e.type === 'unload')).toHaveLength(1);
    } finally {
      await pool.dispose();
    }
  });

  it('rolls back when the new version is a corrupted file, and the old one keeps serving', async () => {
    const broken = join(scratch, 'truncated.gguf');
    const bytes = await readFile(models.stories);
    await writeFile(broken, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const { pool, events } = newPool();
    try {
      await pool.load('story');
      const error = (await pool.swapVersion('story', { source: broken, version: '2', ...SMALL_LOAD }).catch((e: unknown) => e)) as ModelpoolError;
      expect(isModelpoolError(error, 'ROLLED_BACK')).toBe(true);
      expect(error.details).toMatchObject({ reason: 'load-failed' });
      expect(events.find((e) => e.type === 'rollback')).toMatchObject({ reason: 'load-failed' });
      const text = await pool.use('story', async (l) => (await l.model.complete({ prompt: 'Once upon a time', maxTokens: 8, temperature: 0 })).text);
      expect(text).toContain('there was');
      expect(pool.status().models[0]!.version).toBe('1');
    } finally {
      await pool.dispose();
    }
  });

  it('rolls back when the canary quality of the new version drops (random weights vs the trained model)', async () => {
    const { pool } = newPool();
    try {
      await pool.load('story');
      // The reference answers are the current version's own greedy continuations.
      const expected = await pool.use('story', async (l) =>
        Promise.all(PROMPTS.map(async (prompt) => ({ prompt, expected: (await l.model.complete({ prompt, maxTokens: 12, temperature: 0 })).text }))),
      );
      const error = (await pool
        .swapVersion('story', { source: models.medium, version: '2', ...SMALL_LOAD }, { canary: { prompts: expected, maxTokens: 12, maxLatencyRegression: 100 } })
        .catch((e: unknown) => e)) as ModelpoolError;
      expect(isModelpoolError(error, 'ROLLED_BACK')).toBe(true);
      expect(error.details).toMatchObject({ reason: 'canary' });
      const canary = (error.details as { canary: { baseline: { quality: number }; candidate: { quality: number } } }).canary;
      expect(canary.baseline.quality).toBe(1);
      expect(canary.candidate.quality).toBeLessThan(0.5);
      expect(pool.status().models[0]!.version).toBe('1');
      // A version that answers the same passes the same canary.
      const ok = await pool.swapVersion('story', { source: models.stories, version: '1.1', ...SMALL_LOAD }, { canary: { prompts: expected, maxTokens: 12, maxLatencyRegression: 100 } });
      expect(ok.canary!.pass).toBe(true);
      expect(ok.canary!.qualityDelta).toBe(0);
    } finally {
      await pool.dispose();
    }
  });

  it('swaps in place when memory holds only one version: requests wait, none fail', async () => {
    const storiesBytes = (await estimateMemory(models.stories, SMALL_LOAD)).total;
    const { pool } = newPool(Math.floor(storiesBytes * 1.5));
    try {
      await pool.load('story');
      const load = steadyLoad(pool, 3);
      await new Promise((r) => setTimeout(r, 30));
      const result = await pool.swapVersion('story', { source: models.stories, version: '2', parallel: 4, ...SMALL_LOAD });
      await new Promise((r) => setTimeout(r, 30));
      const { failures, versions } = await load.stop();
      expect(result.strategy).toBe('sequential');
      expect(result.pausedMs).toBeGreaterThan(0);
      expect(failures).toEqual([]);
      expect(versions.get('2')).toBeGreaterThan(0);
      expect(pool.status().devices[0]!.used).toBeLessThanOrEqual(storiesBytes * 1.5);
    } finally {
      await pool.dispose();
    }
  });
});
