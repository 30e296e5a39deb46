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
  // discover() with a home folder of its own and the test folder as the one folder to scan, so it sees
  // exactly the two model files put there: v1, registered above, and v2, new.
  const report = await registry.discover({ homeDir: dir, env: {}, directories: [dir] });
  const named = (found: typeof report.registered) => found.map(({ model, version }) => `${model.id}@${version.version}`);
  expect(named(report.existing)).toEqual(['stories@1']);
  expect(named(report.registered)).toEqual(['stories-v2@local']);
  expect(report.skipped).toEqual([]);

  const pool = new ModelPool({ resolve: registryResolver(registry), memory: { margin: '10%' }, keepAliveMs: 300_000 });
  const result = await pool.use('stories:latest', (lease) => lease.model.complete({ prompt: 'Once', maxTokens: 32 }));
  expect(result.generatedTokens).toBeGreaterThan(0);
  const swap = await pool.swapVersion('stories:latest', { version: '2', source: v2 });
  expect(swap).toMatchObject({ from: '1', to: '2', strategy: 'beside', health: { ok: true } });
  const status = pool.status();
  expect(status.models.map((model) => [model.version, model.state])).toEqual([['2', 'ready']]);
  expect(status.models[0]!.instances[0]).toMatchObject({ version: '2', role: 'current' });
  await pool.dispose();
  await registry.close();
});
