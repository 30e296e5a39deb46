/**
 * Memory accounting benchmark (issue 13): for every weight type the engine loads, with mmap on and off,
 * the engine's dry-run estimate, the measured resident figure, and what the operating system says a fresh
 * process gained after a load that filled its whole context — beside the peer, an Ollama-style estimate
 * from GGUF metadata alone. Errors are relative to the resident figure. Printed, never asserted.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/memory.bench.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { quantizeModel, type QuantizeType } from '../src/engine/index.js';
import { cachedTestModel } from '../src/testing/model-generator.js';
import { metadataEstimate } from './metadata-estimate.js';

const root = new URL('..', import.meta.url).pathname;
const STORIES = join(root, '..', 'shared', 'models', 'stories260K.gguf');
const child = join(root, 'test', 'engine', 'fixtures', 'memory-child.mjs');
const TYPES: QuantizeType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K_M', 'Q5_K_M', 'Q6_K', 'IQ4_NL'];
const mb = (b: number): string => (b / 1e6).toFixed(1);
const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${((a / b - 1) * 100).toFixed(1)}%`;

it('memory: estimate vs resident vs OS, every weight type, mmap on and off', async () => {
  const base = await cachedTestModel({ layers: 8, embeddingSize: 1024, feedForwardSize: 2816, heads: 16, kvHeads: 16, contextLength: 2048, vocabPath: STORIES });
  const lines = ['| type | mmap | estimate MB | resident MB | OS MB | reclaimable MB | estimate err | OS err | peer (metadata) MB | peer err |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const type of TYPES) {
    const path = type === 'F32' ? base : base.replace(/\.gguf$/, `.${type}.gguf`);
    if (!existsSync(path)) await quantizeModel(base, path, type);
    const peer = await metadataEstimate(path, { contextSize: 512, parallel: 1 });
    for (const mmap of [true, false]) {
      const r = spawnSync(process.execPath, [child, path, mmap ? 'mmap' : 'nommap'], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { estimate: number; resident: number; reclaimable: number; os: number };
      lines.push(
        `| ${type} | ${mmap ? 'on' : 'off'} | ${mb(m.estimate)} | ${mb(m.resident)} | ${mb(m.os)} | ${mb(m.reclaimable)} | ${pct(m.estimate, m.resident)} | ${pct(m.os, m.resident)} | ${mb(peer.total)} | ${pct(peer.total, m.resident)} |`,
      );
    }
  }
  console.log(`\n${lines.join('\n')}\n`);
});
