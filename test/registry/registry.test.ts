import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MemoryRegistryStore,
  ModelRegistry,
  type ModelWrite,
  type RegistryEvents,
  type RegistryOptions,
  type WriteResult,
} from '../../src/registry/index.js';
import { expectError, fakeInspector, STORIES, tempFolder } from './helpers.js';

type Kind = 'memory' | 'sqlite';

async function open(kind: Kind, options: RegistryOptions = {}) {
  const inspector = fakeInspector();
  const registry = await ModelRegistry.open({
    ...(kind === 'sqlite' ? { path: join(tempFolder(), 'registry.db') } : {}),
    inspectors: { gguf: inspector },
    refreshIntervalMs: 0,
    ...options,
  });
  return { registry, inspector };
}

const gguf = (path = STORIES) => ({ kind: 'gguf' as const, path });
const openai = (model = 'gpt-4o-mini') => ({ kind: 'openai' as const, model });

describe.each<Kind>(['memory', 'sqlite'])('ModelRegistry on the %s store', (kind) => {
  describe('registerModel / get / resolve', () => {
    it('registers a model with its first version, inspected, as default', async () => {
      const { registry, inspector } = await open(kind);
      const model = await registry.registerModel({
        id: 'stories',
        aliases: ['stories:latest'],
        tasks: ['completion', 'chat'],
        tags: ['tiny', 'test'],
        description: 'TinyStories 260K',
        version: { version: 'v1', source: gguf(), hardware: { gpu: 'none' } },
      });
      expect(inspector.calls).toEqual([STORIES]);
      expect(model).toMatchObject({ id: 'stories', aliases: ['stories:latest'], tasks: ['completion', 'chat'], tags: ['tiny', 'test'], defaultVersion: 'v1', revision: 1 });
      expect(model.versions).toHaveLength(1);
      const version = model.versions[0]!;
      expect(version).toMatchObject({ modelId: 'stories', version: 'v1', ordinal: 1, state: 'registered', local: true, memoryBytes: 1000, contextLength: 2048 });
      expect(version.metadata?.architecture).toBe('llama');
      expect(version.hardware).toEqual({ gpu: 'none' });
      expect(Object.isFrozen(model) && Object.isFrozen(version) && Object.isFrozen(version.source)).toBe(true);

      expect(registry.get('stories')).toBe(model);
      expect(registry.get('stories:latest')).toBe(model);
      expect(registry.has('stories:latest')).toBe(true);
      expect(registry.get('nope')).toBeUndefined();
      expect(registry.resolve('stories:latest')).toEqual({ model, version });
      expect(registry.resolve('stories', 'v1').version).toBe(version);
      expect(registry.size).toBe(1);
      expect(registry.list()).toEqual([model]);
      expect(registry.findBySourcePath(STORIES)?.version).toBe(version);
      expect(registry.findBySourcePath('/elsewhere.gguf')).toBeUndefined();
      await registry.close();
    });

    it('registers remote models without inspecting anything', async () => {
      const { registry, inspector } = await open(kind);
      await registry.registerModel({ id: 'gpt', tasks: ['chat'], version: { version: '2024-07', source: openai(), contextLength: 128_000 } });
      await registry.registerModel({ id: 'claude', version: { version: '1', source: { kind: 'anthropic', model: 'claude-sonnet' } } });
      await registry.registerModel({ id: 'local-server', version: { version: '1', source: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:8080/v1', model: 'x' } } });
      await registry.registerModel({ id: 'ollama-llama', version: { version: '1', source: { kind: 'ollama', model: 'llama3:8b', baseUrl: 'http://127.0.0.1:11434' } } });
      expect(inspector.calls).toEqual([]);
      const gpt = registry.resolve('gpt').version;
      expect(gpt).toMatchObject({ local: false, memoryBytes: 0, contextLength: 128_000 });
      expect(gpt.metadata).toBeUndefined();
      expect(registry.resolve('claude').version.contextLength).toBeUndefined();
      await registry.close();
    });

    it('registers a model without versions, then versions; the first becomes default', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'empty' });
      await expectError(() => registry.resolve('empty'), 'VERSION_NOT_FOUND', 'version');
      const v1 = await registry.registerVersion('empty', { version: '1', source: openai() });
      expect(registry.get('empty')?.defaultVersion).toBe('1');
      const v2 = await registry.registerVersion('empty', { version: '2', source: openai('gpt-4.1') });
      expect(v2.ordinal).toBe(v1.ordinal + 1);
      expect(registry.get('empty')?.defaultVersion).toBe('1');
      await registry.registerVersion('empty', { version: '3', source: openai('gpt-5'), makeDefault: true });
      expect(registry.resolve('empty').version.version).toBe('3');
      expect(registry.get('empty')?.versions.map((version) => version.version)).toEqual(['1', '2', '3']);
      await registry.close();
    });

    it('reads a real GGUF file with the engine inspector', async () => {
      const registry = await ModelRegistry.open({ ...(kind === 'sqlite' ? { path: join(tempFolder(), 'r.db') } : {}), refreshIntervalMs: 0 });
      const version = await registry.registerVersion((await registry.registerModel({ id: 'stories' })).id, { version: '1', source: gguf() });
      expect(version.metadata).toMatchObject({ format: 'gguf', architecture: 'llama', contextLength: 2048, layers: 5, sizeBytes: 1_185_376, quantization: 'F32', kvHeads: 4 });
      expect(version.memoryBytes).toBe(1_185_376);
      // Not a GGUF file: typed error naming source.path; nothing is stored.
      const text = join(tempFolder(), 'notes.gguf');
      writeFileSync(text, 'not a model');
      await expectError(registry.registerVersion('stories', { version: '2', source: gguf(text) }), 'INVALID_GGUF', 'source.path', text);
      expect(registry.get('stories')?.versions).toHaveLength(1);
      await registry.close();
    });
  });

  describe('bad input', () => {
    it('refuses invalid ids, aliases, versions, sources and options, naming field and value', async () => {
      const { registry } = await open(kind);
      await expectError(registry.registerModel({ id: '-bad' }), 'INVALID_ARGUMENT', 'id', '-bad');
      await expectError(registry.registerModel({ id: 'a'.repeat(129) }), 'INVALID_ARGUMENT', 'id');
      await expectError(registry.registerModel({ id: 'has space' }), 'INVALID_ARGUMENT', 'id', 'has space');
      await expectError(registry.registerModel(null as never), 'INVALID_ARGUMENT', 'input');
      await expectError(registry.registerModel({ id: 'ok', aliases: ['fine', 'bad alias'] }), 'INVALID_ARGUMENT', 'aliases[1]', 'bad alias');
      await expectError(registry.registerModel({ id: 'ok', aliases: ['ok'] }), 'INVALID_ARGUMENT', 'aliases[0]', 'ok');
      await expectError(registry.registerModel({ id: 'ok', aliases: 'x' as never }), 'INVALID_ARGUMENT', 'aliases');
      await expectError(registry.registerModel({ id: 'ok', tasks: ['chat', ''] }), 'INVALID_ARGUMENT', 'tasks[1]', '');
      await expectError(registry.registerModel({ id: 'ok', tags: 3 as never }), 'INVALID_ARGUMENT', 'tags');
      await expectError(registry.registerModel({ id: 'ok', description: '' }), 'INVALID_ARGUMENT', 'description');
      await expectError(registry.registerModel({ id: 'ok', version: { version: 'v 1', source: openai() } }), 'INVALID_ARGUMENT', 'version.version', 'v 1');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: { kind: 'tflite' } as never } }), 'INVALID_ARGUMENT', 'version.source.kind', 'tflite');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: { kind: 'openai-compatible', baseUrl: 'ftp://x', model: 'm' } } }), 'INVALID_ARGUMENT', 'version.source.baseUrl');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: { kind: 'ollama', model: 'm', baseUrl: 'not a url' } } }), 'INVALID_ARGUMENT', 'version.source.baseUrl');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: { kind: 'openai', model: '' } } }), 'INVALID_ARGUMENT', 'version.source.model');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: openai(), memoryEstimateBytes: -1 } }), 'INVALID_ARGUMENT', 'version.memoryEstimateBytes', -1);
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: openai(), contextLength: 0 } }), 'INVALID_ARGUMENT', 'version.contextLength', 0);
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: openai(), makeDefault: 'yes' as never } }), 'INVALID_ARGUMENT', 'version.makeDefault');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: openai(), hardware: { gpu: 'maybe' as never } } }), 'INVALID_ARGUMENT', 'version.hardware.gpu', 'maybe');
      await expectError(registry.registerModel({ id: 'ok', version: { version: '1', source: openai(), hardware: { minRamBytes: 1.5 } } }), 'INVALID_ARGUMENT', 'version.hardware.minRamBytes');
      await expectError(
        registry.registerModel({ id: 'ok', version: { version: '1', source: gguf(), metadata: { format: 'gguf', sizeBytes: 'big' } as never } }),
        'INVALID_ARGUMENT',
        'version.metadata.sizeBytes',
      );
      await expectError(ModelRegistry.open({ refreshIntervalMs: -1 }), 'INVALID_ARGUMENT', 'options.refreshIntervalMs');
      await expectError(ModelRegistry.open({ history: { priorWeight: 2 } }), 'INVALID_ARGUMENT', 'options.history.priorWeight');
      await expectError(ModelRegistry.open({ store: {} as never }), 'INVALID_ARGUMENT', 'options.store');
      await expectError(ModelRegistry.open({ path: '' }), 'INVALID_ARGUMENT', 'options.path');
      await expectError(ModelRegistry.open(5 as never), 'INVALID_ARGUMENT', 'options');
      expect(registry.size).toBe(0);
      await registry.close();
    });

    it('refuses a missing or non-file source path, naming source.path', async () => {
      const { registry, inspector } = await open(kind);
      const missing = join(tempFolder(), 'missing.gguf');
      const error = await expectError(registry.registerModel({ id: 'm', version: { version: '1', source: gguf(missing) } }), 'INVALID_ARGUMENT', 'version.source.path', missing);
      expect(error.message).toContain('ENOENT');
      await registry.registerModel({ id: 'm' });
      await expectError(registry.registerVersion('m', { version: '1', source: gguf('relative/missing.gguf') }), 'INVALID_ARGUMENT', 'source.path', join(process.cwd(), 'relative/missing.gguf'));
      const folder = tempFolder();
      await expectError(registry.registerVersion('m', { version: '1', source: gguf(folder) }), 'INVALID_ARGUMENT', 'source.path', folder);
      expect(inspector.calls).toEqual([]);
      expect(registry.get('m')?.versions).toEqual([]);
      await registry.close();
    });

    it('maps inspector failures to a typed error naming source.path', async () => {
      const onnxFile = join(tempFolder(), 'model.onnx');
      writeFileSync(onnxFile, 'onnx bytes');
      const { registry } = await open(kind, {
        inspectors: {
          gguf: async () => {
            throw new Error('truncated header');
          },
        },
      });
      await registry.registerModel({ id: 'm' });
      await expectError(registry.registerVersion('m', { version: '1', source: gguf() }), 'INVALID_GGUF', 'source.path', STORIES);
      // ONNX has no reader yet: the file size stands in.
      const onnx = await registry.registerVersion('m', { version: '2', source: { kind: 'onnx', path: onnxFile } });
      expect(onnx.metadata).toEqual({ format: 'onnx', sizeBytes: 10 });
      await registry.close();
      const failing = await ModelRegistry.open({
        inspectors: {
          onnx: async () => {
            throw 'bad';
          },
        },
        refreshIntervalMs: 0,
      });
      await failing.registerModel({ id: 'm' });
      await expectError(failing.registerVersion('m', { version: '1', source: { kind: 'onnx', path: onnxFile } }), 'INVALID_ARGUMENT', 'source.path', onnxFile);
      await failing.close();
    });

    it('refuses duplicate ids, duplicate versions and alias collisions; nothing stored is lost', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'a', aliases: ['a:latest'], version: { version: '1', source: openai() } });
      await registry.registerModel({ id: 'b', aliases: ['b:latest'] });
      await expectError(registry.registerModel({ id: 'a' }), 'ALREADY_EXISTS', 'id', 'a');
      await expectError(registry.registerModel({ id: 'a:latest' as never }), 'INVALID_ARGUMENT', 'id');
      await expectError(registry.registerModel({ id: 'c', aliases: ['a'] }), 'ALREADY_EXISTS', 'aliases[0]', 'a');
      await expectError(registry.registerModel({ id: 'c', aliases: ['x', 'b:latest'] }), 'ALREADY_EXISTS', 'aliases[1]', 'b:latest');
      await expectError(registry.updateModel('b', { aliases: ['a:latest'] }), 'ALREADY_EXISTS', 'aliases[0]', 'a:latest');
      await expectError(registry.updateModel('b', { aliases: ['b'] }), 'INVALID_ARGUMENT', 'aliases[0]', 'b');
      await expectError(registry.registerVersion('a', { version: '1', source: openai('other') }), 'ALREADY_EXISTS', 'version', '1');
      await expectError(registry.registerVersion('zzz', { version: '1', source: openai() }), 'MODEL_NOT_FOUND', 'name', 'zzz');
      expect(registry.get('a')).toMatchObject({ aliases: ['a:latest'], revision: 1 });
      expect(registry.get('a')?.versions[0]?.source).toEqual(openai());
      expect(registry.get('b')?.aliases).toEqual(['b:latest']);
      expect(registry.has('c')).toBe(false);
      await expectError(() => registry.resolve('zzz'), 'MODEL_NOT_FOUND', 'name', 'zzz');
      await expectError(() => registry.resolve(42 as never), 'INVALID_ARGUMENT', 'name');
      await expectError(() => registry.resolve('a', '9'), 'VERSION_NOT_FOUND', 'version', '9');
      await registry.close();
    });
  });

  describe('updates', () => {
    it('updates aliases, tasks, tags, description and the default version', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'm', aliases: ['m:old'], tasks: ['chat'], tags: ['x'], description: 'first', version: { version: '1', source: openai() } });
      await registry.registerVersion('m', { version: '2', source: openai('b') });
      const updated = await registry.updateModel('m:old', { aliases: ['m:new', 'm:latest'], tasks: ['chat', 'code'], tags: ['y'], description: null });
      expect(updated).toMatchObject({ aliases: ['m:new', 'm:latest'], tasks: ['chat', 'code'], tags: ['y'], revision: 3 });
      expect(updated.description).toBeUndefined();
      expect(registry.has('m:old')).toBe(false);
      expect(registry.get('m:latest')).toBe(updated);
      expect(registry.find({ tags: ['x'] })).toEqual([]);
      expect(registry.find({ task: 'code' })).toHaveLength(1);
      await registry.updateModel('m', { description: 'second' });
      expect(registry.get('m')?.description).toBe('second');
      await registry.setDefaultVersion('m', '2');
      expect(registry.resolve('m').version.version).toBe('2');
      await expectError(registry.setDefaultVersion('m', '7'), 'VERSION_NOT_FOUND', 'defaultVersion', '7');
      await expectError(registry.updateModel('m', { tasks: 'chat' as never }), 'INVALID_ARGUMENT', 'tasks');
      await registry.close();
    });

    it('updates version estimates and deprecation', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'm', version: { version: '1', source: gguf() } });
      let version = await registry.updateVersion('m', '1', { memoryEstimateBytes: 5000, contextLength: 512, hardware: { minRamBytes: 10 } });
      expect(version).toMatchObject({ memoryEstimateBytes: 5000, memoryBytes: 5000, contextLength: 512, hardware: { minRamBytes: 10 } });
      version = await registry.updateVersion('m', '1', { memoryEstimateBytes: null, contextLength: null, hardware: null });
      expect(version).toMatchObject({ memoryBytes: 1000, contextLength: 2048 });
      expect(version.memoryEstimateBytes).toBeUndefined();
      expect(version.hardware).toBeUndefined();
      version = await registry.setDeprecated('m', '1', true, 'superseded by v2');
      expect(version).toMatchObject({ deprecated: true, deprecationReason: 'superseded by v2' });
      version = await registry.setDeprecated('m', '1', false);
      expect(version.deprecated).toBe(false);
      expect(version.deprecationReason).toBeUndefined();
      await expectError(registry.setDeprecated('m', '1', 'yes' as never), 'INVALID_ARGUMENT', 'deprecated');
      await expectError(registry.setDeprecated('m', '1', true, ''), 'INVALID_ARGUMENT', 'reason');
      await expectError(registry.updateVersion('m', '1', { contextLength: -5 }), 'INVALID_ARGUMENT', 'contextLength', -5);
      await expectError(registry.updateVersion('m', '2', {}), 'VERSION_NOT_FOUND', 'version', '2');
      await expectError(registry.updateVersion('m', 3 as never, {}), 'INVALID_ARGUMENT', 'version');
      await registry.close();
    });
  });

  describe('removal', () => {
    it('refuses to remove serving versions and models (IN_USE), removes idle ones', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'm', version: { version: '1', source: openai() } });
      await registry.registerVersion('m', { version: '2', source: openai('b') });
      await registry.registerVersion('m', { version: '3', source: openai('c') });
      for (const state of ['loading', 'ready', 'draining'] as const) {
        await registry.transition('m', '2', state);
        await expectError(registry.removeVersion('m', '2'), 'IN_USE', 'version', '2');
        await expectError(registry.removeModel('m'), 'IN_USE', 'name', 'm');
      }
      await registry.transition('m', '2', 'retired');
      await expectError(registry.removeVersion('m', '1'), 'IN_USE', 'version', '1');
      await registry.removeVersion('m', '2');
      expect(registry.get('m')?.versions.map((version) => version.version)).toEqual(['1', '3']);
      await expectError(registry.removeVersion('m', '2'), 'VERSION_NOT_FOUND', 'version', '2');
      await registry.setDefaultVersion('m', '3');
      await registry.removeVersion('m', '1');
      await registry.removeVersion('m', '3');
      expect(registry.get('m')?.defaultVersion).toBeUndefined();
      // A version name can be used again after removal.
      await registry.registerVersion('m', { version: '2', source: openai('d') });
      await registry.removeModel('m');
      expect(registry.has('m')).toBe(false);
      await expectError(registry.removeModel('m'), 'MODEL_NOT_FOUND');
      // The id is free again.
      await registry.registerModel({ id: 'm' });
      await registry.close();
    });
  });

  describe('find', () => {
    it('queries by task, tags and constraints through the indexes', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'small', tasks: ['chat', 'completion'], tags: ['local', 'tiny'], version: { version: '1', source: gguf(), memoryEstimateBytes: 2_000 } });
      await registry.registerModel({ id: 'big', tasks: ['chat'], tags: ['local'], version: { version: '1', source: gguf(), memoryEstimateBytes: 9_000_000, contextLength: 8192 } });
      await registry.registerModel({ id: 'embed', tasks: ['embedding'], tags: ['local'], version: { version: '1', source: gguf() } });
      await registry.registerModel({ id: 'remote', tasks: ['chat', 'judge'], version: { version: '1', source: openai() } });
      await registry.registerModel({ id: 'onnx-model', tasks: ['chat'], version: { version: '1', source: { kind: 'onnx', path: STORIES } } });
      const ids = (query: Parameters<typeof registry.find>[0]) => registry.find(query).map((match) => `${match.model.id}@${match.version.version}`).sort();

      expect(ids({})).toEqual(['big@1', 'embed@1', 'onnx-model@1', 'remote@1', 'small@1']);
      expect(ids({ task: 'chat' })).toEqual(['big@1', 'onnx-model@1', 'remote@1', 'small@1']);
      expect(ids({ tasks: ['chat', 'completion'] })).toEqual(['small@1']);
      expect(ids({ task: 'chat', tags: ['local'] })).toEqual(['big@1', 'small@1']);
      expect(ids({ tags: ['local', 'tiny'] })).toEqual(['small@1']);
      expect(ids({ task: 'nothing' })).toEqual([]);
      expect(ids({ tags: ['nothing'] })).toEqual([]);
      // The ONNX file's size (1.2 MB) stands for its memory need.
      expect(ids({ task: 'chat', maxMemoryBytes: 1_000_000 })).toEqual(['remote@1', 'small@1']);
      expect(ids({ task: 'chat', localOnly: true, maxMemoryBytes: 2_000_000 })).toEqual(['onnx-model@1', 'small@1']);
      expect(ids({ minContextLength: 4096 })).toEqual(['big@1']);
      expect(ids({ minContextLength: 2048, localOnly: true })).toEqual(['big@1', 'embed@1', 'small@1']);
      expect(ids({ sourceKinds: ['openai', 'onnx'] })).toEqual(['onnx-model@1', 'remote@1']);
      expect(registry.find({ task: 'chat', limit: 2 })).toHaveLength(2);

      await registry.transition('big', '1', 'loading');
      await registry.transition('big', '1', 'failed');
      await registry.transition('small', '1', 'retired');
      await registry.setDeprecated('remote', '1', true);
      expect(ids({ task: 'chat' })).toEqual(['onnx-model@1']);
      expect(ids({ task: 'chat', includeDeprecated: true })).toEqual(['onnx-model@1', 'remote@1']);
      expect(ids({ task: 'chat', states: ['failed', 'retired'] })).toEqual(['big@1', 'small@1']);

      await registry.registerVersion('small', { version: '2', source: gguf(), memoryEstimateBytes: 3_000 });
      await registry.registerVersion('small', { version: '3', source: gguf(), memoryEstimateBytes: 50_000_000 });
      expect(ids({ tags: ['tiny'], versions: 'all' })).toEqual(['small@2', 'small@3']);
      expect(ids({ tags: ['tiny'], versions: 'all', maxMemoryBytes: 10_000 })).toEqual(['small@2']);
      expect(registry.find({ tags: ['tiny'], versions: 'all', limit: 1 })).toHaveLength(1);
      expect(ids({ tags: ['tiny'] })).toEqual([]); // the default version (1) is retired

      await expectError(() => registry.find({ maxMemoryBytes: -1 }), 'INVALID_ARGUMENT', 'query.maxMemoryBytes', -1);
      await expectError(() => registry.find({ states: ['gone' as never] }), 'INVALID_ARGUMENT', 'query.states[0]', 'gone');
      await expectError(() => registry.find({ states: 'ready' as never }), 'INVALID_ARGUMENT', 'query.states');
      await expectError(() => registry.find({ versions: 'some' as never }), 'INVALID_ARGUMENT', 'query.versions');
      await expectError(() => registry.find({ sourceKinds: ['x' as never] }), 'INVALID_ARGUMENT', 'query.sourceKinds[0]');
      await expectError(() => registry.find({ sourceKinds: 'x' as never }), 'INVALID_ARGUMENT', 'query.sourceKinds');
      await expectError(() => registry.find({ limit: 0 }), 'INVALID_ARGUMENT', 'query.limit', 0);
      await registry.close();
    });
  });

  describe('events', () => {
    it('emits registered, updated, transition and removed with the origin', async () => {
      const { registry } = await open(kind);
      const seen: string[] = [];
      const on = <K extends keyof RegistryEvents>(name: K, describe: (...args: RegistryEvents[K]) => string) =>
        registry.on(name, ((...args: RegistryEvents[K]) => seen.push(`${name} ${describe(...args)}`)) as never);
      on('registered', (event) => `${event.origin} ${event.model.id}${event.version ? `@${event.version.version}` : ''}`);
      on('updated', (event) => `${event.origin} ${event.model.id}`);
      on('transition', (event) => `${event.origin} ${event.modelId}@${event.version} ${event.from}->${event.to} ${event.reason}`);
      on('removed', (event) => `${event.origin} ${event.modelId}${event.version ? `@${event.version}` : ''}`);

      await registry.registerModel({ id: 'm', version: { version: '1', source: openai() } });
      await registry.registerVersion('m', { version: '2', source: openai('b') });
      await registry.transition('m', '2', 'loading', { reason: 'warm up' });
      await registry.updateModel('m', { tags: ['t'] });
      await registry.transition('m', '2', 'registered');
      await registry.removeVersion('m', '2');
      await registry.removeModel('m');
      expect(seen).toEqual([
        'registered local m',
        'registered local m@1',
        'registered local m@2',
        'updated local m',
        'transition local m@2 registered->loading warm up',
        'updated local m',
        'transition local m@2 loading->registered ',
        'removed local m@2',
        'updated local m',
        'removed local m',
      ]);
      await registry.close();
    });
  });

  describe('close', () => {
    it('is idempotent and refuses use afterwards with DISPOSED', async () => {
      const { registry } = await open(kind);
      await registry.registerModel({ id: 'm', version: { version: '1', source: openai() } });
      registry.recordSample({ model: 'm', task: 'chat', totalMs: 5, success: true });
      await Promise.all([registry.close(), registry.close()]);
      await registry[Symbol.asyncDispose]();
      await expectError(() => registry.get('m'), 'DISPOSED');
      await expectError(registry.registerModel({ id: 'n' }), 'DISPOSED');
      await expectError(() => registry.recordSample({ model: 'm', task: 'chat', totalMs: 5, success: true }), 'DISPOSED');
      await expectError(registry.refresh(), 'DISPOSED');
      await expectError(registry.flush(), 'DISPOSED');
    });
  });
});

describe('ModelRegistry writes that fail', () => {
  /** A memory store whose next write fails after checking, like a disk error at commit. */
  class FailingStore extends MemoryRegistryStore {
    failNext = false;
    override async writeModel(write: ModelWrite): Promise<WriteResult> {
      if (this.failNext) {
        this.failNext = false;
        throw new Error('disk full');
      }
      return super.writeModel(write);
    }
  }

  it('leaves memory and store unchanged when the store refuses the write', async () => {
    const store = new FailingStore();
    const registry = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    await registry.registerModel({ id: 'm', aliases: ['m:1'], version: { version: '1', source: openai() } });
    const before = registry.get('m');
    store.failNext = true;
    await expect(registry.updateModel('m', { aliases: ['m:2'] })).rejects.toThrow('disk full');
    store.failNext = true;
    await expect(registry.transition('m', '1', 'loading')).rejects.toThrow('disk full');
    expect(registry.get('m')).toBe(before);
    expect(registry.has('m:2')).toBe(false);
    const reopened = await ModelRegistry.open({ store, refreshIntervalMs: 0 });
    expect(reopened.get('m')).toMatchObject({ aliases: ['m:1'], revision: 1 });
    expect(reopened.resolve('m').version.state).toBe('registered');
    await registry.close();
    await reopened.close();
    // A store the caller passed in stays open after the registry closes.
    const snapshot = await store.load({ transitionLimit: 1, bucketsSince: 0 });
    expect(snapshot.models.map((document) => [document.model.id, document.model.aliases])).toEqual([['m', ['m:1']]]);
    await store.close();
    await expectError(store.load({ transitionLimit: 1, bucketsSince: 0 }), 'DISPOSED');
  });
});

describe('ModelRegistry.open', () => {
  it("rejects with the store's load error and leaves a store it was given open", async () => {
    const store = new MemoryRegistryStore();
    const failure = new Error('load failed');
    store.load = async () => {
      throw failure;
    };
    await expect(ModelRegistry.open({ store })).rejects.toBe(failure);
    await expect(store.changesSince({ models: 0, perf: 0 }, { transitionLimit: 1, bucketsSince: 0 })).resolves.toBeUndefined();
    await store.close();
  });
});
