/**
 * OpenAI's API and the servers that speak it (llama-server, vLLM, LM Studio, modelpool's own server),
 * through the official `openai` SDK (imported on first use). Chat requests go to /v1/chat/completions;
 * prompts go to /v1/completions on an OpenAI-compatible server and, as one user message, to the chat
 * endpoint on OpenAI itself (which keeps /v1/completions for legacy models only). The SDK's own retries
 * are off: the remote model retries every provider alike.
 */
import type { ModelCapabilities } from '../../model/handle.js';
import type { Provider } from '../../model/provider.js';
import type { GenerateRequest, TokenLogprob } from '../../model/types.js';
import { invalidArgument } from '../../errors.js';
import { plainObject } from '../../validate.js';
import { finishReasonOf, toOpenAIMessage } from '../remote/messages.js';
import { endedEarly } from '../remote/errors.js';
import { importOptional } from '../remote/optional.js';
import { clientFor, createRemoteProvider, type RemoteConnector, type RemoteProviderOptions, type ResolvedRemoteOptions } from '../remote/provider.js';
import type { RemoteEvent } from '../remote/remote-model.js';

export interface OpenAIProviderOptions extends RemoteProviderOptions {
  /**
   * Where a raw `prompt` goes: 'completions' (/v1/completions, the default for an OpenAI-compatible server) or
   * 'chat' (sent as one user message; the default for OpenAI).
   */
  promptMode?: 'completions' | 'chat';
}

type Client = {
  chat: { completions: { create(body: unknown, options: unknown): Promise<AsyncIterable<ChatChunk>> } };
  completions: { create(body: unknown, options: unknown): Promise<AsyncIterable<CompletionChunk>> };
  embeddings: { create(body: unknown, options: unknown): Promise<{ data: Array<{ index: number; embedding: number[] }>; usage?: { prompt_tokens?: number } }> };
  models: { list(options: unknown): AsyncIterable<{ id: string }> };
};

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}
interface ChatTokenLogprob {
  token: string;
  logprob: number;
  top_logprobs?: Array<{ token: string; logprob: number }>;
}
interface ChatChunk {
  choices: Array<{ delta?: { content?: string | null }; finish_reason?: string | null; logprobs?: { content?: ChatTokenLogprob[] | null } | null }>;
  usage?: Usage | null;
}
interface CompletionChunk {
  choices: Array<{
    text?: string;
    finish_reason?: string | null;
    logprobs?: { tokens?: string[]; token_logprobs?: Array<number | null>; top_logprobs?: Array<Record<string, number> | null>; content?: ChatTokenLogprob[] } | null;
  }>;
  usage?: Usage | null;
}

const BASE_CAPABILITIES: ModelCapabilities = { generate: true, chat: true, embed: true, jsonSchema: true, grammar: false, streaming: true };

function sampling(request: GenerateRequest, compatible: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.stop !== undefined) body.stop = request.stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.frequencyPenalty !== undefined) body.frequency_penalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) body.presence_penalty = request.presencePenalty;
  if (compatible) {
    // Fields OpenAI itself refuses, which llama-server, vLLM and others read.
    if (request.topK !== undefined) body.top_k = request.topK;
    if (request.minP !== undefined) body.min_p = request.minP;
    if (request.repeatPenalty !== undefined) body.repeat_penalty = request.repeatPenalty;
    if (request.grammar !== undefined) body.grammar = request.grammar;
  }
  return body;
}

function usageEvent(usage: Usage | null | undefined): RemoteEvent | undefined {
  if (usage === null || usage === undefined) return undefined;
  const event: RemoteEvent = {};
  if (usage.prompt_tokens !== undefined) event.promptTokens = usage.prompt_tokens;
  if (usage.completion_tokens !== undefined) event.generatedTokens = usage.completion_tokens;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') event.cachedPromptTokens = cached;
  return event;
}

function chatLogprobs(content: ChatTokenLogprob[]): TokenLogprob[] {
  // A remote server names tokens by text only: ids are -1.
  return content.map((t) => ({ id: -1, text: t.token, logprob: t.logprob, ...(t.top_logprobs !== undefined ? { top: t.top_logprobs.map((a) => ({ id: -1, text: a.token, logprob: a.logprob })) } : {}) }));
}

function completionLogprobs(l: NonNullable<CompletionChunk['choices'][number]['logprobs']>): TokenLogprob[] {
  // llama-server answers a completion's logprobs in the chat shape.
  if (Array.isArray(l.content)) return chatLogprobs(l.content);
  return (l.tokens ?? []).map((text, i) => {
    const top = l.top_logprobs?.[i];
    return { id: -1, text, logprob: l.token_logprobs?.[i] ?? Number.NaN, ...(top ? { top: Object.entries(top).map(([t, lp]) => ({ id: -1, text: t, logprob: lp })) } : {}) };
  });
}

function connector(name: 'openai' | 'openai-compatible', defaultBaseUrl: string, promptMode: 'completions' | 'chat'): RemoteConnector {
  const compatible = name === 'openai-compatible';
  const clients = new Map<string, Client>();
  return {
    name,
    defaultBaseUrl,
    defaultCapabilities: { ...BASE_CAPABILITIES, ...(compatible ? {} : { grammar: false }) },
    async connect(model: string, baseUrl: string, apiKey: string | undefined, options: ResolvedRemoteOptions) {
      const { default: OpenAI } = await importOptional('openai', name, () => import('openai'));
      const c = clientFor(clients, baseUrl, apiKey, () => new OpenAI({ baseURL: baseUrl, apiKey: apiKey ?? 'none', maxRetries: 0, timeout: options.timeoutMs, defaultHeaders: options.headers }) as unknown as Client);
      return {
        async listModels(signal: AbortSignal): Promise<string[]> {
          const ids: string[] = [];
          for await (const m of c.models.list({ signal })) ids.push(m.id);
          return ids;
        },
        async *generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<RemoteEvent> {
          const common = sampling(request, compatible);
          const logprobs = request.logprobs === true;
          if (request.messages !== undefined || promptMode === 'chat') {
            const messages = request.messages !== undefined ? request.messages.map(toOpenAIMessage) : [{ role: 'user', content: request.prompt }];
            const body: Record<string, unknown> = { model, messages, stream: true, stream_options: { include_usage: true }, ...common };
            if (request.tools !== undefined) body.tools = request.tools;
            if (request.jsonSchema !== undefined) body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: request.jsonSchema, strict: true } };
            if (logprobs) {
              body.logprobs = true;
              if (request.topLogprobs !== undefined && request.topLogprobs > 0) body.top_logprobs = request.topLogprobs;
            }
            const stream = await c.chat.completions.create(body, { signal, maxRetries: 0 });
            let finished = false;
            for await (const chunk of stream) {
              const choice = chunk.choices[0];
              if (choice?.finish_reason !== undefined && choice.finish_reason !== null) finished = true;
              const text = choice?.delta?.content ?? '';
              const event: RemoteEvent = {};
              if (text.length > 0) event.text = text;
              const content = choice?.logprobs?.content;
              if (logprobs && content !== undefined && content !== null) event.logprobs = chatLogprobs(content);
              const finish = finishReasonOf(choice?.finish_reason);
              if (finish !== undefined) event.finishReason = finish;
              yield { ...event, ...usageEvent(chunk.usage) };
            }
            if (!finished) throw endedEarly('finish_reason');
            return;
          }
          const body: Record<string, unknown> = { model, prompt: request.prompt, stream: true, stream_options: { include_usage: true }, ...common };
          if (request.jsonSchema !== undefined) {
            body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: request.jsonSchema } };
            // llama-server reads a completion's schema from its own field.
            if (compatible) body.json_schema = request.jsonSchema;
          }
          if (logprobs) body.logprobs = request.topLogprobs ?? 0;
          const stream = await c.completions.create(body, { signal, maxRetries: 0 });
          let finished = false;
          for await (const chunk of stream) {
            const choice = chunk.choices[0];
            if (choice?.finish_reason !== undefined && choice.finish_reason !== null) finished = true;
            const event: RemoteEvent = {};
            if (choice?.text !== undefined && choice.text.length > 0) event.text = choice.text;
            if (logprobs && choice?.logprobs !== undefined && choice.logprobs !== null) event.logprobs = completionLogprobs(choice.logprobs);
            const finish = finishReasonOf(choice?.finish_reason);
            if (finish !== undefined) event.finishReason = finish;
            yield { ...event, ...usageEvent(chunk.usage) };
          }
          if (!finished) throw endedEarly('finish_reason');
        },
        async embed(texts: string[], signal: AbortSignal) {
          const response = await c.embeddings.create({ model, input: texts, encoding_format: 'float' }, { signal, maxRetries: 0 });
          const embeddings = new Array<Float32Array>(texts.length);
          for (const item of response.data) embeddings[item.index] = Float32Array.from(item.embedding);
          return { embeddings, ...(response.usage?.prompt_tokens !== undefined ? { promptTokens: response.usage.prompt_tokens } : {}) };
        },
      };
    },
  };
}

/**
 * A provider (name 'openai-compatible') for servers that speak OpenAI's API: llama-server, vLLM, LM Studio,
 * modelpool's server. `baseUrl` (default http://127.0.0.1:8080/v1) or each model's registry `baseUrl`.
 */
export function createOpenAICompatibleProvider(options: OpenAIProviderOptions = {}): Provider {
  const rest = withoutMode(options);
  return createRemoteProvider(connector('openai-compatible', 'http://127.0.0.1:8080/v1', options.promptMode ?? 'completions'), rest);
}

/** A provider (name 'openai') for OpenAI's API (default https://api.openai.com/v1). */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): Provider {
  const rest = withoutMode(options);
  return createRemoteProvider(connector('openai', 'https://api.openai.com/v1', options.promptMode ?? 'chat'), rest);
}

function withoutMode(options: OpenAIProviderOptions): RemoteProviderOptions {
  const { promptMode, ...rest } = plainObject('options', options) as OpenAIProviderOptions;
  if (promptMode !== undefined && promptMode !== 'completions' && promptMode !== 'chat') throw invalidArgument('options.promptMode', "'completions' or 'chat'", promptMode);
  return rest;
}
