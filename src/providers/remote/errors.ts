/**
 * Remote failures as modelpool errors. The vendors' SDKs and fetch throw their own shapes (an
 * `APIError` with `status` and `headers`, Ollama's `ResponseError` with `status_code`, a TypeError
 * "fetch failed" with a `cause.code`); they are read by shape here, so this file imports none of them.
 * Messages keep the server's own words (truncated) and never the request's credentials.
 */
import { ModelpoolError, isModelpoolError, type ErrorCode } from '../../errors.js';

/** What a failure says about retrying: which requests may be sent again, and after how long. */
export interface RemoteFailure {
  error: ModelpoolError;
  /** Sending the same request again may succeed (429, 5xx, a connection failure, a timeout). */
  retryable: boolean;
  /** The server's Retry-After, ms. */
  retryAfterMs?: number;
}

const MESSAGE_MAX = 300;

/** Retry-After as ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') return (get.call(headers, name) as string | null) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

function statusOf(error: object): number | undefined {
  const status = (error as { status?: unknown }).status ?? (error as { status_code?: unknown }).status_code;
  return typeof status === 'number' ? status : undefined;
}

function shortMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX - 3)}...` : message;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT']);

function causeCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * Classifies a failure of a remote call. `where` names the provider and model for the message
 * ("openai-compatible model 'x' at http://..."); `details` are added to the error's. With `redact`
 * (the provider's, knowing its key), the message is scrubbed and the cause is a scrubbed copy of the
 * original: a server that echoes the key in its error text (OpenAI does, partly masked) cannot put it
 * in a log through modelpool.
 */
export function remoteFailure(error: unknown, where: string, details: Record<string, unknown> = {}, redact?: (text: string) => string): RemoteFailure {
  if (isModelpoolError(error)) {
    const retryable = error.code === 'TIMEOUT' || error.code === 'PROVIDER_UNAVAILABLE' || (error.code === 'PROVIDER_ERROR' && error.details?.status === undefined);
    return { error, retryable };
  }
  const cause = redact === undefined ? error : scrubbed(error, redact);
  const make = (code: ErrorCode, message: string, extra: Record<string, unknown> = {}) =>
    new ModelpoolError(code, redact === undefined ? `${where}: ${message}` : redact(`${where}: ${message}`), { cause, details: { ...details, ...extra } });
  if (error !== null && typeof error === 'object') {
    const name = (error as { name?: unknown }).name;
    if (name === 'APIConnectionTimeoutError') return { error: make('TIMEOUT', 'the request timed out'), retryable: true };
    const status = statusOf(error);
    if (status !== undefined) {
      const message = `HTTP ${status}: ${shortMessage(error)}`;
      if (status === 429) {
        const retryAfterMs = parseRetryAfter(headerOf((error as { headers?: unknown }).headers, 'retry-after'));
        return { error: make('RATE_LIMITED', message, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }), retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
      if (status === 401) return { error: make('UNAUTHORIZED', message, { status }), retryable: false };
      if (status === 403) return { error: make('FORBIDDEN', message, { status }), retryable: false };
      if (status === 404) return { error: make('MODEL_NOT_FOUND', message, { status }), retryable: false };
      if (status === 408) return { error: make('TIMEOUT', message, { status }), retryable: true };
      if (status === 400 || status === 413 || status === 422) return { error: make('INVALID_ARGUMENT', message, { status }), retryable: false };
      const retryAfterMs = parseRetryAfter(headerOf((error as { headers?: unknown }).headers, 'retry-after'));
      return { error: make('PROVIDER_ERROR', message, { status }), retryable: status >= 500 || status === 409, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    if (name === 'APIConnectionError' || causeCode(error) !== undefined || (error instanceof TypeError && /fetch failed|terminated|socket/i.test(error.message))) {
      return { error: make('PROVIDER_UNAVAILABLE', `cannot reach the server (${causeCode(error) ?? shortMessage(error)})`), retryable: true };
    }
    if (error instanceof SyntaxError) return { error: make('PROVIDER_ERROR', `malformed response: ${shortMessage(error)}`), retryable: true };
  }
  return { error: make('PROVIDER_ERROR', shortMessage(error)), retryable: true };
}

/** A copy of an error with only its name, scrubbed message and status: no headers, request or body. */
function scrubbed(error: unknown, redact: (text: string) => string): Error {
  const copy = new Error(redact(shortMessage(error)));
  if (error instanceof Error) copy.name = error.name;
  const status = error !== null && typeof error === 'object' ? statusOf(error) : undefined;
  if (status !== undefined) Object.assign(copy, { status });
  const code = causeCode(error);
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}

/** A stream that ended without the event its protocol ends with: the connection was cut. */
export function endedEarly(last: string): ModelpoolError {
  return new ModelpoolError('PROVIDER_ERROR', `the stream ended before its ${last}: the connection was cut`);
}
