import { expect } from 'vitest';
import { ModelpoolError, type ErrorCode } from '../../src/errors.js';

/**
 * Awaits `action` (a promise, or a function that throws or returns one) and asserts it fails with a
 * ModelpoolError of `code` (and, when given, naming `field`). Returns the error for further checks.
 */
export async function expectCode(
  action: Promise<unknown> | (() => unknown),
  code: ErrorCode,
  field?: string,
): Promise<ModelpoolError> {
  let error: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected ${code}, but it succeeded`);
  if (!(error instanceof ModelpoolError)) throw error;
  expect(error.code, error.message).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
