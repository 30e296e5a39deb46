/**
 * What every remote provider shares: its options (endpoint, key, concurrency, retries, timeouts), a
 * load that takes no memory and checks that the server serves the model, and the model it returns.
 * A remote model is a pool entry with a concurrency limit (`info.parallel`: leases at once) instead
 * of a memory reservation.
 */
import { ModelpoolError, invalidArgument } from '../../errors.js';
import type { ModelCapabilities } from '../../model/handle.js';
import type { ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from '../../model/provider.js';
import type { MemoryReport } from '../../model/types.js';
import { httpUrl, nonEmptyString, optionalInteger, plainObject } from '../../validate.js';
import { MIN_REDACTED_LENGTH, Redactor } from '../../security/index.js';
import { remoteFailure } from './errors.js';
import { RemoteModel, type RemoteBackend } from './remote-model.js';
import { resolveRetry, type ResolvedRetry, type RetryOptions } from './retry.js';

/** Something that holds a key without showing it (modelpool/security's `Secret`), or the key itself. */
export type KeyMaterial = string | { reveal(): string };

export interface RemoteProviderOptions {
  /** The server's base URL (each provider has a default). A model's own `endpoint` (registry `baseUrl`) wins. */
  baseUrl?: string;
  /** The API key, or a function that finds it for a model (from a KeyStore): read at each load, so a rotated key applies to the next load. */
  apiKey?: KeyMaterial | ((ref: ModelRef) => KeyMaterial | undefined | Promise<KeyMaterial | undefined>);
  /** Extra HTTP headers sent with every request. */
  headers?: Record<string, string>;
  /** Requests one model serves at once (its pool leases), unless the spec's `parallel` says. Default 4. */
  concurrency?: number;
  retry?: RetryOptions;
  /** Longest wait for a response's first event (or a whole embedding call), ms. Default 60 000. */
  timeoutMs?: number;
  /** Longest wait between two events of a stream, ms. Default 30 000. */
  idleTimeoutMs?: number;
  /**
   * What the models can do, over the provider's defaults. A model loaded with `embeddings: true` only
   * embeds (when the provider can); any other only generates and chats.
   */
  capabilities?: Partial<ModelCapabilities>;
  /** Context size to report (0: unknown). */
  contextSize?: number;
  /** At load, check that the server lists the model (MODEL_NOT_FOUND otherwise). Default true. */
  verify?: boolean;
}

export interface ResolvedRemoteOptions {
  baseUrl: string;
  apiKey: RemoteProviderOptions['apiKey'];
  headers: Record<string, string>;
  concurrency: number;
  retry: ResolvedRetry;
  timeoutMs: number;
  idleTimeoutMs: number;
  capabilities: ModelCapabilities;
  contextSize: number;
  verify: boolean;
}

/** What a vendor's provider supplies: its client for one endpoint and key. */
export interface RemoteConnector {
  /** Provider name: 'openai-compatible', 'openai', 'anthropic', 'ollama'. */
  name: string;
  defaultBaseUrl: string;
  defaultCapabilities: ModelCapabilities;
  /** A backend for `model` at `baseUrl` (the vendor's SDK client, created once per endpoint and key). */
  connect(model: string, baseUrl: string, apiKey: string | undefined, options: ResolvedRemoteOptions): Promise<RemoteBackend & { listModels(signal: AbortSignal): Promise<string[] | undefined> }>;
}

const NO_MEMORY: MemoryReport = Object.freeze({ devices: [], total: 0, weights: 0, kvCache: 0, compute: 0, reclaimable: 0 }) as MemoryReport;

/** A base URL without its trailing slashes. */
function checkUrl(field: string, value: unknown): string {
  return httpUrl(field, value).replace(/\/+$/, '');
}

export function resolveRemoteOptions(options: RemoteProviderOptions | undefined, connector: RemoteConnector, field = 'options'): ResolvedRemoteOptions {
  const o = options === undefined ? {} : plainObject(field, options);
  const headers = o.headers === undefined ? {} : plainObject(`${field}.headers`, o.headers);
  for (const [name, value] of Object.entries(headers)) if (typeof value !== 'string') throw invalidArgument(`${field}.headers.${name}`, 'a string', '[redacted]');
  const apiKey = o.apiKey;
  if (apiKey !== undefined && typeof apiKey !== 'string' && typeof apiKey !== 'function' && typeof (apiKey as { reveal?: unknown }).reveal !== 'function') {
    throw invalidArgument(`${field}.apiKey`, 'a string, a Secret or a function', '[redacted]');
  }
  const capabilities = o.capabilities === undefined ? {} : plainObject(`${field}.capabilities`, o.capabilities);
  for (const [name, value] of Object.entries(capabilities)) {
    if (!(name in connector.defaultCapabilities)) throw invalidArgument(`${field}.capabilities.${name}`, `one of ${Object.keys(connector.defaultCapabilities).join(', ')}`, name);
    if (typeof value !== 'boolean') throw invalidArgument(`${field}.capabilities.${name}`, 'a boolean', value);
  }
  if (o.verify !== undefined && typeof o.verify !== 'boolean') throw invalidArgument(`${field}.verify`, 'a boolean', o.verify);
  return {
    baseUrl: checkUrl(`${field}.baseUrl`, o.baseUrl ?? connector.defaultBaseUrl),
    apiKey: apiKey as RemoteProviderOptions['apiKey'],
    headers: headers as Record<string, string>,
    concurrency: optionalInteger(`${field}.concurrency`, o.concurrency, 1, 10_000) ?? 4,
    retry: resolveRetry(o.retry as RetryOptions | undefined, `${field}.retry`),
    timeoutMs: optionalInteger(`${field}.timeoutMs`, o.timeoutMs, 1) ?? 60_000,
    idleTimeoutMs: optionalInteger(`${field}.idleTimeoutMs`, o.idleTimeoutMs, 1) ?? 30_000,
    capabilities: { ...connector.defaultCapabilities, ...(capabilities as Partial<ModelCapabilities>) },
    contextSize: optionalInteger(`${field}.contextSize`, o.contextSize, 0) ?? 0,
    verify: (o.verify as boolean | undefined) ?? true,
  };
}

/** Read through a call, so a check made earlier does not narrow it: the signal may fire meanwhile. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function reveal(key: KeyMaterial | undefined): string | undefined {
  return key === undefined ? undefined : typeof key === 'string' ? key : key.reveal();
}

/** A provider over a vendor's connector: `ref.source` is the model's name on the server, `ref.endpoint` its base URL. */
export function createRemoteProvider(connector: RemoteConnector, options?: RemoteProviderOptions): Provider {
  const resolved = resolveRemoteOptions(options, connector);
  return {
    name: connector.name,
    async estimate(): Promise<ModelEstimate> {
      return { memory: NO_MEMORY, architecture: `remote:${connector.name}` };
    },
    async load(ref: ModelRef, load: ProviderLoadOptions): Promise<RemoteModel> {
      const started = performance.now();
      if (load.signal?.aborted === true) throw new ModelpoolError('ABORTED', `loading ${connector.name} model '${String(ref.source)}' was aborted`, { cause: load.signal.reason });
      const model = nonEmptyString('spec.source', ref.source, 1024);
      const baseUrl = ref.endpoint === undefined ? resolved.baseUrl : checkUrl('spec.endpoint', ref.endpoint);
      const where = `${connector.name} model '${model}' at ${baseUrl}`;
      const key = reveal(typeof resolved.apiKey === 'function' ? await resolved.apiKey(ref) : resolved.apiKey);
      const redactor = new Redactor(key === undefined || key.length < MIN_REDACTED_LENGTH ? {} : { secrets: [key] });
      const redact = (text: string) => redactor.redact(text);
      const backend = await connector.connect(model, baseUrl, key, resolved);
      if (resolved.verify) {
        const signal = AbortSignal.any([AbortSignal.timeout(resolved.timeoutMs), ...(load.signal === undefined ? [] : [load.signal])]);
        let listed: string[] | undefined;
        try {
          listed = await backend.listModels(signal);
        } catch (error) {
          if (isAborted(load.signal)) throw new ModelpoolError('ABORTED', `loading ${where} was aborted`, { cause: load.signal?.reason });
          const failure = remoteFailure(error, where, {}, redact);
          // A server without a model list (404) can still serve: only a failure to reach it fails the load.
          if (failure.error.code !== 'MODEL_NOT_FOUND') throw failure.error;
        }
        if (listed !== undefined && !listed.includes(model)) {
          throw new ModelpoolError('MODEL_NOT_FOUND', `${where}: the server does not list it (it lists ${listed.slice(0, 10).map((m) => `'${m}'`).join(', ') || 'none'})`, { field: 'spec.source', value: model });
        }
      }
      // A model loaded for embeddings (the spec's `embeddings`, as for the llama provider) embeds and
      // does not generate; any other model generates and does not embed: a vendor's model does one or the other.
      const embeddings = load.embeddings === true;
      const capabilities: ModelCapabilities = embeddings
        ? { ...resolved.capabilities, generate: false, chat: false, jsonSchema: false, grammar: false, embed: resolved.capabilities.embed }
        : { ...resolved.capabilities, embed: false };
      return new RemoteModel(backend, {
        where,
        capabilities,
        info: { contextSize: load.contextSize ?? resolved.contextSize, parallel: load.parallel ?? resolved.concurrency, architecture: `remote:${connector.name}` },
        loadMs: performance.now() - started,
        retry: resolved.retry,
        timeoutMs: resolved.timeoutMs,
        idleTimeoutMs: resolved.idleTimeoutMs,
        redact,
      });
    },
  };
}

/** One client per endpoint and key (and so one pool of keep-alive connections); the key is only the map's. */
export function clientFor<T>(cache: Map<string, T>, baseUrl: string, apiKey: string | undefined, make: () => T): T {
  const id = `${baseUrl}\u0000${apiKey ?? ''}`;
  let client = cache.get(id);
  if (client === undefined) cache.set(id, (client = make()));
  return client;
}
