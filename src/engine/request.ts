/** Requests: validation, the one home of sampler defaults (generateParams), results and chunk streaming. */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString, optionalBoolean, optionalInteger, optionalNumber, plainObject } from '../validate.js';
import { native } from './native.js';
import {
  type NativeGenerateParams,
  type NativeModel,
  type NativeRequestCallback,
  type NativeRequestHandle,
  type NativeRequestParams,
  type NativeResult,
  type NativeTokenLogprob,
} from './native.js';
import {
  type ChatMessage,
  type EvaluateRequest,
  type FinishReason,
  type GenerateRequest,
  type GenerationChunk,
  type GenerationResult,
  type GenerationStream,
  type SaveStateRequest,
  type TokenLogprob,
} from '../model/types.js';
import { fromNative } from './convert.js';
import { ChunkChannel } from '../model/chunk-channel.js';
import { type ModelChat } from '../template/chat.js';
import { Model } from './model.js';

// ---------------------------------------------------------------------------------------------
// Requests

export function validateMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidArgument('messages', 'a non-empty array', value);
  return value.map((m, i) => {
    const o = plainObject(`messages[${i}]`, m);
    return { role: nonEmptyString(`messages[${i}].role`, o.role), content: stringField(`messages[${i}].content`, o.content) };
  });
}

export function stringField(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgument(field, 'a string', value);
  return value;
}

export function generateParams(model: NativeModel, request: GenerateRequest, chat: ModelChat): NativeGenerateParams {
  plainObject('request', request);
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  if (hasPrompt === hasMessages) {
    throw invalidArgument('request.prompt', 'exactly one of prompt or messages', hasPrompt ? 'both' : undefined);
  }
  let prompt: string;
  let parseSpecial = false;
  if (hasMessages) {
    // The model's own Jinja template (src/template/); llama.cpp's guesser only for a GGUF without one.
    prompt = chat.prompt(request);
    parseSpecial = true;
  } else {
    prompt = stringField('request.prompt', request.prompt);
  }
  let stop: string[] = [];
  if (request.stop !== undefined) {
    if (!Array.isArray(request.stop) || request.stop.length > 16) {
      throw invalidArgument('request.stop', 'an array of at most 16 non-empty strings', request.stop);
    }
    stop = request.stop.map((s, i) => nonEmptyString(`request.stop[${i}]`, s, 1000));
  }
  if (request.jsonSchema !== undefined && request.grammar !== undefined) {
    throw invalidArgument('request.grammar', 'no grammar when jsonSchema is given', request.grammar);
  }
  let jsonSchema: string | undefined;
  if (request.jsonSchema !== undefined) {
    if (typeof request.jsonSchema !== 'object' || request.jsonSchema === null || Array.isArray(request.jsonSchema)) {
      throw new ModelpoolError('INVALID_SCHEMA', `Expected a JSON schema object for request.jsonSchema but received ${typeof request.jsonSchema}`, {
        field: 'request.jsonSchema',
        value: request.jsonSchema,
      });
    }
    jsonSchema = JSON.stringify(request.jsonSchema);
  }
  const params: NativeGenerateParams = {
    ...requestParams(request),
    prompt,
    addSpecial: optionalBoolean('request.addSpecial', request.addSpecial) ?? true,
    parseSpecial,
    maxTokens: optionalInteger('request.maxTokens', request.maxTokens, 1, 1_000_000) ?? 256,
    stop,
    temperature: optionalNumber('request.temperature', request.temperature, 0, 100) ?? 0.8,
    topK: optionalInteger('request.topK', request.topK, 0, 1_000_000) ?? 40,
    topP: optionalNumber('request.topP', request.topP, 0, 1) ?? 0.95,
    minP: optionalNumber('request.minP', request.minP, 0, 1) ?? 0.05,
    repeatPenalty: optionalNumber('request.repeatPenalty', request.repeatPenalty, 0.01, 100) ?? 1,
    repeatLastN: optionalInteger('request.repeatLastN', request.repeatLastN, 0, 1_000_000) ?? 64,
    frequencyPenalty: optionalNumber('request.frequencyPenalty', request.frequencyPenalty, -100, 100) ?? 0,
    presencePenalty: optionalNumber('request.presencePenalty', request.presencePenalty, -100, 100) ?? 0,
  };
  const seed = optionalInteger('request.seed', request.seed, 0, 0xfffffffe);
  if (seed !== undefined) params.seed = seed;
  if (jsonSchema !== undefined) params.jsonSchema = jsonSchema;
  if (request.grammar !== undefined) params.grammar = nonEmptyString('request.grammar', request.grammar);
  return params;
}

/**
 * The fields generations and evaluations share: the prompt cache switch, log probabilities, the adapter.
 * `maxTop` bounds topLogprobs: 20 for generations (OpenAI's limit), the vocabulary size for evaluations.
 */
/** Most alternatives a generation reports per token (OpenAI's limit). */
export const MAX_GENERATE_TOP = 20;

export function requestParams(request: GenerateRequest | EvaluateRequest | SaveStateRequest, scoring = false, maxTop = MAX_GENERATE_TOP): NativeRequestParams {
  const logprobs = optionalBoolean('request.logprobs', (request as GenerateRequest).logprobs) ?? scoring;
  const top = optionalInteger('request.topLogprobs', (request as GenerateRequest).topLogprobs, 0, maxTop);
  if (top !== undefined && !logprobs) throw invalidArgument('request.topLogprobs', 'no topLogprobs unless logprobs is true', top);
  const params: NativeRequestParams = {
    cachePrompt: optionalBoolean('request.cachePrompt', request.cachePrompt) ?? true,
    logprobs: logprobs ? (top ?? 0) : -1,
  };
  if (request.adapter !== undefined) {
    const adapter = request.adapter;
    if (typeof adapter === 'string') {
      params.adapter = nonEmptyString('request.adapter', adapter);
      params.adapterScale = 1;
    } else {
      const o = plainObject('request.adapter', adapter);
      params.adapter = nonEmptyString('request.adapter.name', o.name);
      params.adapterScale = optionalNumber('request.adapter.scale', o.scale, -100, 100) ?? 1;
    }
  }
  return params;
}

/** Log probabilities as the public types have them. */
export function toLogprobs(tokens: NativeTokenLogprob[]): TokenLogprob[] {
  return tokens.map((t) => (t.top ? { id: t.id, text: t.text, logprob: t.logprob, top: t.top } : { id: t.id, text: t.text, logprob: t.logprob }));
}

function toResult(r: NativeResult): GenerationResult {
  const decodeMs = r.decodeMs;
  const promptMs = r.promptMs;
  return {
    text: r.text,
    finishReason: r.finishReason as FinishReason,
    promptTokens: r.promptTokens,
    generatedTokens: r.generatedTokens,
    timeToFirstTokenMs: r.firstTokenMs,
    promptTokensPerSecond: promptMs > 0 ? (r.promptTokens * 1000) / promptMs : 0,
    decodeTokensPerSecond: decodeMs > 0 && r.generatedTokens > 1 ? ((r.generatedTokens - 1) * 1000) / decodeMs : 0,
    totalMs: r.totalMs,
    nativeMs: r.nativeMs,
    cpuMs: r.cpuMs,
    queuedMs: r.queuedMs,
    cachedPromptTokens: r.cachedPromptTokens ?? 0,
    ...(r.logprobs ? { logprobs: toLogprobs(r.logprobs) } : {}),
  };
}

type Submit<P> = (params: P, callback: NativeRequestCallback) => NativeRequestHandle;

/** Runs one request through `submit` and exposes it as a GenerationStream. */
export function startRequest<P extends NativeRequestParams>(
  submit: Submit<P>,
  params: P,
  signal: AbortSignal | undefined,
  onSettled: (handle: NativeRequestHandle) => Model | undefined,
  finish: (result: GenerationResult) => GenerationResult = (result) => result,
): GenerationStream {
  const queue = new ChunkChannel();
  let resolveResult!: (r: GenerationResult) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<GenerationResult>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  // The caller may only iterate: a rejection must not become an unhandled one.
  result.catch(() => undefined);

  let handle: NativeRequestHandle | undefined;
  const onAbort = () => handle?.abort();
  const callback: NativeRequestCallback = (kind, text, native, tokens) => {
    if (text) queue.push(tokens ? { text, logprobs: toLogprobs(tokens) } : { text });
    if (kind !== 'done' || !native) return;
    signal?.removeEventListener('abort', onAbort);
    if (handle) onSettled(handle);
    if (native.errorCode) {
      const error = fromNative(Object.assign(new Error(native.errorMessage), { code: native.errorCode }), 'GENERATION_FAILED');
      queue.end(error);
      rejectResult(error);
    } else if (native.finishReason === 'abort') {
      const error = new ModelpoolError('ABORTED', 'the request was aborted', {
        cause: signal?.reason,
        details: { partialText: native.text, ...toResult(native) },
      });
      queue.end(error);
      rejectResult(error);
    } else {
      let done: GenerationResult;
      try {
        done = finish(toResult(native));
      } catch (error) {
        queue.end(error);
        rejectResult(error);
        return;
      }
      queue.end();
      resolveResult(done);
    }
  };
  if (signal?.aborted) throw new ModelpoolError('ABORTED', 'the request was aborted before it started', { cause: signal.reason });
  try {
    handle = submit(params, callback);
  } catch (error) {
    throw fromNative(error, 'INVALID_ARGUMENT');
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  return { result, chunks: () => queue.chunks(), [Symbol.asyncIterator]: () => queue.texts() };
}

/** generate() without streaming: its result, with a synchronous refusal turned into a rejection. */
export function completeWith(generate: () => GenerationStream): Promise<GenerationResult> {
  try {
    return generate().result;
  } catch (error) {
    return Promise.reject(error);
  }
}
