/**
 * Ollama's API through the official `ollama` client (imported on first use): chat for messages,
 * generate for a raw prompt, embed for embeddings; `jsonSchema` goes as `format`. Ollama streams
 * NDJSON. The client's fetch is ours, to give each call its abort signal and keep the headers of an
 * error response (Retry-After).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ModelCapabilities } from '../../model/handle.js';
import type { Provider } from '../../model/provider.js';
import type { GenerateRequest } from '../../model/types.js';
import { endedEarly } from '../remote/errors.js';
import { contentText, finishReasonOf } from '../remote/messages.js';
import { importOptional } from '../remote/optional.js';
import { clientFor, createRemoteProvider, type RemoteConnector, type RemoteProviderOptions, type ResolvedRemoteOptions } from '../remote/provider.js';
import type { RemoteEvent } from '../remote/remote-model.js';

export type OllamaProviderOptions = RemoteProviderOptions;

interface Part {
  response?: string;
  message?: { content?: string };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
}
type Abortable = AsyncIterable<Part>;
type Client = {
  chat(request: unknown): Promise<Abortable>;
  generate(request: unknown): Promise<Abortable>;
  embed(request: unknown): Promise<{ embeddings: number[][]; prompt_eval_count?: number }>;
  list(): Promise<{ models: Array<{ name: string; model: string }> }>;
};

const CAPABILITIES: ModelCapabilities = { generate: true, chat: true, embed: true, jsonSchema: true, grammar: false, streaming: true };

function options(request: GenerateRequest): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (request.maxTokens !== undefined) o.num_predict = request.maxTokens;
  if (request.temperature !== undefined) o.temperature = request.temperature;
  if (request.topP !== undefined) o.top_p = request.topP;
  if (request.topK !== undefined) o.top_k = request.topK;
  if (request.minP !== undefined) o.min_p = request.minP;
  if (request.repeatPenalty !== undefined) o.repeat_penalty = request.repeatPenalty;
  if (request.repeatLastN !== undefined) o.repeat_last_n = request.repeatLastN;
  if (request.frequencyPenalty !== undefined) o.frequency_penalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) o.presence_penalty = request.presencePenalty;
  if (request.seed !== undefined) o.seed = request.seed;
  if (request.stop !== undefined) o.stop = request.stop;
  return o;
}

/**
 * What the client's fetch knows of the call running it: the ollama client takes no AbortSignal and
 * drops a response's headers from its errors, so a fetch of our own adds the call's signal and keeps the
 * headers (a 429's Retry-After) for the error.
 */
interface CallContext {
  signal: AbortSignal;
  headers?: Headers;
}

const calls = new AsyncLocalStorage<CallContext>();

const fetchInCall: typeof fetch = async (input, init) => {
  const context = calls.getStore();
  const signal = context === undefined ? init?.signal : init?.signal == null ? context.signal : AbortSignal.any([init.signal, context.signal]);
  const response = await fetch(input, { ...init, ...(signal == null ? {} : { signal }) });
  if (context !== undefined && !response.ok) context.headers = response.headers;
  return response;
};

/** Runs one client call in its context; an HTTP error gets the response's headers. */
async function inCall<T>(signal: AbortSignal, call: () => Promise<T>): Promise<{ value: T; context: CallContext }> {
  const context: CallContext = { signal };
  try {
    return { value: await calls.run(context, call), context };
  } catch (error) {
    throw withHeaders(error, context);
  }
}

function withHeaders(error: unknown, context: CallContext): unknown {
  if (error !== null && typeof error === 'object' && context.headers !== undefined && !('headers' in error)) Object.assign(error, { headers: context.headers });
  return error;
}

function connector(): RemoteConnector {
  const clients = new Map<string, Client>();
  return {
    name: 'ollama',
    defaultBaseUrl: 'http://127.0.0.1:11434',
    defaultCapabilities: CAPABILITIES,
    async connect(model: string, baseUrl: string, apiKey: string | undefined, resolved: ResolvedRemoteOptions) {
      const { Ollama } = await importOptional('ollama', 'ollama', () => import('ollama'));
      // Ollama needs no key; one given (a proxy in front of it) goes as a bearer token.
      const headers: Record<string, string> = { ...resolved.headers, ...(apiKey !== undefined ? { Authorization: `Bearer ${apiKey}` } : {}) };
      const c = clientFor(clients, baseUrl, apiKey, () => new Ollama({ host: baseUrl, headers, fetch: fetchInCall }) as unknown as Client);
      return {
        async listModels(signal: AbortSignal): Promise<string[]> {
          const { value: list } = await inCall(signal, () => c.list());
          // 'name' and 'model' are the same tag; a request may leave ':latest' out.
          return list.models.flatMap((m) => [m.name, m.model, m.name.replace(/:latest$/, '')]);
        },
        async *generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<RemoteEvent> {
          const common: Record<string, unknown> = { model, stream: true, options: options(request) };
          if (request.jsonSchema !== undefined) common.format = request.jsonSchema;
          const { value: stream, context } = await inCall(signal, () =>
            request.messages !== undefined
              ? c.chat({ ...common, messages: request.messages.map((m) => ({ role: m.role, content: contentText(m.content) })), ...(request.tools !== undefined ? { tools: request.tools } : {}) })
              : c.generate({ ...common, prompt: request.prompt, raw: true }),
          );
          let done = false;
          try {
            for await (const part of stream) {
              const text = part.message?.content ?? part.response ?? '';
              const event: RemoteEvent = {};
              if (text.length > 0) event.text = text;
              if (part.done === true) {
                done = true;
                event.finishReason = finishReasonOf(part.done_reason) ?? 'eos';
                if (part.prompt_eval_count !== undefined) event.promptTokens = part.prompt_eval_count;
                if (part.eval_count !== undefined) event.generatedTokens = part.eval_count;
              }
              yield event;
            }
          } catch (error) {
            throw withHeaders(error, context);
          }
          if (!done) throw endedEarly('"done": true line');
        },
        async embed(texts: string[], signal: AbortSignal) {
          const { value: response } = await inCall(signal, () => c.embed({ model, input: texts }));
          return { embeddings: response.embeddings.map((e) => Float32Array.from(e)), ...(response.prompt_eval_count !== undefined ? { promptTokens: response.prompt_eval_count } : {}) };
        },
      };
    },
  };
}

/** A provider (name 'ollama') for an Ollama server (default http://127.0.0.1:11434). */
export function createOllamaProvider(options: OllamaProviderOptions = {}): Provider {
  return createRemoteProvider(connector(), options);
}
