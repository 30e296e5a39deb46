// The Anthropic wire server, driven by the official `@anthropic-ai/sdk`: messages, streamed (raw
// events and the messages.stream helper) and not, stop sequences, models and errors, with the text
// the real model generates for the same request.
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../../src/engine/index.js';
import type { ChatMessage } from '../../src/model/types.js';
import { startWireServer, type WireServer } from '../../src/testing/index.js';
import { STORIES } from '../helpers/models.js';

const API_KEY = 'sk-ant-test-0123456789';
const SYSTEM = 'You are a storyteller.';
const USER = 'Tell me a story about a cat.';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: USER },
];

describe('Anthropic wire server', () => {
  let model: Model;
  let server: WireServer;
  let client: Anthropic;

  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 512, threads: 1 });
    // Recent SDKs send no temperature: greedy by default, so the text is deterministic.
    server = await startWireServer({ protocol: 'anthropic', model, models: ['claude-test', 'claude-other'], apiKey: API_KEY, requestDefaults: { temperature: 0 } });
    client = new Anthropic({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  it('answers a message with the text the model generates, and records the headers', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 12, temperature: 0 });
    const message = await client.messages.create({ model: 'claude-test', max_tokens: 12, system: SYSTEM, messages: [{ role: 'user', content: USER }] });
    expect(message.id).toMatch(/^msg_/);
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-test', stop_sequence: null });
    expect(message.content).toEqual([{ type: 'text', text: expected.text }]);
    expect(message.stop_reason).toBe(expected.finishReason === 'length' ? 'max_tokens' : 'end_turn');
    expect(message.usage).toMatchObject({ input_tokens: expected.promptTokens, output_tokens: expected.generatedTokens });
    const recorded = server.requests.at(-1)!;
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/messages' });
    // The key travels as x-api-key, or as a bearer token (recent SDKs).
    expect(recorded.headers['x-api-key'] ?? recorded.headers.authorization?.replace(/^Bearer /, '')).toBe(API_KEY);
    expect(recorded.headers['anthropic-version']).toBeTruthy();
    expect(recorded.body).toMatchObject({ model: 'claude-test', max_tokens: 12, system: SYSTEM });
  });

  it('takes system and content as text blocks', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 6, temperature: 0 });
    const message = await client.messages.create({
      model: 'claude-test',
      max_tokens: 6,
      system: [{ type: 'text', text: SYSTEM }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me a story ' }, { type: 'text', text: 'about a cat.' }] }],
    });
    expect(message.content[0]).toEqual({ type: 'text', text: expected.text });
  });

  it('streams a message as Anthropic events in order', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0 });
    const stream = await client.messages.create({ model: 'claude-test', max_tokens: 16, system: SYSTEM, messages: [{ role: 'user', content: USER }], stream: true });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['message_start', 'content_block_start']);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const deltas = events.filter((e): e is Anthropic.RawContentBlockDeltaEvent => e.type === 'content_block_delta');
    expect(deltas.length).toBe(types.length - 5);
    expect(deltas.map((d) => (d.delta as Anthropic.TextDelta).text).join('')).toBe(expected.text);
    const start = events[0] as Anthropic.RawMessageStartEvent;
    expect(start.message).toMatchObject({ role: 'assistant', model: 'claude-test', content: [], stop_reason: null });
    const delta = events.at(-2) as Anthropic.RawMessageDeltaEvent;
    expect(delta.delta.stop_reason).toBe(expected.finishReason === 'length' ? 'max_tokens' : 'end_turn');
    expect(delta.usage.output_tokens).toBe(expected.generatedTokens);
  });

  it('builds the final message with the messages.stream helper', async () => {
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0 });
    let streamed = '';
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 16, system: SYSTEM, messages: [{ role: 'user', content: USER }] });
    stream.on('text', (text) => {
      streamed += text;
    });
    const message = await stream.finalMessage();
    expect(streamed).toBe(expected.text);
    expect(message.content).toEqual([{ type: 'text', text: expected.text }]);
    expect(message.usage).toMatchObject({ input_tokens: expected.promptTokens, output_tokens: expected.generatedTokens });
  });

  it('frames the stream with event and data lines, a ping included', async () => {
    const response = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-test', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: USER }], stream: true }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const events = (await response.text()).split('\n\n').filter((e) => e !== '');
    for (const event of events) {
      const [eventLine, dataLine] = event.split('\n');
      const name = /^event: (\w+)$/.exec(eventLine!)![1];
      expect((JSON.parse(dataLine!.slice('data: '.length)) as { type: string }).type).toBe(name);
    }
    expect(events[2]).toBe('event: ping\ndata: {"type":"ping"}');
  });

  it('reports the stop sequence that ended the text', async () => {
    const full = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0 });
    const word = full.text.trim().split(/\s+/)[1]!;
    const expected = await model.complete({ messages: MESSAGES, maxTokens: 16, temperature: 0, stop: [word] });
    const request = { model: 'claude-test', max_tokens: 16, system: SYSTEM, messages: [{ role: 'user' as const, content: USER }] };
    const one = await client.messages.create({ ...request, stop_sequences: [word] });
    expect(one.stop_reason).toBe('stop_sequence');
    expect(one.stop_sequence).toBe(word);
    expect(one.content).toEqual([{ type: 'text', text: expected.text }]);
    // Of several, the text ends at the earliest match.
    const several = await client.messages.create({ ...request, stop_sequences: [word, 'zzzz-never'] });
    expect(several.stop_reason).toBe('stop_sequence');
    expect(several.stop_sequence).toBe(word);
    expect(several.content).toEqual([{ type: 'text', text: expected.text }]);
  });

  it('constrains output to an output_config JSON schema', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 12 } }, required: ['name'], additionalProperties: false };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Give me a name' }];
    const expected = await model.complete({ messages, maxTokens: 40, temperature: 0, jsonSchema: schema });
    const message = await client.messages.create({
      model: 'claude-test',
      max_tokens: 40,
      messages: [{ role: 'user', content: 'Give me a name' }],
      output_config: { format: { type: 'json_schema', schema } },
    });
    const text = (message.content[0] as Anthropic.TextBlock).text;
    expect(text).toBe(expected.text);
    expect(message.stop_reason).toBe('end_turn');
    expect(typeof (JSON.parse(text) as { name: unknown }).name).toBe('string');
  });

  it('lets the request override the server defaults', async () => {
    const seeded = await startWireServer({ protocol: 'anthropic', model, models: ['claude-test'], requestDefaults: { temperature: 0, seed: 3 } });
    try {
      const expected = await model.complete({ messages: [{ role: 'user', content: USER }], maxTokens: 10, temperature: 1, seed: 3 });
      const response = await fetch(`${seeded.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-test', max_tokens: 10, temperature: 1, messages: [{ role: 'user', content: USER }] }),
      });
      const message = (await response.json()) as Anthropic.Message;
      expect(message.content).toEqual([{ type: 'text', text: expected.text }]);
    } finally {
      await seeded.close();
    }
  });

  it('lists its models in Anthropic shape', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['claude-test', 'claude-other']);
    expect(page.data[0]).toMatchObject({ type: 'model', display_name: 'claude-test' });
    expect(Number.isNaN(Date.parse(page.data[0]!.created_at))).toBe(false);
    const raw = (await (await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' } })).json()) as Record<string, unknown>;
    expect(raw).toMatchObject({ has_more: false, first_id: 'claude-test', last_id: 'claude-other' });
    expect((await client.models.retrieve('claude-other')).id).toBe('claude-other');
  });

  it('answers errors in Anthropic shape with the right status', async () => {
    const missing = await client.messages.create({ model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.BadRequestError);
    expect((missing as APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });

    const unknown = await client.messages.create({ model: 'claude-nope', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as APIError).error).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'model: claude-nope' } });

    const wrongKey = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: server.url, maxRetries: 0 });
    const unauthorized = await wrongKey.messages.create({ model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((unauthorized as APIError).error).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });

    const noVersion = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });

    const noKey = await fetch(`${server.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });

    // The older sampling fields are still read (and checked).
    const hot = await client.messages
      .create({ model: 'claude-test', max_tokens: 4, temperature: 1.5, messages: [{ role: 'user', content: 'hi' }] } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(hot).toBeInstanceOf(Anthropic.BadRequestError);
    expect((hot as APIError).message).toMatch(/temperature: Input should be a number between 0 and 1/);

    server.inject({ status: 529 });
    const overloaded = await client.messages.create({ model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as APIError).status).toBe(529);
    expect((overloaded as APIError).error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });
});
