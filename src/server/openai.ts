/**
 * OpenAI's API over the front door: /v1/models (a registered model by its id, each version other than the
 * default as `id@version`), /v1/chat/completions and /v1/completions (JSON or SSE
 * streams ending with `data: [DONE]`), /v1/embeddings (floats or base64). A request names a model, or
 * `"auto"` (or none) with the extension field `modelpool: { task, constraints, objective, tags }` to
 * have the selector choose; the answer's `modelpool` field says which model served it, its cost and
 * how it was chosen. A client that disconnects mid-stream aborts its generation.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArgument } from '../errors.js';
import type { ChatMessage, FinishReason, GenerateRequest, TokenLogprob } from '../model/types.js';
import { poolId, type FrontDoor, type FrontDoorRequest, type FrontDoorResult, type Routed } from '../runtime/index.js';
import { openAIErrorBody, httpError } from './errors.js';
import type { Caller } from './auth.js';
import { abortOnDisconnect, sendStream } from './stream.js';

type Body = Record<string, unknown>;

function object(field: string, value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, 'an object', value);
  return value as Body;
}

function optionalNumberField(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw invalidArgument(name, `a number between ${min} and ${max}`, value);
  return value;
}

function optionalIntegerField(body: Body, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = optionalNumberField(body, name, min, max);
  if (value !== undefined && !Number.isInteger(value)) throw invalidArgument(name, 'an integer', value);
  return value;
}

/** An OpenAI chat message as modelpool's. */
function chatMessage(value: unknown, index: number): ChatMessage {
  const m = object(`messages[${index}]`, value);
  if (typeof m.role !== 'string' || m.role.length === 0) throw invalidArgument(`messages[${index}].role`, 'a role', m.role);
  // OpenAI's 'developer' role is the system prompt of newer models.
  const role = m.role === 'developer' ? 'system' : m.role;
  const content = m.content;
  if (content !== null && content !== undefined && typeof content !== 'string' && !Array.isArray(content)) throw invalidArgument(`messages[${index}].content`, 'a string, an array of parts or null', content);
  const message: ChatMessage = { role, content: (content ?? null) as ChatMessage['content'] };
  if (typeof m.name === 'string') message.name = m.name;
  if (typeof m.tool_call_id === 'string') message.toolCallId = m.tool_call_id;
  if (Array.isArray(m.tool_calls)) {
    message.toolCalls = (m.tool_calls as Array<{ id?: string; function?: { name?: string; arguments?: string } }>).map((call, i) => {
      if (typeof call?.function?.name !== 'string') throw invalidArgument(`messages[${index}].tool_calls[${i}].function.name`, 'a string', call?.function?.name);
      return { ...(call.id !== undefined ? { id: call.id } : {}), type: 'function' as const, function: { name: call.function.name, arguments: call.function.arguments ?? '{}' } };
    });
  }
  return message;
}

/** The routing part: a named model, or a selection by the extension field. */
function routing(body: Body, defaultTask: string, caller: Caller | undefined): Partial<FrontDoorRequest> {
  const out: Partial<FrontDoorRequest> = {};
  const ext = body.modelpool === undefined ? {} : object('modelpool', body.modelpool);
  if (body.model !== undefined && body.model !== 'auto') {
    if (typeof body.model !== 'string' || body.model.length === 0) throw invalidArgument('model', 'a model name, or "auto"', body.model);
    out.model = body.model;
  } else {
    out.task = (ext.task as string | undefined) ?? defaultTask;
    if (ext.constraints !== undefined) out.constraints = ext.constraints as FrontDoorRequest['constraints'];
    if (ext.objective !== undefined) out.objective = ext.objective as FrontDoorRequest['objective'];
  }
  if (ext.tags !== undefined) out.tags = ext.tags as string[];
  if (ext.version !== undefined) out.version = ext.version as string;
  // A caller key's tenant wins over what the request says.
  const tenant = caller?.tenant ?? (ext.tenant as string | undefined) ?? (typeof body.user === 'string' && body.user.length > 0 ? body.user : undefined);
  if (tenant !== undefined) out.tenant = tenant;
  if (caller !== undefined) out.caller = caller.name;
  return out;
}

/** Sampling and output controls shared by chat and completions. */
function sampling(body: Body): Partial<GenerateRequest> {
  const out: Partial<GenerateRequest> = {};
  const maxTokens = optionalIntegerField(body, 'max_completion_tokens', 1) ?? optionalIntegerField(body, 'max_tokens', 1);
  if (maxTokens !== undefined) out.maxTokens = maxTokens;
  const temperature = optionalNumberField(body, 'temperature', 0, 2);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = optionalNumberField(body, 'top_p', 0, 1);
  if (topP !== undefined) out.topP = topP;
  const seed = optionalIntegerField(body, 'seed', Number.MIN_SAFE_INTEGER);
  if (seed !== undefined) out.seed = seed;
  const frequency = optionalNumberField(body, 'frequency_penalty', -2, 2);
  if (frequency !== undefined) out.frequencyPenalty = frequency;
  const presence = optionalNumberField(body, 'presence_penalty', -2, 2);
  if (presence !== undefined) out.presencePenalty = presence;
  if (body.stop !== undefined && body.stop !== null) {
    const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string')) throw invalidArgument('stop', 'a string or an array of strings', body.stop);
    out.stop = stop as string[];
  }
  if (body.response_format !== undefined && body.response_format !== null) {
    const format = object('response_format', body.response_format);
    if (format.type === 'json_schema') {
      const schema = object('response_format.json_schema', format.json_schema).schema;
      out.jsonSchema = object('response_format.json_schema.schema', schema);
    } else if (format.type === 'json_object') out.jsonSchema = { type: 'object' };
    else if (format.type !== 'text') throw invalidArgument('response_format.type', "'text', 'json_object' or 'json_schema'", format.type);
  }
  return out;
}

function id(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('base64url')}`;
}

function finishReason(reason: FinishReason, toolCalls: boolean): string {
  if (toolCalls) return 'tool_calls';
  return reason === 'length' ? 'length' : 'stop';
}

function chatLogprobs(tokens: TokenLogprob[] | undefined): { content: unknown[] } | null {
  if (tokens === undefined) return null;
  const bytes = (text: string) => [...Buffer.from(text, 'utf8')];
  return { content: tokens.map((t) => ({ token: t.text, logprob: t.logprob, bytes: bytes(t.text), top_logprobs: (t.top ?? []).map((a) => ({ token: a.text, logprob: a.logprob, bytes: bytes(a.text) })) })) };
}

/** What the answer adds beyond OpenAI's fields: which model served it, at what cost, chosen how. */
function extension(r: Routed): Body {
  const out: Body = { model: r.model, version: r.version ?? null, cost: r.cost, selection: { mode: r.selection.mode, task: r.selection.task, explored: r.selection.explored ?? false, score: r.selection.score ?? null }, overheadMs: r.overheadMs };
  if (r.failover !== undefined) out.failover = r.failover;
  return out;
}

function usage(r: FrontDoorResult): Body {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.generatedTokens, total_tokens: r.promptTokens + r.generatedTokens, prompt_tokens_details: { cached_tokens: r.cachedPromptTokens } };
}

export function openAIRoutes(app: FastifyInstance, door: FrontDoor, callerOf: (request: FastifyRequest) => Caller | undefined): void {
  app.get('/v1/models', async () => {
    const created = Math.floor(Date.now() / 1000);
    const names = new Set<string>();
    // A registered model by its id (its default version), and each other version as `id@version`.
    for (const model of door.registry.list()) {
      names.add(model.id);
      for (const version of model.versions) names.add(poolId(model, version.version));
    }
    for (const model of door.pool.status().models) names.add(model.id);
    return { object: 'list', data: [...names].map((name) => ({ id: name, object: 'model', created, owned_by: 'modelpool' })) };
  });

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = object('body', request.body);
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalidArgument('messages', 'a non-empty array of messages', body.messages);
    const req: FrontDoorRequest = { ...routing(body, 'chat', callerOf(request)), ...sampling(body), messages: body.messages.map(chatMessage) };
    if (Array.isArray(body.tools) && body.tools.length > 0) req.tools = body.tools as Array<Record<string, unknown>>;
    if (body.logprobs === true) {
      req.logprobs = true;
      const top = optionalIntegerField(body, 'top_logprobs', 0, 20);
      if (top !== undefined) req.topLogprobs = top;
    }
    return generate(door, req, body, reply, request, 'chat');
  });

  app.post('/v1/completions', async (request, reply) => {
    const body = object('body', request.body);
    const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
    if (typeof prompt !== 'string') throw invalidArgument('prompt', 'a string', body.prompt);
    const req: FrontDoorRequest = { ...routing(body, 'completion', callerOf(request)), ...sampling(body), prompt };
    const logprobs = optionalIntegerField(body, 'logprobs', 0, 20);
    if (logprobs !== undefined) {
      req.logprobs = true;
      req.topLogprobs = logprobs;
    }
    return generate(door, req, body, reply, request, 'completion');
  });

  app.post('/v1/embeddings', async (request, reply) => {
    const body = object('body', request.body);
    const input = body.input;
    if (!(typeof input === 'string' || (Array.isArray(input) && input.length > 0 && input.every((t) => typeof t === 'string')))) throw invalidArgument('input', 'a string or a non-empty array of strings', input);
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw invalidArgument('encoding_format', "'float' or 'base64'", format);
    const route = routing(body, 'embedding', callerOf(request));
    const r = await door.embed({ ...route, input: input as string | string[], signal: abortOnDisconnect(reply) });
    const tokens = r.cost.promptTokens;
    return {
      object: 'list',
      data: r.embeddings.map((e, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') : [...e] })),
      model: r.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
      modelpool: extension(r),
    };
  });
}

async function generate(door: FrontDoor, req: FrontDoorRequest, body: Body, reply: FastifyReply, request: FastifyRequest, kind: 'chat' | 'completion'): Promise<unknown> {
  const created = Math.floor(Date.now() / 1000);
  const requestId = id(kind === 'chat' ? 'chatcmpl' : 'cmpl');
  const requested = typeof body.model === 'string' ? body.model : 'auto';
  if (body.stream !== true) {
    const r = await door.complete({ ...req, signal: abortOnDisconnect(reply) });
    const toolCalls = r.toolCalls !== undefined && r.toolCalls.length > 0;
    if (kind === 'chat') {
      const message: Body = { role: 'assistant', content: r.text };
      if (r.reasoning !== undefined) message.reasoning_content = r.reasoning;
      if (toolCalls) message.tool_calls = r.toolCalls!.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.function.name, arguments: typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments) } }));
      return { id: requestId, object: 'chat.completion', created, model: r.model, choices: [{ index: 0, message, logprobs: chatLogprobs(r.logprobs), finish_reason: finishReason(r.finishReason, toolCalls) }], usage: usage(r), modelpool: extension(r) };
    }
    return { id: requestId, object: 'text_completion', created, model: r.model, choices: [{ index: 0, text: r.text, logprobs: legacyLogprobs(r.logprobs, req.topLogprobs ?? 0, req.prompt?.length ?? 0), finish_reason: finishReason(r.finishReason, false) }], usage: usage(r), modelpool: extension(r) };
  }
  const includeUsage = typeof body.stream_options === 'object' && body.stream_options !== null && (body.stream_options as Body).include_usage === true;
  const stream = door.generate({ ...req, signal: abortOnDisconnect(reply) });
  const iterator = stream.chunks()[Symbol.asyncIterator]();
  // Until the first chunk a failure is an HTTP error with its status; after it, an error event in the stream.
  const first = await iterator.next();
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const chunk = (choice: Body, model = requested): Body => ({ id: requestId, object, created, model, choices: [{ index: 0, ...choice }] });
  await sendStream(
    reply,
    'sse',
    async (send) => {
      if (kind === 'chat') send(chunk({ delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }));
      let offset = req.prompt?.length ?? 0;
      for (let next = first; next.done !== true; next = await iterator.next()) {
        const piece = next.value;
        const at = offset;
        offset += piece.text.length;
        if (kind === 'chat') send(chunk({ delta: { content: piece.text }, logprobs: chatLogprobs(piece.logprobs), finish_reason: null }));
        else send(chunk({ text: piece.text, logprobs: legacyLogprobs(piece.logprobs, req.topLogprobs ?? 0, at), finish_reason: null }));
      }
      const r = await stream.result;
      const toolCalls = r.toolCalls !== undefined && r.toolCalls.length > 0;
      const last = kind === 'chat' ? { delta: {}, logprobs: null, finish_reason: finishReason(r.finishReason, toolCalls) } : { text: '', logprobs: null, finish_reason: finishReason(r.finishReason, false) };
      send({ ...chunk(last, r.model), modelpool: extension(r) });
      if (includeUsage) send({ id: requestId, object, created, model: r.model, choices: [], usage: usage(r) });
    },
    (error) => openAIErrorBody(httpError(error)),
  );
  return reply;
}

/**
 * Legacy completion log probabilities (OpenAI's /v1/completions): parallel arrays, offsets counted from the
 * prompt's start; `top` 0 gives no alternatives.
 */
export function legacyLogprobs(tokens: TokenLogprob[] | undefined, top: number, offset: number): Record<string, unknown> | null {
  if (tokens === undefined) return null;
  const textOffset: number[] = [];
  for (const t of tokens) {
    textOffset.push(offset);
    offset += t.text.length;
  }
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: top === 0 ? null : tokens.map((t) => Object.fromEntries((t.top ?? []).map((a) => [a.text, a.logprob]))),
    text_offset: textOffset,
  };
}
