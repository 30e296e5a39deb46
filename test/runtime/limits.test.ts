// Spending controls of the front door with a remote model: rate limits per caller key, tenant and model
// (token buckets), budgets per provider checked before spending, and remote prices looked up by provider
// and the model's own name. The remote model is stories260K behind a loopback server speaking OpenAI's
// wire format, reached through the official openai SDK.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CostLedger, PriceTable } from '../../src/cost/index.js';
import { loadModel, type Model } from '../../src/engine/index.js';
import { createServer } from 'node:net';
import { createOpenAICompatibleProvider, createOpenAIProvider } from '../../src/providers/index.js';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor, type FrontDoorOptions } from '../../src/runtime/index.js';
import { startWireServer, type WireServer } from '../../src/testing/index.js';
import type { FailoverInfo } from '../../src/runtime/failover.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const REQUEST = { prompt: 'Once upon a time', maxTokens: 8, temperature: 0 };
let model: Model;
let server: WireServer;

beforeAll(async () => {
  model = await loadModel(STORIES, { threads: 1, contextSize: 512, parallel: 2, probe: 'never' });
  server = await startWireServer({ protocol: 'openai', model, models: ['stories-remote'], apiKey: 'sk-limits-test-000000' });
});
afterAll(async () => {
  await server.close();
  await model.dispose();
});

async function door(options: Partial<FrontDoorOptions> = {}) {
  const registry = await ModelRegistry.open();
  await registry.registerModel({ id: 'gpt', tasks: ['completion'], version: { version: '1', source: { kind: 'openai', model: 'stories-remote' } } });
  await registry.registerModel({ id: 'local', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  const d = new FrontDoor({
    registry,
    specDefaults: { contextSize: 256 },
    poolOptions: { threads: 1, providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'sk-limits-test-000000', retry: { maxRetries: 0 } })] },
    ...options,
  });
  return {
    d,
    async [Symbol.asyncDispose]() {
      await d.dispose();
      await registry.close();
    },
  };
}

describe('front door spending controls', () => {
  it('rate limits per tenant: each tenant its own requests-per-minute bucket', async () => {
    await using t = await door({ rateLimits: { limits: [{ scope: { tenant: '*' }, rpm: 2 }] } });
    await t.d.complete({ model: 'local', tenant: 'a', ...REQUEST });
    await t.d.complete({ model: 'local', tenant: 'a', ...REQUEST });
    const limited = await expectCode(t.d.complete({ model: 'local', tenant: 'a', ...REQUEST }), 'RATE_LIMITED');
    expect(limited.details?.retryAfterMs).toBeGreaterThan(0);
    // Another tenant, and a limited request left no trace in the breakers.
    expect((await t.d.complete({ model: 'local', tenant: 'b', ...REQUEST })).model).toBe('local');
    expect(t.d.breakers.get('local').state).toBe('closed');
  });

  it('rate limits per caller key and model in tokens per minute, settled with what requests used', async () => {
    await using t = await door({ rateLimits: { limits: [{ scope: { key: '*', model: 'gpt' }, tpm: 100 }] } });
    // Each request takes its estimate (4 prompt tokens by length, 8 to generate) and is settled to what it
    // used (the chat template makes the prompt longer): so fewer requests pass than estimates alone allow.
    const first = await t.d.complete({ model: 'gpt', caller: 'app-1', ...REQUEST });
    const used = first.cost.promptTokens + first.cost.generatedTokens;
    expect(used).toBeGreaterThan(12);
    let served = 1;
    for (; served < 10; served++) {
      const r = await t.d.complete({ model: 'gpt', caller: 'app-1', ...REQUEST }).catch((e: { code: string }) => e);
      if ('code' in r) {
        expect(r.code).toBe('RATE_LIMITED');
        break;
      }
    }
    expect(served).toBe(Math.floor((100 - 12) / used) + 1);
    expect(served).toBeLessThan(Math.floor(100 / 12));
    // Another caller, and another model, are not limited by app-1's bucket.
    await t.d.complete({ model: 'gpt', caller: 'app-2', ...REQUEST });
    await t.d.complete({ model: 'local', caller: 'app-1', ...REQUEST });
    await expectCode(() => t.d.complete({ model: 'gpt', caller: '', ...REQUEST }), 'INVALID_ARGUMENT');
  });

  it("a request that fails over counts in the fallback's model limits, once in the others, and gives the failed model its tokens back", async () => {
    // A port nothing listens on: the 'dead' model's provider is refused at once.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const registry = await ModelRegistry.open();
    await registry.registerModel({ id: 'dead', tasks: ['completion'], version: { version: '1', source: { kind: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}/v1`, model: 'x' } } });
    await registry.registerModel({ id: 'gpt', tasks: ['completion'], version: { version: '1', source: { kind: 'openai', model: 'stories-remote' } } });
    await registry.registerModel({ id: 'local', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
    const d = new FrontDoor({
      registry,
      specDefaults: { contextSize: 256 },
      poolOptions: {
        threads: 1,
        providers: [
          createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'sk-limits-test-000000', retry: { maxRetries: 0 } }),
          createOpenAICompatibleProvider({ retry: { maxRetries: 0 }, timeoutMs: 5000 }),
        ],
      },
      failover: { chains: { dead: ['local', 'gpt'] } },
      rateLimits: {
        limits: [
          { name: 'tenants', scope: { tenant: '*' }, rpm: 3 },
          { name: 'local', scope: { model: 'local' }, rpm: 1 },
          { name: 'gpt', scope: { model: 'gpt' }, rpm: 2 },
          { name: 'dead tokens', scope: { model: 'dead' }, tpm: 30 },
        ],
      },
    });
    try {
      const request = { model: 'dead', tenant: 't', ...REQUEST };
      const first = await d.complete(request);
      expect(first.model).toBe('local');
      expect(first.failover).toMatchObject({ attempts: [{ model: 'dead', error: { code: 'PROVIDER_UNAVAILABLE' } }], skipped: [] });
      // local's one request per minute is spent: skipped for its rate limit, gpt answers.
      for (let i = 0; i < 2; i++) {
        const r = await d.complete(request);
        expect(r.model).toBe('gpt');
        expect(r.failover!.skipped).toEqual([{ model: 'local', version: '1', retryAfterMs: expect.any(Number), reason: 'rate-limited' }]);
        expect(r.failover!.skipped[0]!.retryAfterMs).toBeGreaterThan(0);
      }
      // Three requests of tenant t, each counted once in the tenant's limit however many models it tried.
      const limited = await expectCode(d.complete(request), 'RATE_LIMITED', 'limit');
      expect(limited.value).toBe('tenants');
      // The dead model used no tokens: each failed try gave its estimate back (30 tokens a minute, 12 a request).
      expect(d.rateLimiter!.check({ model: 'dead', tokens: 30 })).toEqual({ allowed: true });
      // Its breaker opened after three failures; another tenant finds every fallback's limits spent.
      expect(d.breakers.get('dead').state).toBe('open');
      const open = await expectCode(d.complete({ ...request, tenant: 'u' }), 'CIRCUIT_OPEN');
      expect(open.message).toContain('local: rate limited');
      expect((open.details as { failover: FailoverInfo }).failover.skipped.map((s) => `${s.model} ${s.reason}`)).toEqual(['dead circuit-open', 'local rate-limited', 'gpt rate-limited']);
    } finally {
      await d.dispose();
      await registry.close();
    }
  });

  it('prices a remote model by its provider and own name, and keeps budgets per provider', async () => {
    const ledger = new CostLedger();
    ledger.addBudget({ name: 'openai-dollars', scope: { provider: 'openai' }, windowMs: 60_000, maxUsd: 0.2 });
    const prices = new PriceTable([{ provider: 'openai', model: 'stories-*', inputPerMillion: 1000, outputPerMillion: 1000 }]);
    await using t = await door({ ledger, prices });
    const r = await t.d.complete({ model: 'gpt', ...REQUEST });
    expect(r.cost.provider).toBe('remote');
    expect(r.cost.usd).toBeCloseTo(((r.cost.promptTokens + r.cost.generatedTokens) * 1000) / 1e6, 10);
    await t.d.settled();
    expect(ledger.totals({ provider: 'openai' }).usd).toBeCloseTo(r.cost.usd, 10);
    // Spend until the budget refuses: it refuses before spending, so the total stays within one request of it.
    let over: { code: string; details?: Record<string, unknown> } | undefined;
    for (let i = 0; i < 20 && over === undefined; i++) {
      over = await t.d.complete({ model: 'gpt', ...REQUEST }).then(
        () => undefined,
        (e: { code: string; details?: Record<string, unknown> }) => e,
      );
    }
    expect(over).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { budget: 'openai-dollars' } });
    await t.d.settled();
    expect(ledger.totals({ provider: 'openai' }).usd).toBeLessThanOrEqual(0.2 + r.cost.usd);
    // Local models are another provider: their requests go on.
    expect((await t.d.complete({ model: 'local', ...REQUEST })).cost.provider).toBe('local');
    await t.d.settled();
    expect(ledger.totals({ provider: 'local' }).requests).toBe(1);
  });
});
