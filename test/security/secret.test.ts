import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED, Secret, invalidSecret } from '../../src/security/index.js';
import { ModelpoolError } from '../../src/errors.js';
import { expectCode } from '../helpers/expect.js';
import { expectNoLeak } from './no-leak.js';

const KEY = 'sk-test-4f9a8b7c6d5e4f3a2b1c';

describe('Secret', () => {
  it('reveals the value only through reveal()', () => {
    const secret = Secret.from(KEY);
    expect(secret.reveal()).toBe(KEY);
    expect(secret.length).toBe(KEY.length);
    expect(String(secret)).toBe(REDACTED);
    expect(secret.toString()).toBe(REDACTED);
    expect(secret.toJSON()).toBe(REDACTED);
    expect(`${secret}`).toBe(REDACTED);
    expect('Bearer ' + secret).toBe(`Bearer ${REDACTED}`);
    expect(JSON.stringify({ apiKey: secret })).toBe(`{"apiKey":"${REDACTED}"}`);
    expect(inspect(secret)).toBe(REDACTED);
    expect(inspect({ nested: { secret } }, { depth: 5, showHidden: true })).not.toContain(KEY);
    expect(format('%s %o %O %j', secret, secret, secret, secret)).not.toContain(KEY);
    expect(Object.keys(secret)).toEqual([]);
    expect(Object.prototype.toString.call(secret)).toBe('[object Secret]');
    expect(structuredClone(secret)).not.toHaveProperty('value');
  });

  it('does not leak through an error that carries it', () => {
    const error = new ModelpoolError('PROVIDER_ERROR', `call failed with ${Secret.from(KEY)}`, { details: { key: Secret.from(KEY) }, value: Secret.from(KEY) });
    expectNoLeak(error, KEY);
  });

  it('gives a short stable fingerprint that differs between keys', () => {
    const a = Secret.from(KEY);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(a.fingerprint).toBe(Secret.from(KEY).fingerprint);
    expect(a.fingerprint).not.toBe(Secret.from(`${KEY}x`).fingerprint);
    expect(KEY).not.toContain(a.fingerprint);
  });

  it('compares in constant time with equals()', () => {
    const a = Secret.from(KEY);
    expect(a.equals(KEY)).toBe(true);
    expect(a.equals(Secret.from(KEY))).toBe(true);
    expect(a.equals('other')).toBe(false);
    expect(a.equals(42 as unknown as string)).toBe(false);
  });

  it('from() passes a Secret through and isSecret tells one', () => {
    const a = Secret.from(KEY);
    expect(Secret.from(a)).toBe(a);
    expect(Secret.isSecret(a)).toBe(true);
    expect(Secret.isSecret(KEY)).toBe(false);
  });

  it('refuses bad values naming the field, never the value', async () => {
    await expectCode(() => Secret.from(''), 'INVALID_ARGUMENT', 'value');
    await expectCode(() => Secret.from(42 as unknown as string, 'apiKey'), 'INVALID_ARGUMENT', 'apiKey');
    const long = 'k'.repeat(70_000);
    const error = await expectCode(() => Secret.from(long), 'INVALID_ARGUMENT', 'value');
    expect(error.message).toContain('(redacted)');
    expect(error.value).toBe(REDACTED);
    expectNoLeak(error, long);
  });

  it('invalidSecret names the type only', () => {
    expect(invalidSecret('x', 'a key', null).message).toBe('Expected a key for x but received null (redacted)');
    expect(invalidSecret('x', 'a key', []).message).toContain('received array');
    expect(invalidSecret('x', 'a key', KEY).message).not.toContain(KEY);
  });
});
