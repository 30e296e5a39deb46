import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString, onlyKnownKeys, plainObject } from '../validate.js';
import { corruptStore, readJsonFile, WriteQueue, writeFileAtomic } from './files.js';
import { REDACTED, Secret } from './secret.js';

/** What a caller key allows: `'inference'` (generate, embed, list models) or `'admin'` (everything; implies inference). */
export type CallerScope = 'inference' | 'admin';
export const CALLER_SCOPES: readonly CallerScope[] = Object.freeze(['inference', 'admin'] as const);

/** Who a verified key belongs to. */
export interface Caller {
  name: string;
  /** The tenant its requests are counted under, when it has one. */
  tenant?: string;
  scopes: CallerScope[];
}

/** A key as `list` shows it: never the key or its hash. */
export interface CallerKeyInfo extends Caller {
  /** When it was created (epoch ms). */
  createdAt: number;
}

export interface CallerKeysOptions {
  /** The JSON file keeping the keys' hashes; without one, keys live in memory only. */
  path?: string;
  /** Epoch milliseconds for `createdAt` (default `Date.now`). */
  now?: () => number;
}

export interface CreateCallerKey {
  /** Unique: 1 to 200 letters, digits and ._:@- (the name rate limits and logs show). */
  name: string;
  scopes: CallerScope[];
  tenant?: string;
}

interface StoredKey extends CallerKeyInfo {
  /** SHA-256 of the key, hex. */
  hash: string;
}

const FORMAT = 'modelpool-caller-keys';
const WHAT = 'caller key file';
const PREFIX = 'mp_';
/** `mp_` and 32 random bytes in base64url (43 characters). */
const KEY_SHAPE = /^mp_[A-Za-z0-9_-]{43}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
const HASH = /^[0-9a-f]{64}$/;

function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalidArgument(field, 'a name of 1 to 200 letters, digits and ._:@- starting with a letter or digit', value);
  }
  return value;
}

function checkScopes(field: string, value: unknown): CallerScope[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidArgument(field, `a non-empty array of ${CALLER_SCOPES.join(', ')}`, value);
  value.forEach((scope, index) => {
    if (!CALLER_SCOPES.includes(scope as CallerScope)) throw invalidArgument(`${field}[${index}]`, `one of ${CALLER_SCOPES.join(', ')}`, scope);
  });
  return CALLER_SCOPES.filter((scope) => value.includes(scope));
}

function unauthorized(message: string): ModelpoolError {
  return new ModelpoolError('UNAUTHORIZED', message, { field: 'key', value: REDACTED });
}

/**
 * Scoped keys for callers of the HTTP server. `create` returns a key once — `mp_` and 32 random bytes
 * in base64url — and keeps only its SHA-256 (a fast hash is enough: the keys have 256 bits of entropy,
 * nothing to guess). `verify` finds the caller by the hash and compares it in constant time. The hashes
 * are kept in a JSON file (atomic writes, mode 0o600) or in memory when no path is given.
 */
export class CallerKeys {
  /** The file, or undefined in memory. */
  readonly path: string | undefined;
  readonly #now: () => number;
  readonly #queue = new WriteQueue();
  /** By name. */
  #keys: Map<string, StoredKey>;
  /** Hash (hex) → name. */
  #byHash: Map<string, string>;

  private constructor(path: string | undefined, now: () => number, keys: StoredKey[]) {
    this.path = path;
    this.#now = now;
    this.#keys = new Map(keys.map((key) => [key.name, key]));
    this.#byHash = new Map(keys.map((key) => [key.hash, key.name]));
  }

  /**
   * Loads the keys of `options.path` (none when the file is missing; it is written on the first
   * change), or starts empty in memory. Throws INVALID_ARGUMENT naming `options.*`, STORE_CORRUPT
   * naming the path (the file is left untouched), STORE_FAILED when it cannot be read.
   */
  static async open(options: CallerKeysOptions = {}): Promise<CallerKeys> {
    plainObject('options', options);
    onlyKnownKeys('options', options as Record<string, unknown>, ['path', 'now']);
    const path = options.path === undefined ? undefined : nonEmptyString('options.path', options.path);
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw invalidArgument('options.now', 'a function returning epoch milliseconds', now);
    const document = path === undefined ? undefined : await readJsonFile(path, WHAT);
    return new CallerKeys(path, now, document === undefined ? [] : parseFile(path!, document));
  }

  /** How many keys there are. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Creates a key for a new caller and returns it: the only time it is shown (hand it over, then
   * forget it). Throws INVALID_ARGUMENT naming `request.*`, ALREADY_EXISTS naming `request.name`,
   * STORE_FAILED (no key is created).
   */
  async create(request: CreateCallerKey): Promise<Secret> {
    plainObject('request', request);
    onlyKnownKeys('request', request as unknown as Record<string, unknown>, ['name', 'scopes', 'tenant']);
    const name = checkName('request.name', request.name);
    const scopes = checkScopes('request.scopes', request.scopes);
    const tenant = request.tenant === undefined ? undefined : nonEmptyString('request.tenant', request.tenant, 200);
    return this.#queue.run(async () => {
      if (this.#keys.has(name)) throw new ModelpoolError('ALREADY_EXISTS', `A caller key named "${name}" already exists`, { field: 'request.name', value: name });
      const key = `${PREFIX}${randomBytes(32).toString('base64url')}`;
      const stored: StoredKey = { name, scopes, createdAt: this.#time(), hash: hashKey(key) };
      if (tenant !== undefined) stored.tenant = tenant;
      const keys = new Map(this.#keys).set(name, stored);
      await this.#write(keys);
      this.#commit(keys);
      return Secret.from(key);
    });
  }

  /**
   * The caller of `key` when it holds `scope` (`'admin'` implies `'inference'`). Throws UNAUTHORIZED
   * when no key is given or it is not known (revoked, mistyped), FORBIDDEN naming the caller when the key
   * lacks the scope, INVALID_ARGUMENT naming `scope`. The key never appears in an error.
   */
  verify(key: string | Secret | undefined, scope: CallerScope): Caller {
    if (!CALLER_SCOPES.includes(scope)) throw invalidArgument('scope', `one of ${CALLER_SCOPES.join(', ')}`, scope);
    const text = key instanceof Secret ? key.reveal() : key;
    if (typeof text !== 'string' || text.length === 0) throw unauthorized('No caller key was given');
    if (!KEY_SHAPE.test(text)) throw unauthorized('The caller key is not a modelpool key (mp_ and 43 characters)');
    const hash = hashKey(text);
    // The map finds the candidate by its hash (timing can tell only about hashes, which reveal nothing
    // of a key); the constant-time comparison then confirms it.
    const name = this.#byHash.get(hash);
    const stored = name === undefined ? undefined : this.#keys.get(name);
    if (stored === undefined || !timingSafeEqual(Buffer.from(stored.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      throw unauthorized('The caller key is not known (revoked or mistyped)');
    }
    if (!stored.scopes.includes(scope) && !stored.scopes.includes('admin')) {
      throw new ModelpoolError('FORBIDDEN', `The caller "${stored.name}" has no ${scope} scope (it has ${stored.scopes.join(', ')})`, {
        field: 'scope',
        value: scope,
        details: { caller: stored.name, scopes: [...stored.scopes] },
      });
    }
    return caller(stored);
  }

  /** Revokes the key of caller `name`: it no longer verifies. False when there is none. Throws INVALID_ARGUMENT naming `name`, STORE_FAILED. */
  async revoke(name: string): Promise<boolean> {
    const checked = checkName('name', name);
    return this.#queue.run(async () => {
      if (!this.#keys.has(checked)) return false;
      const keys = new Map(this.#keys);
      keys.delete(checked);
      await this.#write(keys);
      this.#commit(keys);
      return true;
    });
  }

  /** Every caller with its scopes, tenant and creation time, sorted by name; never a key or a hash. */
  list(): CallerKeyInfo[] {
    return [...this.#keys.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((stored) => ({ ...caller(stored), createdAt: stored.createdAt }));
  }

  /** Resolves when every change so far is on disk (or failed). */
  async flush(): Promise<void> {
    await this.#queue.idle();
  }

  #commit(keys: Map<string, StoredKey>): void {
    this.#keys = keys;
    this.#byHash = new Map([...keys.values()].map((key) => [key.hash, key.name]));
  }

  #time(): number {
    const time = this.#now();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of epoch milliseconds', time);
    return time;
  }

  async #write(keys: Map<string, StoredKey>): Promise<void> {
    if (this.path === undefined) return;
    const document = { format: FORMAT, version: 1, keys: [...keys.values()] };
    await writeFileAtomic(this.path, `${JSON.stringify(document, null, 2)}\n`, WHAT);
  }
}

function caller(stored: StoredKey): Caller {
  const result: Caller = { name: stored.name, scopes: [...stored.scopes] };
  if (stored.tenant !== undefined) result.tenant = stored.tenant;
  return result;
}

/** The file's keys checked field by field: STORE_CORRUPT naming the path and the first problem. */
function parseFile(path: string, document: unknown): StoredKey[] {
  const corrupt = (problem: string) => corruptStore(path, WHAT, problem);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw corrupt('not a JSON object');
  const file = document as Record<string, unknown>;
  if (file.format !== FORMAT) throw corrupt(`format is not "${FORMAT}"`);
  if (file.version !== 1) throw corrupt(`version ${JSON.stringify(file.version)} is not 1`);
  if (!Array.isArray(file.keys)) throw corrupt('keys is not an array');
  const names = new Set<string>();
  const hashes = new Set<string>();
  return file.keys.map((item: unknown, index: number) => {
    const where = `keys[${index}]`;
    if (typeof item !== 'object' || item === null) throw corrupt(`${where} is not an object`);
    const { name, scopes, tenant, createdAt, hash } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME.test(name) || names.has(name)) throw corrupt(`${where}.name is not a valid, unique name`);
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((scope) => CALLER_SCOPES.includes(scope as CallerScope))) {
      throw corrupt(`${where}.scopes is not a non-empty array of ${CALLER_SCOPES.join(', ')}`);
    }
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) throw corrupt(`${where}.tenant is not a non-empty string`);
    if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) throw corrupt(`${where}.createdAt is not a number`);
    if (typeof hash !== 'string' || !HASH.test(hash) || hashes.has(hash)) throw corrupt(`${where}.hash is not a unique SHA-256 in hex`);
    names.add(name);
    hashes.add(hash);
    const stored: StoredKey = { name, scopes: CALLER_SCOPES.filter((scope) => scopes.includes(scope)), createdAt, hash };
    if (tenant !== undefined) stored.tenant = tenant as string;
    return stored;
  });
}
