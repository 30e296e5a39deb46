import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { MIN_REDACTED_LENGTH, REDACTED, Redactor, SENSITIVE_FIELDS, SENSITIVE_HEADERS, Secret, redact, redactHeaders } from '../../src/security/index.js';
import { expectCode } from '../helpers/expect.js';
import { expectNoLeak } from './no-leak.js';

const KEY = 'sk-proj-AbCdEf0123456789ghIJ/kl+MN';
const OTHER = 'sk-ant-api03-zyxwvutsrqponmlk';

describe('redact', () => {
  it('replaces every raw occurrence and the Bearer header form', () => {
    const line = `POST /v1/chat key=${KEY} Authorization: Bearer ${KEY} again ${KEY}`;
    expect(redact(line, [KEY])).toBe(`POST /v1/chat key=${REDACTED} Authorization: Bearer ${REDACTED} again ${REDACTED}`);
  });

  it('finds JSON-escaped, URL-encoded, base64 and base64url forms', () => {
    const quoted = 'pa"ss\\word-1234';
    const r = new Redactor({ secrets: [KEY, Secret.from(quoted)] });
    expect(r.size).toBe(2);
    expect(r.redact(JSON.stringify({ body: `key ${quoted}` }))).not.toContain('ss\\\\word');
    expect(r.redact(`?api_key=${encodeURIComponent(KEY)}&x=1`)).toBe(`?api_key=${REDACTED}&x=1`);
    const b64 = Buffer.from(KEY).toString('base64');
    expect(r.redact(`blob ${b64}`)).not.toContain(b64.slice(0, 20));
    const b64url = Buffer.from(KEY).toString('base64url');
    expect(r.redact(`blob ${b64url}`)).not.toContain(b64url.slice(0, 20));
    // Inside Basic auth at each alignment: user names of 1, 2 and 3 bytes.
    for (const user of ['a', 'ab', 'abc', 'user:']) {
      const basic = Buffer.from(`${user}:${KEY}`).toString('base64');
      const out = r.redact(`Authorization: Basic ${basic}`);
      expect(out).toContain(REDACTED);
      // At most a couple of characters of the encoded key survive at each edge.
      expect(out.length).toBeLessThan(`Authorization: Basic `.length + REDACTED.length + 12);
    }
  });

  it('replaces unknown bearer tokens too unless turned off', () => {
    expect(redact('Authorization: Bearer abcdefgh12345678==', [])).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redact('bearer  tok.en-with_chars~+/x', [])).toBe(`bearer  ${REDACTED}`);
    expect(redact('a bearer of news', [])).toBe('a bearer of news');
    expect(new Redactor({ bearer: false }).redact('Bearer abcdefgh12345678')).toBe('Bearer abcdefgh12345678');
  });

  it('prefers the longer secret when one contains another', () => {
    const r = new Redactor().add('abcd').add('abcd-longer-secret');
    expect(r.redact('x abcd-longer-secret y abcd')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('escapes regular expression characters in secrets', () => {
    const tricky = 'a.b*c+d?(e)[f]{g}|h^$\\/-';
    const r = new Redactor().add(tricky);
    expect(r.redact(`x ${tricky} y aXbbc`)).toBe(`x ${REDACTED} y aXbbc`);
  });

  it('adds, removes and leaves text alone without secrets', () => {
    const r = new Redactor();
    expect(r.redact('nothing here')).toBe('nothing here');
    r.add(KEY).add(Secret.from(KEY));
    expect(r.size).toBe(1);
    expect(r.redact(KEY)).toBe(REDACTED);
    expect(r.remove(Secret.from(KEY))).toBe(true);
    expect(r.remove(KEY)).toBe(false);
    expect(r.remove(42 as never)).toBe(false);
    expect(r.redact(KEY)).toBe(KEY);
    r.add(OTHER);
    expect(r.redact(`${KEY} ${OTHER}`)).toBe(`${KEY} ${REDACTED}`);
  });

  it('refuses bad input, never echoing a secret', async () => {
    const r = new Redactor();
    const short = 'x'.repeat(MIN_REDACTED_LENGTH - 1);
    expectNoLeak(await expectCode(() => r.add(short), 'INVALID_ARGUMENT', 'secret'), short);
    await expectCode(() => r.add(7 as never), 'INVALID_ARGUMENT', 'secret');
    await expectCode(() => r.redact(7 as never), 'INVALID_ARGUMENT', 'text');
    await expectCode(() => new Redactor(null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => new Redactor({ bearer: 'yes' as never }), 'INVALID_ARGUMENT', 'options.bearer');
    await expectCode(() => new Redactor({ secrets: 5 as never }), 'INVALID_ARGUMENT', 'options.secrets');
    const error = await expectCode(() => new Redactor({ secrets: [KEY, 'abc'] }), 'INVALID_ARGUMENT', 'options.secrets[1]');
    expectNoLeak(error, 'abc');
  });
});

describe('Redactor.redactValue', () => {
  it('redacts strings deeply, blanks sensitive keys and Secrets, keeps the rest', () => {
    const r = new Redactor({ secrets: [KEY] });
    const when = new Date(0);
    const value = {
      message: `failed with ${KEY}`,
      list: [KEY, 3, null, true, { deeper: `Bearer ${KEY}` }, Secret.from(OTHER)],
      headers: { Authorization: 'Basic whatever', 'x-api-key': 'not known to the redactor', accept: 'json' },
      secret: Secret.from(OTHER),
      options: { api_key: 12345, apiKey: 'x', 'Client-Secret': 'y', password: { nested: true }, tokens: 42, token_count: 3 },
      when,
      missing: undefined,
    };
    const copy = r.redactValue(value) as Record<string, any>;
    expect(copy.message).toBe(`failed with ${REDACTED}`);
    expect(copy.list).toEqual([REDACTED, 3, null, true, { deeper: `Bearer ${REDACTED}` }, REDACTED]);
    expect(copy.headers).toEqual({ Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'json' });
    expect(copy.secret).toBe(REDACTED);
    expect(copy.options).toEqual({ api_key: REDACTED, apiKey: REDACTED, 'Client-Secret': REDACTED, password: REDACTED, tokens: 42, token_count: 3 });
    expect(SENSITIVE_FIELDS).toContain('apikey');
    expect(copy.when).toBe(when);
    expect(value.message).toContain(KEY); // the original is untouched
    expectNoLeak(copy, KEY);
    expectNoLeak(copy, OTHER);
  });

  it('turns errors into redacted plain objects', () => {
    const r = new Redactor({ secrets: [KEY] });
    const error = new ModelpoolError('UNAUTHORIZED', `provider refused key ${KEY}`, { field: 'apiKey', value: KEY, details: { sent: `Bearer ${KEY}` } });
    const copy = r.redactValue(error) as Record<string, unknown>;
    expect(copy).toMatchObject({ name: 'ModelpoolError', code: 'UNAUTHORIZED', field: 'apiKey', value: REDACTED, message: `provider refused key ${REDACTED}` });
    expectNoLeak(copy, KEY);
    expectNoLeak(r.redactValue(new Error(KEY)), KEY);
  });

  it('survives cycles and deep nesting', () => {
    const r = new Redactor({ secrets: [KEY] });
    const cyclic: Record<string, unknown> = { key: KEY };
    cyclic.self = cyclic;
    expect(r.redactValue(cyclic)).toEqual({ key: REDACTED, self: REDACTED });
    let deep: unknown = KEY;
    for (let i = 0; i < 40; i++) deep = [deep];
    expectNoLeak(r.redactValue(deep), KEY);
    const shared = { a: KEY };
    expect(r.redactValue([shared, shared])).toEqual([{ a: REDACTED }, { a: REDACTED }]);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { __proto__: KEY, b: 1 });
    expect(r.redactValue(bare)).toEqual({ b: 1 });
    expect(r.redactValue(5)).toBe(5);
  });
});

describe('redactHeaders', () => {
  it('blanks sensitive headers in a record, whatever their case, and keeps the rest', () => {
    const headers = { Authorization: `Bearer ${KEY}`, 'X-Api-Key': KEY, 'api-key': KEY, Cookie: 'session=1', 'content-type': 'application/json', 'x-missing': undefined };
    const copy = redactHeaders(headers);
    expect(copy).toEqual({ Authorization: REDACTED, 'X-Api-Key': REDACTED, 'api-key': REDACTED, Cookie: REDACTED, 'content-type': 'application/json', 'x-missing': undefined });
    expect(headers.Authorization).toContain(KEY);
    expect(SENSITIVE_HEADERS).toContain('set-cookie');
  });

  it('handles Headers, pairs and extra names', () => {
    const h = new Headers({ authorization: `Bearer ${KEY}`, accept: 'text/plain', 'x-custom-token': 'abc' });
    const copy = redactHeaders(h, ['X-Custom-Token']);
    expect(copy).toBeInstanceOf(Headers);
    expect(copy.get('authorization')).toBe(REDACTED);
    expect(copy.get('x-custom-token')).toBe(REDACTED);
    expect(copy.get('accept')).toBe('text/plain');
    const pairs = redactHeaders([['Authorization', `Bearer ${KEY}`], ['Accept', '*/*']]);
    expect(pairs).toEqual([['Authorization', REDACTED], ['Accept', '*/*']]);
    expect(redactHeaders({ 'set-cookie': ['a=1', 'b=2'] })).toEqual({ 'set-cookie': REDACTED });
  });

  it('refuses bad input', async () => {
    await expectCode(() => redactHeaders(null as never), 'INVALID_ARGUMENT', 'headers');
    await expectCode(() => redactHeaders([['ok', 'x'], 'bad'] as never), 'INVALID_ARGUMENT', 'headers[1]');
    await expectCode(() => redactHeaders({}, 'authorization' as never), 'INVALID_ARGUMENT', 'extra');
    await expectCode(() => redactHeaders({}, [3] as never), 'INVALID_ARGUMENT', 'extra');
  });
});
