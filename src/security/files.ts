/**
 * Files of the security room: read a JSON store (missing → undefined; unreadable or not JSON →
 * typed errors naming the path, never touching the file) and replace one atomically, so a crash at
 * any moment leaves either the old file or the new one, never a half-written one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelpoolError } from '../errors.js';

/** Owner read/write only: the files hold ciphertext and key hashes, but nobody else needs to read them. */
export const FILE_MODE = 0o600;

/** The parsed JSON of `path`, or undefined when there is no such file. STORE_CORRUPT when it is not JSON; STORE_FAILED when it cannot be read. */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelpoolError('STORE_FAILED', `Cannot read the ${what} at ${path}: ${(error as Error).message}`, { field: 'path', value: path, cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw corruptStore(path, what, `not JSON (${(error as Error).message})`, error);
  }
}

/** STORE_CORRUPT naming the file and what is wrong with it (never its contents). */
export function corruptStore(path: string, what: string, problem: string, cause?: unknown): ModelpoolError {
  return new ModelpoolError('STORE_CORRUPT', `The ${what} at ${path} is corrupt: ${problem}; it was left as it is`, {
    field: 'path',
    value: path,
    details: { path, problem },
    cause,
  });
}

/**
 * Replaces `path` with `text`: writes a temporary file beside it (same folder, so the rename stays on
 * one file system) with mode 0o600, fsyncs it, renames it over `path`, then fsyncs the folder so the
 * rename itself survives a power cut. A leftover temporary file from a crash is named
 * `.<name>.<random>.tmp` and is never read. STORE_FAILED naming the path when any step fails.
 */
export async function writeFileAtomic(path: string, text: string, what: string): Promise<void> {
  const folder = dirname(path);
  const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const handle = await open(temporary, 'wx', FILE_MODE);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new ModelpoolError('STORE_FAILED', `Cannot write the ${what} at ${path}: ${(error as Error).message}`, { field: 'path', value: path, cause: error });
  }
  await syncFolder(folder);
}

/** fsync of a folder; some platforms (Windows) cannot open one, and there the rename is as durable as it gets. */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Runs writes one at a time in call order: each sees the state the previous one committed. A failed
 * write rejects its own caller only; the next one still runs.
 */
export class WriteQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(write: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(write, write);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every write queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}
