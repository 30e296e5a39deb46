// The admin API over a real front door: registering a model, loading, pinning, unloading, status, and the
// live event stream (pool events as Server-Sent Events) — with an admin caller key, and refused to an
// inference key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor } from '../../src/runtime/index.js';
import { CallerKeys } from '../../src/security/index.js';
import { createServer, type ModelpoolServer } from '../../src/server/index.js';
import { STORIES } from '../helpers/models.js';

let registry: ModelRegistry;
let door: FrontDoor;
let server: ModelpoolServer;
let admin: string;
let inference: string;

beforeAll(async () => {
  registry = await ModelRegistry.open();
  door = new FrontDoor({ registry, specDefaults: { contextSize: 256 }, poolOptions: { threads: 1, keepAliveMs: 60_000 } });
  const keys = await CallerKeys.open({});
  admin = (await keys.create({ name: 'ops', scopes: ['admin'] })).reveal();
  inference = (await keys.create({ name: 'app', scopes: ['inference'] })).reveal();
  server = await createServer({ door, port: 0, callerKeys: keys });
  await server.listen();
});
afterAll(async () => {
  await server.close();
  await door.dispose();
  await registry.close();
});

const call = async (method: string, path: string, body?: unknown, key = admin) => {
  const r = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('admin API', () => {
  it('registers, loads, pins, unloads and reports, with events streamed as they happen', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/admin/events`, { headers: { authorization: `Bearer ${admin}` }, signal: controller.signal });
    const reader = (async () => {
      const decoder = new TextDecoder();
      for await (const part of stream.body!) for (const m of decoder.decode(part).matchAll(/^event: (\S+)/gm)) events.push(m[1]!);
    })().catch(() => undefined);

    expect((await call('POST', '/admin/models', { id: 'stories', path: STORIES })).status).toBe(201);
    expect((await call('POST', '/admin/models', { id: 'bad', path: '/nowhere/x.gguf' })).status).toBeGreaterThanOrEqual(400);
    expect((await call('POST', '/admin/models/stories/load', {})).body.model).toMatchObject({ id: 'stories', state: 'ready' });
    expect((await call('POST', '/admin/models/stories/pin', { pinned: true })).body).toEqual({ pinned: true });
    const status = await call('GET', '/admin/status');
    expect((status.body.pool as { models: Array<{ id: string; pinned: boolean }> }).models.find((m) => m.id === 'stories')?.pinned).toBe(true);
    expect((await call('POST', '/admin/models/stories/unload', {})).status).toBe(200);
    expect(((await call('GET', '/admin/models')).body.models as Array<{ id: string }>).map((m) => m.id)).toEqual(['stories']);
    for (let i = 0; i < 50 && !events.includes('unload'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await reader;
    expect(events).toEqual(expect.arrayContaining(['load', 'load-progress', 'ready', 'unload']));
    expect((await call('DELETE', '/admin/models/stories')).body).toEqual({ removed: 'stories' });
  });

  it('refuses an inference key (403) and no key (401)', async () => {
    expect((await call('GET', '/admin/status', undefined, inference)).status).toBe(403);
    expect((await fetch(`${server.url}/admin/status`)).status).toBe(401);
    expect((await fetch(`${server.url}/dashboard`)).status).toBe(401);
    expect((await fetch(`${server.url}/dashboard?key=${admin}`)).status).toBe(200);
  });
});
