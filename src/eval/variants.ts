/** Quantised variants of a model, made once with the project's quantizer and kept in a cache folder. */
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelpoolError, describeValue, invalidArgument } from '../errors.js';
import { nonEmptyString, optionalInteger, plainObject } from '../validate.js';
import { quantizeModel, type QuantizeType } from '../engine/quantize.js';

/** `.cache/models/` under the package root (git-ignored), where src/testing keeps its generated models too. */
export const DEFAULT_VARIANT_CACHE_DIR = join(fileURLToPath(new URL('../../', import.meta.url)), '.cache/models');

/** Part of the cache key: bump when the quantizer's output for the same input changes. */
const CACHE_VERSION = 1;

const inFlight = new Map<string, Promise<string>>();

export interface QuantizedVariantOptions {
  /** Default DEFAULT_VARIANT_CACHE_DIR. */
  cacheDir?: string;
  /** Quantizer threads. Default: the engine's default. */
  threads?: number;
}

/**
 * The path of `input` quantised to `type` in the cache folder, quantising it first when absent (written
 * to a temporary name, then renamed, so a reader never sees half a file). The key is the input's path,
 * size and modification time and the type: a changed input makes a new file. Errors: INVALID_ARGUMENT
 * naming `input` when it cannot be read; quantizeModel's errors.
 */
export async function quantizedVariant(input: string, type: QuantizeType, options: QuantizedVariantOptions = {}): Promise<string> {
  nonEmptyString('input', input);
  // The type is part of the file name: only a type's spelling may reach it (quantizeModel checks the list).
  if (typeof type !== 'string' || !/^[A-Z0-9_]+$/.test(type)) throw invalidArgument('type', 'a quantisation type such as Q4_0', type);
  plainObject('options', options);
  const threads = optionalInteger('options.threads', options.threads, 1, 1024);
  const info = await stat(input).catch((error: NodeJS.ErrnoException) => {
    throw new ModelpoolError('INVALID_ARGUMENT', `Expected a readable model file for input but received ${describeValue(input)} (${error.code ?? error.message})`, {
      field: 'input',
      value: input,
      cause: error,
    });
  });
  const identity = { version: CACHE_VERSION, input: resolve(input), size: info.size, mtimeMs: info.mtimeMs, type };
  const hash = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
  const dir = resolve(options.cacheDir ?? DEFAULT_VARIANT_CACHE_DIR);
  const path = join(dir, `${basename(input).replace(/\.gguf$/i, '')}-${type}-${hash}.gguf`);
  if ((await stat(path).catch(() => undefined))?.isFile()) return path;
  let pending = inFlight.get(path);
  if (pending === undefined) {
    pending = (async () => {
      await mkdir(dir, { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      try {
        await quantizeModel(input, temporary, type, { threads });
        await rename(temporary, path);
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
      return path;
    })().finally(() => inFlight.delete(path));
    inFlight.set(path, pending);
  }
  return pending;
}
