import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString, onlyKnownKeys, plainObject } from '../validate.js';
import { corruptStore, readJsonFile, WriteQueue, writeFileAtomic } from './files.js';
import {
  deriveKey,
  isKdf,
  isSealed,
  newKdf,
  resolveMasterKey,
  seal,
  unseal,
  type KdfParams,
  type MasterKeyOptions,
  type MasterKeySource,
  type Sealed,
} from './keystore-crypto.js';
import { REDACTED, Secret } from './secret.js';

/** Options of {@link KeyStore.open}: one master key source (see {@link MasterKeyOptions}) and a clock. */
export interface KeyStoreOptions extends MasterKeyOptions {
  /** Epoch milliseconds for `updatedAt` (default `Date.now`). */
  now?: () => number;
}

/** One entry as {@link KeyStore.status} shows it: never the value. */
export interface KeyEntryStatus {
  name: string;
  /** First 8 hex digits of the value's SHA-256 (see `Secret.fingerprint`); absent when the entry is damaged. */
  fingerprint?: string;
  /** When the value was last set (epoch ms). */
  updatedAt: number;
  /** True when the entry does not decrypt (the file was altered): `get` throws for it, `delete` removes it. */
  damaged: boolean;
}

interface StoredEntry extends Sealed {
  name: string;
  updatedAt: number;
}

/** The file, as written: one JSON object. */
interface KeyStoreFile {
  format: typeof FORMAT;
  version: 1;
  kdf: KdfParams;
  verifier: Sealed;
  entries: StoredEntry[];
}

const FORMAT = 'modelpool-keystore';
const WHAT = 'key store';
/** Entry names: what a provider's configuration would call its key ("openai", "anthropic:prod"). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$/;
const VERIFIER_AAD = Buffer.from('modelpool-keystore/1\0verifier', 'utf8');
const VERIFIER_TEXT = Buffer.from('modelpool-keystore verifier', 'utf8');

/** The additional authenticated data of an entry: its name and time, so entries cannot be swapped, renamed or re-dated. */
function entryAad(name: string, updatedAt: number): Buffer {
  return Buffer.from(`modelpool-keystore/1\0entry\0${name}\0${updatedAt}`, 'utf8');
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalidArgument(field, 'a name of 1 to 200 letters, digits and ._:@/+- starting with a letter or digit', value);
  }
  return value;
}

/**
 * API keys of remote providers, encrypted at rest in one JSON file. Each value is sealed with
 * AES-256-GCM (random 12-byte IV, 16-byte tag) under a data key derived from the master key — with
 * HKDF-SHA256 from a 32-byte key, or scrypt from a passphrase — and a random salt kept in the file.
 * The entry's name and time are authenticated with it, so entries cannot be swapped. A verifier box
 * lets `open` tell a wrong master key even when there are no entries. The file never holds a value
 * in plaintext; it is replaced atomically (temporary file, fsync, rename; mode 0o600) and writes in
 * one process run one at a time. Two processes writing one file: the last rename wins.
 */
export class KeyStore {
  /** The file, as given to `open`. */
  readonly path: string;
  readonly #now: () => number;
  readonly #queue = new WriteQueue();
  #kdf: KdfParams;
  /** undefined once closed. */
  #dataKey: Buffer | undefined;
  #verifier: Sealed;
  #entries: Map<string, StoredEntry>;

  private constructor(path: string, now: () => number, kdf: KdfParams, dataKey: Buffer, verifier: Sealed, entries: Map<string, StoredEntry>) {
    this.path = path;
    this.#now = now;
    this.#kdf = kdf;
    this.#dataKey = dataKey;
    this.#verifier = verifier;
    this.#entries = entries;
  }

  /**
   * Opens the key store at `path`, creating it (and its folder) when there is no file. Throws
   * INVALID_ARGUMENT naming `path` or the option at fault (none or several of key / keyEnv /
   * passphrase; a key that is not 32 bytes; a passphrase given for a file made with a key or the
   * reverse), DECRYPTION_FAILED when the master key does not open the file, STORE_CORRUPT naming the
   * path when the file is not a key store (the file is left untouched), STORE_FAILED when it cannot be
   * read or written.
   */
  static async open(path: string, options: KeyStoreOptions): Promise<KeyStore> {
    nonEmptyString('path', path);
    plainObject('options', options);
    onlyKnownKeys('options', options as Record<string, unknown>, ['key', 'keyEnv', 'passphrase', 'scryptN', 'now']);
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw invalidArgument('options.now', 'a function returning epoch milliseconds', now);
    const source = resolveMasterKey(options);
    const document = await readJsonFile(path, WHAT);
    if (document === undefined) {
      const kdf = newKdf(source);
      const dataKey = await deriveKey(source, kdf);
      const store = new KeyStore(path, now, kdf, dataKey, seal(dataKey, VERIFIER_TEXT, VERIFIER_AAD), new Map());
      await store.#write(store.#kdf, store.#verifier, store.#entries);
      return store;
    }
    const file = parseFile(path, document);
    if ((file.kdf.name === 'scrypt') !== (source.kind === 'passphrase')) {
      const wanted = file.kdf.name === 'scrypt' ? 'options.passphrase' : 'options.key or options.keyEnv';
      throw invalidArgument(source.field, `${wanted}: the ${WHAT} at ${path} was made with ${file.kdf.name === 'scrypt' ? 'a passphrase' : 'a key'}`, REDACTED);
    }
    const dataKey = await deriveKey(source, file.kdf);
    if (unseal(dataKey, file.verifier, VERIFIER_AAD)?.equals(VERIFIER_TEXT) !== true) {
      dataKey.fill(0);
      throw new ModelpoolError('DECRYPTION_FAILED', `The master key from ${source.field} does not open the ${WHAT} at ${path} (a wrong key or passphrase, or the file was altered)`, {
        field: source.field,
        value: REDACTED,
        details: { path },
      });
    }
    return new KeyStore(path, now, file.kdf, dataKey, file.verifier, new Map(file.entries.map((entry) => [entry.name, entry])));
  }

  /** How many entries there are. */
  get size(): number {
    this.#open();
    return this.#entries.size;
  }

  /** The names of the entries, sorted; never their values. */
  names(): string[] {
    this.#open();
    return [...this.#entries.keys()].sort();
  }

  /** Whether there is an entry named `name`. Throws INVALID_ARGUMENT naming `name`. */
  has(name: string): boolean {
    this.#open();
    return this.#entries.has(checkName('name', name));
  }

  /**
   * The value of entry `name`, or undefined when there is none. Throws INVALID_ARGUMENT naming
   * `name`, DECRYPTION_FAILED naming the entry when it was altered (or moved from another entry).
   */
  get(name: string): Secret | undefined {
    const key = this.#open();
    const entry = this.#entries.get(checkName('name', name));
    if (entry === undefined) return undefined;
    const plain = unseal(key, entry, entryAad(entry.name, entry.updatedAt));
    if (plain === undefined) {
      throw new ModelpoolError('DECRYPTION_FAILED', `The entry "${entry.name}" of the ${WHAT} at ${this.path} does not decrypt: it was altered or moved`, {
        field: 'name',
        value: entry.name,
        details: { path: this.path },
      });
    }
    const secret = Secret.from(plain.toString('utf8'));
    plain.fill(0);
    return secret;
  }

  /**
   * Sets entry `name` to `value` (a non-empty string or a Secret) and writes the file. Throws
   * INVALID_ARGUMENT naming `name` or `value` (never showing the value), STORE_FAILED when the file
   * cannot be written (the store then still holds the old value).
   */
  async set(name: string, value: string | Secret): Promise<void> {
    this.#open();
    const checked = checkName('name', name);
    const secret = Secret.from(value, 'value');
    await this.#queue.run(async () => {
      const key = this.#open();
      const updatedAt = this.#time();
      const plain = Buffer.from(secret.reveal(), 'utf8');
      const entry: StoredEntry = { name: checked, updatedAt, ...seal(key, plain, entryAad(checked, updatedAt)) };
      plain.fill(0);
      const entries = new Map(this.#entries);
      entries.delete(checked); // a set moves the entry to the end: the file lists entries by last update
      entries.set(checked, entry);
      await this.#write(this.#kdf, this.#verifier, entries);
      this.#entries = entries;
    });
  }

  /** Removes entry `name` (even a damaged one) and writes the file; false when there was none. Throws INVALID_ARGUMENT naming `name`, STORE_FAILED. */
  async delete(name: string): Promise<boolean> {
    this.#open();
    const checked = checkName('name', name);
    return this.#queue.run(async () => {
      this.#open();
      if (!this.#entries.has(checked)) return false;
      const entries = new Map(this.#entries);
      entries.delete(checked);
      await this.#write(this.#kdf, this.#verifier, entries);
      this.#entries = entries;
      return true;
    });
  }

  /**
   * Re-encrypts every entry under a new master key (a key, an environment variable or a passphrase:
   * the kind may change) with a new salt, in one atomic write: afterwards only the new key opens the
   * file. Throws INVALID_ARGUMENT naming `options.*`, DECRYPTION_FAILED naming an entry that does not
   * decrypt (nothing is changed: delete it first), STORE_FAILED (the old key still opens the file).
   */
  async rotate(options: MasterKeyOptions): Promise<void> {
    this.#open();
    plainObject('options', options);
    onlyKnownKeys('options', options as Record<string, unknown>, ['key', 'keyEnv', 'passphrase', 'scryptN']);
    const source: MasterKeySource = resolveMasterKey(options);
    const kdf = newKdf(source);
    const newKey = await deriveKey(source, kdf);
    await this.#queue.run(async () => {
      try {
        await this.#reencrypt(kdf, newKey);
      } catch (error) {
        newKey.fill(0);
        throw error;
      }
    });
  }

  /** rotate()'s write, in the queue: everything under `newKey`, or nothing changed. */
  async #reencrypt(kdf: KdfParams, newKey: Buffer): Promise<void> {
    const oldKey = this.#open();
    const entries = new Map<string, StoredEntry>();
    for (const entry of this.#entries.values()) {
      const aad = entryAad(entry.name, entry.updatedAt);
      const plain = unseal(oldKey, entry, aad);
      if (plain === undefined) {
        throw new ModelpoolError('DECRYPTION_FAILED', `Cannot rotate the ${WHAT} at ${this.path}: the entry "${entry.name}" does not decrypt (delete it first)`, {
          field: 'name',
          value: entry.name,
          details: { path: this.path },
        });
      }
      entries.set(entry.name, { name: entry.name, updatedAt: entry.updatedAt, ...seal(newKey, plain, aad) });
      plain.fill(0);
    }
    const verifier = seal(newKey, VERIFIER_TEXT, VERIFIER_AAD);
    await this.#write(kdf, verifier, entries);
    oldKey.fill(0);
    this.#kdf = kdf;
    this.#dataKey = newKey;
    this.#verifier = verifier;
    this.#entries = entries;
  }

  /** Every entry's name, fingerprint and time of last update, sorted by name; never a value. */
  status(): KeyEntryStatus[] {
    const key = this.#open();
    return [...this.#entries.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((entry) => {
        const plain = unseal(key, entry, entryAad(entry.name, entry.updatedAt));
        if (plain === undefined) return { name: entry.name, updatedAt: entry.updatedAt, damaged: true };
        const fingerprint = Secret.from(plain.toString('utf8')).fingerprint;
        plain.fill(0);
        return { name: entry.name, fingerprint, updatedAt: entry.updatedAt, damaged: false };
      });
  }

  /** Waits for writes in flight, then forgets the data key; later calls throw DISPOSED. Idempotent. */
  async close(): Promise<void> {
    await this.#queue.idle();
    this.#dataKey?.fill(0);
    this.#dataKey = undefined;
    this.#entries = new Map();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(): Buffer {
    if (this.#dataKey === undefined) throw new ModelpoolError('DISPOSED', `The ${WHAT} at ${this.path} is closed`);
    return this.#dataKey;
  }

  #time(): number {
    const time = this.#now();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of epoch milliseconds', time);
    return time;
  }

  async #write(kdf: KdfParams, verifier: Sealed, entries: Map<string, StoredEntry>): Promise<void> {
    const file: KeyStoreFile = { format: FORMAT, version: 1, kdf, verifier, entries: [...entries.values()] };
    await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`, WHAT);
  }
}

/** The file's content checked field by field: STORE_CORRUPT naming the path and the first problem. */
function parseFile(path: string, document: unknown): KeyStoreFile {
  const corrupt = (problem: string) => corruptStore(path, WHAT, problem);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw corrupt('not a JSON object');
  const file = document as Record<string, unknown>;
  if (file.format !== FORMAT) throw corrupt(`format is not "${FORMAT}"`);
  if (file.version !== 1) throw corrupt(`version ${JSON.stringify(file.version)} is not 1`);
  if (!isKdf(file.kdf)) throw corrupt('kdf is not a known key derivation with valid parameters');
  if (!isSealed(file.verifier)) throw corrupt('verifier is not an encrypted box');
  if (!Array.isArray(file.entries)) throw corrupt('entries is not an array');
  const names = new Set<string>();
  const entries: StoredEntry[] = file.entries.map((item: unknown, index: number) => {
    if (!isSealed(item)) throw corrupt(`entries[${index}] is not an encrypted box`);
    const { name, updatedAt } = item as unknown as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME.test(name)) throw corrupt(`entries[${index}].name is not a valid name`);
    if (names.has(name)) throw corrupt(`entries[${index}].name "${name}" appears twice`);
    if (typeof updatedAt !== 'number' || !Number.isFinite(updatedAt)) throw corrupt(`entries[${index}].updatedAt is not a number`);
    names.add(name);
    return { name, updatedAt, iv: item.iv, tag: item.tag, data: item.data };
  });
  return { format: FORMAT, version: 1, kdf: file.kdf, verifier: file.verifier, entries };
}
