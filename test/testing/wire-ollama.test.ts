// The Ollama wire server, driven by the official `ollama` client: generate and chat (NDJSON streams
// and single objects), JSON-schema format, log probabilities, embeddings (a generated BERT model),
// list / show / ps / version, and errors, with the text the real model generates for the same request.
import { Ollama, type ChatResponse, type GenerateResponse } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../../src/engine/index.js';
import type { ChatMessage } from '../../src/model/types.js';
import { cachedBertTestModel, startWireServer, type WireServer } from '../../src/testing/index.js';
import { STORIES } from '../helpers/models.js';

const PROMPT = 'Once upon a time';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a storyteller.' },
  { role: 'user', content: 'Tell me a story about a cat.' },
];

describe('Ollama wire server', () => {
  let model: Model;
  let bert: Model;
  let server: WireServer;
  let client: Ollama;

  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, threads: 1 });
    bert = await loadModel(await cachedBertTestModel(), { embeddings: true, threads: 1 });
    server = await startWireServer({
      protocol: 'ollama',
      model: (name) => (name === 'stories:latest' ? model : name === 'bert:latest' ? bert : undefined),
      models: ['stories:latest', 'bert:latest'],
    });
    client = new Ollama({ host: server.url });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
    await bert?.dispose();
  });

  it('says it is running, and reports its version, models and what is loaded', async () => {
    const root = await fetch(server.url);
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('Ollama is running');
    expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/);

    const { models } = await client.list();
    expect(models.map((m) => m.name)).toEqual(['stories:latest', 'bert:latest']);
    expect(models[0]!.details).toMatchObject({ format: 'gguf', family: 'llama', families: ['llama'] });
    expect(models[0]!.size).toBe(model.info.sizeBytes);
    expect(models[0]!.digest).toMatch(/^[0-9a-f]{64}$/);

    const ps = await client.ps();
    expect(ps.models.map((m) => m.name)).toEqual(['stories:latest', 'bert:latest']);

    // "stories" is "stories:latest", as in Ollama.
    const show = await client.show({ model: 'stories' });
    expect(show.capabilities).toEqual(['completion']);
    expect(show.details.family).toBe('llama');
    expect((show.model_info as unknown as Record<string, unknown>)['llama.context_length']).toBe(model.info.trainContextSize);
    expect((await client.show({ model: 'bert' })).capabilities).toEqual(['embedding']);
  });

  it('generates a whole answer with stream: false', async () => {
    const expected = await model.complete({ prompt: PROMPT, maxTokens: 12, temperature: 0 });
    const response = await client.generate({ model: 'stories', prompt: PROMPT, stream: false, options: { temperature: 0, num_predict: 12 } });
    expect(response.response).toBe(expected.text);
    expect(response).toMatchObject({ model: 'stories', done: true, done_reason: 'length', prompt_eval_count: expected.promptTokens, eval_count: 12, load_duration: 0 });
    expect(Number.isInteger(response.total_duration)).toBe(true);
    expect(response.total_duration).toBeGreaterThan(0);
    const recorded = server.requests.at(-1)!;
    expect(recorded).toMatchObject({ method: 'POST', path: '/api/generate', body: { model: 'stories', prompt: PROMPT, stream: false } });
  });

  it('streams a generation as NDJSON lines, the last one done', async () => {
    const expected = await model.complete({ prompt: PROMPT, maxTokens: 16, temperature: 0 });
    const parts: GenerateResponse[] = [];
    for await (const part of await client.generate({ model: 'stories', prompt: PROMPT, stream: true, options: { temperature: 0, num_predict: 16 } })) parts.push(part);
    expect(parts.map((p) => p.response).join('')).toBe(expected.text);
    expect(parts.slice(0, -1).every((p) => !p.done)).toBe(true);
    expect(parts.at(-1)).toMatchObject({ done: true, done_reason: 'length', response: '', eval_count: 16 });

    const raw = await fetch(`${server.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'stories', prompt: PROMPT, options: { temperature: 0, num_predict: 4 } }) });
    expect(raw.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await raw.text()).split('\n');
    expect(lines.at(-1)).toBe('');
    const objects = lines.slice(0, -1).map((line) => JSON.parse(line) as { done: boolean; created_at: string });
    expect(objects.at(-1)!.done).toBe(true);
    expect(Number.isNaN(Date.parse(objects[0]!.created_at))).toBe(false);
  });

  it('chats, streamed and not', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 12, temperature: 0 });
    const request = { model: 'stories:latest', messages: MESSAGES as Array<{ role: string; content: string }>, options: { temperature: 0, num_predict: 12 } };
    const whole = await client.chat({ ...request, stream: false });
    expect(whole.message).toEqual({ role: 'assistant', content: expected.text });
    expect(whole).toMatchObject({ done: true, done_reason: 'length', prompt_eval_count: expected.promptTokens, eval_count: 12 });

    const parts: ChatResponse[] = [];
    for await (const part of await client.chat({ ...request, stream: true })) parts.push(part);
    expect(parts.map((p) => p.message.content).join('')).toBe(expected.text);
    expect(parts.every((p) => p.message.role === 'assistant')).toBe(true);
    expect(parts.at(-1)).toMatchObject({ done: true, done_reason: 'length' });
  });

  it('maps options: stop, seed, and format as a JSON schema', async () => {
    const full = await model.complete({ prompt: PROMPT, maxTokens: 16, temperature: 0 });
    const word = full.text.trim().split(/\s+/)[2]!;
    const stopped = await model.complete({ prompt: PROMPT, maxTokens: 16, temperature: 0, stop: [word] });
    const viaStop = await client.generate({ model: 'stories', prompt: PROMPT, stream: false, options: { temperature: 0, num_predict: 16, stop: [word] } });
    expect(viaStop.response).toBe(stopped.text);
    expect(viaStop.done_reason).toBe('stop');

    const seeded = await model.complete({ prompt: 'Once', maxTokens: 10, temperature: 1, seed: 7 });
    const viaSeed = await client.generate({ model: 'stories', prompt: 'Once', stream: false, options: { temperature: 1, seed: 7, num_predict: 10 } });
    expect(viaSeed.response).toBe(seeded.text);

    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 } }, required: ['name'] };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Give me a name' }];
    const expected = await model.complete({ messages, maxTokens: 40, temperature: 0, jsonSchema: schema });
    const response = await client.chat({ model: 'stories', messages: [{ role: 'user', content: 'Give me a name' }], format: schema, stream: false, options: { temperature: 0, num_predict: 40 } });
    expect(response.message.content).toBe(expected.text);
    expect(typeof (JSON.parse(response.message.content) as { name: unknown }).name).toBe('string');
  });

  it('returns log probabilities', async () => {
    const expected = await model.complete({ prompt: PROMPT, maxTokens: 8, temperature: 0, logprobs: true, topLogprobs: 2 });
    const response = await client.generate({ model: 'stories', prompt: PROMPT, stream: false, logprobs: true, top_logprobs: 2, options: { temperature: 0, num_predict: 8 } });
    expect(response.logprobs!.map((t) => t.token).join('')).toBe(expected.text);
    response.logprobs!.forEach((t, i) => {
      expect(t.logprob).toBeCloseTo(expected.logprobs![i]!.logprob, 4);
      expect(t.top_logprobs!.map((a) => a.token)).toEqual(expected.logprobs![i]!.top!.map((a) => a.text));
    });
  });

  it('embeds text with an embedding model', async () => {
    const texts = ['hello world', 'a cat sat on the mat'];
    const expected = await bert.embed(texts);
    const response = await client.embed({ model: 'bert', input: texts });
    expect(response.model).toBe('bert');
    expect(response.embeddings).toEqual(expected.map((v) => Array.from(v)));
    expect(response.prompt_eval_count).toBe(texts.reduce((sum, t) => sum + bert.tokenize(t).length, 0));
    const single = await client.embed({ model: 'bert', input: 'hello world' });
    expect(single.embeddings).toEqual([Array.from(expected[0]!)]);
    const legacy = await client.embeddings({ model: 'bert', prompt: 'hello world' });
    expect(legacy.embedding).toEqual(Array.from(expected[0]!));
  });

  it('answers an empty prompt or chat with a load response', async () => {
    const loaded = await client.generate({ model: 'stories', prompt: '', stream: false });
    expect(loaded).toMatchObject({ done: true, done_reason: 'load', response: '' });
    const chatLoaded = await client.chat({ model: 'stories', messages: [], stream: false });
    expect(chatLoaded).toMatchObject({ done: true, done_reason: 'load' });
  });

  it('answers errors as { error } with the right status', async () => {
    const notFound = await client.chat({ model: 'llama9', messages: [{ role: 'user', content: 'hi' }], stream: false }).catch((e: unknown) => e);
    expect(notFound).toMatchObject({ status_code: 404, error: 'model "llama9" not found, try pulling it first' });
    const notFoundStream = await client.generate({ model: 'llama9', prompt: 'hi', stream: true }).catch((e: unknown) => e);
    expect(notFoundStream).toMatchObject({ status_code: 404 });

    const noEmbeddings = await client.embed({ model: 'stories', input: 'hi' }).catch((e: unknown) => e);
    expect(noEmbeddings).toMatchObject({ status_code: 400, error: '"stories" does not support embeddings' });

    const badOption = await fetch(`${server.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'stories', prompt: 'hi', options: { temperature: 'hot' } }) });
    expect(badOption.status).toBe(400);
    expect(await badOption.json()).toEqual({ error: 'invalid options.temperature: expected a number' });

    const noModel = await fetch(`${server.url}/api/chat`, { method: 'POST', body: JSON.stringify({ messages: [] }) });
    expect(noModel.status).toBe(400);
    expect(await noModel.json()).toEqual({ error: 'model is required' });

    const unknown = await fetch(`${server.url}/api/nothing`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('404 page not found');
  });
});
