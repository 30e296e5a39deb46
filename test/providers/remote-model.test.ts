/**
 * The remote model's own behaviour, over scripted backends (what each vendor's SDK would yield or throw):
 * retries before the first token with the server's Retry-After or jittered backoff, no retry after it (the
 * error carries the partial output), timeouts for the first event and between events, aborts, and errors
 * classified from the SDKs' shapes. The wire-level tests (real SDKs against loopback servers, llama-server)
 * are in the contract and provider suites.
 */
import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { RemoteModel, parseRetryAfter, remoteFailure, resolveRetry, retryDelay, type RemoteBackend, type RemoteEvent } from '../../src/providers/index.js';
import { expectCode } from '../helpers/expect.js';

const CAPS = { generate: true, chat: true, embed: true, jsonSchema: true, grammar: false, streaming: true };

/** An SDK-shaped HTTP error. */
function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`${status} from server`), { status, headers: new Headers(headers) });
}

function model(backend: RemoteBackend, options: { maxRetries?: number; timeoutMs?: number; idleTimeoutMs?: number; random?: () => number } = {}): RemoteModel {
  return new RemoteModel(backend, {
    where: "test model 'm'",
    capabilities: CAPS,
    info: { contextSize: 0, parallel: 2 },
    loadMs: 0,
    retry: resolveRetry({ maxRetries: options.maxRetries ?? 2, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 }, 'retry', options.random ?? (() => 0.5)),
    timeoutMs: options.timeoutMs ?? 2000,
    idleTimeoutMs: options.idleTimeoutMs ?? 2000,
  });
}

/** A backend whose nth call runs script[n]. */
function scripted(script: Array<(signal: AbortSignal) => AsyncIterable<RemoteEvent>>): RemoteBackend & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    generate(_request, signal) {
      calls.push(performance.now());
      return script[Math.min(calls.length - 1, script.length - 1)]!(signal);
    },
    async embed(texts) {
      calls.push(performance.now());
      return { embeddings: texts.map((t) => Float32Array.of(t.length)) };
    },
  };
}

async function* events(...list: RemoteEvent[]): AsyncIterable<RemoteEvent> {
  for (const e of list) yield e;
}
async function* failing(error: unknown, ...before: RemoteEvent[]): AsyncIterable<RemoteEvent> {
  for (const e of before) yield e;
  throw error;
}
const ok = () => events({ text: 'Once' }, { text: ' upon' }, { finishReason: 'length', promptTokens: 3, generatedTokens: 2 });

describe('RemoteModel', () => {
  it('streams events into chunks and a result with the server usage', async () => {
    const m = model(scripted([ok]));
    const stream = m.generate({ prompt: 'x', maxTokens: 2 });
    const chunks: string[] = [];
    for await (const c of stream) chunks.push(c);
    const r = await stream.result;
    expect(chunks.join('')).toBe('Once upon');
    expect(r).toMatchObject({ text: 'Once upon', finishReason: 'length', promptTokens: 3, generatedTokens: 2, cpuMs: 0, nativeMs: 0 });
    expect(r.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    const backend = scripted([() => failing(httpError(429, { 'retry-after': '0.2' })), ok]);
    const r = await model(backend).complete({ prompt: 'x' });
    expect(r.text).toBe('Once upon');
    expect(backend.calls.length).toBe(2);
    expect(backend.calls[1]! - backend.calls[0]!).toBeGreaterThanOrEqual(190);
  });

  it('retries 5xx and connection failures with jittered backoff, up to maxRetries', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const backend = scripted([() => failing(httpError(500)), () => failing(refused), () => failing(httpError(503))]);
    const error = await expectCode(model(backend).complete({ prompt: 'x' }), 'PROVIDER_ERROR');
    expect(backend.calls.length).toBe(3);
    expect(error.details).toMatchObject({ status: 503, attempts: 3 });
    const unreachable = scripted([() => failing(refused)]);
    await expectCode(model(unreachable, { maxRetries: 0 }).complete({ prompt: 'x' }), 'PROVIDER_UNAVAILABLE');
  });

  it('does not retry what a retry cannot mend (400, 401, 403, 404)', async () => {
    for (const [status, code] of [[400, 'INVALID_ARGUMENT'], [401, 'UNAUTHORIZED'], [403, 'FORBIDDEN'], [404, 'MODEL_NOT_FOUND']] as const) {
      const backend = scripted([() => failing(httpError(status))]);
      await expectCode(model(backend).complete({ prompt: 'x' }), code);
      expect(backend.calls.length).toBe(1);
    }
  });

  it('fails at once with RATE_LIMITED when Retry-After is longer than it waits', async () => {
    const backend = scripted([() => failing(httpError(429, { 'retry-after': '3600' }))]);
    const error = await expectCode(model(backend).complete({ prompt: 'x' }), 'RATE_LIMITED');
    expect(error.details).toMatchObject({ retryAfterMs: 3_600_000 });
    expect(backend.calls.length).toBe(1);
  });

  it('never retries after the first text: the error carries the partial output', async () => {
    const backend = scripted([() => failing(httpError(500), { text: 'Once' }, { text: ' upon' }), ok]);
    const m = model(backend);
    const stream = m.generate({ prompt: 'x' });
    const seen: string[] = [];
    const iterated = (async () => {
      for await (const c of stream) seen.push(c);
    })();
    const error = await expectCode(stream.result, 'PROVIDER_ERROR');
    await expectCode(iterated, 'PROVIDER_ERROR');
    expect(backend.calls.length).toBe(1);
    expect(error.details).toMatchObject({ partialText: 'Once upon', text: 'Once upon', finishReason: 'abort', generatedTokens: 2, status: 500 });
    expect(seen.join('')).toBe('Once upon');
  });

  it('a malformed stream (a parse error) is a PROVIDER_ERROR, retried before the first text', async () => {
    const backend = scripted([() => failing(new SyntaxError('Unexpected token < in JSON')), ok]);
    expect((await model(backend).complete({ prompt: 'x' })).text).toBe('Once upon');
    const late = scripted([() => failing(new SyntaxError('Unexpected end of JSON input'), { text: 'Once' })]);
    const error = await expectCode(model(late).complete({ prompt: 'x' }), 'PROVIDER_ERROR');
    expect(error.message).toContain('malformed');
    expect(error.details).toMatchObject({ partialText: 'Once' });
  });

  it('times out a server that does not answer, and a stream that stalls', async () => {
    const silent = scripted([
      (signal) =>
        (async function* () {
          await new Promise((resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
          yield {};
        })(),
    ]);
    await expectCode(model(silent, { timeoutMs: 30, maxRetries: 1 }).complete({ prompt: 'x' }), 'TIMEOUT');
    expect(silent.calls.length).toBe(2);
    const stalled = scripted([
      () =>
        (async function* () {
          yield { text: 'Once' };
          await new Promise((resolve) => setTimeout(resolve, 500));
          yield { text: ' late' };
        })(),
    ]);
    const error = await expectCode(model(stalled, { idleTimeoutMs: 30 }).complete({ prompt: 'x' }), 'TIMEOUT');
    expect(error.details).toMatchObject({ partialText: 'Once' });
  });

  it('an abort (signal, a reader that stops, dispose with abort) ends with ABORTED and the partial output', async () => {
    const slow = () =>
      (async function* () {
        for (let i = 0; i < 100; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          yield { text: `${i} ` };
        }
      })();
    const m = model(scripted([slow]));
    const controller = new AbortController();
    const stream = m.generate({ prompt: 'x', signal: controller.signal });
    const seen: string[] = [];
    await expectCode(
      (async () => {
        for await (const c of stream) {
          seen.push(c);
          controller.abort();
        }
      })(),
      'ABORTED',
    );
    const error = await expectCode(stream.result, 'ABORTED');
    expect(String(error.details?.partialText).startsWith(seen.join(''))).toBe(true);
    expect(error.details?.finishReason).toBe('abort');

    // A reader that stops reading stops the request.
    const read = m.generate({ prompt: 'x' });
    for await (const _ of read) break;
    await expectCode(read.result, 'ABORTED');

    const running = m.complete({ prompt: 'x' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await m.dispose({ abort: true });
    await expectCode(running, 'ABORTED');
    expect(m.activeRequests).toBe(0);
  }, 10_000);

  it('waits with backoff that grows, capped, with jitter', () => {
    const retry = resolveRetry({ baseDelayMs: 100, maxDelayMs: 1000 }, 'retry', () => 0.999);
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelay(retry, n, undefined))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(retryDelay(resolveRetry({}, 'retry', () => 0), 3, undefined)).toBe(0);
    expect(retryDelay(retry, 0, 5000)).toBe(5000);
    expect(retryDelay(resolveRetry({ maxRetryAfterMs: 10 }, 'retry'), 0, 5000)).toBeUndefined();
    expect(() => resolveRetry({ maxRetries: -1 }, 'options.retry')).toThrow(/options\.retry\.maxRetries/);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(Date.now() + 3000).toUTCString(), Date.now())).toBeGreaterThan(1000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
  });

  it('classifies the SDKs error shapes', () => {
    expect(remoteFailure(Object.assign(new Error('t'), { name: 'APIConnectionTimeoutError' }), 'w').error.code).toBe('TIMEOUT');
    expect(remoteFailure(Object.assign(new Error('c'), { name: 'APIConnectionError' }), 'w')).toMatchObject({ retryable: true, error: { code: 'PROVIDER_UNAVAILABLE' } });
    expect(remoteFailure(Object.assign(new Error('model "x" not found'), { status_code: 404 }), 'w').error.code).toBe('MODEL_NOT_FOUND');
    expect(remoteFailure(httpError(408), 'w')).toMatchObject({ retryable: true, error: { code: 'TIMEOUT' } });
    expect(remoteFailure(httpError(529), 'w')).toMatchObject({ retryable: true, error: { code: 'PROVIDER_ERROR' } });
    expect(remoteFailure(httpError(503, { 'retry-after': '1' }), 'w').retryAfterMs).toBe(1000);
    expect(remoteFailure('weird', 'w').error.code).toBe('PROVIDER_ERROR');
    const own = new ModelpoolError('TIMEOUT', 'x');
    expect(remoteFailure(own, 'w')).toMatchObject({ error: own, retryable: true });
    expect(remoteFailure(new ModelpoolError('INVALID_ARGUMENT', 'x'), 'w').retryable).toBe(false);
    const long = remoteFailure(new Error('x'.repeat(1000)), 'w').error.message;
    expect(long.length).toBeLessThan(400);
  });

  it('checks requests and capabilities, embeds with retries, and disposes after its requests', async () => {
    const backend = scripted([ok]);
    const m = model(backend);
    await expectCode(() => m.generate({ prompt: 'x', adapter: 'a' }), 'INVALID_ARGUMENT');
    await expectCode(() => m.generate({ prompt: 'x', maxTokens: 0 }), 'INVALID_ARGUMENT');
    await expectCode(() => m.generate({ prompt: 'x', grammar: 'root ::= "a"' }), 'INVALID_ARGUMENT');
    await expectCode(() => m.generate({ messages: [] }), 'INVALID_ARGUMENT');
    await expectCode(() => m.generate({ prompt: 3 as unknown as string }), 'INVALID_ARGUMENT');
    expect((await m.embed(['ab', 'abc'])).map((e) => e[0])).toEqual([2, 3]);
    expect(await m.embed([])).toEqual([]);
    await expectCode(m.embed([1 as unknown as string]), 'INVALID_ARGUMENT');
    const pending = m.complete({ prompt: 'x' });
    const disposed = m.dispose();
    await expectCode(() => m.generate({ prompt: 'x' }), 'DISPOSED');
    await expectCode(m.embed(['x']), 'DISPOSED');
    await disposed;
    expect((await pending).text).toBe('Once upon');
    await m[Symbol.asyncDispose]();
  });
});
