/**
 * Helpers of the judge tests: a runner that counts its calls and the most in flight, and a
 * ModelHandle-shaped object that answers with fixed text (for the arithmetic of ensembles and
 * calibration only; that the grammar forces a verdict is tested on the real model).
 */
import type { ModelHandle } from '../../src/model/handle.js';
import type { GenerateRequest, GenerationResult } from '../../src/model/types.js';
import type { JudgeRunner } from '../../src/judge/index.js';

export interface CountingRunner {
  run: JudgeRunner;
  calls: number;
  inFlight: number;
  maxInFlight: number;
  requests: GenerateRequest[];
}

/** Runs `fn` on `model`, counting calls and the most runner calls in flight at once, keeping each request. */
export function countingRunner(model: ModelHandle): CountingRunner {
  const counter: CountingRunner = { calls: 0, inFlight: 0, maxInFlight: 0, requests: [], run: undefined as unknown as JudgeRunner };
  const recording = new Proxy(model, {
    get(target, key) {
      if (key === 'complete') {
        return (request: GenerateRequest) => {
          counter.requests.push(request);
          return target.complete(request);
        };
      }
      return Reflect.get(target, key) as unknown;
    },
  });
  counter.run = async <T>(fn: (m: ModelHandle) => Promise<T>) => {
    counter.calls++;
    counter.inFlight++;
    counter.maxInFlight = Math.max(counter.maxInFlight, counter.inFlight);
    try {
      return await fn(recording);
    } finally {
      counter.inFlight--;
    }
  };
  return counter;
}

/** A result with `text` and zeroed figures. */
export function resultOf(text: string, finishReason: GenerationResult['finishReason'] = 'stop'): GenerationResult {
  return {
    text,
    finishReason,
    promptTokens: 1,
    generatedTokens: 1,
    timeToFirstTokenMs: 0,
    promptTokensPerSecond: 0,
    decodeTokensPerSecond: 0,
    totalMs: 0,
    nativeMs: 0,
    cpuMs: 0,
    queuedMs: 0,
    cachedPromptTokens: 0,
  };
}

/**
 * A ModelHandle-shaped object whose complete() answers `answer(request)` after a macrotask (so calls
 * overlap the way real ones do). Not a model: arithmetic tests only.
 */
export function fixedModel(answer: (request: GenerateRequest) => string | Error): ModelHandle {
  const complete = async (request: GenerateRequest): Promise<GenerationResult> => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const out = answer(request);
    if (out instanceof Error) throw out;
    return resultOf(out);
  };
  return {
    local: false,
    capabilities: { generate: true, chat: false, embed: false, jsonSchema: true, grammar: true, streaming: false },
    info: { contextSize: 512, parallel: 1 },
    loadMs: 0,
    activeRequests: 0,
    disposed: false,
    generate: () => {
      throw new Error('not used');
    },
    complete,
    embed: () => Promise.reject(new Error('not used')),
    dispose: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/** A fixed verdict's JSON text. */
export function verdictText(score: number, rationale = `score ${score}`): string {
  return JSON.stringify({ score, rationale });
}

/** The prompt a request carries (raw prompt or the one user message). */
export function promptOf(request: GenerateRequest): string {
  if (request.prompt !== undefined) return request.prompt;
  const content = request.messages?.[0]?.content;
  return typeof content === 'string' ? content : '';
}
