/** Field checks shared by the grader families: unknown keys, optional typed fields. */
import { invalidArgument } from '../../errors.js';

/**
 * Throws INVALID_ARGUMENT naming the first key of `spec` that is not in `known` (a typo is never ignored),
 * as `field.key` (or `key` when `field` is '').
 */
export function onlyKnownKeys(field: string, spec: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(spec)) {
    if (!known.includes(key)) throw invalidArgument(field === '' ? key : `${field}.${key}`, `no such field (known: ${known.join(', ')})`, spec[key]);
  }
}

export function stringValue(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgument(field, 'a string', value);
  return value;
}

export function optionalString(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : stringValue(field, value);
}
