/** Evaluations: the log probability of each token of a given continuation (scoring, perplexity, KL). */
import { invalidArgument } from '../errors.js';
import { optionalBoolean, plainObject } from '../validate.js';
import { type NativeEvaluateParams, type NativeModel } from './native.js';
import { type EvaluateRequest, type EvaluationResult, type GenerationStream } from '../model/types.js';
import { MAX_GENERATE_TOP, requestParams } from './request.js';

function tokens(model: NativeModel, field: string, value: unknown, addSpecial: boolean): Int32Array {
  if (typeof value === 'string') return model.tokenize(value, addSpecial, false);
  if (Array.isArray(value)) {
    value.forEach((t, i) => {
      if (!Number.isInteger(t)) throw invalidArgument(`${field}[${i}]`, 'an integer token id', t);
    });
    return Int32Array.from(value as number[]);
  }
  throw invalidArgument(field, 'a string or an array of token ids', value);
}

/** Native parameters of an evaluation: the prompt tokenized as a prompt, the continuation on its own. */
export function evaluateParams(model: NativeModel, request: EvaluateRequest): NativeEvaluateParams {
  plainObject('request', request);
  const addSpecial = optionalBoolean('request.addSpecial', request.addSpecial) ?? true;
  const promptTokens = tokens(model, 'request.prompt', request.prompt, addSpecial);
  if (promptTokens.length === 0) throw invalidArgument('request.prompt', 'a prompt of at least one token', request.prompt);
  const continuationTokens = tokens(model, 'request.continuation', request.continuation, false);
  if (continuationTokens.length === 0) {
    throw invalidArgument('request.continuation', 'a continuation of at least one token', request.continuation);
  }
  // Up to the whole vocabulary (exact divergences on small vocabularies); the vocabulary size is read only when needed.
  const top = request.topLogprobs;
  const maxTop = typeof top === 'number' && top > MAX_GENERATE_TOP ? model.info().vocabularySize : MAX_GENERATE_TOP;
  return { ...requestParams(request, true, maxTop), promptTokens, continuationTokens };
}

/** The evaluation's result from the stream startRequest made of it. */
export async function evaluationResult(stream: GenerationStream, continuationLength: number): Promise<EvaluationResult> {
  const r = await stream.result;
  const scored = r.logprobs ?? [];
  const logprob = scored.reduce((sum, t) => sum + t.logprob, 0);
  return {
    tokens: scored,
    logprob,
    perplexity: Math.exp(-logprob / Math.max(1, scored.length)),
    promptTokens: r.promptTokens - continuationLength,
    cachedPromptTokens: r.cachedPromptTokens,
    totalMs: r.totalMs,
    cpuMs: r.cpuMs,
  };
}
