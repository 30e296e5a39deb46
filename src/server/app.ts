/**
 * The HTTP server (fastify) over one front door: OpenAI's API on /v1, Ollama's on /api, /health (live),
 * /ready (per model), /metrics (Prometheus). Errors take the API's shape and the status they mean;
 * request bodies are bounded; a client that disconnects aborts its generation; close() stops taking
 * requests and drains those in flight before it returns.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ModelpoolError } from '../errors.js';
import type { FrontDoor } from '../runtime/index.js';
import type { CallerKeys, CallerScope } from '../security/index.js';
import { optionalInteger, optionalString, plainObject } from '../validate.js';
import { authenticate, type Caller } from './auth.js';
import { httpError, openAIErrorBody } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { ollamaRoutes } from './ollama.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { adminRoutes } from './admin.js';
import { openAIRoutes } from './openai.js';

export interface ServerOptions {
  door: FrontDoor;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 11435; 0 for a free port. */
  port?: number;
  /** Caller keys: when given, every request but /health carries one with the route's scope. */
  callerKeys?: CallerKeys;
  /** Largest request body, bytes. Default 4 MiB. */
  bodyLimit?: number;
  /** How long close() waits for requests in flight, ms. Default 30 000. */
  drainTimeoutMs?: number;
}

export interface ModelpoolServer {
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  /** http://host:port once listening. */
  readonly url: string;
  listen(): Promise<string>;
  /** Stops taking requests, waits for those in flight (up to drainTimeoutMs), then closes. */
  close(): Promise<void>;
}

/** Which API a path belongs to: its error shape. */
function apiOf(url: string): 'openai' | 'ollama' | 'other' {
  if (url.startsWith('/v1/')) return 'openai';
  if (url.startsWith('/api/')) return 'ollama';
  return 'other';
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const e = httpError(error);
  reply.status(e.status).headers(e.headers);
  if (apiOf(request.url) === 'ollama') return reply.send({ error: e.message });
  return reply.send(openAIErrorBody(e));
}

/** fastify's own errors (a body too large, malformed JSON, an unknown route) as modelpool errors. */
function fromFastify(error: { statusCode?: number; code?: string; message: string }): unknown {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return Object.assign(new ModelpoolError('INVALID_ARGUMENT', `The request body is larger than the server accepts (${error.message})`, { field: 'body' }), { status: 413 });
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new ModelpoolError('INVALID_ARGUMENT', error.message, { field: 'body' });
  return error;
}

export async function createServer(options: ServerOptions): Promise<ModelpoolServer> {
  plainObject('options', options);
  const door = options.door;
  if (door === undefined) throw new ModelpoolError('INVALID_ARGUMENT', 'Expected a FrontDoor for options.door', { field: 'options.door' });
  const host = optionalString('options.host', options.host) ?? '127.0.0.1';
  const port = optionalInteger('options.port', options.port, 0, 65535) ?? 11435;
  const bodyLimit = optionalInteger('options.bodyLimit', options.bodyLimit, 1024) ?? 4 * 1024 * 1024;
  const drainTimeoutMs = optionalInteger('options.drainTimeoutMs', options.drainTimeoutMs, 0) ?? 30_000;
  const keys = options.callerKeys;

  const app = Fastify({ bodyLimit, logger: false, forceCloseConnections: false, return503OnClosing: true });
  const metrics = createMetrics(door);
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;

  const callers = new WeakMap<FastifyRequest, Caller | undefined>();
  const scopeOf = (url: string): CallerScope | undefined => (url === '/health' || url === '/' ? undefined : url.startsWith('/admin') || url.startsWith('/dashboard') ? 'admin' : 'inference');
  app.addHook('onRequest', async (request) => {
    if (closing) throw new ModelpoolError('DISPOSED', 'The server is shutting down');
    const scope = scopeOf(request.url.split('?')[0]!);
    if (scope !== undefined) callers.set(request, authenticate(request, keys, scope));
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.http(request.routeOptions.url ?? 'unknown', reply.statusCode);
  });
  app.setErrorHandler((error, request, reply) => {
    const converted = fromFastify(error as { statusCode?: number; code?: string; message: string });
    const status = (converted as { status?: number }).status;
    if (status !== undefined) return reply.status(status).send(apiOf(request.url) === 'ollama' ? { error: (converted as Error).message } : openAIErrorBody({ ...httpError(converted), status }));
    return sendError(request, reply, converted);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new ModelpoolError('MODEL_NOT_FOUND', `No route ${request.method} ${request.url}`, { field: 'url', value: request.url })));
  // Every route's work is tracked, so close() can wait for it.
  app.addHook('preHandler', async (request, reply) => {
    let done!: () => void;
    const p = new Promise<void>((resolve) => (done = resolve));
    inFlight.add(p);
    reply.raw.once('close', () => {
      inFlight.delete(p);
      done();
    });
  });

  const callerOf = (request: FastifyRequest) => callers.get(request);
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/', async () => 'modelpool is running');
  app.get('/ready', async (_request, reply) => {
    const status = door.pool.status();
    const models = status.models.map((m) => ({ model: m.id, version: m.version ?? null, state: m.state, ready: m.state === 'ready', breaker: door.breakers.peek(m.id)?.state ?? 'closed' }));
    const ready = !closing && !status.disposed;
    reply.status(ready ? 200 : 503);
    return { ready, models, probes: door.healthStatus().probes };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  openAIRoutes(app, door, callerOf);
  ollamaRoutes(app, door, callerOf);
  const feed = dashboardRoutes(app, door);
  adminRoutes(app, door);

  let url = '';
  return {
    app,
    metrics,
    get url() {
      return url;
    },
    async listen() {
      const address = await app.listen({ host, port });
      url = address.replace('[::1]', 'localhost');
      return url;
    },
    async close() {
      if (closing) return;
      closing = true;
      const drained = Promise.allSettled([...inFlight]);
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, drainTimeoutMs).unref())]);
      metrics.stop();
      feed.close();
      await app.close();
    },
  };
}
