import { inspect } from 'node:util';
import { expect } from 'vitest';

/** Asserts `secret` appears in no rendering of `value`: String(), .message, JSON.stringify, util.inspect (deep). */
export function expectNoLeak(value: unknown, secret: string): void {
  const renderings = [
    String(value),
    (value as { message?: unknown } | null)?.message === undefined ? '' : String((value as { message: unknown }).message),
    JSON.stringify(value) ?? '',
    JSON.stringify(value, Object.getOwnPropertyNames(value ?? {})) ?? '',
    inspect(value, { depth: 10, showHidden: true }),
  ];
  for (const text of renderings) expect(text.includes(secret), `the secret leaked into: ${text.slice(0, 300)}`).toBe(false);
}
