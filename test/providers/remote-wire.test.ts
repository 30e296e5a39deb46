/**
 * The remote providers through their vendors' official SDKs against loopback servers that speak each
 * wire protocol exactly (modelpool/testing), answered by stories260K: failures as a real server gives
 * them — 429 with Retry-After, 5xx, a server that does not answer, a malformed stream, a connection cut
 * mid-stream or before any response — and keep-alive connection reuse. Then the key scan: every error,
 * warning and log line of these runs is searched for the API key.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import type { ModelHandle, Provider } from '../../src/model/index.js';
import { createAnthropicProvider, createOllamaProvider, createOpenAIProvider } from '../../src/providers/index.js';
import { Secret } from '../../src/security/index.js';
import { startWireServer, type WireProtocol, type WireServer } from '../../src/testing/index.js';
import { STORIES } from '../helpers/models.js';

const KEY = 'sk-wire-test-7f3a9c2e5b1d4f6a8c0e';
const REQUEST = { prompt: 'Once upon a time', maxTokens: 12, temperature: 0 };
const RETRY = { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5000 };

let model: Model;
let expectedRaw: string;
let expectedChat: string;
/** Everything a user could see: errors thrown, warnings, console output. */
const seen: string[] = [];
const record = (value: unknown) => {
  seen.push(typeof value === 'string' ? value : `${String(value)}\n${inspect(value, { depth: 8, showHidden: true })}\n${safeJson(value)}`);
};
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, Object.getOwnPropertyNames(value ?? {}));
  } catch {
    return '';
  }
}

const cases: Array<{ protocol: WireProtocol; provider: (base: string) => Provider; base: (url: string) => string }> = [
  { protocol: 'openai', provider: (baseUrl) => createOpenAIProvider({ baseUrl, apiKey: Secret.from(KEY), retry: RETRY, timeoutMs: 2000, idleTimeoutMs: 1000 }), base: (url) => `${url}/v1` },
  { protocol: 'anthropic', provider: (baseUrl) => createAnthropicProvider({ baseUrl, apiKey: () => KEY, retry: RETRY, timeoutMs: 2000, idleTimeoutMs: 1000 }), base: (url) => url },
  { protocol: 'ollama', provider: (baseUrl) => createOllamaProvider({ baseUrl, apiKey: KEY, retry: RETRY, timeoutMs: 2000, idleTimeoutMs: 1000 }), base: (url) => url },
];

const originalWarn = console.warn;
const originalError = console.error;
const originalLog = console.log;
const onWarning = (w: Error) => record(w);

beforeAll(async () => {
  model = await loadModel(STORIES, { threads: 1, contextSize: 512, parallel: 2, probe: 'never' });
  expectedRaw = (await model.complete(REQUEST)).text;
  // OpenAI's and Anthropic's APIs take a prompt as one user message.
  expectedChat = (await model.complete({ messages: [{ role: 'user', content: REQUEST.prompt }], maxTokens: REQUEST.maxTokens, temperature: 0 })).text;
  console.warn = (...args: unknown[]) => (args.forEach(record), originalWarn(...args));
  console.error = (...args: unknown[]) => (args.forEach(record), originalError(...args));
  console.log = (...args: unknown[]) => (args.forEach(record), originalLog(...args));
  process.on('warning', onWarning);
});

afterAll(async () => {
  console.warn = originalWarn;
  console.error = originalError;
  console.log = originalLog;
  process.off('warning', onWarning);
  await model.dispose();
});

async function outcome<T>(promise: Promise<T>): Promise<T | { code: string; details?: Record<string, unknown>; message: string }> {
  return promise.then(
    (value) => value,
    (error: { code: string; details?: Record<string, unknown>; message: string }) => {
      record(error);
      return error;
    },
  );
}

for (const c of cases) {
  describe(`${c.protocol} provider against its wire protocol`, () => {
    let server: WireServer;
    let remote: ModelHandle;
    let expected: string;

    beforeAll(async () => {
      // Greedy answers, also for clients that send no temperature.
      server = await startWireServer({ protocol: c.protocol, model, models: ['stories'], apiKey: KEY, requestDefaults: { temperature: 0 } });
      remote = await c.provider(c.base(server.url)).load({ id: 'stories', source: 'stories' }, { threads: 1, parallel: 2 });
      expected = c.protocol === 'ollama' ? expectedRaw : expectedChat;
    });
    afterAll(async () => {
      await remote.dispose();
      await server.close();
    });

    it('answers as the model does, over kept-alive connections, with the key sent', async () => {
      const before = server.requests.length;
      for (let i = 0; i < 4; i++) expect((await remote.complete(REQUEST)).text).toBe(expected);
      const sent = server.requests.slice(before);
      expect(sent.length).toBe(4);
      expect(server.connections).toBeLessThan(server.requests.length);
      if (c.protocol !== 'ollama') expect(sent.every((r) => JSON.stringify(r.headers).includes(KEY))).toBe(true);
    });

    it('retries a 429 after its Retry-After, and 5xx with backoff', async () => {
      server.inject({ status: 429, retryAfter: 0.3 });
      const before = server.requests.length;
      const r = await remote.complete(REQUEST);
      expect(r.text).toBe(expected);
      const [limited, retried] = server.requests.slice(before);
      expect(retried!.time - limited!.time).toBeGreaterThanOrEqual(280);

      server.inject({ status: c.protocol === 'anthropic' ? 529 : 503 });
      server.inject({ status: 500 });
      expect((await remote.complete(REQUEST)).text).toBe(expected);

      for (let i = 0; i < 3; i++) server.inject({ status: 500 });
      const failed = await outcome(remote.complete(REQUEST));
      expect(failed).toMatchObject({ code: 'PROVIDER_ERROR', details: { status: 500, attempts: 3 } });
    });

    it('a Retry-After too long to wait fails at once with RATE_LIMITED', async () => {
      server.inject({ status: 429, retryAfter: 3600 });
      const failed = await outcome(remote.complete(REQUEST));
      expect(failed).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterMs: 3_600_000 } });
    });

    it('a server that does not answer times out, and the request is retried', async () => {
      server.inject({ delayMs: 2500 });
      const before = server.requests.length;
      expect((await remote.complete(REQUEST)).text).toBe(expected);
      expect(server.requests.length - before).toBe(2);
    });

    it('a connection dropped before any response is retried', async () => {
      server.inject({ dropConnection: true });
      expect((await remote.complete(REQUEST)).text).toBe(expected);
    });

    it('a stream cut or garbled after its first chunk ends with a typed error and the partial output', async () => {
      // Anthropic's first events carry no text (message_start, content_block_start, ping).
      const after = c.protocol === 'anthropic' ? 5 : 3;
      for (const fault of [{ disconnectAfterChunks: after }, { malformedAfterChunks: after }]) {
        server.inject(fault);
        const stream = remote.generate({ ...REQUEST, maxTokens: 100 });
        const chunks: string[] = [];
        const iterated = await outcome(
          (async () => {
            for await (const chunk of stream) chunks.push(chunk);
          })(),
        );
        const failed = (await outcome(stream.result)) as { code: string; details: { partialText: string } };
        expect(iterated).toBe(failed);
        expect(['PROVIDER_ERROR', 'PROVIDER_UNAVAILABLE']).toContain(failed.code);
        expect(chunks.length).toBeGreaterThan(0);
        expect(failed.details.partialText).toBe(chunks.join(''));
      }
    });

    it('a wrong key is UNAUTHORIZED, not retried', async () => {
      if (c.protocol === 'ollama') return;
      const wrong = c.protocol === 'openai' ? createOpenAIProvider({ baseUrl: c.base(server.url), apiKey: `${KEY}-wrong`, verify: false }) : createAnthropicProvider({ baseUrl: server.url, apiKey: `${KEY}-wrong`, verify: false });
      const m = await wrong.load({ id: 'stories', source: 'stories' }, { threads: 1 });
      const before = server.requests.length;
      expect(await outcome(m.complete(REQUEST))).toMatchObject({ code: 'UNAUTHORIZED' });
      expect(server.requests.length - before).toBe(1);
      await m.dispose();
    });

    it('an unknown model fails its load with MODEL_NOT_FOUND naming what the server lists', async () => {
      const failed = await outcome(c.provider(c.base(server.url)).load({ id: 'x', source: 'no-such-model' }, { threads: 1 }));
      expect(failed).toMatchObject({ code: 'MODEL_NOT_FOUND' });
      expect((failed as { message: string }).message).toContain("'stories'");
    });
  });
}

describe('key scan', () => {
  it('no error, warning or log line of the runs above holds the API key', () => {
    expect(seen.length).toBeGreaterThan(10);
    const leaks = seen.filter((text) => text.includes(KEY) || text.includes(Buffer.from(KEY).toString('base64')));
    expect(leaks).toEqual([]);
  });
});
