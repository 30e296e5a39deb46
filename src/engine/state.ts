/**
 * Saved KV state of a sequence (a long system prompt, a conversation): made by Model.saveState() or
 * savePromptCache(), restored into any free sequence of the same model by restoreState() (its bytes
 * for a disk store: src/model/state.ts). A state names the model file it came from by a
 * fingerprint of its contents; a state from another model, or another version of it, is refused.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { optionalBoolean, plainObject } from '../validate.js';
import { checkState } from '../model/state.js';
import { type ModelState, type SaveStateRequest } from '../model/types.js';
import { type NativeSaveStateParams, type NativeSavedState } from './native.js';
import { requestParams } from './request.js';

const SAMPLES = 16;
const SAMPLE_BYTES = 64 * 1024;

const fingerprints = new Map<string, Promise<string>>();

/**
 * A fingerprint of a model file's contents: SHA-256 over its size and 16 samples of 64 KiB spread
 * over the file (the first holds the GGUF metadata, the rest land in the weights), so two versions
 * of one model differ while a multi-gigabyte file is not read whole. Cached by path, size and mtime.
 */
export async function modelFingerprint(path: string): Promise<string> {
  const s = await stat(path);
  const key = `${path}\0${s.size}\0${s.mtimeMs}`;
  let cached = fingerprints.get(key);
  if (!cached) {
    cached = (async () => {
      const hash = createHash('sha256').update(`${s.size}\n`);
      const file = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(SAMPLE_BYTES);
        for (let i = 0; i < SAMPLES; i++) {
          const offset = Math.floor(((s.size - SAMPLE_BYTES) * i) / (SAMPLES - 1));
          const { bytesRead } = await file.read(buffer, 0, SAMPLE_BYTES, Math.max(0, offset));
          hash.update(buffer.subarray(0, bytesRead));
        }
      } finally {
        await file.close();
      }
      return hash.digest('hex');
    })();
    fingerprints.set(key, cached);
    cached.catch(() => fingerprints.delete(key));
  }
  return cached;
}

/** Native parameters of a saveState request. */
export function saveStateParams(request: SaveStateRequest): NativeSaveStateParams {
  plainObject('request', request);
  const addSpecial = optionalBoolean('request.addSpecial', request.addSpecial) ?? true;
  const base = { ...requestParams(request), addSpecial, parseSpecial: false, saveState: true as const };
  if (typeof request.prompt === 'string') return { ...base, prompt: request.prompt };
  if (Array.isArray(request.prompt)) {
    request.prompt.forEach((t, i) => {
      if (!Number.isInteger(t)) throw invalidArgument(`request.prompt[${i}]`, 'an integer token id', t);
    });
    return { ...base, promptTokens: Int32Array.from(request.prompt) };
  }
  throw invalidArgument('request.prompt', 'a string or an array of token ids', request.prompt);
}

/** A state as the public type has it, from the addon's. */
export function toModelState(saved: NativeSavedState, model: ModelState['model']): ModelState {
  return {
    model,
    tokens: Array.from(saved.tokens),
    ...(saved.adapter !== undefined ? { adapter: { name: saved.adapter, scale: saved.adapterScale ?? 1 } } : {}),
    data: saved.data,
  };
}

/** The addon's form of a checked state that belongs to `model` (STATE_MISMATCH otherwise). */
export function toNativeState(value: unknown, model: ModelState['model']): NativeSavedState {
  const state = checkState(value);
  if (state.model.fingerprint !== model.fingerprint || state.model.architecture !== model.architecture) {
    throw new ModelpoolError(
      'STATE_MISMATCH',
      `Expected a state saved from this model (${model.architecture} ${model.fingerprint.slice(0, 12)}) for state.model but received one from ` +
        `${state.model.architecture} ${state.model.fingerprint.slice(0, 12)}`,
      { field: 'state.model', value: state.model },
    );
  }
  return {
    tokens: Int32Array.from(state.tokens),
    data: state.data,
    ...(state.adapter ? { adapter: state.adapter.name, adapterScale: state.adapter.scale } : {}),
  };
}
