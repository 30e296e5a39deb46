/**
 * Calibration cannot learn a double count: a Q4_0 model with mmap on (weights repacked for the CPU, the
 * mapped originals reclaimable) is budgeted by its resident figure on its first and on its tenth load, so
 * two such models fit a budget made for two — no eviction, on any round.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateMemory } from '../../src/engine/index.js';
import { ModelPool } from '../../src/pool/index.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { STORIES } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'modelpool-calibration-'));
const load = { contextSize: 256, parallel: 1 };
let paths: string[] = [];
let estimate = 0;

beforeAll(async () => {
  const q4 = await cachedTestModel({ layers: 4, embeddingSize: 512, feedForwardSize: 1536, heads: 8, kvHeads: 8, contextLength: 1024, type: 'Q4_0', vocabPath: STORIES });
  paths = ['a', 'b'].map((id) => {
    const path = join(dir, `${id}.gguf`);
    copyFileSync(q4, path);
    return path;
  });
  estimate = (await estimateMemory(paths[0]!, load)).total;
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ModelPool memory calibration', () => {
  it('places two Q4_0 models in a budget for two on the first and the tenth load', async () => {
    const pool = new ModelPool({
      models: paths.map((source, i) => ({ id: `q${i}`, source, ...load })),
      memory: { budgets: { CPU: Math.floor(estimate * 2.1) } },
      keepAliveMs: -1,
    });
    const evictions: string[] = [];
    pool.on('unload', (e) => {
      if (e.reason !== 'explicit') evictions.push(`${e.modelId}:${e.reason}`);
    });
    try {
      for (let round = 1; round <= 10; round++) {
        await pool.load('q0');
        await pool.load('q1');
        const loaded = pool.status().models.filter((m) => m.state === 'ready');
        expect(loaded.map((m) => m.id).sort(), `round ${round}`).toEqual(['q0', 'q1']);
        for (const m of loaded) {
          const inst = m.instances[0]!;
          // Budgeted at the resident figure, which the estimate predicted.
          expect(Math.abs(inst.measuredBytes / estimate - 1)).toBeLessThanOrEqual(0.02);
        }
        await pool.unload('q0');
        await pool.unload('q1');
      }
      expect(evictions).toEqual([]);
    } finally {
      await pool.dispose();
    }
  });
});
