/**
 * The Ollama dialect: GET / ("Ollama is running"), /api/version, /api/tags, /api/ps, POST /api/show,
 * /api/generate and /api/chat (NDJSON streams by default, one JSON object with `stream: false`),
 * /api/embed and the older /api/embeddings, with Ollama's error body `{ error: "message" }`.
 * Ollama has no credentials: the server's apiKey is not checked here.
 */
import { createHash } from 'node:crypto';

import type { ModelHandle } from '../../model/handle.js';
import type { ChatMessage, GenerateRequest, GenerationResult, TokenLogprob } from '../../model/types.js';
import type { Dialect, ErrorResponse, WireContext } from './dialect.js';
import type { WireExchange } from './exchange.js';
import {
  WireHttpError,
  WireInputError,
  contentText,
  objectBody,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalObject,
  optionalString,
  type Body,
} from './fields.js';
import { completeGeneration, countTokens, startGeneration, toHttpError } from './generation.js';

/** The Ollama version /api/version reports (one whose API has everything served here). */
const VERSION = '0.12.11';

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'invalid request',
  404: 'not found',
  429: 'too many requests',
  500: 'internal server error',
  503: 'server busy, please try again.  maximum pending requests exceeded',
};

function error(status: number, message?: string, details: WireHttpError['details'] = {}): ErrorResponse {
  // Ollama's router answers unknown routes in plain text ("404 page not found").
  if (details.type === 'text') return { status, body: message ?? '', text: true };
  return { status, body: { error: message ?? DEFAULT_MESSAGES[status] ?? (status >= 500 ? DEFAULT_MESSAGES[500] : DEFAULT_MESSAGES[400]) } };
}

function inputError(e: WireInputError): ErrorResponse {
  if (e.param === 'body') return error(400, 'invalid request: the body is not a JSON object');
  if (e.problem === 'missing') return error(400, `${e.param} is required`);
  return error(400, `invalid ${e.param}: expected ${e.expected}`);
}

/** The model for a name; Ollama reads `name` and `name:latest` as the same model. */
function resolveName(context: WireContext, name: string): ModelHandle | undefined {
  const alternative = name.endsWith(':latest') ? name.slice(0, -':latest'.length) : `${name}:latest`;
  return context.resolve(name) ?? context.resolve(alternative);
}

function modelFor(context: WireContext, body: Body): { name: string; model: ModelHandle } {
  const name = optionalString(body, 'model') ?? optionalString(body, 'name');
  if (name === undefined || name === '') throw new WireHttpError(400, 'model is required');
  const model = resolveName(context, name);
  if (model === undefined) throw new WireHttpError(404, `model "${name}" not found, try pulling it first`);
  return { name, model };
}

/** Reads a field of `options`, naming it `options.<field>` in errors. */
function option<T>(read: (body: Body, name: string) => T, options: Body, name: string): T {
  try {
    return read(options, name);
  } catch (e) {
    if (e instanceof WireInputError) throw new WireInputError(`options.${name}`, e.problem, e.expected, e.received);
    throw e;
  }
}

function sampling(body: Body): GenerateRequest {
  const options = optionalObject(body, 'options') ?? {};
  const numPredict = option((b, n) => optionalInteger(b, n, -2, 1_000_000), options, 'num_predict');
  const seed = option((b, n) => optionalInteger(b, n, -1, 0xfffffffe), options, 'seed');
  const stop = options.stop;
  if (stop !== undefined && (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string'))) throw new WireInputError('options.stop', 'type', 'an array of strings', stop);
  const request: GenerateRequest = {
    maxTokens: numPredict === undefined || numPredict <= 0 ? undefined : numPredict,
    temperature: option((b, n) => optionalNumber(b, n, 0, 100), options, 'temperature'),
    topP: option((b, n) => optionalNumber(b, n, 0, 1), options, 'top_p'),
    topK: option((b, n) => optionalInteger(b, n, 0, 1_000_000), options, 'top_k'),
    minP: option((b, n) => optionalNumber(b, n, 0, 1), options, 'min_p'),
    repeatPenalty: option((b, n) => optionalNumber(b, n, 0.01, 100), options, 'repeat_penalty'),
    repeatLastN: option((b, n) => optionalInteger(b, n, 0, 1_000_000), options, 'repeat_last_n'),
    presencePenalty: option((b, n) => optionalNumber(b, n, -100, 100), options, 'presence_penalty'),
    frequencyPenalty: option((b, n) => optionalNumber(b, n, -100, 100), options, 'frequency_penalty'),
    seed: seed === undefined || seed < 0 ? undefined : seed,
    stop: stop === undefined || stop.length === 0 ? undefined : (stop as string[]),
  };
  const format = body.format;
  if (format === 'json') request.jsonSchema = { type: 'object' };
  else if (typeof format === 'object' && format !== null && !Array.isArray(format)) request.jsonSchema = format as Record<string, unknown>;
  else if (format !== undefined && format !== null && format !== '') throw new WireHttpError(400, `invalid format: expected "json" or a JSON schema`);
  const logprobs = optionalBoolean(body, 'logprobs') ?? false;
  const top = optionalInteger(body, 'top_logprobs', 0, 20);
  if (logprobs) Object.assign(request, { logprobs: true, topLogprobs: top ?? 0 });
  return request;
}

function logprobs(tokens: TokenLogprob[] | undefined): Record<string, unknown> {
  if (tokens === undefined) return {};
  return {
    logprobs: tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob,
      bytes: [...Buffer.from(t.text, 'utf8')],
      top_logprobs: (t.top ?? []).map((a) => ({ token: a.text, logprob: a.logprob, bytes: [...Buffer.from(a.text, 'utf8')] })),
    })),
  };
}

const NS_PER_MS = 1_000_000;

/** The final line's fields: why it stopped, token counts and durations in nanoseconds. */
function summary(result: GenerationResult): Record<string, unknown> {
  const promptMs = Math.max(0, result.timeToFirstTokenMs - result.queuedMs);
  return {
    done: true,
    done_reason: result.finishReason === 'length' ? 'length' : 'stop',
    total_duration: Math.round(result.totalMs * NS_PER_MS),
    load_duration: 0,
    prompt_eval_count: result.promptTokens,
    prompt_eval_duration: Math.round(promptMs * NS_PER_MS),
    eval_count: result.generatedTokens,
    eval_duration: Math.round(Math.max(0, result.totalMs - result.timeToFirstTokenMs) * NS_PER_MS),
  };
}

/**
 * Runs a generation and answers as Ollama does: NDJSON lines `piece(text)` then a final line, or with
 * `stream: false` one object holding the whole text.
 */
async function answer(exchange: WireExchange, model: ModelHandle, request: GenerateRequest, stream: boolean, piece: (text: string) => Record<string, unknown>): Promise<void> {
  if (!stream) {
    const result = await completeGeneration(exchange, model, request);
    exchange.json(200, { ...piece(result.text), ...summary(result), ...logprobs(result.logprobs) });
    return;
  }
  const generation = startGeneration(exchange, model, request);
  exchange.openStream('ndjson');
  for await (const chunk of generation.chunks()) {
    if (chunk.text === '' && chunk.logprobs === undefined) continue;
    if (!exchange.send({ ...piece(chunk.text), done: false, ...logprobs(chunk.logprobs) })) return;
  }
  const result = await generation.result.catch((e: unknown) => Promise.reject(toHttpError(e)));
  if (!exchange.send({ ...piece(''), ...summary(result) })) return;
  exchange.endStream();
}

async function generate(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const prompt = optionalString(body, 'prompt') ?? '';
  const system = optionalString(body, 'system');
  const raw = optionalBoolean(body, 'raw') ?? false;
  const stream = optionalBoolean(body, 'stream') ?? true;
  const request = sampling(body);
  const piece = (text: string) => ({ model: name, created_at: new Date().toISOString(), response: text });
  // An empty prompt only loads the model.
  if (prompt === '' && system === undefined) return exchange.json(200, { ...piece(''), done: true, done_reason: 'load' });
  // A system prompt goes through the model's chat template, as Ollama's template would take it; else the prompt is raw.
  if (system !== undefined && !raw) request.messages = [{ role: 'system', content: system }, { role: 'user', content: prompt }];
  else request.prompt = prompt;
  return answer(exchange, model, request, stream, piece);
}

async function chat(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const raw = body.messages ?? [];
  if (!Array.isArray(raw)) throw new WireInputError('messages', 'type', 'an array of messages', raw);
  const stream = optionalBoolean(body, 'stream') ?? true;
  const request = sampling(body);
  const piece = (text: string) => ({ model: name, created_at: new Date().toISOString(), message: { role: 'assistant', content: text } });
  if (raw.length === 0) return exchange.json(200, { ...piece(''), done: true, done_reason: 'load' });
  request.messages = raw.map((item, index): ChatMessage => {
    const message = objectBody(item);
    const role = message.role;
    if (typeof role !== 'string' || role === '') throw new WireInputError(`messages[${index}].role`, 'missing', 'a string', role);
    return { role, content: contentText(message.content, `messages[${index}].content`) };
  });
  return answer(exchange, model, request, stream, piece);
}

async function embed(exchange: WireExchange, context: WireContext, legacy: boolean): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const input = legacy ? body.prompt : body.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((text) => typeof text !== 'string')) {
    throw new WireInputError(legacy ? 'prompt' : 'input', input === undefined ? 'missing' : 'type', 'a string or an array of strings', input);
  }
  if (!model.capabilities.embed) throw new WireHttpError(400, `"${name}" does not support embeddings`);
  const started = performance.now();
  let vectors: Float32Array[];
  try {
    vectors = await model.embed(texts as string[]);
  } catch (e) {
    throw toHttpError(e);
  }
  if (legacy) return exchange.json(200, { embedding: Array.from(vectors[0] ?? []) });
  exchange.json(200, {
    model: name,
    embeddings: vectors.map((vector) => Array.from(vector)),
    total_duration: Math.round((performance.now() - started) * NS_PER_MS),
    load_duration: 0,
    prompt_eval_count: (texts as string[]).reduce((sum, text) => sum + countTokens(model, text), 0),
  });
}

/** "292.80K", "1.1B": Ollama's parameter size. */
function parameterSize(count: unknown): string {
  if (typeof count !== 'number' || count <= 0) return '';
  const [unit, scale] = count >= 1e9 ? ['B', 1e9] : count >= 1e6 ? ['M', 1e6] : ['K', 1e3];
  return `${(count / (scale as number)).toFixed(2)}${unit as string}`;
}

function details(model: ModelHandle): Record<string, unknown> {
  const family = model.info.architecture ?? 'unknown';
  const info = model.info as unknown as Record<string, unknown>;
  return { parent_model: '', format: 'gguf', family, families: [family], parameter_size: parameterSize(info.parameterCount), quantization_level: '' };
}

function entry(name: string, model: ModelHandle, context: WireContext): Record<string, unknown> {
  const info = model.info as unknown as Record<string, unknown>;
  return {
    name,
    model: name,
    modified_at: context.started.toISOString(),
    size: typeof info.sizeBytes === 'number' ? info.sizeBytes : 0,
    digest: createHash('sha256').update(name).digest('hex'),
    details: details(model),
  };
}

function listed(context: WireContext): Array<[string, ModelHandle]> {
  return context.models.flatMap((name): Array<[string, ModelHandle]> => {
    const model = context.resolve(name);
    return model === undefined ? [] : [[name, model]];
  });
}

function show(exchange: WireExchange, context: WireContext): void {
  const { model } = modelFor(context, objectBody(exchange.body));
  const info = model.info as unknown as Record<string, unknown>;
  const architecture = model.info.architecture ?? 'unknown';
  const modelInfo: Record<string, unknown> = { 'general.architecture': architecture, 'general.parameter_count': info.parameterCount ?? 0 };
  modelInfo[`${architecture}.context_length`] = info.trainContextSize ?? model.info.contextSize;
  if (info.embeddingSize !== undefined) modelInfo[`${architecture}.embedding_length`] = info.embeddingSize;
  if (info.layers !== undefined) modelInfo[`${architecture}.block_count`] = info.layers;
  const capabilities = [...(model.capabilities.generate ? ['completion'] : []), ...(model.capabilities.embed ? ['embedding'] : [])];
  exchange.json(200, { license: '', modelfile: '', parameters: '', template: '{{ .Prompt }}', details: details(model), model_info: modelInfo, capabilities, modified_at: context.started.toISOString() });
}

export const ollamaDialect: Dialect = {
  requestIdHeader: 'x-request-id',
  requestId: () => createHash('sha256').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 32),
  authenticate: () => undefined,
  error,
  inputError,
  streamError(exchange, e) {
    exchange.send(error(e.status, e.message).body);
    exchange.endStream();
  },
  async handle(exchange, context) {
    const { method, path } = exchange;
    const read = method === 'GET' || method === 'HEAD';
    if (read && path === '/') return exchange.text(200, 'Ollama is running');
    if (read && path === '/api/version') return exchange.json(200, { version: VERSION });
    if (read && path === '/api/tags') return exchange.json(200, { models: listed(context).map(([name, model]) => entry(name, model, context)) });
    if (read && path === '/api/ps') {
      const expires = new Date(Date.now() + 5 * 60_000).toISOString();
      const loaded = listed(context).filter(([, model]) => !model.disposed);
      return exchange.json(200, { models: loaded.map(([name, model]) => ({ ...entry(name, model, context), expires_at: expires, size_vram: 0, context_length: model.info.contextSize })) });
    }
    if (method === 'POST' && path === '/api/show') return show(exchange, context);
    if (method === 'POST' && path === '/api/generate') return generate(exchange, context);
    if (method === 'POST' && path === '/api/chat') return chat(exchange, context);
    if (method === 'POST' && path === '/api/embed') return embed(exchange, context, false);
    if (method === 'POST' && path === '/api/embeddings') return embed(exchange, context, true);
    throw new WireHttpError(404, '404 page not found', { type: 'text' });
  },
};
