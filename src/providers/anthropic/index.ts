/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk` (imported on first use). A raw
 * prompt is sent as one user message; system messages become the `system` parameter. Anthropic has no
 * embeddings endpoint, and its models need `max_tokens`: a request without `maxTokens` asks for 256
 * (modelpool's default). The SDK's own retries are off: the remote model retries every provider alike.
 */
import type { ModelCapabilities } from '../../model/handle.js';
import type { Provider } from '../../model/provider.js';
import type { GenerateRequest } from '../../model/types.js';
import { finishReasonOf, toAnthropicMessages } from '../remote/messages.js';
import { endedEarly } from '../remote/errors.js';
import { importOptional } from '../remote/optional.js';
import { clientFor, createRemoteProvider, type RemoteConnector, type RemoteProviderOptions, type ResolvedRemoteOptions } from '../remote/provider.js';
import type { RemoteEvent } from '../remote/remote-model.js';

export type AnthropicProviderOptions = RemoteProviderOptions;

interface AnthropicEvent {
  type: string;
  message?: { usage?: { input_tokens?: number; cache_read_input_tokens?: number | null } };
  delta?: { type?: string; text?: string; stop_reason?: string | null };
  usage?: { output_tokens?: number };
}

type Client = {
  messages: { create(body: unknown, options: unknown): Promise<AsyncIterable<AnthropicEvent>> };
  models: { list(params: unknown, options: unknown): AsyncIterable<{ id: string }> };
};

const CAPABILITIES: ModelCapabilities = { generate: true, chat: true, embed: false, jsonSchema: false, grammar: false, streaming: true };
const DEFAULT_MAX_TOKENS = 256;

function body(model: string, request: GenerateRequest): Record<string, unknown> {
  const { system, messages } = toAnthropicMessages(request.messages ?? [{ role: 'user', content: request.prompt ?? '' }]);
  const out: Record<string, unknown> = { model, max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS, messages, stream: true };
  if (system !== undefined) out.system = system;
  if (request.temperature !== undefined) out.temperature = Math.min(1, request.temperature);
  if (request.topP !== undefined) out.top_p = request.topP;
  if (request.topK !== undefined) out.top_k = request.topK;
  if (request.stop !== undefined) out.stop_sequences = request.stop;
  if (request.tools !== undefined) {
    out.tools = request.tools.map((tool) => {
      const fn = (tool as { function?: { name?: string; description?: string; parameters?: unknown } }).function ?? (tool as { name?: string; description?: string; parameters?: unknown });
      return { name: fn.name, description: fn.description, input_schema: fn.parameters ?? { type: 'object' } };
    });
  }
  return out;
}

function connector(): RemoteConnector {
  const clients = new Map<string, Client>();
  return {
    name: 'anthropic',
    defaultBaseUrl: 'https://api.anthropic.com',
    defaultCapabilities: CAPABILITIES,
    async connect(model: string, baseUrl: string, apiKey: string | undefined, options: ResolvedRemoteOptions) {
      const { default: Anthropic } = await importOptional('@anthropic-ai/sdk', 'anthropic', () => import('@anthropic-ai/sdk'));
      const c = clientFor(clients, baseUrl, apiKey, () => new Anthropic({ baseURL: baseUrl, apiKey: apiKey ?? null, maxRetries: 0, timeout: options.timeoutMs, defaultHeaders: options.headers }) as unknown as Client);
      return {
        async listModels(signal: AbortSignal): Promise<string[]> {
          const ids: string[] = [];
          for await (const m of c.models.list({}, { signal })) ids.push(m.id);
          return ids;
        },
        async *generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<RemoteEvent> {
          const stream = await c.messages.create(body(model, request), { signal, maxRetries: 0 });
          let stopped = false;
          for await (const event of stream) {
            if (event.type === 'message_stop') stopped = true;
            if (event.type === 'message_start') {
              const usage = event.message?.usage;
              const start: RemoteEvent = {};
              if (usage?.input_tokens !== undefined) start.promptTokens = usage.input_tokens + (usage.cache_read_input_tokens ?? 0);
              if (typeof usage?.cache_read_input_tokens === 'number') start.cachedPromptTokens = usage.cache_read_input_tokens;
              yield start;
            } else if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && typeof event.delta.text === 'string') {
              yield { text: event.delta.text };
            } else if (event.type === 'message_delta') {
              const out: RemoteEvent = {};
              const finish = finishReasonOf(event.delta?.stop_reason);
              if (finish !== undefined) out.finishReason = finish;
              if (event.usage?.output_tokens !== undefined) out.generatedTokens = event.usage.output_tokens;
              yield out;
            }
          }
          if (!stopped) throw endedEarly('message_stop');
        },
      };
    },
  };
}

/** A provider (name 'anthropic') for Anthropic's Messages API (default https://api.anthropic.com). */
export function createAnthropicProvider(options: AnthropicProviderOptions = {}): Provider {
  return createRemoteProvider(connector(), options);
}
