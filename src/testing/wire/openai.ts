/**
 * The OpenAI dialect: /v1/models, /v1/chat/completions, /v1/completions and /v1/embeddings, with
 * OpenAI's JSON objects, its SSE stream (`data: <chunk>` … `data: [DONE]`), its log probability
 * shapes and its error body `{ error: { message, type, param, code } }`.
 */
import { randomBytes } from 'node:crypto';

import type { ModelHandle } from '../../model/handle.js';
import type { ChatMessage, GenerateRequest, GenerationResult, TokenLogprob } from '../../model/types.js';
import type { Dialect, ErrorResponse, WireContext } from './dialect.js';
import type { WireExchange } from './exchange.js';
import {
  WireHttpError,
  WireInputError,
  contentText,
  jsonType,
  objectBody,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalObject,
  optionalStrings,
  requiredString,
  type Body,
} from './fields.js';
import { completeGeneration, countTokens, randomId, startGeneration, toHttpError } from './generation.js';
import { legacyLogprobs } from '../../server/openai.js';

const FINGERPRINT = 'fp_modelpool';
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Invalid request.',
  401: 'Incorrect API key provided.',
  403: 'You are not allowed to sample from this model.',
  404: 'Not found.',
  429: 'Rate limit reached for requests. Please try again later.',
  500: 'The server had an error while processing your request. Sorry about that!',
  503: 'The engine is currently overloaded, please try again later.',
};

function errorType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function error(status: number, message?: string, details: WireHttpError['details'] = {}): ErrorResponse {
  const code = details.code !== undefined ? details.code : status === 429 ? 'rate_limit_exceeded' : null;
  return {
    status,
    body: { error: { message: message ?? DEFAULT_MESSAGES[status] ?? (status >= 500 ? DEFAULT_MESSAGES[500] : DEFAULT_MESSAGES[400]), type: details.type ?? errorType(status), param: details.param ?? null, code } },
  };
}

function inputError(e: WireInputError): ErrorResponse {
  if (e.param === 'body') return error(400, "We could not parse the JSON body of your request: it is not a JSON object.");
  if (e.problem === 'missing') return error(400, `Missing required parameter: '${e.param}'.`, { param: e.param, code: 'missing_required_parameter' });
  if (e.problem === 'type') {
    return error(400, `Invalid type for '${e.param}': expected ${e.expected}, but got ${jsonType(e.received)} instead.`, { param: e.param, code: 'invalid_type' });
  }
  return error(400, `Invalid value for '${e.param}': expected ${e.expected}, but got ${JSON.stringify(e.received)} instead.`, { param: e.param, code: 'invalid_value' });
}

/** OpenAI shows a key it refuses with its middle masked. */
function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`;
}

function authenticate(exchange: WireExchange, apiKey: string | undefined): ErrorResponse | undefined {
  if (apiKey === undefined) return undefined;
  const header = exchange.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header);
  if (match === null) {
    return error(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  if (match[1]!.trim() !== apiKey) {
    return error(401, `Incorrect API key provided: ${maskKey(match[1]!.trim())}. You can find your API key at https://platform.openai.com/account/api-keys.`, { code: 'invalid_api_key' });
  }
  return undefined;
}

function modelFor(context: WireContext, body: Body): { name: string; model: ModelHandle } {
  const name = requiredString(body, 'model');
  const model = context.resolve(name);
  if (model === undefined) throw new WireHttpError(404, `The model \`${name}\` does not exist or you do not have access to it.`, { code: 'model_not_found' });
  return { name, model };
}

/** The sampling fields chat and text completions share, as a model request. */
function sampling(body: Body): GenerateRequest {
  const n = optionalInteger(body, 'n', 1, 128);
  if (n !== undefined && n > 1) throw new WireHttpError(400, 'This test server generates one choice per request (n = 1).', { param: 'n', code: 'invalid_value' });
  const stop = optionalStrings(body, 'stop');
  return {
    maxTokens: optionalInteger(body, 'max_completion_tokens', 1, 1_000_000) ?? optionalInteger(body, 'max_tokens', 1, 1_000_000),
    temperature: optionalNumber(body, 'temperature', 0, 2),
    topP: optionalNumber(body, 'top_p', 0, 1),
    frequencyPenalty: optionalNumber(body, 'frequency_penalty', -2, 2),
    presencePenalty: optionalNumber(body, 'presence_penalty', -2, 2),
    seed: optionalInteger(body, 'seed', 0, 0xfffffffe),
    stop: stop === undefined || stop.length === 0 ? undefined : stop,
  };
}

function streamOptions(body: Body): { stream: boolean; includeUsage: boolean } {
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = optionalObject(body, 'stream_options');
  return { stream, includeUsage: stream && options !== undefined && optionalBoolean(options, 'include_usage') === true };
}

function finishReason(result: GenerationResult): 'stop' | 'length' {
  return result.finishReason === 'length' ? 'length' : 'stop';
}

function usage(result: GenerationResult): Record<string, unknown> {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.generatedTokens,
    total_tokens: result.promptTokens + result.generatedTokens,
    prompt_tokens_details: { cached_tokens: result.cachedPromptTokens },
  };
}

function bytes(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

/** Chat log probabilities: `{ content: [{ token, logprob, bytes, top_logprobs }], refusal }`. */
function chatLogprobs(tokens: TokenLogprob[] | undefined): Record<string, unknown> | null {
  if (tokens === undefined) return null;
  return {
    content: tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob,
      bytes: bytes(t.text),
      top_logprobs: (t.top ?? []).map((a) => ({ token: a.text, logprob: a.logprob, bytes: bytes(a.text) })),
    })),
    refusal: null,
  };
}


function chatRequest(body: Body): GenerateRequest {
  const raw = body.messages;
  if (raw === undefined) throw new WireInputError('messages', 'missing', 'an array', undefined);
  if (!Array.isArray(raw)) throw new WireInputError('messages', 'type', 'an array', raw);
  if (raw.length === 0) throw new WireInputError('messages', 'value', 'an array with minimum length 1', raw);
  const messages: ChatMessage[] = raw.map((item, index) => {
    const message = objectBody(item);
    const role = message.role;
    if (typeof role !== 'string' || !ROLES.includes(role)) throw new WireInputError(`messages[${index}].role`, 'value', `one of ${ROLES.join(', ')}`, role);
    return { role: role === 'developer' ? 'system' : role, content: contentText(message.content, `messages[${index}].content`) };
  });
  const request: GenerateRequest = { ...sampling(body), messages };
  const logprobs = optionalBoolean(body, 'logprobs') ?? false;
  const top = optionalInteger(body, 'top_logprobs', 0, 20);
  if (top !== undefined && !logprobs) throw new WireHttpError(400, "Invalid value for 'top_logprobs': logprobs must be true to use top_logprobs.", { param: 'top_logprobs', code: 'invalid_value' });
  if (logprobs) Object.assign(request, { logprobs: true, topLogprobs: top ?? 0 });
  const format = optionalObject(body, 'response_format');
  if (format !== undefined) {
    const type = format.type;
    if (type === 'json_object') request.jsonSchema = { type: 'object' };
    else if (type === 'json_schema') {
      const spec = optionalObject(format, 'json_schema');
      if (spec === undefined) throw new WireInputError('response_format.json_schema', 'missing', 'an object', undefined);
      const schema = spec.schema;
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new WireInputError('response_format.json_schema.schema', 'type', 'an object', schema);
      }
      request.jsonSchema = schema as Record<string, unknown>;
    } else if (type !== 'text') throw new WireInputError('response_format.type', 'value', "one of 'text', 'json_object', 'json_schema'", type);
  }
  return request;
}

async function chatCompletions(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const request = chatRequest(body);
  const { stream, includeUsage } = streamOptions(body);
  if (!model.capabilities.chat) {
    throw new WireHttpError(404, 'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?', { param: 'model' });
  }
  const id = randomId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  if (!stream) {
    const result = await completeGeneration(exchange, model, request);
    exchange.json(200, {
      id,
      object: 'chat.completion',
      created,
      model: name,
      choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null, annotations: [] }, logprobs: chatLogprobs(result.logprobs), finish_reason: finishReason(result) }],
      usage: usage(result),
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
    });
    return;
  }
  const generation = startGeneration(exchange, model, request);
  const head = { id, object: 'chat.completion.chunk', created, model: name, service_tier: 'default', system_fingerprint: FINGERPRINT };
  const chunk = (choice: Record<string, unknown>) => ({ ...head, choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }], ...(includeUsage ? { usage: null } : {}) });
  exchange.openStream('sse');
  if (!exchange.send(chunk({ delta: { role: 'assistant', content: '', refusal: null } }))) return;
  for await (const piece of generation.chunks()) {
    if (piece.text === '' && piece.logprobs === undefined) continue;
    if (!exchange.send(chunk({ delta: { content: piece.text }, logprobs: chatLogprobs(piece.logprobs) }))) return;
  }
  const result = await generation.result.catch((e: unknown) => Promise.reject(toHttpError(e)));
  if (!exchange.send(chunk({ delta: {}, finish_reason: finishReason(result) }))) return;
  if (includeUsage && !exchange.send({ ...head, choices: [], usage: usage(result) })) return;
  exchange.endStream('[DONE]');
}

async function completions(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (prompt === undefined) throw new WireInputError('prompt', 'missing', 'a string', undefined);
  if (typeof prompt !== 'string') throw new WireInputError('prompt', 'type', 'a string (this test server takes one prompt)', prompt);
  if (optionalBoolean(body, 'echo') === true) throw new WireHttpError(400, 'This test server does not echo prompts.', { param: 'echo', code: 'invalid_value' });
  const request: GenerateRequest = { ...sampling(body), prompt };
  const top = optionalInteger(body, 'logprobs', 0, 5);
  if (top !== undefined) Object.assign(request, { logprobs: true, topLogprobs: top });
  const { stream, includeUsage } = streamOptions(body);
  const id = randomId('cmpl-');
  const created = Math.floor(Date.now() / 1000);
  const head = { id, object: 'text_completion', created, model: name, system_fingerprint: FINGERPRINT };
  if (!stream) {
    const result = await completeGeneration(exchange, model, request);
    const choice = { text: result.text, index: 0, logprobs: legacyLogprobs(result.logprobs, top ?? 0, prompt.length), finish_reason: finishReason(result) };
    exchange.json(200, { ...head, choices: [choice], usage: usage(result) });
    return;
  }
  const generation = startGeneration(exchange, model, request);
  const chunk = (choice: Record<string, unknown>) => ({ ...head, choices: [{ text: '', index: 0, logprobs: null, finish_reason: null, ...choice }], ...(includeUsage ? { usage: null } : {}) });
  exchange.openStream('sse');
  let offset = prompt.length;
  for await (const piece of generation.chunks()) {
    if (piece.text === '' && piece.logprobs === undefined) continue;
    if (!exchange.send(chunk({ text: piece.text, logprobs: legacyLogprobs(piece.logprobs, top ?? 0, offset) }))) return;
    offset += piece.text.length;
  }
  const result = await generation.result.catch((e: unknown) => Promise.reject(toHttpError(e)));
  if (!exchange.send(chunk({ finish_reason: finishReason(result) }))) return;
  if (includeUsage && !exchange.send({ ...head, choices: [], usage: usage(result) })) return;
  exchange.endStream('[DONE]');
}

async function embeddings(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const input = body.input;
  if (input === undefined) throw new WireInputError('input', 'missing', 'a string or an array of strings', undefined);
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((text) => typeof text !== 'string' || text === '')) {
    throw new WireInputError('input', 'value', 'a non-empty string or a non-empty array of non-empty strings (this test server takes text only)', input);
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw new WireInputError('encoding_format', 'value', "'float' or 'base64'", format);
  if (!model.capabilities.embed) {
    throw new WireHttpError(400, `The model \`${name}\` does not support embeddings.`, { param: 'model', code: 'model_not_supported' });
  }
  let vectors: Float32Array[];
  try {
    vectors = await model.embed(texts as string[]);
  } catch (e) {
    throw toHttpError(e);
  }
  const tokens = (texts as string[]).reduce((sum, text) => sum + countTokens(model, text), 0);
  exchange.json(200, {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector),
    })),
    model: name,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function modelObject(id: string, context: WireContext): Record<string, unknown> {
  return { id, object: 'model', created: Math.floor(context.started.getTime() / 1000), owned_by: 'modelpool' };
}

export const openaiDialect: Dialect = {
  requestIdHeader: 'x-request-id',
  requestId: () => `req_${randomBytes(16).toString('hex')}`,
  authenticate,
  error,
  inputError,
  streamError(exchange, e) {
    const response = error(e.status, e.message, e.details);
    exchange.send(response.body);
    exchange.endStream();
  },
  async handle(exchange, context) {
    const { method, path } = exchange;
    if (method === 'GET' && path === '/v1/models') {
      return exchange.json(200, { object: 'list', data: context.models.map((id) => modelObject(id, context)) });
    }
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (context.resolve(id) === undefined) throw new WireHttpError(404, `The model '${id}' does not exist`, { param: 'model', code: 'model_not_found' });
      return exchange.json(200, modelObject(id, context));
    }
    if (method === 'POST' && path === '/v1/chat/completions') return chatCompletions(exchange, context);
    if (method === 'POST' && path === '/v1/completions') return completions(exchange, context);
    if (method === 'POST' && path === '/v1/embeddings') return embeddings(exchange, context);
    throw new WireHttpError(404, `Invalid URL (${method} ${path})`);
  },
};
