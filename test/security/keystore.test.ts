import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyStore, REDACTED, Secret } from '../../src/security/index.js';
import { expectCode } from '../helpers/expect.js';
import { expectNoLeak } from './no-leak.js';

const OPENAI = 'sk-proj-AbCdEf0123456789ghIJklMNopQRstUVwxYZ';
const ANTHROPIC = 'sk-ant-api03-zyxwvutsrqponmlkjihgfedcba9876543210';
const PASSPHRASE = 'correct horse battery staple';

let dir: string;
let clock: number;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelpool-keystore-'));
  clock = 1_700_000_000_000;
});
afterEach(async () => {
  delete process.env.MODELPOOL_TEST_MASTER_KEY;
  await rm(dir, { recursive: true, force: true });
});

type FileShape = { kdf: Record<string, unknown>; entries: Array<Record<string, unknown>> };
const readShape = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as FileShape;

describe('KeyStore.open', () => {
  it('creates the file (mode 0o600, in a new folder) and reopens it with the same key', async () => {
    const path = join(dir, 'nested', 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key, now });
    expect(store.size).toBe(0);
    expect(store.path).toBe(path);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
    await store.set('openai', OPENAI);
    await store.close();
    const again = await KeyStore.open(path, { key: Secret.from(key.toString('hex')) });
    expect(again.get('openai')?.reveal()).toBe(OPENAI);
    await again.close();
  });

  it('never writes a value in plaintext, nor in base64 or hex', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { passphrase: PASSPHRASE });
    await store.set('openai', OPENAI);
    await store.set('anthropic', Secret.from(ANTHROPIC));
    const bytes = await readFile(path);
    for (const value of [OPENAI, ANTHROPIC, PASSPHRASE]) {
      expect(bytes.includes(Buffer.from(value))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(value).toString('base64').slice(0, 24)))).toBe(false);
      expect(bytes.includes(Buffer.from(Buffer.from(value).toString('hex').slice(0, 24)))).toBe(false);
    }
    await store.close();
  });

  it('reads the master key from an environment variable (hex or base64)', async () => {
    const key = randomBytes(32);
    process.env.MODELPOOL_TEST_MASTER_KEY = key.toString('hex');
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_MASTER_KEY' });
    await store.set('openai', OPENAI);
    await store.close();
    process.env.MODELPOOL_TEST_MASTER_KEY = ` ${key.toString('base64')}\n`;
    const again = await KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_MASTER_KEY' });
    expect(again.get('openai')?.reveal()).toBe(OPENAI);
    await again.close();
    process.env.MODELPOOL_TEST_MASTER_KEY = key.toString('base64url').replace(/=+$/, '');
    await (await KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_MASTER_KEY' })).close();
    // The same key given directly opens it too.
    await (await KeyStore.open(path, { key: Secret.from(key.toString('base64')) })).close();
  });

  it('detects a wrong passphrase or key at open, even with no entries', async () => {
    const path = join(dir, 'keys.json');
    await (await KeyStore.open(path, { passphrase: PASSPHRASE })).close();
    const error = await expectCode(KeyStore.open(path, { passphrase: 'not the passphrase' }), 'DECRYPTION_FAILED', 'options.passphrase');
    expect(error.message).toContain(path);
    expectNoLeak(error, 'not the passphrase');
    expectNoLeak(error, PASSPHRASE);

    const keyed = join(dir, 'keyed.json');
    const key = randomBytes(32);
    await (await KeyStore.open(keyed, { key })).close();
    const wrong = randomBytes(32);
    const keyError = await expectCode(KeyStore.open(keyed, { key: wrong }), 'DECRYPTION_FAILED', 'options.key');
    expectNoLeak(keyError, wrong.toString('hex'));
    expectNoLeak(keyError, wrong.toString('base64'));
  });

  it('refuses a passphrase for a file made with a key, and the reverse', async () => {
    const path = join(dir, 'keys.json');
    await (await KeyStore.open(path, { key: randomBytes(32) })).close();
    const error = await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE }), 'INVALID_ARGUMENT', 'options.passphrase');
    expect(error.message).toContain('made with a key');
    expectNoLeak(error, PASSPHRASE);
    const other = join(dir, 'other.json');
    await (await KeyStore.open(other, { passphrase: PASSPHRASE })).close();
    await expectCode(KeyStore.open(other, { key: randomBytes(32) }), 'INVALID_ARGUMENT', 'options.key');
  });

  it('refuses bad options, naming the option and never the key', async () => {
    const path = join(dir, 'keys.json');
    await expectCode(KeyStore.open('', { passphrase: PASSPHRASE }), 'INVALID_ARGUMENT', 'path');
    await expectCode(KeyStore.open(path, null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(KeyStore.open(path, {}), 'INVALID_ARGUMENT', 'options');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE, key: randomBytes(32) }), 'INVALID_ARGUMENT', 'options.passphrase');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE, colour: 1 } as never), 'INVALID_ARGUMENT', 'options.colour');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE, now: 5 as never }), 'INVALID_ARGUMENT', 'options.now');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE, scryptN: 1000 }), 'INVALID_ARGUMENT', 'options.scryptN');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE, scryptN: 3 * 2 ** 14 }), 'INVALID_ARGUMENT', 'options.scryptN');
    const short = await expectCode(KeyStore.open(path, { passphrase: 'hunter2' }), 'INVALID_ARGUMENT', 'options.passphrase');
    expectNoLeak(short, 'hunter2');
    await expectCode(KeyStore.open(path, { passphrase: 42 as never }), 'INVALID_ARGUMENT', 'options.passphrase');
    const shortKey = randomBytes(16);
    const keyError = await expectCode(KeyStore.open(path, { key: shortKey }), 'INVALID_ARGUMENT', 'options.key');
    expectNoLeak(keyError, shortKey.toString('hex'));
    const badText = 'definitely-not-a-32-byte-key-value-here';
    expectNoLeak(await expectCode(KeyStore.open(path, { key: Secret.from(badText) }), 'INVALID_ARGUMENT', 'options.key'), badText);
    await expectCode(KeyStore.open(path, { key: 'abc' as never }), 'INVALID_ARGUMENT', 'options.key');
    await expectCode(KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_UNSET_VARIABLE' }), 'INVALID_ARGUMENT', 'options.keyEnv');
    process.env.MODELPOOL_TEST_MASTER_KEY = 'too-short-to-be-a-key';
    const envError = await expectCode(KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_MASTER_KEY' }), 'INVALID_ARGUMENT', 'options.keyEnv');
    expectNoLeak(envError, 'too-short-to-be-a-key');
    // Base64 of the wrong length.
    process.env.MODELPOOL_TEST_MASTER_KEY = 'A'.repeat(44);
    await expectCode(KeyStore.open(path, { keyEnv: 'MODELPOOL_TEST_MASTER_KEY' }), 'INVALID_ARGUMENT', 'options.keyEnv');
    // Nothing was created by the failed opens.
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports a corrupt file as STORE_CORRUPT naming the path and leaves it untouched', async () => {
    const path = join(dir, 'keys.json');
    const cases: Array<[string, string]> = [
      ['', 'not JSON'],
      ['{"format": "modelpool-keystore"', 'not JSON'],
      ['[1,2]', 'not a JSON object'],
      ['{"format":"other"}', 'format'],
      ['{"format":"modelpool-keystore","version":2}', 'version'],
      ['{"format":"modelpool-keystore","version":1,"kdf":{"name":"md5","salt":"AAAAAAAAAAAAAAAAAAAAAA=="}}', 'kdf'],
      ['{"format":"modelpool-keystore","version":1,"kdf":{"name":"scrypt","salt":"AAAAAAAAAAAAAAAAAAAAAA==","N":1073741824,"r":8,"p":1}}', 'kdf'],
    ];
    for (const [text, problem] of cases) {
      await writeFile(path, text);
      const error = await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE }), 'STORE_CORRUPT', 'path');
      expect(error.message).toContain(path);
      expect(String(error.details?.problem)).toContain(problem);
      expect(await readFile(path, 'utf8')).toBe(text);
    }
  });

  it('reports a damaged structure of a real file as STORE_CORRUPT', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { passphrase: PASSPHRASE, scryptN: 2 ** 14 });
    await store.set('openai', OPENAI);
    await store.set('anthropic', ANTHROPIC);
    await store.close();
    const good = await readFile(path, 'utf8');
    const mutate = async (change: (file: Record<string, any>) => void, problem: string) => {
      const file = JSON.parse(good) as Record<string, any>;
      change(file);
      await writeFile(path, JSON.stringify(file));
      const error = await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE }), 'STORE_CORRUPT', 'path');
      expect(String(error.details?.problem)).toContain(problem);
    };
    await mutate((f) => (f.verifier = { iv: 'x' }), 'verifier');
    await mutate((f) => (f.entries = {}), 'entries is not an array');
    await mutate((f) => (f.entries[0].iv = 'AAAA'), 'entries[0]');
    await mutate((f) => (f.entries[0].tag = 17), 'entries[0]');
    await mutate((f) => (f.entries[1].name = 'bad name!'), 'entries[1].name');
    await mutate((f) => (f.entries[1].name = f.entries[0].name), 'twice');
    await mutate((f) => (f.entries[0].updatedAt = 'yesterday'), 'updatedAt');
    await mutate((f) => (f.entries[0] = null), 'entries[0]');
  });

  it('is not broken by a leftover temporary file from a crash', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { passphrase: PASSPHRASE });
    await store.set('openai', OPENAI);
    await store.close();
    await writeFile(join(dir, '.keys.json.0123456789ab.tmp'), '{"format": "modelpool-keys'); // a write cut short
    const again = await KeyStore.open(path, { passphrase: PASSPHRASE });
    expect(again.get('openai')?.reveal()).toBe(OPENAI);
    await again.set('anthropic', ANTHROPIC);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual(['.keys.json.0123456789ab.tmp']);
    await again.close();
  });

  it('reports an unreadable file as STORE_FAILED', async () => {
    await expectCode(KeyStore.open(dir, { passphrase: PASSPHRASE }), 'STORE_FAILED', 'path'); // a folder
  });
});

describe('KeyStore entries', () => {
  it('sets, gets, lists names, deletes and reports status', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { key: randomBytes(32), now });
    expect(store.get('openai')).toBeUndefined();
    await store.set('openai', OPENAI);
    clock += 1000;
    await store.set('anthropic:prod', ANTHROPIC);
    expect(store.has('openai')).toBe(true);
    expect(store.has('ollama')).toBe(false);
    expect(store.names()).toEqual(['anthropic:prod', 'openai']);
    const secret = store.get('openai')!;
    expect(secret).toBeInstanceOf(Secret);
    expect(secret.reveal()).toBe(OPENAI);
    expect(String(secret)).toBe(REDACTED);
    const status = store.status();
    expect(status).toEqual([
      { name: 'anthropic:prod', fingerprint: Secret.from(ANTHROPIC).fingerprint, updatedAt: clock, damaged: false },
      { name: 'openai', fingerprint: Secret.from(OPENAI).fingerprint, updatedAt: clock - 1000, damaged: false },
    ]);
    expectNoLeak(status, OPENAI);
    clock += 1000;
    await store.set('openai', 'sk-replaced-value-000000');
    expect(store.get('openai')?.reveal()).toBe('sk-replaced-value-000000');
    expect(store.status().find((entry) => entry.name === 'openai')?.updatedAt).toBe(clock);
    expect(await store.delete('openai')).toBe(true);
    expect(await store.delete('openai')).toBe(false);
    expect(store.names()).toEqual(['anthropic:prod']);
    await store.close();
  });

  it('refuses bad names and values, never echoing a value', async () => {
    const store = await KeyStore.open(join(dir, 'keys.json'), { key: randomBytes(32) });
    await expectCode(store.set('', OPENAI), 'INVALID_ARGUMENT', 'name');
    await expectCode(store.set('has space', OPENAI), 'INVALID_ARGUMENT', 'name');
    await expectCode(store.set('__proto__', OPENAI), 'INVALID_ARGUMENT', 'name');
    await expectCode(() => store.get(42 as never), 'INVALID_ARGUMENT', 'name');
    await expectCode(() => store.has('-leading'), 'INVALID_ARGUMENT', 'name');
    await expectCode(store.delete('a b'), 'INVALID_ARGUMENT', 'name');
    await expectCode(store.set('openai', ''), 'INVALID_ARGUMENT', 'value');
    const huge = `${OPENAI}${'x'.repeat(70_000)}`;
    expectNoLeak(await expectCode(store.set('openai', huge), 'INVALID_ARGUMENT', 'value'), OPENAI);
    expect(store.size).toBe(0);
    await store.close();
  });

  it('detects a flipped byte of ciphertext, tag or IV', async () => {
    const path = join(dir, 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key });
    await store.set('openai', OPENAI);
    await store.close();
    for (const field of ['data', 'tag', 'iv']) {
      const file = await readShape(path);
      const bytes = Buffer.from(file.entries[0]![field] as string, 'base64');
      bytes[0]! ^= 0x01;
      const saved = file.entries[0]![field];
      file.entries[0]![field] = bytes.toString('base64');
      await writeFile(path, JSON.stringify(file));
      const opened = await KeyStore.open(path, { key });
      const error = await expectCode(() => opened.get('openai'), 'DECRYPTION_FAILED', 'name');
      expect(error.message).toContain('"openai"');
      expect(opened.status()).toEqual([{ name: 'openai', updatedAt: expect.any(Number), damaged: true }]);
      await opened.close();
      file.entries[0]![field] = saved;
      await writeFile(path, JSON.stringify(file));
    }
    const intact = await KeyStore.open(path, { key });
    expect(intact.get('openai')?.reveal()).toBe(OPENAI);
    await intact.close();
  });

  it('detects two entries swapped, and an entry re-dated', async () => {
    const path = join(dir, 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key, now });
    await store.set('openai', OPENAI);
    await store.set('anthropic', ANTHROPIC);
    await store.close();
    const file = await readShape(path);
    const [a, b] = file.entries as [Record<string, unknown>, Record<string, unknown>];
    for (const field of ['iv', 'tag', 'data']) [a[field], b[field]] = [b[field], a[field]];
    await writeFile(path, JSON.stringify(file));
    const swapped = await KeyStore.open(path, { key });
    await expectCode(() => swapped.get('openai'), 'DECRYPTION_FAILED');
    await expectCode(() => swapped.get('anthropic'), 'DECRYPTION_FAILED');
    // A damaged entry can be deleted and set again.
    expect(await swapped.delete('openai')).toBe(true);
    await swapped.set('openai', OPENAI);
    expect(swapped.get('openai')?.reveal()).toBe(OPENAI);
    await swapped.close();

    const redated = await readShape(path);
    (redated.entries.find((e) => e.name === 'openai')!).updatedAt = 1;
    await writeFile(path, JSON.stringify(redated));
    const reopened = await KeyStore.open(path, { key });
    await expectCode(() => reopened.get('openai'), 'DECRYPTION_FAILED');
    await reopened.close();
  });

  it('serialises concurrent writes: every one lands', async () => {
    const path = join(dir, 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`key${i}`, `value-number-${i}-abcdef`)));
    await Promise.all([store.delete('key3'), store.set('key3', 'value-again-abcdef'), store.delete('key4')]);
    await store.close();
    const again = await KeyStore.open(path, { key });
    expect(again.size).toBe(19);
    expect(again.get('key3')?.reveal()).toBe('value-again-abcdef');
    expect(again.get('key19')?.reveal()).toBe('value-number-19-abcdef');
    await again.close();
  });

  it('keeps the old value when the write fails', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { key: randomBytes(32) });
    await store.set('openai', OPENAI);
    // A non-empty folder where the file was: the rename fails (even for root).
    await rm(path);
    await mkdir(join(path, 'blocker'), { recursive: true });
    await expectCode(store.set('openai', 'sk-new-value-that-fails'), 'STORE_FAILED', 'path');
    await expectCode(store.delete('openai'), 'STORE_FAILED', 'path');
    await expectCode(store.rotate({ key: randomBytes(32) }), 'STORE_FAILED', 'path');
    expect(store.get('openai')?.reveal()).toBe(OPENAI);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    await store.close();
  });

  it('throws DISPOSED after close, and close is idempotent', async () => {
    const store = await KeyStore.open(join(dir, 'keys.json'), { key: randomBytes(32) });
    await store.set('openai', OPENAI);
    const pending = store.set('anthropic', ANTHROPIC);
    await store[Symbol.asyncDispose]();
    await pending; // close waited for it
    await store.close();
    await expectCode(() => store.get('openai'), 'DISPOSED');
    await expectCode(() => store.names(), 'DISPOSED');
    await expectCode(() => store.size, 'DISPOSED');
    await expectCode(store.set('x1234', OPENAI), 'DISPOSED');
    await expectCode(store.rotate({ key: randomBytes(32) }), 'DISPOSED');
  });

  it('refuses a clock that is not a number', async () => {
    const store = await KeyStore.open(join(dir, 'keys.json'), { key: randomBytes(32), now: () => Number.NaN });
    await expectCode(store.set('openai', OPENAI), 'INVALID_ARGUMENT', 'now()');
    await store.close();
  });
});

describe('KeyStore.rotate', () => {
  it('re-encrypts under a new key: the old key no longer opens it, the new one does, values intact', async () => {
    const path = join(dir, 'keys.json');
    const store = await KeyStore.open(path, { passphrase: PASSPHRASE, now });
    await store.set('openai', OPENAI);
    await store.set('anthropic', ANTHROPIC);
    const before = store.status();
    const newKey = randomBytes(32);
    await store.rotate({ key: newKey });
    expect(store.get('openai')?.reveal()).toBe(OPENAI); // the open store keeps working
    expect(store.status()).toEqual(before);
    await store.set('ollama', 'ollama-token-123456');
    await store.close();
    expect((await readShape(path)).kdf.name).toBe('hkdf-sha256');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE }), 'INVALID_ARGUMENT', 'options.passphrase');
    await expectCode(KeyStore.open(path, { key: randomBytes(32) }), 'DECRYPTION_FAILED');
    const reopened = await KeyStore.open(path, { key: newKey });
    expect(reopened.get('openai')?.reveal()).toBe(OPENAI);
    expect(reopened.get('anthropic')?.reveal()).toBe(ANTHROPIC);
    expect(reopened.get('ollama')?.reveal()).toBe('ollama-token-123456');
    // And back to a passphrase from an environment key's store.
    const newPassphrase = Secret.from('another long passphrase');
    await reopened.rotate({ passphrase: newPassphrase, scryptN: 2 ** 14 });
    await reopened.close();
    const kdf = (await readShape(path)).kdf;
    expect(kdf).toMatchObject({ name: 'scrypt', N: 2 ** 14, r: 8, p: 1 });
    await expectCode(KeyStore.open(path, { key: newKey }), 'INVALID_ARGUMENT', 'options.key');
    await expectCode(KeyStore.open(path, { passphrase: PASSPHRASE }), 'DECRYPTION_FAILED');
    const last = await KeyStore.open(path, { passphrase: newPassphrase });
    expect(last.names()).toEqual(['anthropic', 'ollama', 'openai']);
    await last.close();
  });

  it('rotating a key store onto the same key still changes every box and the salt', async () => {
    const path = join(dir, 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key });
    await store.set('openai', OPENAI);
    const before = await readShape(path);
    await store.rotate({ key });
    const after = await readShape(path);
    expect(after.kdf.salt).not.toBe(before.kdf.salt);
    expect(after.entries[0]!.data).not.toBe(before.entries[0]!.data);
    await store.close();
  });

  it('refuses to rotate with a damaged entry, changing nothing', async () => {
    const path = join(dir, 'keys.json');
    const key = randomBytes(32);
    const store = await KeyStore.open(path, { key });
    await store.set('openai', OPENAI);
    await store.set('anthropic', ANTHROPIC);
    await store.close();
    const file = await readShape(path);
    file.entries[1]!.data = Buffer.from('tampered').toString('base64');
    await writeFile(path, JSON.stringify(file));
    const text = await readFile(path, 'utf8');
    const damaged = await KeyStore.open(path, { key });
    const error = await expectCode(damaged.rotate({ key: randomBytes(32) }), 'DECRYPTION_FAILED', 'name');
    expect(error.value).toBe('anthropic');
    expect(await readFile(path, 'utf8')).toBe(text);
    expect(damaged.get('openai')?.reveal()).toBe(OPENAI);
    await damaged.close();
  });

  it('refuses bad rotate options', async () => {
    const store = await KeyStore.open(join(dir, 'keys.json'), { key: randomBytes(32) });
    await expectCode(store.rotate({}), 'INVALID_ARGUMENT', 'options');
    await expectCode(store.rotate(null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(store.rotate({ key: randomBytes(32), now } as never), 'INVALID_ARGUMENT', 'options.now');
    await store.close();
  });
});
