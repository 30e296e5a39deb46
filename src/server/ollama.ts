/**
 * Ollama's API over the front door, the subset its clients and UIs use: /api/tags, /api/ps, /api/show,
 * /api/version, /api/chat and /api/generate (NDJSON streams by default, one JSON with `stream: false`),
 * /api/embed. Errors are `{ error: "..." }`. Durations are nanoseconds, as Ollama reports them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArgument } from '../errors.js';
import type { ChatMessage, GenerateRequest } from '../model/types.js';
import type { FrontDoor, FrontDoorRequest, FrontDoorResult } from '../runtime/index.js';
import type { Caller } from './auth.js';
import { httpError } from './errors.js';
import { abortOnDisconnect, sendStream } from './stream.js';

type Body = Record<string, unknown>;
const VERSION = '0.6.0';

function object(field: string, value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, 'an object', value);
  return value as Body;
}

function modelName(body: Body): string {
  if (typeof body.model !== 'string' || body.model.length === 0) throw invalidArgument('model', 'a model name', body.model);
  // Ollama's names carry a tag; ':latest' is the default version.
  return body.model.replace(/:latest$/, '');
}

/** Ollama's `options` as sampling fields. */
function options(body: Body): Partial<GenerateRequest> {
  const o = body.options === undefined ? {} : object('options', body.options);
  const out: Partial<GenerateRequest> = {};
  const map: Array<[string, keyof GenerateRequest]> = [
    ['num_predict', 'maxTokens'],
    ['temperature', 'temperature'],
    ['top_p', 'topP'],
    ['top_k', 'topK'],
    ['min_p', 'minP'],
    ['repeat_penalty', 'repeatPenalty'],
    ['repeat_last_n', 'repeatLastN'],
    ['frequency_penalty', 'frequencyPenalty'],
    ['presence_penalty', 'presencePenalty'],
    ['seed', 'seed'],
  ];
  for (const [from, to] of map) {
    const value = o[from];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(`options.${from}`, 'a number', value);
    (out as Record<string, unknown>)[to] = value;
  }
  // Ollama's num_predict -1 means "until the context is full": leave the default.
  if (out.maxTokens !== undefined && out.maxTokens < 1) delete out.maxTokens;
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string')) throw invalidArgument('options.stop', 'an array of strings', o.stop);
    out.stop = o.stop as string[];
  }
  if (body.format !== undefined && body.format !== '') out.jsonSchema = body.format === 'json' ? { type: 'object' } : object('format', body.format);
  return out;
}

function route(name: string, caller: Caller | undefined): Partial<FrontDoorRequest> {
  const out: Partial<FrontDoorRequest> = { model: name };
  if (caller?.tenant !== undefined) out.tenant = caller.tenant;
  if (caller !== undefined) out.caller = caller.name;
  return out;
}

function ns(ms: number): number {
  return Math.round(ms * 1e6);
}

function final(name: string, r: FrontDoorResult): Body {
  return {
    model: name,
    created_at: new Date().toISOString(),
    done: true,
    done_reason: r.finishReason === 'length' ? 'length' : 'stop',
    total_duration: ns(r.cost.wallMs),
    load_duration: 0,
    prompt_eval_count: r.promptTokens,
    prompt_eval_duration: ns(r.timeToFirstTokenMs),
    eval_count: r.generatedTokens,
    eval_duration: ns(Math.max(0, r.totalMs - r.timeToFirstTokenMs)),
  };
}

async function run(door: FrontDoor, request: FastifyRequest, reply: FastifyReply, name: string, req: FrontDoorRequest, body: Body, piece: (text: string) => Body): Promise<unknown> {
  const signal = abortOnDisconnect(reply);
  if (body.stream === false) {
    const r = await door.complete({ ...req, signal });
    return { ...piece(r.text), ...final(name, r) };
  }
  const stream = door.generate({ ...req, signal });
  const iterator = stream[Symbol.asyncIterator]();
  // Until the first chunk a failure is an HTTP error with its status; after it, an error line.
  const first = await iterator.next();
  await sendStream(
    reply,
    'ndjson',
    async (send) => {
      for (let next = first; next.done !== true; next = await iterator.next()) send({ model: name, created_at: new Date().toISOString(), ...piece(next.value), done: false });
      const r = await stream.result;
      send({ ...piece(''), ...final(name, r) });
    },
    (error) => ({ error: httpError(error).message }),
  );
  void request;
  return reply;
}

export function ollamaRoutes(app: FastifyInstance, door: FrontDoor, callerOf: (request: FastifyRequest) => Caller | undefined): void {
  const started = new Date().toISOString();
  const entry = (name: string, size: number) => ({ name: `${name}:latest`, model: `${name}:latest`, modified_at: started, size, digest: '', details: { format: 'gguf', family: '', families: null, parameter_size: '', quantization_level: '' } });

  app.get('/api/version', async () => ({ version: VERSION }));
  app.get('/api/tags', async () => ({ models: door.registry.list().map((m) => entry(m.id, 0)) }));
  app.get('/api/ps', async () => ({
    models: door.pool
      .status()
      .models.filter((m) => m.state === 'ready')
      .map((m) => ({ ...entry(m.id, m.sizeBytes), size_vram: 0, expires_at: m.expiresAt === null ? '0001-01-01T00:00:00Z' : new Date(m.expiresAt).toISOString() })),
  }));
  app.post('/api/show', async (request) => {
    const name = modelName(object('body', request.body));
    const model = door.registry.resolve(name);
    return { modelfile: '', parameters: '', template: '', details: entry(model.model.id, 0).details, model_info: { 'general.architecture': model.version.metadata?.architecture ?? '' }, capabilities: ['completion'] };
  });
  app.post('/api/generate', async (request, reply) => {
    const body = object('body', request.body);
    const name = modelName(body);
    if (typeof body.prompt !== 'string') throw invalidArgument('prompt', 'a string', body.prompt);
    const req: FrontDoorRequest = { ...route(name, callerOf(request)), ...options(body), prompt: body.prompt };
    return run(door, request, reply, `${name}:latest`, req, body, (text) => ({ response: text }));
  });
  app.post('/api/chat', async (request, reply) => {
    const body = object('body', request.body);
    const name = modelName(body);
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalidArgument('messages', 'a non-empty array of messages', body.messages);
    const messages: ChatMessage[] = body.messages.map((m, i) => {
      const message = object(`messages[${i}]`, m);
      if (typeof message.role !== 'string' || typeof message.content !== 'string') throw invalidArgument(`messages[${i}]`, 'a role and a content string', m);
      return { role: message.role, content: message.content };
    });
    const req: FrontDoorRequest = { ...route(name, callerOf(request)), ...options(body), messages };
    return run(door, request, reply, `${name}:latest`, req, body, (text) => ({ message: { role: 'assistant', content: text } }));
  });
  app.post('/api/embed', async (request, reply) => {
    const body = object('body', request.body);
    const name = modelName(body);
    const input = body.input;
    if (!(typeof input === 'string' || (Array.isArray(input) && input.every((t) => typeof t === 'string')))) throw invalidArgument('input', 'a string or an array of strings', input);
    const r = await door.embed({ ...route(name, callerOf(request)), input: input as string | string[], signal: abortOnDisconnect(reply) });
    return { model: `${name}:latest`, embeddings: r.embeddings.map((e) => [...e]), total_duration: ns(r.cost.wallMs), load_duration: 0, prompt_eval_count: r.cost.promptTokens };
  });
}
