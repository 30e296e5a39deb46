/**
 * Which failures say something about a model's health. A breaker trips, and failover moves on, only
 * for failures of the model or its provider; a failure the caller caused (bad input, its own abort,
 * its budget, a full queue, our own rate limit) would fail the same way anywhere, so it trips nothing
 * and is thrown at once.
 */
import { isModelpoolError, type ErrorCode } from '../errors.js';

/** Codes that are the caller's doing, whichever model served it. RATE_LIMITED is decided apart. */
const CALLER_FAULT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'INVALID_SCHEMA',
  'ABORTED',
  'BUDGET_EXCEEDED',
  'QUEUE_FULL',
  'CONTEXT_OVERFLOW',
  'CONTEXT_TOO_LARGE',
  'DISPOSED',
]);

/** Longest message kept of an error (health figures are shown on dashboards and in logs). */
export const ERROR_MESSAGE_MAX = 200;

/**
 * Whether `error` is the caller's fault: a ModelpoolError coded INVALID_ARGUMENT, INVALID_SCHEMA,
 * ABORTED, BUDGET_EXCEEDED, QUEUE_FULL, CONTEXT_OVERFLOW, CONTEXT_TOO_LARGE or DISPOSED; RATE_LIMITED
 * raised by our own limiter (no numeric `details.status`, which a provider's 429 carries); or an
 * `AbortError` (an aborted signal). Everything else — provider errors, timeouts, a provider's 429,
 * UNAUTHORIZED and FORBIDDEN (a revoked or wrong key), errors that are not ModelpoolErrors — is not.
 */
export function isCallerFault(error: unknown): boolean {
  if (isModelpoolError(error)) {
    if (error.code === 'RATE_LIMITED') return typeof error.details?.status !== 'number';
    return CALLER_FAULT_CODES.has(error.code);
  }
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * The default failure classifier of breakers and trackers: true for every error that is not the
 * caller's fault ({@link isCallerFault}) and not CIRCUIT_OPEN (a breaker refusing is no news about
 * the model). So PROVIDER_ERROR, PROVIDER_UNAVAILABLE, TIMEOUT, a provider's RATE_LIMITED (429),
 * UNAUTHORIZED, FORBIDDEN, MODEL_NOT_FOUND, LOAD_FAILED, GENERATION_FAILED and unknown errors count.
 */
export function countsAsFailure(error: unknown): boolean {
  return !isCallerFault(error) && !isModelpoolError(error, 'CIRCUIT_OPEN');
}

/** An error as health figures keep it: a code and a short message, nothing else of the error. */
export interface ErrorSummary {
  /** A ModelpoolError's code, another error's string `code` (e.g. ECONNREFUSED) or name, or 'UNKNOWN'. */
  code: string;
  /** The message, secrets that look like keys or bearer tokens masked, at most 200 characters. */
  message: string;
}

/** Things in a message that look like credentials: API keys (sk-..., sk-ant-...), bearer tokens, long hex or base64 runs. */
const SECRET_PATTERNS = [/\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}/g, /\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi, /[A-Za-z0-9+/_-]{40,}={0,2}/g];

/**
 * The code and a truncated, masked message of `error` — never the error itself, whose cause, details
 * or request may carry a prompt or a credential.
 */
export function summarizeError(error: unknown): ErrorSummary {
  let code = 'UNKNOWN';
  let message: string;
  if (error instanceof Error) {
    const own = (error as { code?: unknown }).code;
    code = typeof own === 'string' && own.length > 0 ? own.slice(0, 64) : error.name;
    message = error.message;
  } else {
    message = typeof error === 'string' ? error : describeThrown(error);
  }
  for (const pattern of SECRET_PATTERNS) message = message.replace(pattern, '[masked]');
  if (message.length > ERROR_MESSAGE_MAX) message = `${message.slice(0, ERROR_MESSAGE_MAX - 3)}...`;
  return { code, message };
}

function describeThrown(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `a thrown ${Object.prototype.toString.call(value)}`;
  return String(value);
}
