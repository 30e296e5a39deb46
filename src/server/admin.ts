/**
 * The admin API (scope 'admin' when the server has caller keys): the registry's models (list, register,
 * remove), the pool's (load, unload, pin, swap to a registered version), status and a live event stream.
 */
import type { FastifyInstance } from 'fastify';
import { invalidArgument } from '../errors.js';
import type { PoolEvent } from '../pool/index.js';
import type { ModelSource, Task } from '../registry/types.js';
import { swapToVersion, type FrontDoor } from '../runtime/index.js';
import { abortOnDisconnect } from './stream.js';

type Body = Record<string, unknown>;

function object(field: string, value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, 'an object', value);
  return value as Body;
}

/** A model source from the request: `{ path }` (GGUF or ONNX by extension) or a registry source object. */
function sourceOf(body: Body): ModelSource {
  if (typeof body.path === 'string') return { kind: body.path.toLowerCase().endsWith('.onnx') ? 'onnx' : 'gguf', path: body.path };
  return object('source', body.source) as unknown as ModelSource;
}

const POOL_EVENTS = ['load', 'load-progress', 'ready', 'load-failed', 'evict', 'unload', 'swap', 'rollback', 'context-shrunk', 'over-budget'] as const;

export function adminRoutes(app: FastifyInstance, door: FrontDoor): void {
  // Admin actions read the registry as stored now: another process (the CLI) may just have changed it.
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/admin/')) await door.registry.refresh();
  });
  app.get('/admin/status', async () => ({ pool: door.pool.status(), admission: { inFlight: door.admission.inFlight, queued: door.admission.queued }, health: door.healthStatus() }));
  app.get('/admin/models', async () => ({ models: door.registry.list() }));
  app.post('/admin/models', async (request, reply) => {
    const body = object('body', request.body);
    if (typeof body.id !== 'string') throw invalidArgument('id', 'a model id', body.id);
    const tasks = (body.tasks as Task[] | undefined) ?? ['completion', 'chat'];
    const version = typeof body.version === 'string' ? body.version : '1';
    const model = door.registry.has(body.id)
      ? await door.registry.registerVersion(body.id, { version, source: sourceOf(body) }).then(() => door.registry.resolve(body.id as string).model)
      : await door.registry.registerModel({ id: body.id, tasks, version: { version, source: sourceOf(body) } });
    reply.status(201);
    return { model };
  });
  app.delete<{ Params: { id: string } }>('/admin/models/:id', async (request) => {
    const id = request.params.id;
    if (door.pool.models().includes(id)) await door.pool.remove(id);
    await door.registry.removeModel(id);
    return { removed: id };
  });
  app.post<{ Params: { id: string } }>('/admin/models/:id/load', async (request) => {
    await door.pool.load(request.params.id);
    return { model: door.pool.status().models.find((m) => m.id === door.registry.resolve(request.params.id).model.id) ?? null };
  });
  app.post<{ Params: { id: string } }>('/admin/models/:id/unload', async (request) => {
    await door.pool.unload(door.registry.has(request.params.id) ? door.registry.resolve(request.params.id).model.id : request.params.id);
    return { unloaded: request.params.id };
  });
  app.post<{ Params: { id: string } }>('/admin/models/:id/pin', async (request) => {
    const body = request.body === undefined || request.body === null ? {} : object('body', request.body);
    const pinned = body.pinned !== false;
    door.pool.pin(door.registry.resolve(request.params.id).model.id, pinned);
    return { pinned };
  });
  app.post<{ Params: { id: string } }>('/admin/models/:id/swap', async (request) => {
    const body = object('body', request.body);
    if (typeof body.version !== 'string') throw invalidArgument('version', 'a registered version', body.version);
    return swapToVersion(door.pool, door.registry, door.registry.resolve(request.params.id).model.id, body.version);
  });
  app.get('/admin/events', async (_request, reply) => {
    const signal = abortOnDisconnect(reply);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: PoolEvent) => {
      if (!raw.writableEnded) raw.write(`event: ${event.type}\ndata: ${JSON.stringify(event, (key, value: unknown) => (key === 'error' && value instanceof Error ? { message: value.message } : value))}\n\n`);
    };
    const stops = POOL_EVENTS.map((type) => door.pool.on(type, send));
    const stopBreakers = door.breakers.on('transition', (t) => raw.writableEnded || raw.write(`event: breaker\ndata: ${JSON.stringify(t)}\n\n`));
    raw.write(': events\n\n');
    signal.addEventListener('abort', () => {
      for (const stop of stops) stop();
      stopBreakers();
    });
    return reply;
  });
}
