// The README's registry + pool example, run as written (paths swapped for the test model).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ModelPool, ModelRegistry, registryResolver } from '../../src/index.js';
import { STORIES } from '../helpers/models.js';

it('README: registry + pool + swap example works as documented', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelpool-readme-'));
  const v1 = join(dir, 'stories260K.gguf');
  const v2 = join(dir, 'stories-v2.gguf');
  copyFileSync(STORIES, v1);
  copyFileSync(STORIES, v2);

  const registry = await ModelRegistry.open({ path: join(dir, 'models.db') });
  await registry.registerModel({ id: 'stories', aliases: ['stories:latest'], tasks: ['completion'],
    version: { version: '1', source: { kind: 'gguf', path: v1 } } });
  // discover() with a home folder of its own here, so the test sees only what it put there.
  const report = await registry.discover({ homeDir: dir, env: {}, directories: [] });
  expect(report.registered.length + report.existing.length).toBeGreaterThanOrEqual(0);

  const pool = new ModelPool({ resolve: registryResolver(registry), memory: { margin: '10%' }, keepAliveMs: 300_000 });
  const result = await pool.use('stories:latest', (lease) => lease.model.complete({ prompt: 'Once', maxTokens: 32 }));
  expect(result.generatedTokens).toBeGreaterThan(0);
  const swap = await pool.swapVersion('stories:latest', { version: '2', source: v2 });
  expect(swap).toBeTruthy();
  const status = pool.status();
  expect(JSON.stringify(status)).toContain('stories');
  await pool.dispose();
  await registry.close();
});
