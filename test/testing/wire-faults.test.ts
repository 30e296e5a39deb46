// Faults a wire server plays (vendor error statuses with Retry-After, delays, garbled and cut streams,
// dropped connections), what it records, keep-alive reuse, and the ends of a response: a client that
// goes away aborts the real model's generation, and close() ends what is open.
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../../src/engine/index.js';
import type { ModelHandle } from '../../src/model/handle.js';
import type { GenerateRequest, GenerationResult } from '../../src/model/types.js';
import { FakeProvider, startWireServer, type WireProtocol, type WireServer } from '../../src/testing/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

/** Long enough that the generation is still running when a fault or the client ends the response. */
const LONG = 1500;
const PROMPT = 'Once upon a time';
const JSON_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-test', 'x-api-key': 'sk-test', 'anthropic-version': '2023-06-01' };

/** The model behind the servers, recording each generation's result so a test can see how it ended. */
class RecordingModel {
  readonly results: Array<Promise<GenerationResult>> = [];
  readonly handle: ModelHandle;
  #started: Array<() => void> = [];

  constructor(model: Model) {
    const generate = (request: GenerateRequest) => {
      const stream = model.generate(request);
      this.results.push(stream.result);
      stream.result.catch(() => undefined);
      for (const wake of this.#started.splice(0)) wake();
      return stream;
    };
    this.handle = {
      local: false,
      capabilities: model.capabilities,
      info: model.info,
      loadMs: model.loadMs,
      get activeRequests() {
        return model.activeRequests;
      },
      get disposed() {
        return model.disposed;
      },
      generate,
      complete: (request) => generate(request).result,
      embed: (texts) => model.embed(texts),
      dispose: (options) => model.dispose(options),
      [Symbol.asyncDispose]: () => model.dispose(),
    };
  }

  /** Resolves when the next generation starts. */
  nextStart(): Promise<void> {
    return new Promise((resolve) => this.#started.push(resolve));
  }

  /** How the last generation ended: its finish reason, or the error code it was rejected with. */
  async lastOutcome(): Promise<string> {
    return this.results.at(-1)!.then(
      (result) => result.finishReason,
      (error: { code?: string }) => error.code ?? 'error',
    );
  }
}

describe('Wire server faults and lifecycle', () => {
  let model: Model;
  let recording: RecordingModel;
  const servers = {} as Record<WireProtocol, WireServer>;

  beforeAll(async () => {
    model = await loadModel(STORIES, { contextSize: 2048, threads: 1 });
    recording = new RecordingModel(model);
    for (const protocol of ['openai', 'anthropic', 'ollama'] as const) {
      servers[protocol] = await startWireServer({ protocol, model: recording.handle, models: ['stories'], apiKey: 'sk-test' });
    }
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    await model?.dispose();
  });

  const openai = (options: { maxRetries?: number; timeout?: number } = {}) =>
    new OpenAI({ apiKey: 'sk-test', baseURL: `${servers.openai.url}/v1`, maxRetries: 0, logLevel: 'off', ...options });

  it('answers an injected status with the vendor error body and Retry-After', async () => {
    const cases: Array<[WireProtocol, string, number, number | string | undefined, unknown]> = [
      ['openai', '/v1/chat/completions', 429, 2, { error: { message: expect.any(String), type: 'requests', param: null, code: 'rate_limit_exceeded' } }],
      ['openai', '/v1/chat/completions', 500, undefined, { error: { message: expect.any(String), type: 'server_error', param: null, code: null } }],
      ['openai', '/v1/embeddings', 503, 1, { error: { message: expect.any(String), type: 'server_error', param: null, code: null } }],
      ['anthropic', '/v1/messages', 429, 'Wed, 21 Oct 2015 07:28:00 GMT', { type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } }],
      ['anthropic', '/v1/messages', 500, undefined, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }],
      ['anthropic', '/v1/messages', 529, undefined, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
      ['ollama', '/api/chat', 429, 3, { error: 'too many requests' }],
      ['ollama', '/api/generate', 503, undefined, { error: expect.stringMatching(/server busy/) }],
    ];
    for (const [protocol, path, status, retryAfter, body] of cases) {
      const server = servers[protocol];
      server.inject({ status, ...(retryAfter === undefined ? {} : { retryAfter }) });
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      expect(response.status, `${protocol} ${status}`).toBe(status);
      expect(response.headers.get('retry-after')).toBe(retryAfter === undefined ? null : String(retryAfter));
      expect(await response.json()).toEqual(body);
      expect(server.pendingFaults).toBe(0);
    }
    servers.openai.inject({ status: 429, message: 'slow down' });
    const error = await openai().chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, message: '429 slow down', code: 'rate_limit_exceeded' });
  });

  it('lets an SDK retry through queued faults (the requests are recorded)', async () => {
    const expected = await model.complete({ prompt: PROMPT, maxTokens: 6, temperature: 0 });
    const server = servers.openai;
    const before = server.requests.length;
    server.inject({ status: 429, retryAfter: 0.01 });
    server.inject({ status: 503, retryAfter: 0.01 });
    const completion = await openai({ maxRetries: 2 }).completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 6, temperature: 0 });
    expect(completion.choices[0]!.text).toBe(expected.text);
    const attempts = server.requests.slice(before);
    expect(attempts.map((r) => r.path)).toEqual(['/v1/completions', '/v1/completions', '/v1/completions']);
    expect(attempts.every((r) => r.headers.authorization === 'Bearer sk-test')).toBe(true);
    expect(attempts.map((r) => r.body)).toEqual([attempts[0]!.body, attempts[0]!.body, attempts[0]!.body]);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]!.time).toBeGreaterThanOrEqual(attempts[i - 1]!.time);
  });

  it('applies a fault only to its path, and keeps it until such a request comes', async () => {
    const server = servers.openai;
    server.inject({ path: '/v1/embeddings', status: 500 });
    const models = await openai().models.list();
    expect(models.data.map((m) => m.id)).toEqual(['stories']);
    expect(server.pendingFaults).toBe(1);
    const error = await openai().embeddings.create({ model: 'stories', input: 'hi' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(server.pendingFaults).toBe(0);
  });

  it('delays the headers (a client timeout), then serves normally', async () => {
    const server = servers.openai;
    server.inject({ delayMs: 60_000 });
    const error = await openai({ timeout: 200 }).models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    server.inject({ delayMs: 20, status: 503 });
    await expect(openai().models.list()).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    server.inject({ delayMs: 20 });
    expect((await openai().models.list()).data).toHaveLength(1);
  });

  it('garbles an SSE stream after n chunks and stops the generation', async () => {
    const server = servers.openai;
    server.inject({ malformedAfterChunks: 2 });
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ model: 'stories', prompt: PROMPT, max_tokens: LONG, temperature: 0, stream: true }),
    });
    const events = (await response.text()).split('\n\n');
    expect(events).toHaveLength(4);
    expect(events.slice(0, 2).every((e) => (JSON.parse(e.slice('data: '.length)) as { object: string }).object === 'text_completion')).toBe(true);
    expect(events[2]).toBe('data: {"malformed": ');
    expect(events[3]).toBe('');
    expect(await recording.lastOutcome()).toBe('ABORTED');

    server.inject({ malformedAfterChunks: 2 });
    const stream = await openai().chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }], max_tokens: LONG, temperature: 0, stream: true });
    const received: OpenAI.ChatCompletionChunk[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyntaxError);
    expect(received).toHaveLength(2);
    expect(received[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(await recording.lastOutcome()).toBe('ABORTED');
  });

  it('garbles Anthropic and Ollama streams and a JSON answer the same way', async () => {
    servers.anthropic.inject({ malformedAfterChunks: 3 });
    const anthropic = new Anthropic({ apiKey: 'sk-test', baseURL: servers.anthropic.url, maxRetries: 0, logLevel: 'off' });
    const events: string[] = [];
    const anthropicError = await (async () => {
      const stream = await anthropic.messages.create({ model: 'stories', max_tokens: LONG, messages: [{ role: 'user', content: PROMPT }], stream: true });
      for await (const event of stream) events.push(event.type);
    })().catch((e: unknown) => e);
    expect(anthropicError).toBeInstanceOf(SyntaxError);
    // The third event, the ping, is not shown by the SDK.
    expect(events).toEqual(['message_start', 'content_block_start']);
    expect(await recording.lastOutcome()).toBe('ABORTED');

    servers.ollama.inject({ malformedAfterChunks: 1 });
    const ollama = new Ollama({ host: servers.ollama.url });
    const warn = console.warn;
    console.warn = () => undefined; // the client warns about the line it cannot parse
    try {
      const ollamaError = await (async () => {
        for await (const part of await ollama.generate({ model: 'stories', prompt: PROMPT, stream: true, options: { num_predict: LONG } })) expect(part.done).toBe(false);
      })().catch((e: unknown) => e);
      expect((ollamaError as Error).message).toBe('Did not receive done or success response in stream.');
    } finally {
      console.warn = warn;
    }
    expect(await recording.lastOutcome()).toBe('ABORTED');

    servers.openai.inject({ malformedAfterChunks: 0 });
    const whole = await fetch(`${servers.openai.url}/v1/models`, { headers: JSON_HEADERS });
    expect(whole.status).toBe(200);
    await expect(whole.json()).rejects.toBeInstanceOf(SyntaxError);
  });

  it('cuts the connection after n chunks and stops the generation', async () => {
    servers.openai.inject({ disconnectAfterChunks: 3 });
    const stream = await openai().chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: PROMPT }], max_tokens: LONG, temperature: 0, stream: true });
    const received: OpenAI.ChatCompletionChunk[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(received).toHaveLength(3);
    expect(await recording.lastOutcome()).toBe('ABORTED');

    servers.ollama.inject({ disconnectAfterChunks: 2 });
    const response = await fetch(`${servers.ollama.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'stories', prompt: PROMPT, options: { num_predict: LONG } }) });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(await recording.lastOutcome()).toBe('ABORTED');

    servers.anthropic.inject({ disconnectAfterChunks: 0 });
    await expect(fetch(`${servers.anthropic.url}/v1/models`, { headers: JSON_HEADERS }).then((r) => r.json())).rejects.toThrow();
  });

  it('drops a connection before any response', async () => {
    const server = servers.openai;
    const before = server.requests.length;
    server.inject({ dropConnection: true });
    const error = await openai().models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    server.inject({ dropConnection: true });
    await expect(fetch(`${servers.openai.url}/v1/models`)).rejects.toThrow(TypeError);
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(['/v1/models', '/v1/models']);
  });

  it('aborts the generation when the client goes away, streamed or not', async () => {
    const stream = await openai().completions.create({ model: 'stories', prompt: PROMPT, max_tokens: LONG, temperature: 0, stream: true });
    for await (const chunk of stream) {
      if (chunk.choices[0]!.text !== '') break; // the SDK aborts its request when the loop ends early
    }
    expect(await recording.lastOutcome()).toBe('ABORTED');

    const anthropic = new Anthropic({ apiKey: 'sk-test', baseURL: servers.anthropic.url, maxRetries: 0, logLevel: 'off' });
    const messages = anthropic.messages.stream({ model: 'stories', max_tokens: LONG, messages: [{ role: 'user', content: PROMPT }] });
    await new Promise<void>((resolve) => messages.once('text', () => resolve()));
    messages.abort();
    await messages.done().catch(() => undefined);
    expect(await recording.lastOutcome()).toBe('ABORTED');

    const ollama = new Ollama({ host: servers.ollama.url });
    const parts = await ollama.generate({ model: 'stories', prompt: PROMPT, stream: true, options: { num_predict: LONG } });
    for await (const part of parts) {
      if (part.response !== '') break;
    }
    parts.abort();
    expect(await recording.lastOutcome()).toBe('ABORTED');

    const controller = new AbortController();
    const started = recording.nextStart();
    const request = openai().completions.create({ model: 'stories', prompt: PROMPT, max_tokens: LONG, temperature: 0 }, { signal: controller.signal });
    await started;
    controller.abort();
    await expect(request).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(await recording.lastOutcome()).toBe('ABORTED');
  });

  it('counts TCP connections: a client reuses them for sequential requests', async () => {
    const server = await startWireServer({ protocol: 'openai', model: recording.handle, models: ['stories'] });
    try {
      const client = new OpenAI({ apiKey: 'none', baseURL: `${server.url}/v1`, maxRetries: 0 });
      await client.models.list();
      await client.completions.create({ model: 'stories', prompt: PROMPT, max_tokens: 2 });
      await client.models.retrieve('stories');
      await client.models.list();
      expect(server.requests).toHaveLength(4);
      // Node's fetch may open a second socket while the first is being returned to its pool; never one a request.
      expect(server.connections).toBeGreaterThanOrEqual(1);
      expect(server.connections).toBeLessThan(server.requests.length);
    } finally {
      await server.close();
    }
  });

  it('close() ends open streams, aborts their generations, and is idempotent', async () => {
    const server = await startWireServer({ protocol: 'ollama', model: recording.handle, models: ['stories'] });
    const ollama = new Ollama({ host: server.url });
    const parts = await ollama.generate({ model: 'stories', prompt: PROMPT, stream: true, options: { num_predict: LONG } });
    const iterator = parts[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await server.close();
    expect(await recording.lastOutcome()).toBe('ABORTED');
    await expect(iterator.next()).rejects.toThrow();
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow(TypeError);
  });

  it('ends a stream whose generation fails with the vendor in-stream error, and answers a refused request with a 400', async () => {
    // The kit's fake remote model: streams its text in pieces, then fails (GENERATION_FAILED); no JSON schemas.
    const provider = new FakeProvider({ failing: { local: false, text: ' one two three four', failGenerate: true } }, { local: false });
    const failing = await provider.load({ id: 'failing', source: 'failing' }, { threads: 1 });
    const started = await Promise.all((['openai', 'anthropic', 'ollama'] as const).map((protocol) => startWireServer({ protocol, model: failing, models: ['fake'] })));
    const [openaiServer, anthropicServer, ollamaServer] = started as [WireServer, WireServer, WireServer];
    try {
      const client = new OpenAI({ apiKey: 'none', baseURL: `${openaiServer.url}/v1`, maxRetries: 0 });
      const texts: string[] = [];
      const error = await (async () => {
        for await (const chunk of await client.chat.completions.create({ model: 'fake', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
          texts.push(chunk.choices[0]?.delta.content ?? '');
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ type: 'server_error', message: 'fake generation failure' });
      expect(texts.join('')).toBe(' one two three four'.slice(0, texts.join('').length));

      const anthropic = new Anthropic({ apiKey: 'none', baseURL: anthropicServer.url, maxRetries: 0 });
      const anthropicError = await anthropic.messages.stream({ model: 'fake', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((e: unknown) => e);
      expect(anthropicError).toBeInstanceOf(Anthropic.APIError);
      expect((anthropicError as { error: unknown }).error).toEqual({ type: 'error', error: { type: 'api_error', message: 'fake generation failure' } });

      const ollama = new Ollama({ host: ollamaServer.url });
      const ollamaError = await (async () => {
        for await (const part of await ollama.chat({ model: 'fake', messages: [{ role: 'user', content: 'hi' }], stream: true })) expect(part.done).toBe(false);
      })().catch((e: unknown) => e);
      expect((ollamaError as Error).message).toBe('fake generation failure');

      // A request the model refuses at once (no JSON-schema capability) is the vendor's 400, naming the field.
      const refused = await client.chat.completions
        .create({ model: 'fake', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect(refused).toMatchObject({ param: 'jsonSchema' });
      const ollamaRefused = await ollama.generate({ model: 'fake', prompt: 'hi', format: 'json', stream: false }).catch((e: unknown) => e);
      expect(ollamaRefused).toMatchObject({ status_code: 400 });
    } finally {
      await Promise.all(started.map((server) => server.close()));
      await failing.dispose();
    }
  });

  it('records method, path, query, headers and body', async () => {
    const server = servers.anthropic;
    await fetch(`${server.url}/v1/models?limit=1`, { headers: JSON_HEADERS });
    const recorded = server.requests.at(-1)!;
    expect(recorded).toMatchObject({ method: 'GET', path: '/v1/models', query: { limit: '1' }, body: undefined });
    expect(recorded.headers['anthropic-version']).toBe('2023-06-01');
    await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: JSON_HEADERS, body: 'not json' });
    expect(server.requests.at(-1)!.body).toBe('not json');
  });

  it('refuses a bad fault, naming the field', async () => {
    await expectCode(() => servers.openai.inject({ status: 200 }), 'INVALID_ARGUMENT', 'fault.status');
    await expectCode(() => servers.openai.inject({ delayMs: -1 }), 'INVALID_ARGUMENT', 'fault.delayMs');
    await expectCode(() => servers.openai.inject({ retryAfter: 1 }), 'INVALID_ARGUMENT', 'fault.retryAfter');
    await expectCode(() => servers.openai.inject({ statu: 500 } as never), 'INVALID_ARGUMENT', 'fault.statu');
    await expectCode(() => startWireServer({ protocol: 'grpc' as never, model: recording.handle }), 'INVALID_ARGUMENT', 'options.protocol');
    expect(servers.openai.pendingFaults).toBe(0);
  });
});
