/**
 * Hot prefixes across an eviction: when the pool unloads a local model it saves the KV state of the
 * model's cached sequences (a long system prompt, the conversations in flight) here, within a byte
 * budget, and restores them into the model when it is loaded again, so the first request after a
 * reload skips the prefix it shares with them. Kept in host memory, or in a directory (which also
 * carries them over to the next process).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { deserializeState, serializeState } from '../model/state.js';
import type { ModelState } from '../model/types.js';
import { optionalInteger, plainObject } from '../validate.js';

export interface PrefixCacheOptions {
  /** Most bytes of saved state kept, across models; the oldest saves go first. Default 256 MiB. 0 turns it off. */
  maxBytes?: number;
  /** Keep the states in files in this directory instead of host memory. */
  directory?: string;
  /** Sequences caching fewer tokens are not worth keeping. Default 32. */
  minTokens?: number;
}

interface Saved {
  bytes: number;
  at: number;
  /** In-memory mode: the states themselves. */
  states?: ModelState[];
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** One file per model: a count, then each state's length and serialized bytes. */
function pack(states: ModelState[]): Buffer {
  const parts = states.map((s) => serializeState(s));
  const out = Buffer.alloc(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  out.writeUInt32LE(parts.length, 0);
  let at = 4;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

function unpack(bytes: Buffer): ModelState[] {
  const states: ModelState[] = [];
  const count = bytes.readUInt32LE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = bytes.readUInt32LE(at);
    states.push(deserializeState(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return states;
}

export class PrefixStore {
  readonly maxBytes: number;
  readonly minTokens: number;
  readonly directory: string | undefined;
  readonly #saved = new Map<string, Saved>();
  #bytes = 0;
  #clock = 0;

  constructor(options: PrefixCacheOptions = {}) {
    const o = plainObject('prefixCache', options);
    this.maxBytes = optionalInteger('prefixCache.maxBytes', o.maxBytes, 0) ?? DEFAULT_MAX_BYTES;
    this.minTokens = optionalInteger('prefixCache.minTokens', o.minTokens, 1) ?? 32;
    if (o.directory !== undefined && (typeof o.directory !== 'string' || o.directory === '')) {
      throw invalidArgument('prefixCache.directory', 'a directory path', o.directory);
    }
    this.directory = o.directory as string | undefined;
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** Bytes of state kept now (in memory, or in files this store wrote or read). */
  get bytes(): number {
    return this.#bytes;
  }

  #file(key: string): string {
    return join(this.directory!, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.mpkv`);
  }

  /**
   * Keeps `states` as the prefixes of `key` (replacing earlier ones), longest first, dropping the
   * ones that do not fit and then other keys' oldest saves until the total fits the budget.
   * Returns how many states were kept and their bytes.
   */
  async save(key: string, states: ModelState[]): Promise<{ count: number; bytes: number }> {
    await this.#drop(key);
    const kept: ModelState[] = [];
    let bytes = 0;
    for (const s of [...states].sort((a, b) => b.tokens.length - a.tokens.length)) {
      if (s.tokens.length < this.minTokens || bytes + s.data.length > this.maxBytes) continue;
      kept.push(s);
      bytes += s.data.length;
    }
    if (kept.length === 0) return { count: 0, bytes: 0 };
    while (this.#bytes + bytes > this.maxBytes) {
      let oldest: string | undefined;
      for (const [k, v] of this.#saved) if (oldest === undefined || v.at < this.#saved.get(oldest)!.at) oldest = k;
      if (oldest === undefined) break;
      await this.#drop(oldest);
    }
    if (this.directory !== undefined) {
      await mkdir(this.directory, { recursive: true });
      const file = this.#file(key);
      // Written whole, then renamed: a crash leaves the old file or the new one, never half of one.
      await writeFile(`${file}.tmp`, pack(kept));
      await rename(`${file}.tmp`, file);
      this.#saved.set(key, { bytes, at: ++this.#clock });
    } else {
      this.#saved.set(key, { bytes, at: ++this.#clock, states: kept });
    }
    this.#bytes += bytes;
    return { count: kept.length, bytes };
  }

  /** The saved prefixes of `key` (longest first), removed from the store; none when there are none. */
  async take(key: string): Promise<ModelState[]> {
    const saved = this.#saved.get(key);
    if (this.directory === undefined) {
      if (saved === undefined) return [];
      await this.#drop(key);
      return saved.states ?? [];
    }
    // A directory also holds what an earlier process saved.
    const file = this.#file(key);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      await this.#drop(key);
      return [];
    }
    await this.#drop(key);
    try {
      return unpack(bytes);
    } catch {
      // A damaged file is only a lost cache.
      return [];
    }
  }

  async #drop(key: string): Promise<void> {
    const saved = this.#saved.get(key);
    if (saved !== undefined) {
      this.#saved.delete(key);
      this.#bytes -= saved.bytes;
    }
    if (this.directory !== undefined) {
      const file = this.#file(key);
      if (await stat(file).then(() => true, () => false)) await rm(file, { force: true });
    }
  }
}
