// The server with the official `openai` client as a real client, on loopback, stories260K behind the front
// door: chat and completions (plain and streamed), json_schema, logprobs, embeddings (the SDK's default
// base64 and floats), the selector through the API, errors in OpenAI's shape, body limits, caller keys,
// a client that disconnects mid-stream, /metrics parsed by a Prometheus text parser, and drain on close.
import OpenAI from 'openai';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor } from '../../src/runtime/index.js';
import { CallerKeys } from '../../src/security/index.js';
import { createServer, type ModelpoolServer } from '../../src/server/index.js';
import { STORIES } from '../helpers/models.js';

let registry: ModelRegistry;
let door: FrontDoor;
let server: ModelpoolServer;
let client: OpenAI;
let expected: string;

beforeAll(async () => {
  registry = await ModelRegistry.open();
  await registry.registerModel({ id: 'stories', tasks: ['completion', 'chat'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  await registry.registerModel({ id: 'stories-embed', tasks: ['embedding'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  door = new FrontDoor({ registry, specDefaults: { contextSize: 512, parallel: 2 }, poolOptions: { threads: 1, keepAliveMs: 60_000, prefixCache: false } });
  server = await createServer({ door, port: 0, bodyLimit: 64 * 1024 });
  await server.listen();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  expected = (await door.complete({ model: 'stories', prompt: 'Once upon a time', maxTokens: 16, temperature: 0 })).text;
});

afterAll(async () => {
  await server.close();
  await door.dispose();
  await registry.close();
});

describe('server: OpenAI API with the openai client', () => {
  it('lists models, each version other than the default as id@version, which a request may name', async () => {
    await registry.registerVersion('stories', { version: '2', source: { kind: 'gguf', path: STORIES } });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['stories', 'stories@2', 'stories-embed']));
    expect(ids).not.toContain('stories@1'); // the default version is 'stories'
    const two = await client.completions.create({ model: 'stories@2', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
    expect(two.choices[0]!.text).toBe(expected);
    expect((two as unknown as { modelpool: { model: string; version: string } }).modelpool).toMatchObject({ model: 'stories', version: '2' });
  });

  it('completions, plain and streamed, equal the front door’s own answer', async () => {
    const plain = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
    expect(plain.choices[0]!.text).toBe(expected);
    expect(plain.usage!.completion_tokens).toBe(16);
    expect(plain.choices[0]!.finish_reason).toBe('length');
    const stream = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 16, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(expected);
  });

  it('chat, plain and streamed with usage, with the model, cost and selection in the extension field', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me a story' }];
    const plain = await client.chat.completions.create({ model: 'stories', messages, max_tokens: 12, temperature: 0 });
    const text = plain.choices[0]!.message.content!;
    expect(text.length).toBeGreaterThan(0);
    const ext = (plain as unknown as { modelpool: { model: string; cost: { usd: number; cpuCoreSeconds: number }; selection: { mode: string } } }).modelpool;
    expect(ext.model).toBe('stories');
    expect(ext.selection.mode).toBe('named');
    expect(ext.cost.cpuCoreSeconds).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'stories', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let streamed = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(streamed).toBe(text);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(12);
  });

  it('json_schema output and logprobs', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false };
    const r = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Name?' }], max_tokens: 40, temperature: 0, response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    const content = r.choices[0]!.message.content!;
    if (r.choices[0]!.finish_reason === 'stop') expect(typeof JSON.parse(content).name).toBe('string');
    else expect(content.startsWith('{')).toBe(true);
    const lp = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const tokens = lp.choices[0]!.logprobs!.content!;
    expect(tokens.length).toBe(4);
    expect(tokens.map((t) => t.token).join('')).toBe(lp.choices[0]!.message.content);
    expect(tokens.every((t) => t.logprob <= 0 && t.top_logprobs.length === 3)).toBe(true);
  });

  it('embeddings in the SDK’s default base64 and as floats', async () => {
    const [a, b] = (await client.embeddings.create({ model: 'stories-embed', input: ['Once upon a time', 'a cat'] })).data;
    const floats = await client.embeddings.create({ model: 'stories-embed', input: 'Once upon a time', encoding_format: 'float' });
    expect(a!.embedding.length).toBeGreaterThan(0);
    expect(b!.embedding.length).toBe(a!.embedding.length);
    expect(floats.data[0]!.embedding).toEqual(a!.embedding);
  });

  it('the selector through the standard API: model "auto" with a task', async () => {
    const r = await client.completions.create({ model: 'auto', prompt: 'Once', max_tokens: 4, temperature: 0, ...({ modelpool: { task: 'completion' } } as object) });
    const ext = (r as unknown as { modelpool: { model: string; selection: { mode: string } } }).modelpool;
    expect(ext.selection.mode).toBe('selected');
    expect(ext.model).toBe('stories');
  });

  it('errors in OpenAI’s shape with the right status', async () => {
    const error = await client.chat.completions.create({ model: 'nobody', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(404);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
    const bad = await client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }).catch((e: unknown) => e);
    expect((bad as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((bad as InstanceType<typeof OpenAI.APIError>).param).toBe('max_tokens');
    const raw = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "stories", "messages": [' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const huge = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'stories', prompt: 'x'.repeat(100_000) }) });
    expect(huge.status).toBe(413);
    const missing = await fetch(`${server.url}/v1/nothing`);
    expect(missing.status).toBe(404);
  });

  it('a client that disconnects mid-stream aborts its generation; the server goes on serving', async () => {
    const controller = new AbortController();
    // A lease of our own (the model serves two at once) to watch the model's requests in flight.
    const lease = await door.pool.acquire('stories');
    const events: Array<{ code?: string }> = [];
    const off = door.on('request', (e) => events.push({ code: e.error?.code }));
    const model = lease.model;
    const stream = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true }, { signal: controller.signal });
    let chunks = 0;
    let busy = 0;
    await (async () => {
      for await (const _ of stream) {
        if (++chunks === 2) {
          busy = model.activeRequests;
          controller.abort();
        }
      }
    })().catch(() => undefined);
    for (let i = 0; i < 50 && model.activeRequests > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(busy).toBe(1);
    expect(model.activeRequests).toBe(0);
    lease.release();
    await door.settled();
    off();
    // The front door saw the request end with ABORTED: the disconnect stopped it.
    expect(events).toContainEqual({ code: 'ABORTED' });
    const again = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
    expect(again.choices[0]!.text).toBe(expected);
  });

  it('/health, /ready and /metrics (parsed as Prometheus text)', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok' });
    const ready = (await (await fetch(`${server.url}/ready`)).json()) as { ready: boolean; models: Array<{ model: string; ready: boolean }> };
    expect(ready.ready).toBe(true);
    expect(ready.models.find((m) => m.model === 'stories')?.ready).toBe(true);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const families = parsePrometheusTextFormat(text) as Array<{ name: string; metrics: Array<{ labels?: Record<string, string>; value?: string; count?: string }> }>;
    const byName = new Map(families.map((f) => [f.name, f]));
    const requests = byName.get('modelpool_requests_total')!.metrics.filter((m) => m.labels?.model === 'stories' && m.labels.outcome === 'ok');
    expect(requests.reduce((n, m) => n + Number(m.value), 0)).toBeGreaterThan(5);
    expect(byName.get('modelpool_request_duration_seconds')!.metrics.length).toBeGreaterThan(0);
    expect(byName.get('modelpool_time_to_first_token_seconds')).toBeDefined();
    expect(byName.get('modelpool_memory_bytes')!.metrics.some((m) => m.labels?.device === 'CPU' && Number(m.value) > 0)).toBe(true);
    expect(byName.get('modelpool_pool_events_total')!.metrics.some((m) => m.labels?.event === 'load')).toBe(true);
    expect(byName.get('modelpool_queue_depth')).toBeDefined();
    expect(byName.get('modelpool_http_responses_total')!.metrics.some((m) => m.labels?.status === '404')).toBe(true);
  });
});

describe('server: caller keys', () => {
  it('a request without a key is 401, a key without the scope 403, an inference key serves', async () => {
    const keys = await CallerKeys.open({});
    const inference = await keys.create({ name: 'app', scopes: ['inference'], tenant: 'acme' });
    const s = await createServer({ door, port: 0, callerKeys: keys });
    await s.listen();
    try {
      const anonymous = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
      const denied = await anonymous.models.list().catch((e: unknown) => e);
      expect((denied as InstanceType<typeof OpenAI.APIError>).status).toBe(401);
      const app = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: inference.reveal(), maxRetries: 0 });
      const r = await app.completions.create({ model: 'stories', prompt: 'Once', max_tokens: 2 });
      expect(r.choices[0]!.text.length).toBeGreaterThan(0);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      const admin = await fetch(`${s.url}/admin/status`, { headers: { authorization: `Bearer ${inference.reveal()}` } });
      expect(admin.status).toBe(403);
    } finally {
      await s.close();
    }
  });
});
