import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { isModelpoolError, type ErrorCode } from '../../src/errors.js';
import type { LocalModelMetadata, SourceInspector } from '../../src/registry/index.js';

export { STORIES } from '../helpers/models.js';

const folders: string[] = [];

/** A fresh folder under the OS temp dir, removed after the test. */
export function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'modelpool-registry-'));
  folders.push(folder);
  return folder;
}

afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Stands in for the GGUF reader: fixed metadata, and a call count. */
export function fakeInspector(overrides: Partial<LocalModelMetadata> = {}): SourceInspector & { calls: string[] } {
  const calls: string[] = [];
  const inspector = async (path: string): Promise<LocalModelMetadata> => {
    calls.push(path);
    return { format: 'gguf', sizeBytes: 1000, architecture: 'llama', contextLength: 2048, parameterCount: 260_000, quantization: 'F32', ...overrides };
  };
  return Object.assign(inspector, { calls });
}

/** Asserts a ModelpoolError with this code (and field/value when given); returns it. */
export async function expectError(action: Promise<unknown> | (() => unknown), code: ErrorCode, field?: string, value?: unknown) {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  if (!isModelpoolError(caught, code)) throw caught;
  if (field !== undefined) expect(caught.field).toBe(field);
  if (value !== undefined) expect(caught.value).toEqual(value);
  return caught;
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  const clock = { now: start, read: () => clock.now, advance: (ms: number) => (clock.now += ms) };
  return clock;
}
