import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDiscoveryPaths, ModelRegistry, scanForModels } from '../../src/registry/index.js';
import { expectError, STORIES, tempFolder } from './helpers.js';

const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);
const DIGEST_C = 'c'.repeat(64);
const DIGEST_D = 'd'.repeat(64);

function place(path: string, how: 'copy' | 'link' = 'copy'): string {
  mkdirSync(dirname(path), { recursive: true });
  if (how === 'copy') copyFileSync(STORIES, path);
  else symlinkSync(STORIES, path);
  return path;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function ollamaManifest(home: string, registry: string, namespace: string, model: string, tag: string, digest: string | undefined, mediaType = 'application/vnd.ollama.image.model'): void {
  const layers = digest === undefined ? [] : [{ mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'f'.repeat(64)}` }, { mediaType, digest: `sha256:${digest}` }];
  write(join(home, '.ollama/models/manifests', registry, namespace, model, tag), JSON.stringify({ schemaVersion: 2, layers }));
}

/** A home folder laid out like a machine with Ollama, LM Studio, the HF cache and node-llama-cpp. */
function fakeHome(): { home: string; folder: string } {
  const home = tempFolder();
  // Ollama: a library model, a user's model, a manifest whose blob is missing, a broken manifest, one without a model layer.
  place(join(home, `.ollama/models/blobs/sha256-${DIGEST_A}`));
  place(join(home, `.ollama/models/blobs/sha256-${DIGEST_B}`));
  ollamaManifest(home, 'registry.ollama.ai', 'library', 'stories', 'latest', DIGEST_A);
  ollamaManifest(home, 'registry.ollama.ai', 'someone', 'tiny', 'q4', DIGEST_B);
  ollamaManifest(home, 'hf.co', 'org', 'gone', 'latest', DIGEST_C);
  ollamaManifest(home, 'registry.ollama.ai', 'library', 'nolayer', 'latest', undefined);
  write(join(home, '.ollama/models/manifests/registry.ollama.ai/library/broken/latest'), '{ not json');
  // LM Studio, current and legacy folders; a projector and the second part of a split model are not models.
  place(join(home, '.lmstudio/models/publisher/repo/stories-Q8_0.gguf'));
  place(join(home, '.lmstudio/models/publisher/repo/mmproj-model-f16.gguf'));
  place(join(home, '.lmstudio/models/publisher/split/big-00002-of-00002.gguf'));
  place(join(home, '.cache/lm-studio/models/legacy/repo/legacy-model.gguf'));
  // Hugging Face hub cache: snapshot files are links into blobs/.
  const blob = place(join(home, '.cache/huggingface/hub/models--karpathy--tinyllamas/blobs/0123abcd'));
  mkdirSync(join(home, '.cache/huggingface/hub/models--karpathy--tinyllamas/snapshots/abc123def4567890'), { recursive: true });
  symlinkSync(blob, join(home, '.cache/huggingface/hub/models--karpathy--tinyllamas/snapshots/abc123def4567890/stories260K.gguf'));
  mkdirSync(join(home, '.cache/huggingface/hub/datasets--x--y'), { recursive: true });
  // node-llama-cpp's folder.
  place(join(home, '.node-llama-cpp/models/hf_karpathy_stories260K.gguf'));
  // A plain folder: nested files, a hidden folder, a file too deep, a text file posing as GGUF, a dangling link.
  const folder = join(home, 'models');
  place(join(folder, 'a/b/nested.gguf'));
  place(join(folder, '.hidden/secret.gguf'));
  place(join(folder, '1/2/3/4/5/6/too-deep.gguf'));
  write(join(folder, 'broken.gguf'), 'this is not a model');
  symlinkSync(join(folder, 'nowhere.gguf'), join(folder, 'dangling.gguf'));
  symlinkSync(STORIES, join(folder, 'shared-stories.gguf'));
  return { home, folder };
}

describe('scanForModels', () => {
  it('finds models in every known layout and names them', async () => {
    const { home, folder } = fakeHome();
    const scan = await scanForModels({ homeDir: home, env: {}, directories: [folder, join(home, 'missing')] });
    const found = Object.fromEntries(scan.found.map((file) => [file.path.slice(home.length + 1), { origin: file.origin, id: file.id, version: file.version, alias: file.alias }]));
    expect(found).toEqual({
      [`.ollama/models/blobs/sha256-${DIGEST_A}`]: { origin: 'ollama', id: 'stories', version: `sha256-${DIGEST_A.slice(0, 12)}`, alias: 'stories:latest' },
      [`.ollama/models/blobs/sha256-${DIGEST_B}`]: { origin: 'ollama', id: 'someone-tiny-q4', version: `sha256-${DIGEST_B.slice(0, 12)}`, alias: 'someone/tiny:q4' },
      '.lmstudio/models/publisher/repo/stories-Q8_0.gguf': { origin: 'lm-studio', id: 'stories-q8_0', version: 'local', alias: 'publisher/repo/stories-q8_0' },
      '.cache/lm-studio/models/legacy/repo/legacy-model.gguf': { origin: 'lm-studio', id: 'legacy-model', version: 'local', alias: 'legacy/repo/legacy-model' },
      '.cache/huggingface/hub/models--karpathy--tinyllamas/snapshots/abc123def4567890/stories260K.gguf': {
        origin: 'huggingface',
        id: 'stories260k',
        version: 'abc123def456',
        alias: 'karpathy/tinyllamas/stories260k',
      },
      '.node-llama-cpp/models/hf_karpathy_stories260K.gguf': { origin: 'node-llama-cpp', id: 'hf_karpathy_stories260k', version: 'local', alias: undefined },
      'models/a/b/nested.gguf': { origin: 'directory', id: 'nested', version: 'local', alias: undefined },
      'models/broken.gguf': { origin: 'directory', id: 'broken', version: 'local', alias: undefined },
      'models/shared-stories.gguf': { origin: 'directory', id: 'shared-stories', version: 'local', alias: undefined },
    });
    const skipped = scan.skipped.map((skip) => [skip.origin, skip.path.slice(home.length + 1), skip.reason.split(':')[0]]);
    expect(skipped).toEqual(
      expect.arrayContaining([
        ['ollama', '.ollama/models/manifests/hf.co/org/gone/latest', expect.stringContaining('is missing')],
        ['ollama', '.ollama/models/manifests/registry.ollama.ai/library/nolayer/latest', expect.stringContaining('no application/vnd.ollama.image.model layer')],
        ['ollama', '.ollama/models/manifests/registry.ollama.ai/library/broken/latest', 'unreadable manifest'],
        ['lm-studio', '.lmstudio/models/publisher/repo/mmproj-model-f16.gguf', 'a multimodal projector, not a model'],
        ['lm-studio', '.lmstudio/models/publisher/split/big-00002-of-00002.gguf', 'part 2 of a split model (only part 1 is registered)'],
      ]),
    );
    expect(scan.skipped).toHaveLength(5);
    expect(scan.scanned.map((root) => root.origin)).toEqual(['ollama', 'lm-studio', 'lm-studio', 'huggingface', 'node-llama-cpp', 'directory']);
  });

  it('treats missing folders as empty, honours false and the environment', async () => {
    const home = tempFolder();
    expect(await scanForModels({ homeDir: home, env: {} })).toEqual({ found: [], skipped: [], scanned: [] });
    expect(await scanForModels({ ollama: false, lmStudio: false, huggingFace: false, nodeLlamaCpp: false, directories: [] })).toEqual({ found: [], skipped: [], scanned: [] });
    expect(defaultDiscoveryPaths({ homeDir: '/h', env: { OLLAMA_MODELS: '/o', HF_HOME: '/hf' } })).toEqual({
      ollama: '/o',
      lmStudio: ['/h/.lmstudio/models', '/h/.cache/lm-studio/models'],
      huggingFace: '/hf/hub',
      nodeLlamaCpp: '/h/.node-llama-cpp/models',
    });
    expect(defaultDiscoveryPaths({ homeDir: '/h', env: { HF_HUB_CACHE: '/cache' } }).huggingFace).toBe('/cache');
    expect(defaultDiscoveryPaths({ homeDir: '/h', env: {} }).huggingFace).toBe('/h/.cache/huggingface/hub');
    // Without options: this user's home folder and this process's environment.
    expect(defaultDiscoveryPaths()).toEqual(defaultDiscoveryPaths({ homeDir: homedir(), env: process.env }));
    expect(defaultDiscoveryPaths({ env: {} }).ollama).toBe(join(homedir(), '.ollama', 'models'));
    await expectError(scanForModels({ lmStudio: '/one/folder' as never }), 'INVALID_ARGUMENT', 'options.lmStudio');
    await expectError(scanForModels({ directories: [''] }), 'INVALID_ARGUMENT', 'options.directories[0]', '');
    await expectError(scanForModels({ directories: 'x' as never }), 'INVALID_ARGUMENT', 'options.directories');
    await expectError(scanForModels({ ollama: 3 as never }), 'INVALID_ARGUMENT', 'options.ollama', 3);
    await expectError(scanForModels({ maxDepth: -1 }), 'INVALID_ARGUMENT', 'options.maxDepth', -1);
    await expectError(scanForModels({ homeDir: '' }), 'INVALID_ARGUMENT', 'options.homeDir');
    const registry = await ModelRegistry.open({ refreshIntervalMs: 0 });
    await expectError(registry.discover({ tags: ['bad tag'] }), 'INVALID_ARGUMENT', 'options.tags[0]', 'bad tag');
    await expectError(registry.discover(null as never), 'INVALID_ARGUMENT', 'options');
    await registry.close();
  });
});

describe('ModelRegistry.discover', () => {
  it('registers what it finds with inspected metadata, reports bad files, and is idempotent', async () => {
    const { home, folder } = fakeHome();
    const registry = await ModelRegistry.open({ path: join(tempFolder(), 'r.db'), refreshIntervalMs: 0 });
    // A file registered by hand beforehand is recognised through its link.
    await registry.registerModel({ id: 'stories-by-hand', version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
    const report = await registry.discover({ homeDir: home, env: {}, directories: [folder], tags: ['found'] });
    const registered = report.registered.map(({ model, version }) => `${model.id}@${version.version}`).sort();
    expect(registered).toEqual([
      'hf_karpathy_stories260k@local',
      'legacy-model@local',
      'nested@local',
      'someone-tiny-q4@sha256-bbbbbbbbbbbb',
      'stories-q8_0@local',
      'stories260k@abc123def456',
      `stories@sha256-${DIGEST_A.slice(0, 12)}`,
    ]);
    expect(report.existing.map(({ model }) => model.id)).toEqual(['stories-by-hand']);
    const broken = report.skipped.find((skip) => skip.path.endsWith('broken.gguf'));
    expect(broken?.reason).toMatch(/source\.path .*broken\.gguf is not a readable gguf model/);
    expect(report.skipped).toHaveLength(6);

    const stories = registry.resolve('stories:latest');
    expect(stories.model).toMatchObject({ id: 'stories', aliases: ['stories:latest'], tags: ['found'], tasks: ['completion'] });
    expect(stories.version).toMatchObject({ local: true, state: 'registered', metadata: { architecture: 'llama', contextLength: 2048, sizeBytes: 1_185_376 } });
    expect(registry.resolve('karpathy/tinyllamas/stories260k').model.id).toBe('stories260k');

    // Again: nothing new.
    const again = await registry.discover({ homeDir: home, env: {}, directories: [folder] });
    expect(again.registered).toEqual([]);
    expect(again.existing).toHaveLength(8);

    // A new revision in the HF cache and a re-pulled Ollama tag become new versions of the same models.
    place(join(home, '.cache/huggingface/hub/models--karpathy--tinyllamas/snapshots/fedcba9876543210/stories260K.gguf'));
    place(join(home, `.ollama/models/blobs/sha256-${DIGEST_D}`));
    ollamaManifest(home, 'registry.ollama.ai', 'library', 'stories', 'latest', DIGEST_D);
    // A different file whose name collides with a registered id gets a fresh id.
    place(join(folder, 'other/nested.gguf'));
    const update = await registry.discover({ homeDir: home, env: {}, directories: [folder] });
    expect(update.registered.map(({ model, version }) => `${model.id}@${version.version}`).sort()).toEqual([
      'nested-2@local',
      'stories260k@fedcba987654',
      `stories@sha256-${DIGEST_D.slice(0, 12)}`,
    ]);
    expect(registry.get('stories')!.versions.map((version) => version.version)).toEqual([`sha256-${DIGEST_A.slice(0, 12)}`, `sha256-${DIGEST_D.slice(0, 12)}`]);
    await registry.close();
  });

  it('reports a version-name clash as skipped rather than throwing', async () => {
    const folder = tempFolder();
    const hub = join(folder, 'hub');
    place(join(hub, 'models--org--m/snapshots/1111111111111111/a.gguf'));
    const registry = await ModelRegistry.open({ refreshIntervalMs: 0 });
    await registry.registerModel({ id: 'taken', aliases: ['org/m/a'], version: { version: '111111111111', source: { kind: 'openai', model: 'x' } } });
    const report = await registry.discover({ ollama: false, lmStudio: false, nodeLlamaCpp: false, huggingFace: hub });
    expect(report.registered).toEqual([]);
    expect(report.skipped).toEqual([{ origin: 'huggingface', path: join(hub, 'models--org--m/snapshots/1111111111111111/a.gguf'), reason: expect.stringContaining('already has a version') }]);
    await registry.close();
  });
});
