/**
 * Redaction: what providers and the server run every log line, error and header set through before
 * it leaves the process. A Redactor knows secrets and replaces each occurrence — raw, JSON-escaped,
 * URL-encoded, base64 or base64url, and so also inside `Bearer <key>` or `Basic <base64>` — with
 * `[redacted]`; bearer tokens it does not know are replaced too.
 */
import { invalidArgument } from '../errors.js';
import { plainObject } from '../validate.js';
import { REDACTED, Secret, invalidSecret } from './secret.js';

/** The shortest secret a Redactor accepts: shorter ones would blank ordinary words in every log line. */
export const MIN_REDACTED_LENGTH = 4;
/** Encoded forms (base64 and the rest) are matched for secrets of at least this many characters. */
const MIN_ENCODED_LENGTH = 8;

/** Header names {@link redactHeaders} blanks (lower case). */
export const SENSITIVE_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
]);

/**
 * Object keys whose values {@link Redactor.redactValue} blanks whatever they hold, compared in lower
 * case without `-` and `_` (so `apiKey`, `api_key` and `API-KEY` are one): the sensitive headers and
 * the usual names of credentials in options and bodies.
 */
export const SENSITIVE_FIELDS: readonly string[] = Object.freeze([
  ...SENSITIVE_HEADERS.map(normaliseField),
  'apikey',
  'password',
  'passphrase',
  'secret',
  'clientsecret',
  'accesstoken',
  'refreshtoken',
  'masterkey',
]);

function normaliseField(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** `Bearer <token>` with a token of 8 characters or more, the token being any run of RFC 6750 token characters. */
const BEARER = /\b(Bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi;

export interface RedactorOptions {
  /** Secrets to start with. */
  secrets?: Iterable<Secret | string>;
  /** Also replace the token of every `Bearer <token>` (8+ characters), known or not (default true). */
  bearer?: boolean;
}

/**
 * Holds known secrets and replaces them in text. Matching is exact (case-sensitive); the forms
 * searched for each secret are the raw value, its JSON-escaped and URL-encoded forms and, for secrets
 * of 8+ characters, the base64 and base64url forms at each of the three byte alignments (so a key
 * inside `Basic base64(user:key)` is found too, less at most two characters at each edge).
 */
export class Redactor {
  readonly #secrets = new Map<string, Secret>();
  readonly #bearer: boolean;
  #pattern: RegExp | undefined;

  /** Throws INVALID_ARGUMENT naming `options`, `options.bearer` or `options.secrets[i]` (never a secret's value). */
  constructor(options: RedactorOptions = {}) {
    plainObject('options', options);
    if (options.bearer !== undefined && typeof options.bearer !== 'boolean') throw invalidArgument('options.bearer', 'a boolean', options.bearer);
    this.#bearer = options.bearer ?? true;
    if (options.secrets !== undefined) {
      if (typeof (options.secrets as Iterable<unknown>)[Symbol.iterator] !== 'function') {
        throw invalidSecret('options.secrets', 'an iterable of secrets', options.secrets);
      }
      let index = 0;
      for (const secret of options.secrets) this.#add(secret, `options.secrets[${index++}]`);
    }
  }

  /** How many distinct secrets it knows. */
  get size(): number {
    return this.#secrets.size;
  }

  /**
   * Learns `secret` (a Secret or a string of at least 4 characters); returns this. Throws
   * INVALID_ARGUMENT naming `secret`, never showing it.
   */
  add(secret: Secret | string): this {
    this.#add(secret, 'secret');
    return this;
  }

  /** Forgets `secret`; false when it was not known. */
  remove(secret: Secret | string): boolean {
    const value = secret instanceof Secret ? secret.reveal() : secret;
    const removed = typeof value === 'string' && this.#secrets.delete(value);
    if (removed) this.#pattern = undefined;
    return removed;
  }

  /** `text` with every known secret (and, unless turned off, every bearer token) replaced by `[redacted]`. */
  redact(text: string): string {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    let result = text;
    const pattern = this.#compile();
    if (pattern !== undefined) result = result.replace(pattern, REDACTED);
    if (this.#bearer) result = result.replace(BEARER, `$1${REDACTED}`);
    return result;
  }

  /**
   * A copy of a JSON-like value with every string redacted: arrays and plain objects deeply (to 32
   * levels; deeper and cyclic parts become `'[redacted]'`), a Secret becomes `'[redacted]'`, an Error
   * becomes `{ name, message, code?, field?, value?, details?, stack? }` redacted the same way, and the
   * value of a key in {@link SENSITIVE_FIELDS} (`authorization`, `apiKey`, `password`, ...) becomes
   * `'[redacted]'` whatever it is. Other values (Maps, Dates, class instances) are kept as they are.
   */
  redactValue(value: unknown): unknown {
    return this.#value(value, 0, new Set());
  }

  #value(value: unknown, depth: number, seen: Set<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value instanceof Secret) return REDACTED;
    if (typeof value !== 'object' || value === null) return value;
    if (depth >= 32 || seen.has(value)) return REDACTED;
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((item) => this.#value(item, depth + 1, seen));
      let source: Record<string, unknown>;
      if (value instanceof Error) source = pick(value as unknown as Record<string, unknown>, ['name', 'message', 'code', 'field', 'value', 'details', 'stack']);
      else if (isPlainObject(value)) source = value as Record<string, unknown>;
      else return value; // a Map, a Date, a class instance: not JSON-like, kept as it is
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(source)) {
        const redacted = item !== undefined && SENSITIVE_FIELDS.includes(normaliseField(key)) ? REDACTED : this.#value(item, depth + 1, seen);
        Object.defineProperty(copy, key, { value: redacted, enumerable: true, writable: true, configurable: true });
      }
      return copy;
    } finally {
      seen.delete(value);
    }
  }

  #add(secret: unknown, field: string): void {
    const value = secret instanceof Secret ? secret.reveal() : secret;
    if (typeof value !== 'string' || value.length < MIN_REDACTED_LENGTH) {
      throw invalidSecret(field, `a Secret or a string of at least ${MIN_REDACTED_LENGTH} characters`, secret);
    }
    if (!this.#secrets.has(value)) {
      this.#secrets.set(value, Secret.from(value));
      this.#pattern = undefined;
    }
  }

  /** One regular expression of every form of every secret, longest first so a longer form wins over a part of it. */
  #compile(): RegExp | undefined {
    if (this.#pattern !== undefined || this.#secrets.size === 0) return this.#pattern;
    const needles = new Set<string>();
    for (const value of this.#secrets.keys()) for (const form of forms(value)) needles.add(form);
    const sorted = [...needles].sort((a, b) => b.length - a.length);
    this.#pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    return this.#pattern;
  }
}

/** The strings a secret can appear as in text. */
function forms(value: string): string[] {
  const result = [value, JSON.stringify(value).slice(1, -1)];
  if (value.length < MIN_ENCODED_LENGTH) return result;
  result.push(encodeURIComponent(value));
  const bytes = Buffer.from(value, 'utf8');
  for (let offset = 0; offset < 3; offset++) {
    // Characters wholly made of the secret's bits when it starts `offset` bytes into a 3-byte group.
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64').replace(/=+$/, '');
    const core = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
    if (core.length >= MIN_ENCODED_LENGTH) result.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return result;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key of keys) if (source[key] !== undefined) result[key] = source[key];
  return result;
}

/**
 * `text` with each of `secrets` replaced by `[redacted]` in every form a {@link Redactor} knows, and
 * every bearer token. For many lines, keep one Redactor: it compiles its pattern once.
 */
export function redact(text: string, secrets: Iterable<Secret | string>): string {
  return new Redactor({ secrets }).redact(text);
}

/** Header sets {@link redactHeaders} takes: a `Headers`, a record (Node's `IncomingHttpHeaders` too) or `[name, value]` pairs. */
export type HeadersLike = Headers | Record<string, string | string[] | number | undefined> | Array<[string, string]>;

/**
 * A copy of `headers`, of the same kind, with the values of {@link SENSITIVE_HEADERS} (matched without
 * regard to case) and of `extra` header names replaced by `[redacted]`. Throws INVALID_ARGUMENT naming
 * `headers` or `extra`.
 */
export function redactHeaders<T extends HeadersLike>(headers: T, extra: readonly string[] = []): T {
  if (!Array.isArray(extra) || extra.some((name) => typeof name !== 'string')) throw invalidArgument('extra', 'an array of header names', extra);
  const sensitive = new Set([...SENSITIVE_HEADERS, ...extra.map((name) => name.toLowerCase())]);
  const blank = (name: string, value: unknown): unknown => (sensitive.has(name.toLowerCase()) && value !== undefined ? REDACTED : value);
  if (typeof Headers !== 'undefined' && headers instanceof Headers) {
    const copy = new Headers();
    headers.forEach((value, name) => copy.append(name, blank(name, value) as string));
    return copy as T;
  }
  if (Array.isArray(headers)) {
    return headers.map((pair, index) => {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string') throw invalidArgument(`headers[${index}]`, 'a [name, value] pair', pair);
      return [pair[0], blank(pair[0], pair[1])];
    }) as T;
  }
  if (typeof headers !== 'object' || headers === null) throw invalidArgument('headers', 'a Headers, an object or an array of [name, value] pairs', headers);
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    Object.defineProperty(copy, name, { value: blank(name, value), enumerable: true, writable: true, configurable: true });
  }
  return copy as T;
}
