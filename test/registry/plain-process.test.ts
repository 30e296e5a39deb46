/**
 * Registry lifetime in a plain `node` process: samples recorded by a script that ends without
 * close() still reach the SQLite file (the test runner would keep the flush timer's loop alive).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const child = join(repoRoot, 'test', 'registry', 'fixtures', 'plain-registry-child.mjs');
const dir = mkdtempSync(join(tmpdir(), 'modelpool-plain-registry-'));

beforeAll(() => {
  if (!existsSync(join(repoRoot, 'lib', 'index.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ModelRegistry in a plain node process', () => {
  it('flushes samples recorded by a script that never closes the registry', async () => {
    const path = join(dir, 'registry.db');
    for (let run = 1; run <= 2; run++) {
      const r = spawnSync(process.execPath, [child, path, STORIES], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('recorded');
    }
    const registry = await ModelRegistry.open({ path });
    try {
      expect(registry.performance('stories', { task: 'completion' })).toMatchObject({ samples: 6, failures: 0 });
    } finally {
      await registry.close();
    }
  });
});
