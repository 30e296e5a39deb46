/**
 * The shared core of the wire servers: a node:http server on the loopback interface that records
 * every request, counts the TCP connections it sees, plays the faults a test queued, checks
 * credentials, and hands the request to one vendor dialect (OpenAI, Anthropic or Ollama). Every
 * response path ends; a client that goes away aborts its generation; close() ends what is open.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

import { invalidArgument } from '../../errors.js';
import type { ModelHandle } from '../../model/handle.js';
import type { GenerateRequest } from '../../model/types.js';
import { nonEmptyString, optionalInteger, optionalString, plainObject } from '../../validate.js';
import { anthropicDialect } from './anthropic.js';
import { sendError, type Dialect, type WireContext } from './dialect.js';
import { WireExchange } from './exchange.js';
import { FaultQueue, type WireFault } from './faults.js';
import { WireHttpError, WireInputError } from './fields.js';
import { toHttpError } from './generation.js';
import { ollamaDialect } from './ollama.js';
import { openaiDialect } from './openai.js';

/** The vendor protocol a wire server speaks. */
export type WireProtocol = 'openai' | 'anthropic' | 'ollama';

const DIALECTS: Record<WireProtocol, Dialect> = { openai: openaiDialect, anthropic: anthropicDialect, ollama: ollamaDialect };

/** The model behind the server: one model for every listed name, or a lookup by name (undefined: not found). */
export type WireModelSource = ModelHandle | ((name: string) => ModelHandle | undefined);

export interface WireServerOptions {
  /** The vendor protocol to speak. */
  protocol: WireProtocol;
  /** The model that generates the answers, or a lookup from a requested model name. */
  model: WireModelSource;
  /**
   * Model names the server lists (and, with one `model`, the only ones it serves; others get the
   * vendor's 404). Default `['test-model']` with one model, none with a lookup.
   */
  models?: string[];
  /**
   * Credentials the server requires (OpenAI: `Authorization: Bearer <key>`; Anthropic: `x-api-key`);
   * requests without them get the vendor's 401. Ollama has no credentials and ignores it.
   */
  apiKey?: string;
  /**
   * Fields every model request starts from; what the vendor request says overrides them. E.g.
   * `{ temperature: 0 }` makes answers deterministic for clients that send no temperature (recent
   * Anthropic SDKs have none). Not `prompt`, `messages` or `signal`.
   */
  requestDefaults?: Partial<GenerateRequest>;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
}

/** A request as the server received it. */
export interface RecordedRequest {
  method: string;
  /** The path without the query. */
  path: string;
  /** The query string's parameters. */
  query: Record<string, string>;
  /** Lower-case header names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** The JSON body parsed; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  /** When the request's body had arrived (Date.now()). */
  time: number;
}

export interface WireServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly protocol: WireProtocol;
  /** Every request received, in order (faulted and refused ones included). */
  readonly requests: RecordedRequest[];
  /** Distinct TCP connections seen so far (fewer than requests: clients reused connections). */
  readonly connections: number;
  /** Faults queued and not used yet. */
  readonly pendingFaults: number;
  /** Queues a fault for the next request matching its `path` (INVALID_ARGUMENT for a bad fault). */
  inject(fault: WireFault): void;
  /** Stops listening, aborts the generations in flight, ends open connections, and resolves when all is done. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const PROTOCOLS: readonly WireProtocol[] = ['openai', 'anthropic', 'ollama'];

function checkOptions(value: unknown): WireServerOptions {
  const options = plainObject('options', value) as unknown as WireServerOptions;
  if (!PROTOCOLS.includes(options.protocol)) throw invalidArgument('options.protocol', `one of ${PROTOCOLS.join(', ')}`, options.protocol);
  const model = options.model as unknown;
  if (typeof model !== 'function' && (typeof model !== 'object' || model === null || typeof (model as ModelHandle).generate !== 'function')) {
    throw invalidArgument('options.model', 'a ModelHandle or a function from a model name to one', model);
  }
  if (options.models !== undefined) {
    if (!Array.isArray(options.models)) throw invalidArgument('options.models', 'an array of non-empty strings', options.models);
    options.models.forEach((name, index) => nonEmptyString(`options.models[${index}]`, name));
  }
  optionalString('options.apiKey', options.apiKey);
  if (options.requestDefaults !== undefined) {
    const defaults = plainObject('options.requestDefaults', options.requestDefaults);
    for (const key of ['prompt', 'messages', 'signal']) {
      if (defaults[key] !== undefined) throw invalidArgument(`options.requestDefaults.${key}`, 'no default (each request brings its own)', defaults[key]);
    }
  }
  optionalString('options.host', options.host);
  optionalInteger('options.port', options.port, 0, 65535);
  return options;
}

/** Reads the whole body (at most MAX_BODY_BYTES; more is a 413 before anything else). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size <= MAX_BODY_BYTES) parts.push(part);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
    // The client went away (or close() destroyed the socket) before the body was complete.
    req.on('close', () => {
      if (!req.complete) reject(new Error('the request was aborted before its body arrived'));
    });
  });
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Starts a loopback HTTP server that speaks `options.protocol` exactly (JSON and streaming answers,
 * error shapes, headers), answering with what `options.model` generates. For testing clients of
 * these APIs without the network; see {@link WireServer} for what it records and the faults it plays.
 */
export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const { protocol, model, apiKey } = checkOptions(options);
  const dialect = DIALECTS[protocol];
  const names = [...(options.models ?? (typeof model === 'function' ? [] : ['test-model']))];
  const context: WireContext = {
    models: names,
    resolve: (name) => (typeof model === 'function' ? model(name) : names.includes(name) ? model : undefined),
    started: new Date(),
  };
  const requests: RecordedRequest[] = [];
  const faults = new FaultQueue();
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const controllers = new Set<AbortController>();
  let connections = 0;
  let closing: Promise<void> | undefined;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    controllers.add(controller);
    // The client went away before the answer was complete: stop its generation.
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    let raw: string | undefined;
    try {
      raw = await readBody(req);
    } catch {
      controllers.delete(controller);
      res.destroy();
      return;
    }
    let body: unknown = raw === undefined || raw === '' ? undefined : raw;
    let parsed = true;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        parsed = false;
      }
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const fault = faults.take(path);
    const exchange = new WireExchange(req, res, body, fault, controller, { [dialect.requestIdHeader]: dialect.requestId() }, options.requestDefaults);
    requests.push({
      method: exchange.method,
      path,
      query: Object.fromEntries(exchange.query),
      headers: req.headers,
      body,
      time: Date.now(),
    });
    try {
      if (fault?.dropConnection === true) {
        res.socket?.destroy();
        return;
      }
      if (fault?.delayMs !== undefined) await wait(fault.delayMs, controller.signal);
      if (exchange.ended) return;
      if (fault?.status !== undefined) {
        const response = dialect.error(fault.status, fault.message);
        const retryAfter: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
        sendError(exchange, { ...response, headers: { ...response.headers, ...retryAfter } });
        return;
      }
      if (raw === undefined) throw new WireHttpError(413, 'request body too large');
      if (!parsed) throw new WireHttpError(400, 'The request body is not valid JSON.');
      const denied = dialect.authenticate(exchange, apiKey);
      if (denied !== undefined) return sendError(exchange, denied);
      await dialect.handle(exchange, context);
    } catch (error) {
      if (exchange.ended) return;
      if (error instanceof WireInputError && !exchange.headersSent) return sendError(exchange, dialect.inputError(error));
      const httpError = toHttpError(error);
      if (!exchange.headersSent) return sendError(exchange, dialect.error(httpError.status, httpError.message, httpError.details));
      if (exchange.streaming !== undefined) dialect.streamError(exchange, httpError);
    } finally {
      controllers.delete(controller);
      if (!res.writableEnded && !res.destroyed) {
        if (res.headersSent) res.end();
        else sendError(exchange, dialect.error(500));
      }
    }
  }

  const server = createServer((req, res) => {
    const task = serve(req, res).catch(() => {
      res.destroy();
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A malformed request line or header is answered by node:http itself; a reset mid-request is not an error here.
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the wire server has no TCP address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  async function close(): Promise<void> {
    closing ??= (async () => {
      faults.clear();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const controller of controllers) controller.abort();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await Promise.allSettled([...inFlight]);
      await stopped;
    })();
    return closing;
  }

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    protocol,
    requests,
    get connections() {
      return connections;
    },
    get pendingFaults() {
      return faults.size;
    },
    inject: (fault) => faults.push(fault),
    close,
    [Symbol.asyncDispose]: close,
  };
}
