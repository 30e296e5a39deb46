import { ModelpoolError, describeValue, invalidArgument } from './errors.js';

/** Validation helpers: each throws INVALID_ARGUMENT naming the field and the value. */
export function integer(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(field, `an integer between ${min} and ${max}`, value);
  }
  return value;
}

export function optionalInteger(field: string, value: unknown, min: number, max?: number): number | undefined {
  return value === undefined ? undefined : integer(field, value, min, max);
}

export function finiteNumber(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidArgument(field, `a number between ${min} and ${max}`, value);
  }
  return value;
}

export function optionalNumber(field: string, value: unknown, min: number, max: number): number | undefined {
  return value === undefined ? undefined : finiteNumber(field, value, min, max);
}

export function nonEmptyString(field: string, value: unknown, maxLength = Number.MAX_SAFE_INTEGER): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalidArgument(field, maxLength === Number.MAX_SAFE_INTEGER ? 'a non-empty string' : `a non-empty string of at most ${maxLength} characters`, value);
  }
  return value;
}

export function boolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgument(field, 'a boolean', value);
  return value;
}

export function optionalBoolean(field: string, value: unknown): boolean | undefined {
  return value === undefined ? undefined : boolean(field, value);
}

export function string(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgument(field, 'a string', value);
  return value;
}

export function optionalString(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : string(field, value);
}

/** An array of non-empty strings, each named as `field[i]` when it is not one. */
export function optionalStringArray(field: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalidArgument(field, 'an array of non-empty strings', value);
  value.forEach((item, index) => nonEmptyString(`${field}[${index}]`, item));
  return value as string[];
}

/** Refuses a key of `object` not in `known`, naming `field.key` (or `key` when `field` is ''). */
export function onlyKnownKeys(field: string, object: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw invalidArgument(field === '' ? key : `${field}.${key}`, `no such field (known: ${known.join(', ')})`, object[key]);
  }
}

export function plainObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(field, 'an object', value);
  }
  return value as Record<string, unknown>;
}

export function optionalSignal(field: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalidArgument(field, 'an AbortSignal', value);
  return value;
}

/** An INVALID_DATA error at `source:line` (a file of records) naming the field and the value. */
export function invalidData(source: string, line: number, field: string, expected: string, value: unknown): ModelpoolError {
  return new ModelpoolError('INVALID_DATA', `${source}:${line}: expected ${expected} for ${field} but received ${describeValue(value)}`, {
    field,
    value,
    details: { source, line },
  });
}

/**
 * The records of JSON Lines text with their 1-based lines; blank lines and lines starting with '#' are
 * skipped. A line that is not JSON: INVALID_DATA with field 'line', the line's text and `{ source, line }`.
 */
export function jsonLines(text: string, source: string): Array<{ value: unknown; line: number }> {
  const records: Array<{ value: unknown; line: number }> = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const trimmed = lines[index]!.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      records.push({ value: JSON.parse(trimmed), line: index + 1 });
    } catch (error) {
      throw new ModelpoolError('INVALID_DATA', `${source}:${index + 1}: not valid JSON (${(error as Error).message})`, {
        field: 'line',
        value: trimmed.length > 200 ? `${trimmed.slice(0, 197)}...` : trimmed,
        details: { source, line: index + 1 },
        cause: error,
      });
    }
  }
  return records;
}

/** An http:// or https:// URL of at most 2048 characters, as given. */
export function httpUrl(field: string, value: unknown): string {
  const text = nonEmptyString(field, value, 2048);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw invalidArgument(field, 'an http(s) URL', value);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidArgument(field, 'an http(s) URL', value);
  return text;
}
