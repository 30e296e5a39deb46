/**
 * A wrapper for key material that shows nothing when it reaches a log, an error or JSON: only
 * `reveal()` gives the string back. Also the error helper every security file uses for bad secret
 * input, which names the field and says "redacted" instead of echoing the value.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { ModelpoolError } from '../errors.js';

/** What a secret renders as everywhere but `reveal()`. */
export const REDACTED = '[redacted]';

/** The longest secret accepted (64 KiB of characters): a key, a token or a PEM, never a file. */
const MAX_SECRET_LENGTH = 65_536;

/**
 * INVALID_ARGUMENT for a bad secret: "Expected <expected> for <field> but received <type> (redacted)".
 * The value is never put in the message, the `value` property or the details: only its type is told.
 */
export function invalidSecret(field: string, expected: string, value: unknown): ModelpoolError {
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return new ModelpoolError('INVALID_ARGUMENT', `Expected ${expected} for ${field} but received ${kind} (redacted)`, { field, value: REDACTED });
}

/**
 * Key material. `toString()`, `toJSON()`, template use (`${secret}`), string concatenation and
 * `util.inspect` (console.log) all render `[redacted]`; the value lives in a private field, so
 * structuredClone, Object.keys and JSON.stringify see nothing either.
 */
export class Secret {
  readonly #value: string;
  #fingerprint: string | undefined;

  private constructor(value: string) {
    this.#value = value;
  }

  /**
   * A secret holding `value` (a non-empty string of at most 65 536 characters), or `value` itself when
   * it is already a Secret. Throws INVALID_ARGUMENT naming `field` (default `'value'`), never the value.
   */
  static from(value: string | Secret, field = 'value'): Secret {
    if (value instanceof Secret) return value;
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SECRET_LENGTH) {
      throw invalidSecret(field, `a non-empty string of at most ${MAX_SECRET_LENGTH} characters or a Secret`, value);
    }
    return new Secret(value);
  }

  /** True for a Secret (of this copy of modelpool). */
  static isSecret(value: unknown): value is Secret {
    return value instanceof Secret;
  }

  /** The key material itself. Call it only where the value must leave: a request header, a cipher. */
  reveal(): string {
    return this.#value;
  }

  /** Characters in the value (not secret for keys of a fixed format; handy to check one was read whole). */
  get length(): number {
    return this.#value.length;
  }

  /**
   * The first 8 hex digits of the value's SHA-256: tells two keys apart in a status display without
   * showing either. Not reversible for high-entropy keys (API keys); a short password could be guessed
   * from it, so show fingerprints of keys, not of passphrases.
   */
  get fingerprint(): string {
    this.#fingerprint ??= createHash('sha256').update(this.#value, 'utf8').digest('hex').slice(0, 8);
    return this.#fingerprint;
  }

  /** Constant-time comparison with another secret or a string (the time does not depend on where they differ). */
  equals(other: Secret | string): boolean {
    const theirs = other instanceof Secret ? other.#value : other;
    if (typeof theirs !== 'string') return false;
    // Hashing first gives equal lengths, so timingSafeEqual applies and the length is not leaked either.
    const a = createHash('sha256').update(this.#value, 'utf8').digest();
    const b = createHash('sha256').update(theirs, 'utf8').digest();
    return timingSafeEqual(a, b);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  get [Symbol.toStringTag](): string {
    return 'Secret';
  }
}
