// The front door on real models: stories260K (and a generated BERT model for embeddings) registered in
// a real registry (memory store, and a SQLite file for history across a restart), run by a real pool.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isModelpoolError, ModelpoolError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor, promptLength, type FrontDoorOptions, type JudgedEvent, type RequestEvent } from '../../src/runtime/index.js';
import { CostLedger } from '../../src/cost/index.js';
import { CandidateSource } from '../../src/runtime/candidates.js';
import { Selector } from '../../src/select/index.js';
import type { Judging } from '../../src/judge/index.js';
import { cachedBertTestModel } from '../../src/testing/index.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const RATES = { perCoreHourUsd: 0.05, perGbHourUsd: 0.01 };
const doors: FrontDoor[] = [];
const folders: string[] = [];

async function open(
  options: { admission?: { maxInFlight?: number; maxQueued?: number }; ledger?: CostLedger; path?: string; judging?: FrontDoorOptions['judging']; contextSize?: number } = {},
) {
  const registry = await ModelRegistry.open(options.path === undefined ? {} : { path: options.path });
  for (const id of ['story-a', 'story-b']) {
    if (!registry.has(id)) {
      await registry.registerModel({ id, tasks: ['completion', 'chat'], tags: [id], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
    }
  }
  const door = new FrontDoor({
    registry,
    rates: RATES,
    selector: new Selector({ seed: 7 }),
    specDefaults: { contextSize: options.contextSize ?? 256, parallel: 2 },
    poolOptions: { keepAliveMs: 60_000, threads: 1, prefixCache: false },
    ...(options.admission ? { admission: options.admission } : {}),
    ...(options.ledger ? { ledger: options.ledger } : {}),
    ...(options.judging ? { judging: options.judging } : {}),
  });
  doors.push(door);
  return { registry, door };
}

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'modelpool-front-door-'));
  folders.push(folder);
  return folder;
}

afterEach(async () => {
  for (const door of doors.splice(0)) {
    await door.dispose();
    await door.registry.close();
  }
});

afterAll(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('FrontDoor: a named model', () => {
  it('runs it, measures the cost and records the request into the history per tenant', async () => {
    const { registry, door } = await open();
    const r = await door.complete({ model: 'story-a', prompt: 'Once upon a time', maxTokens: 16, temperature: 0, tenant: 'acme' });
    expect(r.text.length).toBeGreaterThan(0);
    expect(r).toMatchObject({ model: 'story-a', version: '1', selection: { mode: 'named', task: 'completion' } });
    expect(r.selection.candidates()).toEqual([]);
    const cost = r.cost;
    expect(cost.generatedTokens).toBe(r.generatedTokens);
    expect(cost.promptTokens).toBe(r.promptTokens);
    expect(cost.cpuCoreSeconds).toBeGreaterThan(0);
    expect(cost.memoryGbSeconds).toBeGreaterThan(0);
    expect(cost.wallMs).toBeGreaterThanOrEqual(r.totalMs);
    expect(r.overheadMs).toBeGreaterThan(0);
    expect(r.overheadMs).toBeLessThan(cost.wallMs - r.totalMs);
    expect(cost.ttftMs).toBeGreaterThan(0);
    // Dollars from the rates: core-hours and GB-hours, nothing else for a local model.
    const expected = (cost.cpuCoreSeconds / 3600) * RATES.perCoreHourUsd + (cost.memoryGbSeconds / 3600) * RATES.perGbHourUsd;
    expect(cost.usd).toBeCloseTo(expected, 12);

    await door.settled();
    await registry.flush();
    const all = registry.performance('story-a', { task: 'completion' })!;
    expect(all.samples).toBe(1);
    expect(all.totals).toMatchObject({ requests: 1, generatedTokens: r.generatedTokens, promptTokens: r.promptTokens });
    expect(all.totals!.costUsd).toBeCloseTo(cost.usd, 12);
    expect(registry.performance('story-a', { task: 'completion', tenant: 'acme' })!.samples).toBe(1);
    expect(registry.performanceTenants('story-a')).toEqual(['acme']);
    expect(door.ledger.totals({ tenant: 'acme' })).toMatchObject({ requests: 1, generatedTokens: r.generatedTokens });
  });

  it('streams: chunks joined are the text, and the result carries model, version and cost', async () => {
    const { door } = await open();
    const stream = door.generate({ model: 'story-b', messages: [{ role: 'user', content: 'Tell me a story' }], maxTokens: 24, temperature: 0 });
    let text = '';
    for await (const chunk of stream) text += chunk;
    const r = await stream.result;
    expect(text).toBe(r.text);
    expect(r).toMatchObject({ model: 'story-b', version: '1', selection: { mode: 'named', task: 'chat' } });
    expect(() => stream[Symbol.asyncIterator]()).toThrow(TypeError);
  });

  it('streams chunks with log probabilities; a chat with content parts is sized by its text', async () => {
    const { door } = await open();
    const stream = door.generate({
      model: 'story-a',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me a story' }] }],
      maxTokens: 8,
      temperature: 0,
      logprobs: true,
    });
    const chunks = [];
    for await (const chunk of stream.chunks()) chunks.push(chunk);
    const r = await stream.result;
    expect(chunks.map((c) => c.text).join('')).toBe(r.text);
    expect(chunks.flatMap((c) => c.logprobs ?? []).length).toBe(r.generatedTokens);
    expect(promptLength({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcdefgh' }] }] })).toBe(2);
    expect(promptLength({ input: ['abcd', 'efgh'] })).toBe(2);
  });

  it('a stream the caller stops reading ends its generation (ABORTED) and frees the admission', async () => {
    const { door } = await open({ admission: { maxInFlight: 1, maxQueued: 0 } });
    const stream = door.generate({ model: 'story-a', prompt: 'Once upon a time', maxTokens: 200, temperature: 0 });
    for await (const _ of stream) break;
    await expect(stream.result).rejects.toMatchObject({ code: 'ABORTED' });
    const next = await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4 });
    expect(next.model).toBe('story-a');
  });

  it('a model the registry does not know but the pool does runs without history', async () => {
    const { door } = await open();
    door.pool.define({ id: 'raw', source: STORIES, contextSize: 256 });
    const r = await door.complete({ model: 'raw', prompt: 'Once', maxTokens: 4 });
    expect(r).toMatchObject({ model: 'raw', version: undefined });
    await expect(door.complete({ model: 'nope', prompt: 'Once', maxTokens: 4 })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(door.complete({ model: 'nope', version: '1', prompt: 'Once' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', field: 'request.model' });
  });

  it('keepAliveMs sets how long the serving model stays loaded once idle: 0 unloads it after the request, negative keeps it, default goes back', async () => {
    const { door } = await open();
    const state = () => door.pool.status().models.find((m) => m.id === 'story-a');
    await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 2, keepAliveMs: -1 });
    expect(state()).toMatchObject({ state: 'ready', keepAliveMs: -1, expiresAt: null });
    await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 2, keepAliveMs: 'default' });
    expect(state()!.keepAliveMs).toBe(60_000);
    expect(state()!.expiresAt).toBeGreaterThan(Date.now());
    // A selected request sets it on the model it ran on.
    const selected = await door.complete({ task: 'completion', prompt: 'Once', maxTokens: 2, keepAliveMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(door.pool.status().models.find((m) => m.id === selected.model)?.state ?? 'unloaded').not.toBe('ready');
    expect(() => door.generate({ model: 'story-a', prompt: 'x', keepAliveMs: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'request.keepAliveMs' }));
    expect(() => door.generate({ model: 'story-a', prompt: 'x', keepAliveMs: '5m' as never })).toThrow(expect.objectContaining({ field: 'request.keepAliveMs' }));
  });

  it('a version other than the default loads under its own pool id and is recorded as that version', async () => {
    const { registry, door } = await open();
    await registry.registerVersion('story-a', { version: '2', source: { kind: 'gguf', path: STORIES } });
    const r = await door.complete({ model: 'story-a', version: '2', prompt: 'Once', maxTokens: 4 });
    expect(r).toMatchObject({ model: 'story-a', version: '2' });
    expect(door.pool.status().models.map((m) => m.id)).toContain('story-a@2');
    // Named as the pool names it, 'id@version': the same registered version, recorded as such.
    expect(await door.complete({ model: 'story-a@2', prompt: 'Once', maxTokens: 4 })).toMatchObject({ model: 'story-a', version: '2' });
    await expect(door.complete({ model: 'story-a@9', prompt: 'Once', maxTokens: 4 })).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    await door.settled();
    await registry.flush();
    expect(registry.performance('story-a', { task: 'completion', version: '2' })!.samples).toBe(2);
  });
});

describe('FrontDoor: selection', () => {
  it('selects among the registered versions for a task and explains every candidate', async () => {
    const { door } = await open();
    const r = await door.complete({ task: 'completion', prompt: 'Once upon a time', maxTokens: 8 });
    expect(['story-a', 'story-b']).toContain(r.model);
    expect(r.selection.mode).toBe('selected');
    const explained = r.selection.candidates();
    expect(explained.map((c) => c.modelId).sort()).toEqual(['story-a', 'story-b']);
  });

  it('learns: a model whose answers are judged bad loses the traffic', async () => {
    const { registry, door } = await open();
    // Quality history: story-a good, story-b bad (what graders or a judge would have recorded).
    for (let i = 0; i < 30; i++) {
      registry.recordSample({ model: 'story-a', task: 'completion', totalMs: 20, success: true, quality: 0.9 });
      registry.recordSample({ model: 'story-b', task: 'completion', totalMs: 20, success: true, quality: 0.1 });
    }
    await registry.flush();
    const picks: string[] = [];
    for (let i = 0; i < 12; i++) picks.push((await door.complete({ task: 'completion', prompt: 'Once', maxTokens: 2 })).model);
    expect(picks.filter((m) => m === 'story-a').length).toBeGreaterThanOrEqual(10);
  });

  it('unsatisfiable constraints: UNSATISFIABLE listing what eliminated each candidate', async () => {
    const { door } = await open();
    const error = await door.complete({ task: 'completion', prompt: 'Once', constraints: { maxMemoryBytes: 1 } }).catch((e: unknown) => e);
    expect(isModelpoolError(error, 'UNSATISFIABLE')).toBe(true);
    const rejected = (error as ModelpoolError).details!.rejected as Array<{ model: string; constraint: string }>;
    expect(rejected.map((r) => r.model).sort()).toEqual(['story-a', 'story-b']);
    expect(rejected.every((r) => r.constraint === 'maxMemoryBytes')).toBe(true);
    await expect(door.complete({ task: 'translation', prompt: 'Once' })).rejects.toMatchObject({ code: 'UNSATISFIABLE' });
  });

  it('candidates carry the registry and history figures the constraints read', async () => {
    const { registry, door } = await open();
    await registry.registerVersion('story-a', { version: '2', source: { kind: 'gguf', path: STORIES } });
    for (let i = 0; i < 10; i++) {
      registry.recordSample({ model: 'story-a', version: '2', task: 'completion', totalMs: 40, success: true, quality: 0.8, ttftMs: 5, tokensPerSecond: 900, costUsd: 1e-6, memoryBytes: 5_000_000 });
    }
    await registry.flush();
    const selection = door.select({ task: 'completion', constraints: { maxMemoryBytes: 6_000_000 } });
    const explained = selection.candidates();
    const v2 = explained.find((c) => c.modelId === 'story-a' && c.version === '2')!;
    expect(v2.eligible).toBe(true);
    expect(v2.memoryBytes).toBe(5_000_000);
    expect(v2.p95LatencyMs).toBeGreaterThan(0);
    // The other versions have no measured memory: their registered size (the GGUF's) passes 6 MB too.
    expect(explained.map((c) => `${c.modelId}@${c.version}`).sort()).toEqual(['story-a@1', 'story-a@2', 'story-b@1']);
    expect(() => door.select({ task: 'completion', constraints: { maxMemoryBytes: 1 } })).toThrow(expect.objectContaining({ code: 'UNSATISFIABLE' }));
  });

  it('candidate lists: reused within the TTL, rebuilt in the background after it, at once after a change', async () => {
    const { registry, door } = await open();
    const source = new CandidateSource(registry, door.pool, { ttlMs: 1000 });
    const t0 = performance.now();
    const first = source.forTask('completion', t0);
    expect(first.entries.map((e) => e.poolId).sort()).toEqual(['story-a', 'story-b']);
    expect(first.candidates.every((c) => c.stats === undefined)).toBe(true);
    for (let i = 0; i < 3; i++) registry.recordSample({ model: 'story-a', task: 'completion', totalMs: 30, success: true });
    expect(source.forTask('completion', t0 + 500)).toBe(first);
    // Stale: the request gets the old list without waiting; the next turn of the loop rebuilds it.
    expect(source.forTask('completion', t0 + 1500)).toBe(first);
    expect(source.forTask('completion', t0 + 1500)).toBe(first);
    await new Promise((resolve) => setImmediate(resolve));
    const second = source.forTask('completion');
    expect(second).not.toBe(first);
    expect(second.candidates.find((c) => c.modelId === 'story-a')!.stats?.samples).toBe(3);
    // A registry change drops the lists: the next call builds one first.
    await registry.registerVersion('story-b', { version: '2', source: { kind: 'gguf', path: STORIES } });
    expect(source.forTask('completion').entries).toHaveLength(3);
    // Closed: a stale list is no longer rebuilt.
    const third = source.forTask('completion');
    source.close();
    expect(source.forTask('completion', performance.now() + 5000)).toBe(third);
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.forTask('completion', performance.now() + 5000)).toBe(third);
    // ttlMs 0: every call reads the history.
    const always = new CandidateSource(registry, door.pool, { ttlMs: 0 });
    expect(always.forTask('completion')).not.toBe(always.forTask('completion'));
    always.close();
  });

  it('select() answers without running anything', async () => {
    const { door } = await open();
    const selection = door.select({ task: 'chat', promptTokens: 10 });
    expect(['story-a', 'story-b']).toContain(selection.modelId);
    expect(door.pool.status().loadedModels).toBe(0);
  });
});

describe('FrontDoor: admission, budgets and bad input', () => {
  it('QUEUE_FULL beyond maxInFlight + maxQueued; queued requests run in turn', async () => {
    const { door } = await open({ admission: { maxInFlight: 1, maxQueued: 1 } });
    const first = door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 16 });
    const second = door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4 });
    await expect(door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4 })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(door.admission.queued).toBe(1);
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
  });

  it('an aborted request waiting for admission ends with ABORTED', async () => {
    const { door } = await open({ admission: { maxInFlight: 1, maxQueued: 4 } });
    const first = door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 16 });
    const controller = new AbortController();
    const waiting = door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    await first;
  });

  it('a token budget of the tenant is checked before spending: BUDGET_EXCEEDED', async () => {
    const ledger = new CostLedger();
    ledger.addBudget({ name: 'acme-tokens', scope: { tenant: 'acme' }, windowMs: 60_000, maxTokens: 100 });
    const { door } = await open({ ledger });
    await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 8, tenant: 'acme' });
    await expect(door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 200, tenant: 'acme' })).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
    // Another tenant is not held by acme's budget.
    await expect(door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 200, tenant: 'other' })).resolves.toMatchObject({ model: 'story-a' });
  });

  it('bad routing fields are typed errors naming the field', async () => {
    const { door } = await open();
    expect(() => door.generate({ model: '', prompt: 'x' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'request.model' }));
    expect(() => door.generate({ version: '1', prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.version' }));
    expect(() => door.generate({ model: 'story-a', constraints: {}, prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.constraints' }));
    expect(() => door.generate({ model: 'story-a', objective: {}, prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.objective' }));
    expect(() => door.generate({ tags: [''] as string[], prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.tags[0]' }));
    expect(() => door.generate({ tags: 'code' as never, prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.tags' }));
    expect(() => door.generate({ tenant: 5 as unknown as string, prompt: 'x' })).toThrow(expect.objectContaining({ field: 'request.tenant' }));
    await expect(door.embed({ input: [] })).rejects.toMatchObject({ field: 'request.input' });
    // complete() and embed() reject (never throw) with the typed error, also for a request that is no object.
    const bad = door.complete({ model: '', prompt: 'x' });
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'request.model' });
    await expect(door.complete(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'request' });
    await expect(door.embed(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'request' });
    expect(() => door.generate(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'request' }));
    // The model's own validation: nothing recorded against the model for the caller's mistake.
    await expect(door.complete({ model: 'story-a', prompt: 'x', temperature: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await door.settled();
    await door.registry.flush();
    expect(door.registry.performance('story-a', { task: 'completion' })).toBeUndefined();
  });

  it('a model that fails to load is recorded as a failure of that version', async () => {
    const { registry, door } = await open();
    const broken = join(tempFolder(), 'broken.gguf');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(broken, Buffer.from('GGUF not really'));
    await registry.registerModel({ id: 'broken', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: broken }, metadata: { format: 'gguf', sizeBytes: 15 } } });
    await expect(door.complete({ model: 'broken', prompt: 'Once', maxTokens: 4 })).rejects.toSatisfy((e: unknown) => isModelpoolError(e));
    await door.settled();
    await registry.flush();
    expect(registry.performance('broken', { task: 'completion' })).toMatchObject({ samples: 1, failures: 1 });
  });

  it('records just after answering: settled() waits for it, a budget check sees every finished request', async () => {
    const ledger = new CostLedger();
    const { registry, door } = await open({ ledger });
    const events: RequestEvent[] = [];
    door.on('request', (event) => events.push(event));
    door.on('request', () => {
      throw new Error('listener bug');
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const r = await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4, tenant: 'late' });
      await door.settled();
      expect(events).toHaveLength(1);
      expect(ledger.totals({ tenant: 'late' })).toMatchObject({ requests: 1, generatedTokens: r.generatedTokens });
      await registry.flush();
      expect(registry.performance('story-a', { task: 'completion', tenant: 'late' })).toMatchObject({ samples: 1 });
      // A budget added now is checked against the request just answered, before any flush.
      await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4, tenant: 'late' });
      ledger.addBudget({ name: 'late', scope: { tenant: 'late' }, windowMs: 60_000, maxTokens: 2 * (r.promptTokens + r.generatedTokens) + 1 });
      await expect(door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4, tenant: 'late' })).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.some((w) => w.includes('listener bug'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('bad rates and admission limits are refused when the front door is made, naming the field', async () => {
    const registry = await ModelRegistry.open();
    try {
      expect(() => new FrontDoor({ registry, rates: { perCoreHourUsd: -1 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'options.rates.perCoreHourUsd' }));
      expect(() => new FrontDoor({ registry, rates: { perCpuHour: 1 } as never })).toThrow(expect.objectContaining({ field: 'options.rates.perCpuHour' }));
      expect(() => new FrontDoor({ registry, admission: { maxInFlight: 0 } })).toThrow(expect.objectContaining({ field: 'options.admission.maxInFlight' }));
      expect(() => new FrontDoor({ registry, admission: { maxQueued: 'many' as never } })).toThrow(expect.objectContaining({ field: 'options.admission.maxQueued' }));
    } finally {
      await registry.close();
    }
  });

  it('dispose waits for the requests in flight, admitted or queued, and they end with their answers', async () => {
    const { door } = await open({ admission: { maxInFlight: 1, maxQueued: 2 } });
    const requests = [0, 1, 2].map(() => door.complete({ model: 'story-a', prompt: 'Once upon a time', maxTokens: 8 }));
    let disposed = false;
    const disposing = door.dispose().then(() => (disposed = true));
    const results = await Promise.all(requests);
    expect(results.map((r) => r.model)).toEqual(['story-a', 'story-a', 'story-a']);
    for (const r of results) expect(r.generatedTokens).toBeGreaterThan(0);
    await disposing;
    expect(disposed).toBe(true);
    expect(door.admission.inFlight).toBe(0);
  });

  it('after dispose every call is DISPOSED', async () => {
    const { door } = await open();
    await door.dispose();
    expect(() => door.generate({ model: 'story-a', prompt: 'x' })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(door.complete({ model: 'story-a', prompt: 'x' })).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(door.embed({ model: 'story-a', input: 'x' })).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('FrontDoor: embeddings and history across a restart', () => {
  let bert: string;
  beforeAll(async () => {
    bert = await cachedBertTestModel({});
  });

  it('embeds with a model selected for the embedding task', async () => {
    const { registry, door } = await open();
    await registry.registerModel({ id: 'bert', tasks: ['embedding'], version: { version: '1', source: { kind: 'gguf', path: bert } } });
    const r = await door.embed({ input: ['hello world', 'goodbye'] });
    expect(r.model).toBe('bert');
    expect(r.embeddings).toHaveLength(2);
    expect(r.cost.cpuCoreSeconds).toBeGreaterThan(0);
  });

  it('history recorded through the front door survives a restart on a SQLite file', async () => {
    const path = join(tempFolder(), 'models.db');
    const first = await open({ path });
    await first.door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4, tenant: 't1' });
    await first.door.dispose();
    await first.registry.close();
    doors.splice(doors.indexOf(first.door), 1);
    const second = await ModelRegistry.open({ path });
    try {
      expect(second.performance('story-a', { task: 'completion', tenant: 't1' })).toMatchObject({ samples: 1 });
    } finally {
      await second.close();
    }
  });
});

describe('FrontDoor: judging served answers', () => {
  it('a judge model from the same pool grades each answer; the verdict is the quality the history learns', async () => {
    const { registry, door } = await open({ judging: { model: 'judge', criterion: 'relevance', sampleRate: 1 }, contextSize: 512 });
    await registry.registerModel({ id: 'judge', tasks: ['judge'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
    const judged: JudgedEvent[] = [];
    const requests: RequestEvent[] = [];
    door.on('judged', (event) => judged.push(event));
    door.on('request', (event) => requests.push(event));
    const r = await door.complete({ model: 'story-a', prompt: 'Once upon a time', maxTokens: 8, temperature: 0 });
    await door.settled();
    expect(requests).toMatchObject([{ model: 'story-a', version: '1', task: 'completion', success: true }]);
    expect(judged).toHaveLength(1);
    expect(judged[0]).toMatchObject({ model: 'story-a', version: '1', task: 'completion' });
    const verdict = judged[0]!.verdict!;
    expect(verdict.criterion).toBe('relevance');
    expect(verdict.score).toBeGreaterThanOrEqual(1);
    expect(verdict.score).toBeLessThanOrEqual(5);
    await door.settled();
    await registry.flush();
    const summary = registry.performance('story-a', { task: 'completion' })!;
    expect(summary.samples).toBe(1);
    expect(summary.quality).toBeCloseTo(verdict.normalized, 9);
    expect(summary.totals!.generatedTokens).toBe(r.generatedTokens);
  });

  it('judges a chat answer against the last user message; a judge that fails leaves the sample without quality', async () => {
    // A judge of our own that records what it is asked and fails.
    const asked: Array<{ question: string; answer: string }> = [];
    const failing = {
      judge: async (item: { question: string; answer: string }) => {
        asked.push(item);
        throw new ModelpoolError('GENERATION_FAILED', 'no verdict');
      },
    } as unknown as Judging;
    const { registry, door } = await open({ judging: { judge: failing, criterion: 'relevance', tasks: ['chat'] } });
    const judged: JudgedEvent[] = [];
    door.on('judged', (event) => judged.push(event));
    await door.complete({ model: 'story-a', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Tell a story' }], maxTokens: 4 });
    await door.complete({ model: 'story-a', prompt: 'Once', maxTokens: 4 }); // 'completion': not a judged task
    await door.settled();
    expect(judged).toHaveLength(1);
    expect(judged[0]).toMatchObject({ model: 'story-a', task: 'chat', error: { code: 'GENERATION_FAILED' } });
    expect(asked).toHaveLength(1);
    expect(asked[0]!.question).toBe('Tell a story');
    await registry.flush();
    const chat = registry.performance('story-a', { task: 'chat' })!;
    expect(chat.samples).toBe(1);
    expect(chat.quality).toBeUndefined();
  });

  it('judging options are checked', async () => {
    await expect(open({ judging: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'options.judging.model' });
    await expect(open({ judging: { model: 'judge', sampleRate: 2 } })).rejects.toMatchObject({ field: 'options.judging.sampleRate' });
  });
});

describe('FrontDoor in a plain node process', () => {
  beforeAll(() => {
    // The child imports the compiled package by its name (npm test builds it first).
    if (!existsSync(join(repoRoot, 'lib', 'runtime', 'front-door.js'))) {
      const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
    }
  });

  it('answers every request (result or typed error), finishes its judging and exits on its own', () => {
    const child = join(repoRoot, 'test', 'runtime', 'fixtures', 'plain-front-door.mjs');
    // The timeout only turns a hang (the fault this guards against) into a failure.
    const r = spawnSync(process.execPath, [child, STORIES], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stderr}${r.error ?? ''}`).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { answered: number; streamed: number; errors: Record<string, number>; judged: number };
    expect(summary).toMatchObject({ answered: 13, streamed: 1, errors: { ABORTED: 1, UNSATISFIABLE: 1 } });
    expect(summary.judged).toBeGreaterThan(0);
  });
});
