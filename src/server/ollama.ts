/**
 * Ollama's API over the front door, the subset its clients and UIs use: /api/tags, /api/ps, /api/show,
 * /api/version, /api/chat and /api/generate (NDJSON streams by default, one JSON with `stream: false`),
 * /api/embed and the older /api/embeddings. A tag names a registered version (`name:2`; `:latest` or none:
 * the default one). `keep_alive` sets how long the model stays loaded after the
 * request (Ollama's durations: seconds as a number, "5m", "1h30m", "0", negative = forever; absent = the
 * configured default); a generate without a prompt or a chat without messages loads the model
 * (`done_reason: "load"`), or unloads it with `keep_alive: 0` (`"unload"`). Models are described from the
 * registry's metadata (size, architecture, parameters, quantisation, context length, capabilities from the
 * tasks). Errors are `{ error: "..." }`. Durations are nanoseconds, as Ollama reports them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArgument } from '../errors.js';
import type { ChatMessage, GenerateRequest } from '../model/types.js';
import type { ModelVersion, RegisteredModel } from '../registry/index.js';
import { poolId, type FrontDoor, type FrontDoorRequest, type FrontDoorResult } from '../runtime/index.js';
import type { Caller } from './auth.js';
import { httpError } from './errors.js';
import { abortOnDisconnect, sendStream } from './stream.js';

type Body = Record<string, unknown>;
const VERSION = '0.6.0';

function object(field: string, value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, 'an object', value);
  return value as Body;
}

/** A model as Ollama names it: `name:tag`, the tag a registered version (`latest`, or none: the default one). */
interface OllamaName {
  name: string;
  version?: string;
  /** How answers name it: `name:tag`. */
  label: string;
}

function modelNameIn(body: Body, known: (name: string) => boolean): OllamaName {
  if (typeof body.model !== 'string' || body.model.length === 0) throw invalidArgument('model', 'a model name', body.model);
  const text = body.model;
  // A registered id (or alias) that holds a colon itself is taken whole.
  if (text.includes(':') && known(text)) return { name: text, label: text };
  const colon = text.lastIndexOf(':');
  // A colon before the last '/' belongs to a host name ('host:port/name'), not to a tag.
  if (colon <= text.lastIndexOf('/') || colon === text.length - 1) return { name: text, label: `${text}:latest` };
  const name = text.slice(0, colon);
  const tag = text.slice(colon + 1);
  return tag === 'latest' ? { name, label: text } : { name, version: tag, label: text };
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

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Ollama's `keep_alive` as the front door's keepAliveMs: a number is seconds, a string a Go duration
 * ("300ms", "5m", "1h30m", "0") or a number of seconds; negative keeps the model loaded (-1); absent or
 * null goes back to the configured keep-alive.
 */
export function keepAliveOf(value: unknown): number | 'default' {
  if (value === undefined || value === null) return 'default';
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000;
  else if (typeof value === 'string') {
    const text = value.trim();
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text)) ms = Number(text) * 1000;
    else {
      const match = /^([+-]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
      if (match !== null) {
        ms = 0;
        for (const [, amount, unit] of match[2]!.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(amount) * DURATION_UNITS[unit!]!;
        if (match[1] === '-') ms = -ms;
      }
    }
  }
  if (ms === undefined || !Number.isFinite(ms)) throw invalidArgument('keep_alive', 'a duration: seconds as a number, or a string like "5m", "1h30m" or "0"', value);
  return ms < 0 ? -1 : Math.min(Math.round(ms), Number.MAX_SAFE_INTEGER);
}

/** "260K", "1.1B", "7B": a parameter count as Ollama writes it. */
function parameterSize(count: number | undefined): string {
  if (count === undefined || !(count > 0)) return '';
  const [scale, suffix] = count >= 1e12 ? [1e12, 'T'] : count >= 1e9 ? [1e9, 'B'] : count >= 1e6 ? [1e6, 'M'] : count >= 1e3 ? [1e3, 'K'] : [1, ''];
  const value = count / scale;
  return `${value >= 100 ? Math.round(value) : Number(value.toPrecision(2))}${suffix}`;
}

/** Ollama's capability names for a model's tasks. */
function capabilities(model: RegisteredModel): string[] {
  const out: string[] = [];
  if (model.tasks.some((task) => task !== 'embedding')) out.push('completion');
  if (model.tasks.includes('embedding')) out.push('embedding');
  return out;
}

function details(version: ModelVersion | undefined): Body {
  const metadata = version?.metadata;
  const family = metadata?.architecture ?? '';
  return {
    parent_model: '',
    format: metadata?.format ?? version?.source.kind ?? '',
    family,
    families: family === '' ? null : [family],
    parameter_size: parameterSize(metadata?.parameterCount),
    quantization_level: metadata?.fileType ?? metadata?.quantization ?? '',
  };
}

function route(ref: OllamaName, caller: Caller | undefined): Partial<FrontDoorRequest> {
  const out: Partial<FrontDoorRequest> = { model: ref.name };
  if (ref.version !== undefined) out.version = ref.version;
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
  const modelName = (body: Body): OllamaName => modelNameIn(body, (name) => door.registry.has(name) || door.pool.models().includes(name));
  /**
   * A listing entry for a pool id or a registry model — 'id' (its default version, `id:latest`) or
   * 'id@version' (`id:version`) — described from the registry when it has them.
   */
  const entry = (id: string, size?: number) => {
    const at = id.lastIndexOf('@');
    const tagged = at > 0 && !door.registry.has(id) && door.registry.has(id.slice(0, at));
    const name = tagged ? id.slice(0, at) : id;
    const model = door.registry.has(name) ? door.registry.get(name) : undefined;
    const version = model === undefined ? undefined : tagged ? model.versions.find((v) => v.version === id.slice(at + 1)) : door.registry.resolve(name).version;
    const label = `${model?.id ?? id}:${tagged ? id.slice(at + 1) : 'latest'}`;
    return {
      name: label,
      model: label,
      modified_at: new Date(model?.updatedAt ?? Date.now()).toISOString(),
      size: size ?? version?.metadata?.sizeBytes ?? 0,
      digest: '',
      details: details(version),
    };
  };
  /** The pool id of a model a request names (a registry id or alias, and version; else the pool's own id). */
  const poolIdOf = (ref: OllamaName): string => {
    if (!door.registry.has(ref.name)) {
      if (ref.version !== undefined) door.registry.resolve(ref.name, ref.version); // MODEL_NOT_FOUND naming it
      return ref.name;
    }
    const { model, version } = door.registry.resolve(ref.name, ref.version);
    return poolId(model, version.version);
  };
  /** A request without a prompt or messages: loads the model, or unloads it with keep_alive 0. */
  const loadOrUnload = async (ref: OllamaName, keepAlive: number | 'default', piece: Body): Promise<Body> => {
    const id = poolIdOf(ref);
    const started = performance.now();
    let reason: 'load' | 'unload';
    if (keepAlive === 0) {
      if (door.pool.models().includes(id)) await door.pool.unload(id);
      else door.registry.resolve(ref.name, ref.version); // MODEL_NOT_FOUND for a model nobody knows
      reason = 'unload';
    } else {
      // Set while the lease is held: the clock starts with it at the release.
      const lease = await door.pool.acquire(id);
      try {
        door.pool.setKeepAlive(id, keepAlive === 'default' ? undefined : keepAlive);
      } finally {
        lease.release();
      }
      reason = 'load';
    }
    const took = performance.now() - started;
    return { model: ref.label, created_at: new Date().toISOString(), ...piece, done: true, done_reason: reason, total_duration: ns(took), load_duration: reason === 'load' ? ns(took) : 0 };
  };

  app.get('/api/version', async () => ({ version: VERSION }));
  // Each model under ':latest' (its default version) and each version under its own tag.
  app.get('/api/tags', async () => ({ models: door.registry.list().flatMap((m) => [entry(m.id), ...m.versions.map((v) => entry(`${m.id}@${v.version}`))]) }));
  app.get('/api/ps', async () => ({
    models: door.pool
      .status()
      .models.filter((m) => m.state === 'ready')
      .map((m) => ({ ...entry(m.id, m.sizeBytes), size_vram: 0, expires_at: m.expiresAt === null ? '0001-01-01T00:00:00Z' : new Date(m.expiresAt).toISOString() })),
  }));
  app.post('/api/show', async (request) => {
    const ref = modelName(object('body', request.body));
    const { model, version } = door.registry.resolve(ref.name, ref.version);
    const metadata = version.metadata;
    const arch = metadata?.architecture;
    const info: Body = { 'general.architecture': arch ?? '' };
    if (metadata?.name !== undefined) info['general.basename'] = metadata.name;
    if (metadata?.parameterCount !== undefined) info['general.parameter_count'] = metadata.parameterCount;
    if (arch !== undefined) {
      const numbers: Array<[string, number | undefined]> = [
        ['context_length', version.contextLength],
        ['embedding_length', metadata?.embeddingSize],
        ['block_count', metadata?.layers],
        ['attention.head_count', metadata?.heads],
        ['attention.head_count_kv', metadata?.kvHeads],
        ['expert_count', metadata?.expertCount],
      ];
      for (const [key, value] of numbers) if (value !== undefined) info[`${arch}.${key}`] = value;
    }
    return {
      modelfile: '',
      parameters: '',
      template: '',
      details: details(version),
      model_info: info,
      capabilities: capabilities(model),
      modified_at: new Date(model.updatedAt).toISOString(),
    };
  });
  app.post('/api/generate', async (request, reply) => {
    const body = object('body', request.body);
    const ref = modelName(body);
    const keepAliveMs = keepAliveOf(body.keep_alive);
    if (body.prompt === undefined || body.prompt === '') return loadOrUnload(ref, keepAliveMs, { response: '' });
    if (typeof body.prompt !== 'string') throw invalidArgument('prompt', 'a string', body.prompt);
    const req: FrontDoorRequest = { ...route(ref, callerOf(request)), ...options(body), prompt: body.prompt, keepAliveMs };
    return run(door, request, reply, ref.label, req, body, (text) => ({ response: text }));
  });
  app.post('/api/chat', async (request, reply) => {
    const body = object('body', request.body);
    const ref = modelName(body);
    const keepAliveMs = keepAliveOf(body.keep_alive);
    if (body.messages === undefined || (Array.isArray(body.messages) && body.messages.length === 0)) return loadOrUnload(ref, keepAliveMs, { message: { role: 'assistant', content: '' } });
    if (!Array.isArray(body.messages)) throw invalidArgument('messages', 'an array of messages', body.messages);
    const messages: ChatMessage[] = body.messages.map((m, i) => {
      const message = object(`messages[${i}]`, m);
      if (typeof message.role !== 'string' || typeof message.content !== 'string') throw invalidArgument(`messages[${i}]`, 'a role and a content string', m);
      return { role: message.role, content: message.content };
    });
    const req: FrontDoorRequest = { ...route(ref, callerOf(request)), ...options(body), messages, keepAliveMs };
    return run(door, request, reply, ref.label, req, body, (text) => ({ message: { role: 'assistant', content: text } }));
  });
  app.post('/api/embed', async (request, reply) => {
    const body = object('body', request.body);
    const ref = modelName(body);
    const input = body.input;
    if (!(typeof input === 'string' || (Array.isArray(input) && input.every((t) => typeof t === 'string')))) throw invalidArgument('input', 'a string or an array of strings', input);
    const keepAliveMs = keepAliveOf(body.keep_alive);
    const r = await door.embed({ ...route(ref, callerOf(request)), input: input as string | string[], keepAliveMs, signal: abortOnDisconnect(reply) });
    return { model: ref.label, embeddings: r.embeddings.map((e) => [...e]), total_duration: ns(r.cost.wallMs), load_duration: 0, prompt_eval_count: r.cost.promptTokens };
  });
  // The older single-text endpoint (the clients' embeddings()): { prompt } → { embedding }.
  app.post('/api/embeddings', async (request, reply) => {
    const body = object('body', request.body);
    const ref = modelName(body);
    const keepAliveMs = keepAliveOf(body.keep_alive);
    if (body.prompt === undefined || body.prompt === '') {
      await loadOrUnload(ref, keepAliveMs, {});
      return { embedding: [] };
    }
    if (typeof body.prompt !== 'string') throw invalidArgument('prompt', 'a string', body.prompt);
    const r = await door.embed({ ...route(ref, callerOf(request)), input: body.prompt, keepAliveMs, signal: abortOnDisconnect(reply) });
    return { embedding: [...r.embeddings[0]!] };
  });
}
