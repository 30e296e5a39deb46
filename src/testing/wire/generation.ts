/**
 * What the three dialects share about running the model: starting a generation tied to the
 * exchange's signal, turning the model's errors into HTTP statuses, counting tokens where the model
 * can tokenize, and the text of a stop sequence a generation ended on.
 */
import { ModelpoolError } from '../../errors.js';
import { isLocalModel, type ModelHandle } from '../../model/handle.js';
import type { ChatMessage, GenerateRequest, GenerationResult, GenerationStream } from '../../model/types.js';
import type { WireExchange } from './exchange.js';
import { WireHttpError } from './fields.js';

/**
 * Starts `request` (over the server's request defaults) on `model`, stopped by the exchange's
 * signal (the client went away, a fault cut the response, the server is closing). A request the model refuses at once becomes a WireHttpError.
 */
export function startGeneration(exchange: WireExchange, model: ModelHandle, request: GenerateRequest): GenerationStream {
  // Fields the vendor request left out keep the server's defaults.
  const given = Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined));
  let stream: GenerationStream;
  try {
    stream = model.generate({ ...exchange.requestDefaults, ...given, signal: exchange.signal });
  } catch (error) {
    throw toHttpError(error);
  }
  // The result is awaited on the paths that finish; an abort or failure on the others is expected.
  stream.result.catch(() => undefined);
  return stream;
}

/** The whole result of `request` (no streaming), its failures as WireHttpErrors. */
export async function completeGeneration(exchange: WireExchange, model: ModelHandle, request: GenerateRequest): Promise<GenerationResult> {
  const stream = startGeneration(exchange, model, request);
  try {
    return await stream.result;
  } catch (error) {
    throw toHttpError(error);
  }
}

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_SCHEMA: 400,
  CONTEXT_OVERFLOW: 400,
  CONTEXT_TOO_LARGE: 400,
  TEMPLATE_ERROR: 400,
  MODEL_NOT_FOUND: 404,
  QUEUE_FULL: 429,
  RATE_LIMITED: 429,
  BUDGET_EXCEEDED: 429,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  DISPOSED: 503,
  TIMEOUT: 504,
};

/** A model's error as the HTTP error a server would answer with (a ModelpoolError's code picks the status). */
export function toHttpError(error: unknown): WireHttpError {
  if (error instanceof WireHttpError) return error;
  if (error instanceof ModelpoolError) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    const param = error.field === undefined ? null : error.field.replace(/^request\./, '');
    return new WireHttpError(status, error.message, { param });
  }
  return new WireHttpError(500, error instanceof Error ? error.message : String(error));
}

/** Tokens of `text` when the model can tokenize here (a local model); otherwise 0. */
export function countTokens(model: ModelHandle, text: string, parseSpecial = false): number {
  if (!isLocalModel(model)) return 0;
  try {
    return model.tokenize(text, { addSpecial: true, parseSpecial }).length;
  } catch {
    return 0;
  }
}

/** Prompt tokens of a chat before it runs (as the model's template renders it), for a local model; otherwise 0. */
export function countChatTokens(model: ModelHandle, messages: ChatMessage[]): number {
  if (!isLocalModel(model)) return 0;
  try {
    return countTokens(model, model.applyChatTemplate(messages), true);
  } catch {
    return 0;
  }
}

/**
 * The stop sequence a generation that finished with 'stop' ended on. The engine cuts the text before
 * the earliest stop string and does not say which one it was; with one there is no doubt. With
 * several, a token that spans the cut (kept in the log probabilities when the request asked for
 * them) shows the stop string's start; when the stop string starts on a token boundary nothing
 * shows, and the first sequence given is reported.
 */
export function matchedStop(result: GenerationResult, stops: string[] | undefined): string | null {
  if (result.finishReason !== 'stop' || stops === undefined || stops.length === 0) return null;
  if (stops.length === 1 || result.logprobs === undefined) return stops[0]!;
  const tail = result.logprobs.map((token) => token.text).join('').slice(result.text.length);
  if (tail === '') return stops[0]!;
  return stops.find((stop) => stop.startsWith(tail) || tail.startsWith(stop)) ?? stops[0]!;
}

/** A short random id (`prefix` + 24 letters and digits), in the vendors' style. */
export function randomId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = prefix;
  for (let i = 0; i < 24; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return id;
}
