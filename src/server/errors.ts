/**
 * Errors as clients expect them: OpenAI's shape `{ error: { message, type, param, code } }` on /v1, Ollama's
 * `{ error: "..." }` on /api, each with the HTTP status the error means. A modelpool error's code decides
 * the status; anything else is a 500 whose message does not leak internals.
 */
import { isModelpoolError, type ErrorCode } from '../errors.js';

export interface HttpError {
  status: number;
  /** OpenAI's error type. */
  type: string;
  /** OpenAI's error code (a string clients switch on), or null. */
  code: string | null;
  message: string;
  /** The request field at fault, as OpenAI names it (`param`). */
  param: string | null;
  /** Extra headers (Retry-After). */
  headers: Record<string, string>;
}

const STATUS: Partial<Record<ErrorCode, [number, string, string | null]>> = {
  INVALID_ARGUMENT: [400, 'invalid_request_error', null],
  INVALID_SCHEMA: [400, 'invalid_request_error', 'invalid_json_schema'],
  CONTEXT_OVERFLOW: [400, 'invalid_request_error', 'context_length_exceeded'],
  CONTEXT_TOO_LARGE: [400, 'invalid_request_error', 'context_length_exceeded'],
  TEMPLATE_ERROR: [400, 'invalid_request_error', 'template_error'],
  MODEL_NOT_FOUND: [404, 'invalid_request_error', 'model_not_found'],
  VERSION_NOT_FOUND: [404, 'invalid_request_error', 'model_not_found'],
  UNAUTHORIZED: [401, 'authentication_error', 'invalid_api_key'],
  FORBIDDEN: [403, 'permission_error', 'insufficient_permissions'],
  UNSATISFIABLE: [422, 'invalid_request_error', 'unsatisfiable'],
  RATE_LIMITED: [429, 'rate_limit_error', 'rate_limit_exceeded'],
  BUDGET_EXCEEDED: [429, 'insufficient_quota', 'insufficient_quota'],
  QUEUE_FULL: [503, 'server_error', 'server_busy'],
  CIRCUIT_OPEN: [503, 'server_error', 'circuit_open'],
  INSUFFICIENT_MEMORY: [503, 'server_error', 'insufficient_memory'],
  DISPOSED: [503, 'server_error', 'shutting_down'],
  TIMEOUT: [504, 'server_error', 'timeout'],
  PROVIDER_ERROR: [502, 'server_error', 'upstream_error'],
  PROVIDER_UNAVAILABLE: [502, 'server_error', 'upstream_unavailable'],
  ABORTED: [499, 'invalid_request_error', 'request_aborted'],
};

/** Request fields as a client wrote them, for `param` (the front door names its own: request.maxTokens). */
const PARAMS: Record<string, string> = {
  'request.maxTokens': 'max_tokens',
  'request.topP': 'top_p',
  'request.topK': 'top_k',
  'request.jsonSchema': 'response_format',
  'request.topLogprobs': 'top_logprobs',
  'request.logprobs': 'logprobs',
  'request.messages': 'messages',
  'request.prompt': 'prompt',
  'request.model': 'model',
  'request.input': 'input',
  'request.stop': 'stop',
  'request.temperature': 'temperature',
  'request.seed': 'seed',
};

export function httpError(error: unknown): HttpError {
  if (!isModelpoolError(error)) {
    return { status: 500, type: 'server_error', code: null, message: 'The server had an error while processing your request', param: null, headers: {} };
  }
  const [status, type, code] = STATUS[error.code] ?? [500, 'server_error', null];
  const headers: Record<string, string> = {};
  const retryAfterMs = error.details?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && retryAfterMs >= 0) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  else if (status === 503) headers['retry-after'] = '1';
  const field = error.field;
  const param = field === undefined ? null : (PARAMS[field] ?? field.replace(/^request\./, ''));
  return { status, type, code: code ?? error.code.toLowerCase(), message: error.message, param, headers };
}

/** OpenAI's error body. */
export function openAIErrorBody(e: HttpError): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}
