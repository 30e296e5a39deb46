/**
 * One error family for the whole project. Every failure that reaches a caller is a
 * {@link ModelpoolError} with a stable `code`; bad input also names the field and the value.
 */
/** Every error code, once: the TypeScript type derives from it and the addon's codes are checked against it. */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'MODEL_NOT_FOUND',
  'VERSION_NOT_FOUND',
  'ALREADY_EXISTS',
  'ILLEGAL_TRANSITION',
  'IN_USE',
  'INVALID_GGUF',
  /** A LoRA adapter that does not fit the model it is loaded on (the error names the key or tensor). */
  'INVALID_ADAPTER',
  'UNSUPPORTED_ARCHITECTURE',
  'CONTEXT_TOO_LARGE',
  'CONTEXT_OVERFLOW',
  'INSUFFICIENT_MEMORY',
  'LOAD_FAILED',
  'GENERATION_FAILED',
  'INVALID_SCHEMA',
  'QUEUE_FULL',
  'TIMEOUT',
  'ABORTED',
  'DISPOSED',
  'ROLLED_BACK',
  /** A saved KV state from another model, another version of it, or made with an adapter not loaded. */
  'STATE_MISMATCH',
  'NATIVE_BINARY_NOT_FOUND',
  'STORE_CORRUPT',
  'STORE_FAILED',
  /** A store write lost a race with another writer (another process) and could not be re-applied. */
  'CONFLICT',
  /** A chat template failed to parse, or raised while rendering (raise_exception or a failure). */
  'TEMPLATE_ERROR',
  /** Selection: no candidate satisfies the constraints (details list what eliminated each one). */
  'UNSATISFIABLE',
  /** A file of records (task suite, price table, labelled set) with a bad line or field. */
  'INVALID_DATA',
  /** A token or dollar budget would be exceeded by the request. */
  'BUDGET_EXCEEDED',
  /** Too many requests: a remote provider's 429 (details.retryAfterMs when it said), or a caller's rate limit. */
  'RATE_LIMITED',
  /** A remote provider answered with an error (5xx, a malformed or cut stream); details.status, details.partial. */
  'PROVIDER_ERROR',
  /** A remote provider could not be reached (connection refused or reset, DNS, TLS). */
  'PROVIDER_UNAVAILABLE',
  /** Missing or wrong credentials (a remote provider's 401, or a caller key that is not known). */
  'UNAUTHORIZED',
  /** Known credentials without the right (a provider's 403, or a caller key without the scope). */
  'FORBIDDEN',
  /** A circuit breaker is open for the provider or model: requests fail fast until it half-opens. */
  'CIRCUIT_OPEN',
  /** Encrypted data that does not decrypt with the key given (wrong key or passphrase, or altered data). */
  'DECRYPTION_FAILED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ModelpoolErrorOptions {
  field?: string;
  value?: unknown;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class ModelpoolError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly value?: unknown;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ModelpoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModelpoolError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
    if (options.value !== undefined) this.value = options.value;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** Short, safe rendering of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return `${typeof value} ${String(value)}`;
  }
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (typeof value === 'function') return 'function';
  return `object ${Object.prototype.toString.call(value)}`;
}

/** "Expected <expected> for <field> but received <value>" — the one message shape for bad input. */
export function invalidArgument(field: string, expected: string, value: unknown): ModelpoolError {
  return new ModelpoolError(
    'INVALID_ARGUMENT',
    `Expected ${expected} for ${field} but received ${describeValue(value)}`,
    { field, value },
  );
}

export function isModelpoolError(error: unknown, code?: ErrorCode): error is ModelpoolError {
  return error instanceof ModelpoolError && (code === undefined || error.code === code);
}
