// Failover and circuit breakers through the front door, with a real third-party server: llama.cpp's
// llama-server (built from the same source bundle) serving stories260K on loopback as an OpenAI-compatible
// model, the same model in process as the fallback. The server is killed mid-test and started again.
import { afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor, type FrontDoorOptions } from '../../src/runtime/index.js';
import { createOpenAICompatibleProvider } from '../../src/providers/index.js';
import { expectCode } from '../helpers/expect.js';
import { startLlamaServer, type LlamaServer } from '../helpers/llama-server.js';
import { STORIES } from '../helpers/models.js';

const REQUEST = { prompt: 'Once upon a time', maxTokens: 12, temperature: 0 };
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(server: LlamaServer, failover: FrontDoorOptions['failover'] = {}) {
  const registry = await ModelRegistry.open();
  await registry.registerModel({ id: 'server', tasks: ['completion'], version: { version: '1', source: { kind: 'openai-compatible', baseUrl: `${server.url}/v1`, model: 'stories' } } });
  await registry.registerModel({ id: 'local', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  const door = new FrontDoor({
    registry,
    specDefaults: { contextSize: 256, parallel: 2 },
    poolOptions: { threads: 1, keepAliveMs: 60_000, prefixCache: false, providers: [createOpenAICompatibleProvider({ retry: { maxRetries: 0 }, timeoutMs: 5000 })] },
    failover: { chains: { server: ['local'] }, ...failover },
  });
  cleanup.push(async () => {
    await door.dispose();
    await registry.close();
  });
  return door;
}

async function server(port?: number): Promise<LlamaServer> {
  const s = await startLlamaServer({ model: STORIES, alias: 'stories', ...(port !== undefined ? { port } : {}) });
  cleanup.push(() => s.kill());
  return s;
}

describe('front door failover', () => {
  it('serves from llama-server, fails over to the local model when it dies, opens the breaker, and closes it when the server is back', async () => {
    let s = await server();
    const door = await setup(s, { breakers: { defaults: { failureThreshold: 3, cooldownMs: 300 } } });
    await door.complete({ model: 'local', ...REQUEST });
    const t = performance.now();
    const local = await door.complete({ model: 'local', ...REQUEST });
    const direct = performance.now() - t;
    const first = await door.complete({ model: 'server', ...REQUEST });
    expect(first.model).toBe('server');
    expect(first.cost.provider).toBe('remote');
    expect(first.failover).toBeUndefined();
    // The same greedy model, over the wire and in process.
    expect(first.text).toBe(local.text);

    await s.kill();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const r = await door.complete({ model: 'server', ...REQUEST });
      times.push(performance.now() - t0);
      expect(r.model).toBe('local');
      expect(r.text).toBe(local.text);
      expect(r.failover!.attempts).toEqual([{ model: 'server', version: '1', error: expect.objectContaining({ code: 'PROVIDER_UNAVAILABLE' }) }]);
    }
    expect(door.breakers.get('server').state).toBe('open');
    // Open: the server is skipped without a try.
    const skipped = await door.complete({ model: 'server', ...REQUEST });
    expect(skipped.model).toBe('local');
    expect(skipped.failover).toMatchObject({ attempts: [], skipped: [{ model: 'server' }] });

    s = await server(s.port);
    await new Promise((resolve) => setTimeout(resolve, 350));
    // Half-open: one trial goes to the server, its success closes the breaker.
    const back = await door.complete({ model: 'server', ...REQUEST });
    expect(back.model).toBe('server');
    expect(door.breakers.get('server').state).toBe('closed');
    console.log(`failover: the local model directly ${direct.toFixed(1)} ms; a request to the dead server answered by the fallback in ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
  }, 120_000);

  it('a stream that fails after its first token ends with a typed error carrying the partial output, without failing over', async () => {
    const s = await server();
    const door = await setup(s);
    const stream = door.generate({ model: 'server', prompt: 'Once upon a time', maxTokens: 400, temperature: 0 });
    const seen: string[] = [];
    const iterated = await (async () => {
      for await (const chunk of stream) {
        seen.push(chunk);
        if (seen.length === 1) await s.kill();
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    const failure = await stream.result.then(
      () => undefined,
      (e: { code: string; details?: { partialText?: string; failover?: unknown } }) => e,
    );
    expect(iterated).toBe(failure);
    expect(failure).toBeDefined();
    expect(['PROVIDER_ERROR', 'PROVIDER_UNAVAILABLE', 'TIMEOUT']).toContain(failure!.code);
    expect(String(failure!.details?.partialText).startsWith(seen[0]!)).toBe(true);
    expect(failure!.details?.failover).toBeUndefined();
  }, 60_000);

  it('a stream that fails before its first token fails over; every model down is the last error with the attempts', async () => {
    const s = await server();
    const door = await setup(s);
    await s.kill();
    const stream = door.generate({ model: 'server', ...REQUEST });
    let text = '';
    for await (const chunk of stream) text += chunk;
    const r = await stream.result;
    expect(r.model).toBe('local');
    expect(text).toBe(r.text);

    const lonely = await setup(s, { chains: {} });
    const error = await expectCode(lonely.complete({ model: 'server', ...REQUEST }), 'PROVIDER_UNAVAILABLE');
    expect(error.details?.failover).toBeUndefined();
  }, 60_000);

  it('a selected request falls back to the next-best candidate', async () => {
    const s = await server();
    const door = await setup(s, { chains: {} });
    for (let i = 0; i < 20; i++) {
      door.registry.recordSample({ model: 'server', task: 'completion', totalMs: 5, success: true, quality: 0.95 });
      door.registry.recordSample({ model: 'local', task: 'completion', totalMs: 50, success: true, quality: 0.4 });
    }
    await s.kill();
    let failedOver = 0;
    for (let i = 0; i < 6; i++) {
      const r = await door.complete({ task: 'completion', ...REQUEST });
      expect(r.model).toBe('local');
      if (r.failover !== undefined) {
        failedOver++;
        expect(r.failover.attempts.concat().map((a) => a.model).concat(r.failover.skipped.map((k) => k.model))).toContain('server');
      }
    }
    expect(failedOver).toBeGreaterThan(0);
  }, 60_000);

  it('active probes through a real generation: readiness follows the server, and probes open and close its breaker', async () => {
    let s = await server();
    const door = await setup(s, { breakers: { defaults: { failureThreshold: 3, cooldownMs: 200 } } });
    expect(door.ready('server')).toBe(false);
    await expectCode(door.probe('server'), 'INVALID_ARGUMENT');
    door.watch(['server', 'local'], { intervalMs: 60_000, timeoutMs: 2000, immediate: false });
    expect((await door.probe('server')).ok).toBe(true);
    expect(door.ready('server')).toBe(true);
    // The probe generated a token through the server: the server saw a completion.
    await s.kill();
    for (let i = 0; i < 3; i++) expect((await door.probe('server')).ok).toBe(false);
    expect(door.ready('server')).toBe(false);
    expect(door.breakers.get('server').state).toBe('open');
    const status = door.healthStatus();
    expect(status.probes.find((p) => p.key === 'server')).toMatchObject({ ready: false, lastProbe: { ok: false, error: { code: 'PROVIDER_UNAVAILABLE' } } });
    expect(status.breakers.find((b) => b.key === 'server')).toMatchObject({ state: 'open' });
    s = await server(s.port);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await door.probe('server')).ok).toBe(true);
    expect(door.ready('server')).toBe(true);
    expect(door.breakers.get('server').state).toBe('closed');
    expect((await door.probe('local')).ok).toBe(true);
    // Requests feed the passive figures too.
    await door.complete({ model: 'local', ...REQUEST });
    expect(door.health.get('local')).toBeDefined();
  }, 60_000);
});
