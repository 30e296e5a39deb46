/**
 * The Anthropic dialect: POST /v1/messages (JSON, or SSE with `event:` names: message_start,
 * content_block_start, ping, content_block_delta, content_block_stop, message_delta, message_stop;
 * `output_config.format` JSON schemas; the older sampling fields temperature, top_p, top_k)
 * and GET /v1/models, with Anthropic's required headers (`anthropic-version`, `x-api-key`) and its
 * error body `{ type: 'error', error: { type, message } }`.
 */
import { randomBytes } from 'node:crypto';

import { isLocalModel, type ModelHandle } from '../../model/handle.js';
import type { ChatMessage, GenerateRequest, GenerationResult } from '../../model/types.js';
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
  requiredInteger,
  requiredString,
  type Body,
} from './fields.js';
import { completeGeneration, countChatTokens, matchedStop, randomId, startGeneration, toHttpError } from './generation.js';

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const DEFAULT_MESSAGES: Record<string, string> = {
  invalid_request_error: 'Invalid request',
  authentication_error: 'invalid x-api-key',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of requests has exceeded your rate limit. Please try again later.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
};

function errorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function error(status: number, message?: string, details: WireHttpError['details'] = {}): ErrorResponse {
  const type = details.type ?? errorType(status);
  return { status, body: { type: 'error', error: { type, message: message ?? DEFAULT_MESSAGES[type] ?? 'Error' } } };
}

function inputError(e: WireInputError): ErrorResponse {
  if (e.param === 'body') return error(400, 'The request body is not a JSON object.');
  if (e.problem === 'missing') return error(400, `${e.param}: Field required`);
  return error(400, `${e.param}: Input should be ${e.expected}`);
}

function authenticate(exchange: WireExchange, apiKey: string | undefined): ErrorResponse | undefined {
  if (apiKey !== undefined) {
    // The API takes the key as `x-api-key`, or as a bearer token (what recent SDKs send).
    const bearer = /^Bearer\s+(.+)$/i.exec(exchange.headers.authorization ?? '')?.[1]?.trim();
    const key = exchange.headers['x-api-key'] ?? bearer;
    if (key === undefined || key === '') return error(401, 'x-api-key header is required');
    if (key !== apiKey) return error(401, 'invalid x-api-key');
  }
  if (exchange.headers['anthropic-version'] === undefined) return error(400, 'anthropic-version: header is required');
  return undefined;
}

function modelFor(context: WireContext, body: Body): { name: string; model: ModelHandle } {
  const name = requiredString(body, 'model');
  const model = context.resolve(name);
  if (model === undefined) throw new WireHttpError(404, `model: ${name}`);
  return { name, model };
}

/** Anthropic's `system` (a string or text blocks) and `messages` as one chat. */
function chatMessages(body: Body): ChatMessage[] {
  const raw = body.messages;
  if (raw === undefined) throw new WireInputError('messages', 'missing', 'a list', undefined);
  if (!Array.isArray(raw)) throw new WireInputError('messages', 'type', 'a valid list', raw);
  if (raw.length === 0) throw new WireHttpError(400, 'messages: at least one message is required');
  const messages: ChatMessage[] = [];
  if (body.system !== undefined && body.system !== null) {
    const system = contentText(body.system, 'system');
    if (system !== '') messages.push({ role: 'system', content: system });
  }
  raw.forEach((item, index) => {
    const message = objectBody(item);
    if (message.role !== 'user' && message.role !== 'assistant') {
      throw new WireInputError(`messages.${index}.role`, 'value', "'user' or 'assistant'", message.role);
    }
    if (message.content === undefined) throw new WireInputError(`messages.${index}.content`, 'missing', 'a string or a list of blocks', undefined);
    messages.push({ role: message.role, content: contentText(message.content, `messages.${index}.content`) });
  });
  return messages;
}

function messagesRequest(body: Body, model: ModelHandle): { request: GenerateRequest; stops: string[] | undefined } {
  const maxTokens = requiredInteger(body, 'max_tokens', 1, 1_000_000);
  const messages = chatMessages(body);
  const stopValue = body.stop_sequences;
  if (stopValue !== undefined && stopValue !== null && (!Array.isArray(stopValue) || stopValue.some((s) => typeof s !== 'string'))) {
    throw new WireInputError('stop_sequences', 'type', 'a valid list of strings', stopValue);
  }
  const stops = stopValue === undefined || stopValue === null || stopValue.length === 0 ? undefined : (stopValue as string[]);
  const request: GenerateRequest = {
    messages,
    maxTokens,
    temperature: optionalNumber(body, 'temperature', 0, 1),
    topP: optionalNumber(body, 'top_p', 0, 1),
    topK: optionalInteger(body, 'top_k', 0, 1_000_000),
    stop: stops,
  };
  // Structured outputs: output_config.format = { type: 'json_schema', schema }.
  const output = optionalObject(body, 'output_config');
  const format = output === undefined ? undefined : optionalObject(output, 'format');
  if (format !== undefined) {
    if (format.type !== 'json_schema') throw new WireInputError('output_config.format.type', 'value', "'json_schema'", format.type);
    const schema = optionalObject(format, 'schema');
    if (schema === undefined) throw new WireInputError('output_config.format.schema', 'missing', 'an object', undefined);
    request.jsonSchema = schema;
  }
  // Which of several stop sequences ended the text shows in the tokens' log probabilities (matchedStop).
  if (stops !== undefined && stops.length > 1 && isLocalModel(model)) request.logprobs = true;
  return { request, stops };
}

function stopReason(result: GenerationResult): 'end_turn' | 'max_tokens' | 'stop_sequence' {
  if (result.finishReason === 'length') return 'max_tokens';
  return result.finishReason === 'stop' ? 'stop_sequence' : 'end_turn';
}

function usage(inputTokens: number, outputTokens: number): Record<string, unknown> {
  return { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

async function messages(exchange: WireExchange, context: WireContext): Promise<void> {
  const body = objectBody(exchange.body);
  const { name, model } = modelFor(context, body);
  const { request, stops } = messagesRequest(body, model);
  const stream = optionalBoolean(body, 'stream') ?? false;
  const id = randomId('msg_01');
  if (!stream) {
    const result = await completeGeneration(exchange, model, request);
    exchange.json(200, {
      id,
      type: 'message',
      role: 'assistant',
      model: name,
      content: [{ type: 'text', text: result.text }],
      stop_reason: stopReason(result),
      stop_sequence: matchedStop(result, stops),
      usage: usage(result.promptTokens, result.generatedTokens),
    });
    return;
  }
  const generation = startGeneration(exchange, model, request);
  exchange.openStream('sse');
  const message = { id, type: 'message', role: 'assistant', model: name, content: [], stop_reason: null, stop_sequence: null, usage: usage(countChatTokens(model, request.messages!), 0) };
  if (!exchange.send({ type: 'message_start', message }, 'message_start')) return;
  if (!exchange.send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start')) return;
  if (!exchange.send({ type: 'ping' }, 'ping')) return;
  for await (const piece of generation.chunks()) {
    if (piece.text === '') continue;
    if (!exchange.send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece.text } }, 'content_block_delta')) return;
  }
  const result = await generation.result.catch((e: unknown) => Promise.reject(toHttpError(e)));
  if (!exchange.send({ type: 'content_block_stop', index: 0 }, 'content_block_stop')) return;
  const delta = { stop_reason: stopReason(result), stop_sequence: matchedStop(result, stops) };
  if (!exchange.send({ type: 'message_delta', delta, usage: { output_tokens: result.generatedTokens, input_tokens: result.promptTokens } }, 'message_delta')) return;
  if (!exchange.send({ type: 'message_stop' }, 'message_stop')) return;
  exchange.endStream();
}

function modelObject(id: string, context: WireContext): Record<string, unknown> {
  return { type: 'model', id, display_name: id, created_at: context.started.toISOString() };
}

export const anthropicDialect: Dialect = {
  requestIdHeader: 'request-id',
  requestId: () => `req_01${randomBytes(12).toString('hex')}`,
  authenticate,
  error,
  inputError,
  streamError(exchange, e) {
    const response = error(e.status, e.message, e.details);
    exchange.send(response.body, 'error');
    exchange.endStream();
  },
  async handle(exchange, context) {
    const { method, path } = exchange;
    if (method === 'POST' && path === '/v1/messages') return messages(exchange, context);
    if (method === 'GET' && path === '/v1/models') {
      const limit = Math.max(1, Math.min(1000, Number(exchange.query.get('limit') ?? 20) || 20));
      const data = context.models.slice(0, limit).map((id) => modelObject(id, context));
      return exchange.json(200, { data, has_more: context.models.length > limit, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (context.resolve(id) === undefined) throw new WireHttpError(404, `model: ${id}`);
      return exchange.json(200, modelObject(id, context));
    }
    throw new WireHttpError(404, 'Not Found');
  },
};
