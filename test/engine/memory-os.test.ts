/**
 * Estimate = measured = operating system, for every weight type the engine loads, with mmap on and off.
 * "Measured" is the resident figure budgets count (memory.total); the OS figure is what a fresh process
 * gained after a load that filled its whole context (see fixtures/memory-child.mjs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deviceInfo, quantizeModel, type QuantizeType } from '../../src/engine/index.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const child = join(repoRoot, 'test', 'engine', 'fixtures', 'memory-child.mjs');
const TYPES: QuantizeType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q5_K_M', 'Q6_K', 'IQ4_NL'];
/** Types ggml repacks for the CPU when built with AVX2 and REPACK (the mapped originals become reclaimable). */
const REPACKED = new Set<QuantizeType>(['Q4_0', 'Q4_K_M', 'IQ4_NL']);
const features = deviceInfo().cpu.features;
const repacks = process.arch === 'x64' && features.includes('AVX2') && features.includes('REPACK');
const paths = new Map<QuantizeType, string>();

interface Reading {
  estimate: number;
  resident: number;
  reclaimable: number;
  os: number;
  anonymous: number;
}

function measure(path: string, mmap: boolean): Reading {
  const r = spawnSync(process.execPath, [child, path, mmap ? 'mmap' : 'nommap'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`memory child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Reading;
}

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'lib', 'engine', 'index.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  }
  // 8 layers × 1024: ~100-460 MB resident, so 5% is well above the few MB a process allocates anyway.
  const base = await cachedTestModel({ layers: 8, embeddingSize: 1024, feedForwardSize: 2816, heads: 16, kvHeads: 16, contextLength: 2048, vocabPath: STORIES });
  for (const type of TYPES) {
    if (type === 'F32') {
      paths.set(type, base);
      continue;
    }
    const out = base.replace(/\.gguf$/, `.${type}.gguf`);
    if (!existsSync(out)) await quantizeModel(base, out, type);
    paths.set(type, out);
  }
}, 600_000);

describe.skipIf(process.platform !== 'linux')('memory: estimate, resident figure and the operating system agree', () => {
  for (const type of TYPES) {
    for (const mmap of [true, false]) {
      it(`${type}, mmap ${mmap ? 'on' : 'off'}`, () => {
        const r = measure(paths.get(type)!, mmap);
        // The dry run's estimate is the resident figure: same buffers, nothing double counted.
        expect(Math.abs(r.estimate / r.resident - 1)).toBeLessThanOrEqual(0.02);
        // What the process really gained (anonymous + file-backed pages) is the resident figure.
        expect(Math.abs(r.os / r.resident - 1)).toBeLessThanOrEqual(0.05);
        if (mmap && repacks && REPACKED.has(type)) {
          // The mapped originals of repacked weights: reported, not budgeted, and not resident.
          expect(r.reclaimable).toBeGreaterThan(r.resident * 0.3);
        } else {
          // No mapping (mmap off), or every mapped tensor is read at run time: nothing to reclaim.
          expect(r.reclaimable).toBe(0);
        }
      });
    }
  }
});
