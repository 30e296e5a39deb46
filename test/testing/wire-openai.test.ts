// The OpenAI wire server, driven by the official `openai` SDK: what the SDK receives (chat and text
// completions, streamed and not, JSON schema output, log probabilities, embeddings, models, errors)
// is what the real model generates for the same request, in OpenAI's exact shapes.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../../src/engine/index.js';
import type { ChatMessage } from '../../src/model/types.js';
import { startWireServer, type WireServer } from '../../src/testing/index.js';
import { STORIES } from '../helpers/models.js';

const API_KEY = 'sk-test-0123456789abcdef';
const SYSTEM = 'You are a storyteller.';
const USER = 'Tell me a story about a cat.';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: USER },
];

describe('OpenAI wire server', () => {
  let model: Model;
  let embedder: Model;
  let server: WireServer;
  let client: OpenAI;

  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, threads: 1 });
    embedder = await loadModel(STORIES, { contextSize: 128, threads: 1, embeddings: true });
    server = await startWireServer({
      protocol: 'openai',
      model: (name) => (name === 'stories' ? model : name === 'stories-embed' ? embedder : undefined),
      models: ['stories', 'stories-embed'],
      apiKey: API_KEY,
    });
    client = new OpenAI({ apiKey: API_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
    await embedder?.dispose();
  });

  it('lists and retrieves its models', async () => {
    const ids: string[] = [];
    for await (const entry of client.models.list()) ids.push(entry.id);
    expect(ids).toEqual(['stories', 'stories-embed']);
    const one = await client.models.retrieve('stories');
    expect(one).toMatchObject({ id: 'stories', object: 'model', owned_by: 'modelpool' });
    await expect(client.models.retrieve('gpt-nope')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('answers a chat completion with the text the model generates, and records the request', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 12, temperature: 0 });
    const completion = await client.chat.completions.create({
      model: 'stories',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: USER },
      ],
      max_tokens: 12,
      temperature: 0,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('stories');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: expected.text });
    expect(completion.choices[0]!.finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    expect(completion.choices[0]!.logprobs).toBeNull();
    expect(completion.usage).toMatchObject({
      prompt_tokens: expected.promptTokens,
      completion_tokens: expected.generatedTokens,
      total_tokens: expected.promptTokens + expected.generatedTokens,
    });
    const recorded = server.requests.at(-1)!;
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(recorded.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(recorded.body).toMatchObject({ model: 'stories', max_tokens: 12, temperature: 0 });
  });

  it('maps max_completion_tokens, a developer message and content parts', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 5, temperature: 0 });
    const completion = await client.chat.completions.create({
      model: 'stories',
      messages: [
        { role: 'developer', content: SYSTEM },
        { role: 'user', content: [{ type: 'text', text: 'Tell me a story ' }, { type: 'text', text: 'about a cat.' }] },
      ],
      max_completion_tokens: 5,
      temperature: 0,
    });
    expect(completion.choices[0]!.message.content).toBe(expected.text);
    expect(completion.usage!.completion_tokens).toBe(5);
    expect(completion.choices[0]!.finish_reason).toBe('length');
  });

  it('streams a chat completion: the role first, the text in pieces, the finish reason, the usage', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: 'stories',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: USER },
      ],
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(expected.text);
    const finishes = chunks.filter((c) => c.choices[0]?.finish_reason != null);
    expect(finishes).toHaveLength(1);
    expect(finishes[0]!.choices[0]!.finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expected.promptTokens, completion_tokens: expected.generatedTokens });
  });

  it('frames the stream as SSE data lines ending with [DONE]', async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ model: 'stories', messages: [{ role: 'user', content: USER }], max_tokens: 6, temperature: 0, stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    const body = await response.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = body.split('\n\n').filter((e) => e !== '');
    for (const event of events) expect(event).toMatch(/^data: /);
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as { usage?: unknown });
    // Without stream_options.include_usage the chunks carry no usage field.
    expect(parsed.every((c) => !('usage' in c))).toBe(true);
  });

  it('answers text completions, streamed and not, with legacy log probabilities', async () => {
    const prompt = 'Once upon a time';
    const expected = await model.complete({ prompt, maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 2 });
    const completion = await client.completions.create({ model: 'stories', prompt, max_tokens: 12, temperature: 0, logprobs: 2 });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]!.text).toBe(expected.text);
    expect(completion.usage).toMatchObject({ prompt_tokens: expected.promptTokens, completion_tokens: 12 });
    const logprobs = completion.choices[0]!.logprobs!;
    expect(logprobs.tokens!.join('')).toBe(expected.text);
    // Cached and evaluated prompts round differently: equal to float precision.
    logprobs.token_logprobs!.forEach((logprob, i) => expect(logprob).toBeCloseTo(expected.logprobs![i]!.logprob, 4));
    expect(logprobs.text_offset![0]).toBe(prompt.length);
    expect(Object.keys(logprobs.top_logprobs![0]!).length).toBeGreaterThan(0);

    const stream = await client.completions.create({ model: 'stories', prompt, max_tokens: 12, temperature: 0, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(text).toBe(expected.text);
    expect(finish).toBe('length');
  });

  it('constrains output to a json_schema response format', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 } }, required: ['name'] };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Give me a name' }];
    const expected = await model.complete({ messages, maxTokens: 40, temperature: 0, jsonSchema: schema });
    const completion = await client.chat.completions.create({
      model: 'stories',
      messages: [{ role: 'user', content: 'Give me a name' }],
      max_tokens: 40,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    const content = completion.choices[0]!.message.content!;
    expect(content).toBe(expected.text);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(typeof (JSON.parse(content) as { name: unknown }).name).toBe('string');
  });

  it('returns log probabilities in OpenAI shape, streamed and not', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 8, temperature: 0, logprobs: true, topLogprobs: 3 });
    const request = {
      model: 'stories',
      messages: [
        { role: 'system' as const, content: SYSTEM },
        { role: 'user' as const, content: USER },
      ],
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    };
    const completion = await client.chat.completions.create(request);
    const content = completion.choices[0]!.logprobs!.content!;
    expect(content.map((t) => t.token).join('')).toBe(expected.text);
    content.forEach((t, i) => {
      const want = expected.logprobs![i]!;
      expect(t.logprob).toBeCloseTo(want.logprob, 4);
      expect(t.bytes).toEqual([...Buffer.from(want.text, 'utf8')]);
      expect(t.top_logprobs.map((a) => a.token)).toEqual(want.top!.map((a) => a.text));
    });

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed.map((t) => t.token).join('')).toBe(expected.text);
    expect(streamed.map((t) => t.top_logprobs.length)).toEqual(expected.logprobs!.map(() => 3));
  });

  it('maps stop and seed to the model request', async () => {
    const full = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0 });
    const word = full.text.trim().split(/\s+/)[1]!;
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0, stop: [word] });
    expect(expected.finishReason).toBe('stop');
    const completion = await client.chat.completions.create({
      model: 'stories',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: USER },
      ],
      max_tokens: 16,
      temperature: 0,
      stop: word,
    });
    expect(completion.choices[0]!.message.content).toBe(expected.text);
    expect(completion.choices[0]!.finish_reason).toBe('stop');

    const seeded = await model.complete({ prompt: 'Once', maxTokens: 10, temperature: 1, seed: 42 });
    const viaServer = await client.completions.create({ model: 'stories', prompt: 'Once', max_tokens: 10, temperature: 1, seed: 42 });
    expect(viaServer.choices[0]!.text).toBe(seeded.text);
  });

  it('embeds text with an embedding model (base64 by default, floats on request)', async () => {
    const texts = ['a little cat', 'the big dog ran'];
    const expected = await embedder.embed(texts);
    const response = await client.embeddings.create({ model: 'stories-embed', input: texts });
    expect((server.requests.at(-1)!.body as { encoding_format: string }).encoding_format).toBe('base64');
    expect(response.object).toBe('list');
    expect(response.data.map((d) => d.index)).toEqual([0, 1]);
    response.data.forEach((d, i) => {
      expect(d.object).toBe('embedding');
      expect(d.embedding).toEqual(Array.from(expected[i]!));
    });
    expect(response.usage.prompt_tokens).toBe(texts.reduce((sum, t) => sum + embedder.tokenize(t).length, 0));

    const floats = await client.embeddings.create({ model: 'stories-embed', input: 'a little cat', encoding_format: 'float' });
    expect(floats.data).toHaveLength(1);
    expect(floats.data[0]!.embedding).toEqual(Array.from(expected[0]!));
  });

  it('refuses embeddings from a model without the capability with a 400', async () => {
    const error = await client.embeddings.create({ model: 'stories', input: 'hello' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'model_not_supported', param: 'model', type: 'invalid_request_error' });
  });

  it('answers errors in OpenAI shape with the right status', async () => {
    const notFound = await client.chat.completions.create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'model_not_found' });

    const wrongKey = new OpenAI({ apiKey: 'sk-wrong-key-000000', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const unauthorized = await wrongKey.models.list().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(unauthorized).toMatchObject({ status: 401, code: 'invalid_api_key' });

    const missingKey = await fetch(`${server.url}/v1/models`);
    expect(missingKey.status).toBe(401);
    expect(((await missingKey.json()) as { error: { message: string } }).error.message).toMatch(/didn't provide an API key/);

    const badRequest = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ model: 'stories', temperature: 'hot' }),
    });
    expect(badRequest.status).toBe(400);
    expect(await badRequest.json()).toEqual({
      error: { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' },
    });

    const badType = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' as unknown as number }).catch((e: unknown) => e);
    expect(badType).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badType).toMatchObject({ param: 'temperature', code: 'invalid_type' });

    const unknownRoute = await fetch(`${server.url}/v1/nothing`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(unknownRoute.status).toBe(404);
    expect(await unknownRoute.json()).toEqual({ error: { message: 'Invalid URL (GET /v1/nothing)', type: 'invalid_request_error', param: null, code: null } });
  });
});
