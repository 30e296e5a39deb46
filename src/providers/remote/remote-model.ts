/**
 * A model served by a remote server, behind the model contract. The backend (one per vendor protocol)
 * turns a request into a stream of events; this class does what every remote model needs alike:
 * checks the request against the capabilities, retries what failed before the first token (backoff
 * with jitter, Retry-After), bounds the wait for the first event and between events, stops on the
 * caller's signal with the partial result, counts requests in flight and disposes after them.
 * A stream that fails after its first token is not retried: it ends with the error, whose details
 * hold what was received (`partialText`, and the partial result's fields, as an abort's do).
 */
import { ModelpoolError, invalidArgument } from '../../errors.js';
import { ChunkChannel } from '../../model/chunk-channel.js';
import type { ModelCapabilities, ModelHandle, ModelInfo } from '../../model/handle.js';
import type { FinishReason, GenerateRequest, GenerationResult, GenerationStream, TokenLogprob } from '../../model/types.js';
import { optionalSignal, plainObject } from '../../validate.js';
import { remoteFailure } from './errors.js';
import { retryDelay, sleep, type ResolvedRetry } from './retry.js';

/** One event of a remote generation: text, and at the end the finish reason and the server's token counts. */
export interface RemoteEvent {
  text?: string;
  logprobs?: TokenLogprob[];
  finishReason?: FinishReason;
  promptTokens?: number;
  generatedTokens?: number;
  cachedPromptTokens?: number;
}

/** A vendor protocol: how a request becomes a stream of events, and texts become embeddings. */
export interface RemoteBackend {
  /** Sends a generation; the iterable yields its events. Failures before the first text may be retried. */
  generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<RemoteEvent>;
  embed?(texts: string[], signal: AbortSignal): Promise<{ embeddings: Float32Array[]; promptTokens?: number }>;
}

export interface RemoteModelOptions {
  /** Provider and model, for messages: "openai-compatible model 'x' at http://...". */
  where: string;
  capabilities: ModelCapabilities;
  info: ModelInfo;
  loadMs: number;
  retry: ResolvedRetry;
  /** Longest wait for the first event of an attempt, ms. */
  timeoutMs: number;
  /** Longest wait between two events of a stream, ms. */
  idleTimeoutMs: number;
  /** Scrubs the provider's key from error text (see remoteFailure). */
  redact?: (text: string) => string;
}

interface Partial {
  text: string;
  generatedTokens: number;
}

function partialResult(partial: Partial, started: number, firstAt: number | undefined): GenerationResult {
  const totalMs = performance.now() - started;
  return {
    text: partial.text,
    finishReason: 'abort',
    promptTokens: 0,
    generatedTokens: partial.generatedTokens,
    timeToFirstTokenMs: firstAt === undefined ? totalMs : firstAt - started,
    promptTokensPerSecond: 0,
    decodeTokensPerSecond: 0,
    totalMs,
    nativeMs: 0,
    cpuMs: 0,
    queuedMs: 0,
    cachedPromptTokens: 0,
  };
}

export class RemoteModel implements ModelHandle {
  readonly local = false as const;
  readonly capabilities: ModelCapabilities;
  readonly info: ModelInfo;
  readonly loadMs: number;
  activeRequests = 0;
  disposed = false;
  readonly #options: RemoteModelOptions;
  readonly #backend: RemoteBackend;
  readonly #controllers = new Set<AbortController>();
  readonly #idle: Array<() => void> = [];
  #disposing: Promise<void> | undefined;

  constructor(backend: RemoteBackend, options: RemoteModelOptions) {
    this.#backend = backend;
    this.#options = options;
    this.capabilities = Object.freeze({ ...options.capabilities });
    this.info = Object.freeze({ ...options.info });
    this.loadMs = options.loadMs;
  }

  generate(request: GenerateRequest): GenerationStream {
    const signal = this.#check(request);
    const channel = new ChunkChannel(true);
    const controller = new AbortController();
    const result = this.#track(controller, this.#generate(request, signal, controller, channel));
    result.then(
      () => channel.end(),
      (error: unknown) => channel.end(error),
    );
    // The caller may only iterate: a rejection must not also be an unhandled one.
    result.catch(() => undefined);
    const stop = () => controller.abort(new ModelpoolError('ABORTED', 'the reader stopped reading'));
    return {
      result,
      chunks: () => channel.chunks(stop),
      [Symbol.asyncIterator]: () => channel.texts(stop),
    };
  }

  async complete(request: GenerateRequest): Promise<GenerationResult> {
    return this.generate(request).result;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    this.#throwIfDisposed();
    if (!this.capabilities.embed || this.#backend.embed === undefined) throw invalidArgument('texts', 'a model that declares capabilities.embed', texts);
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw invalidArgument('texts', 'an array of strings', texts);
    if (texts.length === 0) return [];
    const controller = new AbortController();
    const embed = this.#backend.embed.bind(this.#backend);
    return this.#track(controller, this.#withRetries(controller.signal, async (signal) => (await this.#bounded(signal, (s) => embed(texts, s))).embeddings));
  }

  dispose(options: { abort?: boolean } = {}): Promise<void> {
    this.disposed = true;
    if (options.abort === true) for (const c of this.#controllers) c.abort(new ModelpoolError('ABORTED', 'the model was disposed'));
    this.#disposing ??= this.activeRequests === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.#idle.push(resolve));
    return this.#disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // ---------------------------------------------------------------------------------------------

  #throwIfDisposed(): void {
    if (this.disposed) throw new ModelpoolError('DISPOSED', `${this.#options.where} has been disposed`);
  }

  #needs(capability: keyof ModelCapabilities, field: string, value: unknown): void {
    if (!this.capabilities[capability]) throw invalidArgument(field, `a model that declares capabilities.${capability}`, value);
  }

  #check(request: GenerateRequest): AbortSignal | undefined {
    this.#throwIfDisposed();
    plainObject('request', request);
    if ((request.prompt === undefined) === (request.messages === undefined)) {
      throw invalidArgument('request.prompt', 'exactly one of prompt or messages', request.prompt === undefined ? undefined : 'both');
    }
    if (request.prompt !== undefined) {
      if (typeof request.prompt !== 'string') throw invalidArgument('request.prompt', 'a string', request.prompt);
      this.#needs('generate', 'request.prompt', request.prompt);
    }
    if (request.messages !== undefined) {
      if (!Array.isArray(request.messages) || request.messages.length === 0) throw invalidArgument('request.messages', 'a non-empty array of messages', request.messages);
      this.#needs('chat', 'request.messages', request.messages);
    }
    if (request.jsonSchema !== undefined) this.#needs('jsonSchema', 'request.jsonSchema', request.jsonSchema);
    if (request.grammar !== undefined) this.#needs('grammar', 'request.grammar', request.grammar);
    if (request.adapter !== undefined) throw invalidArgument('request.adapter', 'no LoRA adapter (a remote model has none)', request.adapter);
    if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) throw invalidArgument('request.maxTokens', 'an integer ≥ 1', request.maxTokens);
    const signal = optionalSignal('request.signal', request.signal);
    if (signal?.aborted === true) throw new ModelpoolError('ABORTED', 'the request was aborted before it started', { cause: signal.reason });
    return signal;
  }

  #track<T>(controller: AbortController, work: Promise<T>): Promise<T> {
    this.activeRequests++;
    this.#controllers.add(controller);
    const done = () => {
      this.#controllers.delete(controller);
      if (--this.activeRequests === 0) for (const resolve of this.#idle.splice(0)) resolve();
    };
    work.then(done, done);
    return work;
  }

  /**
   * Runs `work` with an attempt's signal that also fires after `timeoutMs` (TIMEOUT) unless `work`
   * calls `answered()` first (a stream's first event). The attempt's signal is aborted when `work`
   * ends, so a backend's request never outlives its attempt.
   */
  async #bounded<T>(signal: AbortSignal, work: (signal: AbortSignal, answered: () => void) => Promise<T>): Promise<T> {
    const attempt = new AbortController();
    const timeout = new ModelpoolError('TIMEOUT', `${this.#options.where}: no answer within ${this.#options.timeoutMs} ms`);
    const timer = setTimeout(() => attempt.abort(timeout), this.#options.timeoutMs);
    const forward = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    try {
      return await work(attempt.signal, () => clearTimeout(timer));
    } catch (error) {
      if (attempt.signal.reason === timeout) throw timeout;
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
      attempt.abort();
    }
  }

  /** Runs `attempt` until it succeeds, fails in a way a retry cannot mend, or the retries run out. */
  async #withRetries<T>(signal: AbortSignal, attempt: (signal: AbortSignal) => Promise<T>, canRetry: () => boolean = () => true): Promise<T> {
    const retry = this.#options.retry;
    for (let n = 0; ; n++) {
      try {
        return await attempt(signal);
      } catch (error) {
        if (signal.aborted) throw abortedError(signal, error);
        const failure = remoteFailure(error, this.#options.where, { attempts: n + 1 }, this.#options.redact);
        if (!failure.retryable || !canRetry() || n >= retry.maxRetries) throw failure.error;
        const delay = retryDelay(retry, n, failure.retryAfterMs);
        if (delay === undefined) throw failure.error;
        await sleep(delay, signal);
      }
    }
  }

  async #generate(request: GenerateRequest, callerSignal: AbortSignal | undefined, controller: AbortController, channel: ChunkChannel): Promise<GenerationResult> {
    const signal = callerSignal === undefined ? controller.signal : AbortSignal.any([callerSignal, controller.signal]);
    const started = performance.now();
    const partial: Partial = { text: '', generatedTokens: 0 };
    let firstAt: number | undefined;
    let end: RemoteEvent = {};
    const logprobs: TokenLogprob[] = [];
    try {
      await this.#withRetries(
        signal,
        (s) =>
          this.#bounded(s, async (attemptSignal, answered) => {
            // The first event is bounded by timeoutMs (#bounded); each later one by idleTimeoutMs.
            const iterator = this.#backend.generate(request, attemptSignal)[Symbol.asyncIterator]();
            for (let first = true; ; first = false) {
              const next = first ? await iterator.next() : await this.#idleBounded(iterator, attemptSignal);
              answered();
              // Events already received still come after an abort: stop at the first one after it.
              if (attemptSignal.aborted) throw attemptSignal.reason ?? new ModelpoolError('ABORTED', 'the request was aborted');
              if (next.done === true) break;
              const event = next.value;
              if (event.text !== undefined && event.text.length > 0) {
                firstAt ??= performance.now();
                partial.text += event.text;
                partial.generatedTokens++;
                channel.push(event.logprobs === undefined ? { text: event.text } : { text: event.text, logprobs: event.logprobs });
              }
              if (event.logprobs !== undefined) logprobs.push(...event.logprobs);
              if (event.finishReason !== undefined || event.generatedTokens !== undefined || event.promptTokens !== undefined) end = { ...end, ...definedOf(event) };
            }
          }),
        () => partial.text.length === 0,
      );
    } catch (error) {
      if (signal.aborted) {
        const aborted = abortedError(signal, error);
        throw new ModelpoolError(aborted.code, aborted.message, { cause: aborted.cause, details: { ...aborted.details, partialText: partial.text, ...partialResult(partial, started, firstAt) } });
      }
      const failure = error instanceof ModelpoolError ? error : remoteFailure(error, this.#options.where, {}, this.#options.redact).error;
      if (partial.text.length === 0) throw failure;
      throw new ModelpoolError(failure.code, `${failure.message} (after ${partial.generatedTokens} chunks of output)`, {
        cause: failure.cause ?? failure,
        details: { ...failure.details, partialText: partial.text, ...partialResult(partial, started, firstAt) },
      });
    }
    const totalMs = performance.now() - started;
    const ttft = firstAt === undefined ? totalMs : firstAt - started;
    const generatedTokens = end.generatedTokens ?? partial.generatedTokens;
    const decodeMs = totalMs - ttft;
    const result: GenerationResult = {
      text: partial.text,
      finishReason: end.finishReason ?? 'stop',
      promptTokens: end.promptTokens ?? 0,
      generatedTokens,
      timeToFirstTokenMs: ttft,
      promptTokensPerSecond: end.promptTokens !== undefined && ttft > 0 ? end.promptTokens / (ttft / 1000) : 0,
      decodeTokensPerSecond: generatedTokens > 1 && decodeMs > 0 ? (generatedTokens - 1) / (decodeMs / 1000) : 0,
      totalMs,
      // The server's compute is not this process's: no native time, no CPU time of ours.
      nativeMs: 0,
      cpuMs: 0,
      queuedMs: 0,
      cachedPromptTokens: end.cachedPromptTokens ?? 0,
    };
    if (request.logprobs === true) result.logprobs = logprobs;
    return result;
  }

  /** The next event, or TIMEOUT after idleTimeoutMs without one. */
  async #idleBounded<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ModelpoolError('TIMEOUT', `${this.#options.where}: the stream stalled for ${this.#options.idleTimeoutMs} ms`)), this.#options.idleTimeoutMs);
    });
    try {
      return await Promise.race([iterator.next(), idle]);
    } catch (error) {
      // Stop the backend's request (the stalled stream) before reporting.
      if (!signal.aborted) void iterator.return?.()?.catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

function definedOf(event: RemoteEvent): RemoteEvent {
  const out: RemoteEvent = {};
  if (event.finishReason !== undefined) out.finishReason = event.finishReason;
  if (event.promptTokens !== undefined) out.promptTokens = event.promptTokens;
  if (event.generatedTokens !== undefined) out.generatedTokens = event.generatedTokens;
  if (event.cachedPromptTokens !== undefined) out.cachedPromptTokens = event.cachedPromptTokens;
  return out;
}

function abortedError(signal: AbortSignal, cause: unknown): ModelpoolError {
  const reason: unknown = signal.reason;
  if (reason instanceof ModelpoolError) return reason;
  return new ModelpoolError('ABORTED', 'the request was aborted', { cause: reason ?? cause });
}
