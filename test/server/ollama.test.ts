// The server's Ollama API with the official `ollama` client as the client, on loopback, stories260K behind
// the front door: keep_alive (durations, 0, forever, back to the default), loading and unloading with an
// empty prompt or no messages, models described from the registry's metadata (tags, show, ps), the older
// /api/embeddings, registered versions as tags, and bad durations as 400s naming the field.
import { Ollama } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor } from '../../src/runtime/index.js';
import { createServer, type ModelpoolServer } from '../../src/server/index.js';
import { keepAliveOf } from '../../src/server/ollama.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

let registry: ModelRegistry;
let door: FrontDoor;
let server: ModelpoolServer;
let ollama: Ollama;
const OPTIONS = { num_predict: 4, temperature: 0 };

beforeAll(async () => {
  registry = await ModelRegistry.open();
  await registry.registerModel({ id: 'stories', tasks: ['completion', 'chat'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  await registry.registerModel({ id: 'stories-embed', tasks: ['embedding'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  door = new FrontDoor({ registry, specDefaults: { contextSize: 256 }, poolOptions: { threads: 1, keepAliveMs: 60_000, prefixCache: false } });
  server = await createServer({ door, port: 0 });
  await server.listen();
  ollama = new Ollama({ host: server.url });
});

afterAll(async () => {
  await server.close();
  await door.dispose();
  await registry.close();
});

const running = async () => (await ollama.ps()).models.map((m) => m.name);
const expiresIn = async (name: string) => {
  const model = (await ollama.ps()).models.find((m) => m.name === name);
  return model === undefined ? undefined : new Date(model.expires_at).getTime() - Date.now();
};

describe('server: Ollama API with the ollama client', () => {
  it('keep_alive sets how long the model stays loaded after the request: a duration, forever, 0, or the default', async () => {
    await ollama.generate({ model: 'stories', prompt: 'Once', options: OPTIONS, keep_alive: '10m' });
    const tenMinutes = (await expiresIn('stories:latest'))!;
    expect(tenMinutes).toBeGreaterThan(590_000);
    expect(tenMinutes).toBeLessThanOrEqual(600_000);
    await ollama.chat({ model: 'stories', messages: [{ role: 'user', content: 'Hi' }], options: OPTIONS, keep_alive: -1 });
    expect((await ollama.ps()).models.find((m) => m.name === 'stories:latest')!.expires_at).toBe('0001-01-01T00:00:00Z');
    // Without keep_alive: the configured keep-alive (60 s here).
    await ollama.generate({ model: 'stories', prompt: 'Once', options: OPTIONS });
    expect(await expiresIn('stories:latest')).toBeLessThanOrEqual(60_000);
    // 0: unloaded once the request is done.
    const last = await ollama.generate({ model: 'stories', prompt: 'Once', options: OPTIONS, keep_alive: 0 });
    expect(last.response.length).toBeGreaterThan(0);
    expect(await running()).not.toContain('stories:latest');
  });

  it('an empty prompt or no messages loads the model (done_reason "load"), with keep_alive 0 unloads it ("unload")', async () => {
    const loaded = await ollama.generate({ model: 'stories', prompt: '', keep_alive: '1h' });
    expect(loaded).toMatchObject({ model: 'stories:latest', response: '', done: true, done_reason: 'load' });
    expect(await running()).toContain('stories:latest');
    expect(await expiresIn('stories:latest')).toBeGreaterThan(3_590_000);
    const unloaded = await ollama.generate({ model: 'stories', prompt: '', keep_alive: 0 });
    expect(unloaded).toMatchObject({ done: true, done_reason: 'unload' });
    expect(await running()).not.toContain('stories:latest');
    const chatLoaded = await ollama.chat({ model: 'stories', messages: [] });
    expect(chatLoaded).toMatchObject({ message: { role: 'assistant', content: '' }, done_reason: 'load' });
    expect(await running()).toContain('stories:latest');
    expect((await ollama.chat({ model: 'stories', messages: [], keep_alive: 0 })).done_reason).toBe('unload');
    expect(await running()).not.toContain('stories:latest');
    // A model nobody knows: 404, for a load and an unload.
    for (const keep_alive of [undefined, 0]) {
      const missing = await ollama.generate({ model: 'nobody', prompt: '', ...(keep_alive === undefined ? {} : { keep_alive }) }).catch((e: { status_code?: number }) => e);
      expect((missing as { status_code: number }).status_code).toBe(404);
    }
  });

  it('describes models from the registry: size, family, parameters, quantisation, context length, capabilities', async () => {
    const tags = (await ollama.list()).models;
    const stories = tags.find((m) => m.name === 'stories:latest')!;
    expect(stories.size).toBeGreaterThan(0);
    expect(stories.details).toMatchObject({ format: 'gguf', family: 'llama', families: ['llama'] });
    expect(stories.details.parameter_size).toMatch(/^\d+(\.\d+)?[KMBT]?$/);
    expect(stories.details.quantization_level).not.toBe('');
    const show = await ollama.show({ model: 'stories' });
    expect(show.capabilities).toEqual(['completion']);
    expect(show.model_info).toMatchObject({ 'general.architecture': 'llama' });
    expect((show.model_info as unknown as Record<string, number>)['llama.context_length']).toBeGreaterThan(0);
    expect((await ollama.show({ model: 'stories-embed' })).capabilities).toEqual(['embedding']);
  });

  it('the older /api/embeddings answers one text with the same vector as /api/embed', async () => {
    const single = await ollama.embeddings({ model: 'stories-embed', prompt: 'Once upon a time' });
    const batch = await ollama.embed({ model: 'stories-embed', input: 'Once upon a time' });
    expect(single.embedding.length).toBeGreaterThan(0);
    expect(single.embedding).toEqual(batch.embeddings[0]);
    expect((await ollama.embeddings({ model: 'stories-embed', prompt: '' })).embedding).toEqual([]);
  });

  it('registered versions are tags: listed, shown, run and loaded by `name:version`; `:latest` and no tag are the default', async () => {
    await registry.registerVersion('stories', { version: '2', source: { kind: 'gguf', path: STORIES } });
    const names = (await ollama.list()).models.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['stories:latest', 'stories:1', 'stories:2', 'stories-embed:latest', 'stories-embed:1']));
    const two = await ollama.generate({ model: 'stories:2', prompt: 'Once', options: OPTIONS });
    expect(two.model).toBe('stories:2');
    const latest = await ollama.generate({ model: 'stories', prompt: 'Once', options: OPTIONS });
    expect(latest.model).toBe('stories:latest');
    expect(two.response).toBe(latest.response); // the same weights under another version
    // The version runs under its own pool id, listed by its tag.
    expect(await running()).toEqual(expect.arrayContaining(['stories:2', 'stories:latest']));
    expect((await ollama.show({ model: 'stories:2' })).details.family).toBe('llama');
    expect((await ollama.generate({ model: 'stories:2', prompt: '', keep_alive: 0 })).done_reason).toBe('unload');
    expect(await running()).not.toContain('stories:2');
    expect(await running()).toContain('stories:latest');
    expect((await ollama.chat({ model: 'stories:2', messages: [] })).model).toBe('stories:2');
    expect(await running()).toContain('stories:2');
    const missing = await ollama.generate({ model: 'stories:9', prompt: 'Once' }).catch((e: { status_code?: number }) => e);
    expect((missing as { status_code: number }).status_code).toBe(404);
    const missingLoad = await ollama.generate({ model: 'stories:9', prompt: '' }).catch((e: { status_code?: number }) => e);
    expect((missingLoad as { status_code: number }).status_code).toBe(404);
    // An alias that holds a colon itself names the model, not a tag.
    await registry.updateModel('stories-embed', { aliases: ['embedder:small'] });
    const aliased = await ollama.embed({ model: 'embedder:small', input: 'Once' });
    expect(aliased.model).toBe('embedder:small');
    expect(aliased.embeddings[0]!.length).toBeGreaterThan(0);
  });

  it('a keep_alive that is no duration is a 400 naming the field', async () => {
    for (const keep_alive of ['5 minutes', 'soon', '1d']) {
      const bad = await ollama.generate({ model: 'stories', prompt: 'Once', options: OPTIONS, keep_alive }).catch((e: { status_code?: number; error?: string }) => e);
      expect(bad).toMatchObject({ status_code: 400 });
      expect((bad as { error: string }).error).toContain('keep_alive');
    }
  });

  it("parses Ollama's durations", async () => {
    expect(keepAliveOf(undefined)).toBe('default');
    expect(keepAliveOf(null)).toBe('default');
    expect(keepAliveOf(300)).toBe(300_000);
    expect(keepAliveOf(1.5)).toBe(1500);
    expect(keepAliveOf(0)).toBe(0);
    expect(keepAliveOf(-1)).toBe(-1);
    expect(keepAliveOf(-600)).toBe(-1);
    expect(keepAliveOf('0')).toBe(0);
    expect(keepAliveOf('30')).toBe(30_000);
    expect(keepAliveOf('-1')).toBe(-1);
    expect(keepAliveOf('5m')).toBe(300_000);
    expect(keepAliveOf('1h30m')).toBe(5_400_000);
    expect(keepAliveOf('1.5h')).toBe(5_400_000);
    expect(keepAliveOf('300ms')).toBe(300);
    expect(keepAliveOf('.5s')).toBe(500);
    expect(keepAliveOf('1500us')).toBe(2);
    expect(keepAliveOf('-1m')).toBe(-1);
    for (const bad of ['', 'm', '5 m', '1d', '5m-', Number.NaN, Number.POSITIVE_INFINITY, true, {}, []]) {
      await expectCode(() => keepAliveOf(bad), 'INVALID_ARGUMENT', 'keep_alive');
    }
  });
});
