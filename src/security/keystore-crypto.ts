/**
 * The cryptography of the key store: where the master key comes from (a 32-byte key, an environment
 * variable holding one, or a passphrase), how the file's data key is derived from it (HKDF-SHA256 for
 * a key, scrypt for a passphrase, each with a random salt kept in the file) and AES-256-GCM sealing
 * with additional authenticated data.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import { integer, nonEmptyString } from '../validate.js';
import { Secret, invalidSecret } from './secret.js';

/** Where a master key comes from: exactly one of the three. */
export interface MasterKeyOptions {
  /** 32 bytes: a Buffer, or a Secret holding them as 64 hex characters or base64. */
  key?: Buffer | Secret;
  /** The name of an environment variable holding 32 bytes as 64 hex characters or base64 (e.g. `'MODELPOOL_MASTER_KEY'`). */
  keyEnv?: string;
  /** A passphrase of at least 8 characters; the key is derived from it with scrypt. */
  passphrase?: string | Secret;
  /** scrypt's cost N for a passphrase (a power of two from 2^14 to 2^20; default 2^15). Used when a file is created or rotated; opening reads it from the file. */
  scryptN?: number;
}

/** A master key resolved from options: the raw key or the passphrase, and the option that gave it (for error messages). */
export type MasterKeySource =
  | { kind: 'key'; field: 'options.key' | 'options.keyEnv'; key: Buffer }
  | { kind: 'passphrase'; field: 'options.passphrase'; passphrase: Buffer; scryptN: number };

/** How the data key is derived, as stored in the file. */
export type KdfParams = { name: 'hkdf-sha256'; salt: string } | { name: 'scrypt'; salt: string; N: number; r: number; p: number };

/** An AES-256-GCM box: 12-byte IV, 16-byte tag and the ciphertext, each base64. */
export interface Sealed {
  iv: string;
  tag: string;
  data: string;
}

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
export const DEFAULT_SCRYPT_N = 2 ** 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const MIN_PASSPHRASE = 8;
const HKDF_INFO = Buffer.from('modelpool-keystore/1 data key', 'utf8');

/**
 * Reads the master key options (the caller has checked `options` is an object). Throws
 * INVALID_ARGUMENT naming `options` when none or several sources are given, or the option that is
 * wrong — never with the key itself in the error.
 */
export function resolveMasterKey(options: MasterKeyOptions, field = 'options'): MasterKeySource {
  const given = (['key', 'keyEnv', 'passphrase'] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw invalidArgument(
      given.length === 0 ? field : `${field}.${given[1]!}`,
      `exactly one of ${field}.key, ${field}.keyEnv or ${field}.passphrase`,
      given.length === 0 ? undefined : `${given.join(' and ')} (values redacted)`,
    );
  }
  const scryptN = options.scryptN === undefined ? DEFAULT_SCRYPT_N : validScryptN(`${field}.scryptN`, options.scryptN);
  if (options.key !== undefined) return { kind: 'key', field: 'options.key', key: parseKey(`${field}.key`, options.key) };
  if (options.keyEnv !== undefined) {
    const name = nonEmptyString(`${field}.keyEnv`, options.keyEnv, 256);
    const text = process.env[name];
    if (text === undefined || text === '') {
      throw invalidArgument(`${field}.keyEnv`, 'the name of a set environment variable holding the master key', name);
    }
    return { kind: 'key', field: 'options.keyEnv', key: parseKeyText(`${field}.keyEnv`, text, `the environment variable ${name}`) };
  }
  const passphrase = options.passphrase;
  if (!(passphrase instanceof Secret) && typeof passphrase !== 'string') {
    throw invalidSecret(`${field}.passphrase`, `a string or Secret of at least ${MIN_PASSPHRASE} characters`, passphrase);
  }
  const text = passphrase instanceof Secret ? passphrase.reveal() : passphrase;
  if (text.length < MIN_PASSPHRASE) throw invalidSecret(`${field}.passphrase`, `a string or Secret of at least ${MIN_PASSPHRASE} characters`, passphrase);
  return { kind: 'passphrase', field: 'options.passphrase', passphrase: Buffer.from(text.normalize('NFC'), 'utf8'), scryptN };
}

function validScryptN(field: string, value: unknown): number {
  const n = integer(field, value, 2 ** 14, 2 ** 20);
  if ((n & (n - 1)) !== 0) throw invalidArgument(field, 'a power of two from 16384 to 1048576', value);
  return n;
}

function parseKey(field: string, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.length !== KEY_BYTES) throw invalidSecret(field, `a Buffer of ${KEY_BYTES} bytes`, value);
    return Buffer.from(value); // a copy: ours to zero, and the caller's to reuse
  }
  if (value instanceof Secret) return parseKeyText(field, value.reveal(), field);
  throw invalidSecret(field, `a Buffer of ${KEY_BYTES} bytes or a Secret holding them as hex or base64`, value);
}

/** 64 hex characters, or 32 bytes in base64 or base64url (padding optional). */
function parseKeyText(field: string, raw: string, where: string): Buffer {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  // 43 base64 characters are 258 bits: exactly 32 bytes and 2 spare bits.
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  throw invalidSecret(field, `${KEY_BYTES} bytes as 64 hex characters or base64 in ${where}`, raw);
}

/** Fresh derivation parameters for `source`: a new random salt (and scrypt's cost for a passphrase). */
export function newKdf(source: MasterKeySource): KdfParams {
  const salt = randomBytes(SALT_BYTES).toString('base64');
  return source.kind === 'key' ? { name: 'hkdf-sha256', salt } : { name: 'scrypt', salt, N: source.scryptN, r: SCRYPT_R, p: SCRYPT_P };
}

/** The data key of a file from the master key and the file's parameters (scrypt runs on the thread pool). */
export async function deriveKey(source: MasterKeySource, kdf: KdfParams): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  if (kdf.name === 'hkdf-sha256') {
    if (source.kind !== 'key') throw new Error('deriveKey: a hkdf file needs a key');
    return Buffer.from(hkdfSync('sha256', source.key, salt, HKDF_INFO, KEY_BYTES));
  }
  if (source.kind !== 'passphrase') throw new Error('deriveKey: a scrypt file needs a passphrase');
  const { N, r, p } = kdf;
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(source.passphrase, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r + (1 << 20) }, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

/** Seals `plaintext` under `key` with a fresh random IV; `aad` is authenticated, not stored. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** The plaintext of `sealed`, or undefined when the key, the AAD or the box does not check out. */
export function unseal(key: Buffer, sealed: Sealed, aad: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
  } catch {
    return undefined;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Whether `value` is a well-formed box (base64 fields; IV of 12 bytes, tag of 16). */
export function isSealed(value: unknown): value is Sealed {
  if (typeof value !== 'object' || value === null) return false;
  const { iv, tag, data } = value as Record<string, unknown>;
  return (
    typeof iv === 'string' && BASE64.test(iv) && Buffer.from(iv, 'base64').length === IV_BYTES &&
    typeof tag === 'string' && BASE64.test(tag) && Buffer.from(tag, 'base64').length === TAG_BYTES &&
    typeof data === 'string' && BASE64.test(data)
  );
}

/** Whether `value` is derivation parameters this version can use (bounded costs: a file cannot make opening it take gigabytes). */
export function isKdf(value: unknown): value is KdfParams {
  if (typeof value !== 'object' || value === null) return false;
  const kdf = value as Record<string, unknown>;
  if (typeof kdf.salt !== 'string' || !BASE64.test(kdf.salt) || Buffer.from(kdf.salt, 'base64').length < SALT_BYTES) return false;
  if (kdf.name === 'hkdf-sha256') return true;
  const { N, r, p } = kdf;
  return (
    kdf.name === 'scrypt' &&
    Number.isInteger(N) && (N as number) >= 2 ** 10 && (N as number) <= 2 ** 20 && ((N as number) & ((N as number) - 1)) === 0 &&
    Number.isInteger(r) && (r as number) >= 1 && (r as number) <= 32 &&
    Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 16
  );
}
