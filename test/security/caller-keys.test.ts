import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CALLER_SCOPES, CallerKeys, REDACTED, Secret } from '../../src/security/index.js';
import { expectCode } from '../helpers/expect.js';
import { expectNoLeak } from './no-leak.js';

let dir: string;
let clock = 1_700_000_000_000;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelpool-callers-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CallerKeys in memory', () => {
  it('creates a key shown once and verifies it by scope', async () => {
    const keys = await CallerKeys.open({ now });
    expect(keys.path).toBeUndefined();
    const key = await keys.create({ name: 'ci', scopes: ['inference'], tenant: 'team-a' });
    expect(key).toBeInstanceOf(Secret);
    expect(String(key)).toBe(REDACTED);
    expect(key.reveal()).toMatch(/^mp_[A-Za-z0-9_-]{43}$/);
    expect(keys.verify(key.reveal(), 'inference')).toEqual({ name: 'ci', tenant: 'team-a', scopes: ['inference'] });
    expect(keys.verify(key, 'inference').name).toBe('ci');
    const forbidden = await expectCode(() => keys.verify(key.reveal(), 'admin'), 'FORBIDDEN', 'scope');
    expect(forbidden.message).toBe('The caller "ci" has no admin scope (it has inference)');
    expectNoLeak(forbidden, key.reveal());
  });

  it('admin implies inference', async () => {
    const keys = await CallerKeys.open();
    const key = await keys.create({ name: 'ops', scopes: ['admin'] });
    expect(keys.verify(key.reveal(), 'admin')).toEqual({ name: 'ops', scopes: ['admin'] });
    expect(keys.verify(key.reveal(), 'inference').name).toBe('ops');
    const both = await keys.create({ name: 'both', scopes: ['admin', 'inference', 'admin'] });
    expect(keys.verify(both.reveal(), 'admin').scopes).toEqual(['inference', 'admin']);
  });

  it('refuses unknown, malformed and missing keys as UNAUTHORIZED without echoing them', async () => {
    const keys = await CallerKeys.open();
    const real = await keys.create({ name: 'ci', scopes: ['inference'] });
    const guesses = [`mp_${'A'.repeat(43)}`, `${real.reveal()}x`, 'sk-not-ours-0123456789', real.reveal().toUpperCase()];
    for (const guess of guesses) expectNoLeak(await expectCode(() => keys.verify(guess, 'inference'), 'UNAUTHORIZED', 'key'), guess);
    await expectCode(() => keys.verify(undefined, 'inference'), 'UNAUTHORIZED', 'key');
    await expectCode(() => keys.verify('', 'inference'), 'UNAUTHORIZED', 'key');
    await expectCode(() => keys.verify(42 as never, 'inference'), 'UNAUTHORIZED', 'key');
    await expectCode(() => keys.verify(real.reveal(), 'root' as never), 'INVALID_ARGUMENT', 'scope');
  });

  it('revokes and lists without keys or hashes', async () => {
    clock = 1_000;
    const keys = await CallerKeys.open({ now });
    const a = await keys.create({ name: 'b-service', scopes: ['inference'] });
    clock = 2_000;
    await keys.create({ name: 'a-admin', scopes: ['admin'], tenant: 'ops' });
    expect(keys.size).toBe(2);
    const list = keys.list();
    expect(list).toEqual([
      { name: 'a-admin', tenant: 'ops', scopes: ['admin'], createdAt: 2_000 },
      { name: 'b-service', scopes: ['inference'], createdAt: 1_000 },
    ]);
    expect(JSON.stringify(list)).not.toMatch(/[0-9a-f]{64}/);
    expectNoLeak(list, a.reveal());
    expect(await keys.revoke('b-service')).toBe(true);
    expect(await keys.revoke('b-service')).toBe(false);
    await expectCode(() => keys.verify(a.reveal(), 'inference'), 'UNAUTHORIZED');
    // The name is free again; the new key differs from the revoked one.
    const again = await keys.create({ name: 'b-service', scopes: ['inference'] });
    expect(again.reveal()).not.toBe(a.reveal());
    await keys.flush();
  });

  it('refuses bad requests naming the field', async () => {
    const keys = await CallerKeys.open();
    await expectCode(keys.create(null as never), 'INVALID_ARGUMENT', 'request');
    await expectCode(keys.create({ name: '', scopes: ['inference'] }), 'INVALID_ARGUMENT', 'request.name');
    await expectCode(keys.create({ name: 'white space', scopes: ['inference'] }), 'INVALID_ARGUMENT', 'request.name');
    await expectCode(keys.create({ name: 'ci', scopes: [] }), 'INVALID_ARGUMENT', 'request.scopes');
    await expectCode(keys.create({ name: 'ci', scopes: 'admin' as never }), 'INVALID_ARGUMENT', 'request.scopes');
    await expectCode(keys.create({ name: 'ci', scopes: ['inference', 'root' as never] }), 'INVALID_ARGUMENT', 'request.scopes[1]');
    await expectCode(keys.create({ name: 'ci', scopes: ['inference'], tenant: '' }), 'INVALID_ARGUMENT', 'request.tenant');
    await expectCode(keys.create({ name: 'ci', scopes: ['inference'], role: 'x' } as never), 'INVALID_ARGUMENT', 'request.role');
    await keys.create({ name: 'ci', scopes: ['inference'] });
    await expectCode(keys.create({ name: 'ci', scopes: ['admin'] }), 'ALREADY_EXISTS', 'request.name');
    await expectCode(keys.revoke('bad name'), 'INVALID_ARGUMENT', 'name');
    await expectCode(CallerKeys.open(null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(CallerKeys.open({ path: '' }), 'INVALID_ARGUMENT', 'options.path');
    await expectCode(CallerKeys.open({ now: 'soon' as never }), 'INVALID_ARGUMENT', 'options.now');
    await expectCode(CallerKeys.open({ file: 'x' } as never), 'INVALID_ARGUMENT', 'options.file');
    const broken = await CallerKeys.open({ now: () => Number.NaN });
    await expectCode(broken.create({ name: 'ci', scopes: ['inference'] }), 'INVALID_ARGUMENT', 'now()');
    expect(CALLER_SCOPES).toEqual(['inference', 'admin']);
  });

  it('serialises concurrent creates: one name, one winner', async () => {
    const keys = await CallerKeys.open({ path: join(dir, 'callers.json') });
    const results = await Promise.allSettled([
      keys.create({ name: 'ci', scopes: ['inference'] }),
      keys.create({ name: 'ci', scopes: ['admin'] }),
      ...Array.from({ length: 10 }, (_, i) => keys.create({ name: `svc-${i}`, scopes: ['inference'] })),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(keys.size).toBe(11);
    expect((await CallerKeys.open({ path: join(dir, 'callers.json') })).size).toBe(11);
  });
});

describe('CallerKeys in a file', () => {
  it('persists hashes only, reloads them and keeps the file 0o600', async () => {
    const path = join(dir, 'sub', 'callers.json');
    const keys = await CallerKeys.open({ path, now });
    const admin = await keys.create({ name: 'ops', scopes: ['admin'], tenant: 'ops' });
    const ci = await keys.create({ name: 'ci', scopes: ['inference'] });
    const text = await readFile(path, 'utf8');
    for (const key of [admin, ci]) expect(text).not.toContain(key.reveal());
    expect(text).toContain('modelpool-caller-keys');
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
    const reloaded = await CallerKeys.open({ path });
    expect(reloaded.verify(admin.reveal(), 'inference')).toEqual({ name: 'ops', tenant: 'ops', scopes: ['admin'] });
    expect(reloaded.verify(ci.reveal(), 'inference').name).toBe('ci');
    await reloaded.revoke('ci');
    const third = await CallerKeys.open({ path });
    await expectCode(() => third.verify(ci.reveal(), 'inference'), 'UNAUTHORIZED');
    expect(third.list().map((k) => k.name)).toEqual(['ops']);
  });

  it('starts empty when the file is missing and writes nothing until a change', async () => {
    const path = join(dir, 'callers.json');
    const keys = await CallerKeys.open({ path });
    expect(keys.size).toBe(0);
    await expect(stat(path)).rejects.toThrow();
  });

  it('ignores a leftover temporary file', async () => {
    const path = join(dir, 'callers.json');
    const keys = await CallerKeys.open({ path });
    const key = await keys.create({ name: 'ci', scopes: ['inference'] });
    await writeFile(join(dir, '.callers.json.abcdef012345.tmp'), '{"format":');
    expect((await CallerKeys.open({ path })).verify(key.reveal(), 'inference').name).toBe('ci');
  });

  it('reports a corrupt file as STORE_CORRUPT naming the path, leaving it as it is', async () => {
    const path = join(dir, 'callers.json');
    const good = { format: 'modelpool-caller-keys', version: 1, keys: [{ name: 'ci', scopes: ['inference'], createdAt: 1, hash: 'a'.repeat(64) }] };
    const cases: Array<[unknown, string]> = [
      ['{oops', 'not JSON'],
      [[], 'not a JSON object'],
      [{ ...good, format: 'x' }, 'format'],
      [{ ...good, version: 3 }, 'version'],
      [{ ...good, keys: {} }, 'keys is not an array'],
      [{ ...good, keys: [7] }, 'keys[0] is not an object'],
      [{ ...good, keys: [{ ...good.keys[0], name: 'a b' }] }, 'keys[0].name'],
      [{ ...good, keys: [good.keys[0], { ...good.keys[0], hash: 'b'.repeat(64) }] }, 'keys[1].name'],
      [{ ...good, keys: [{ ...good.keys[0], scopes: ['root'] }] }, 'keys[0].scopes'],
      [{ ...good, keys: [{ ...good.keys[0], tenant: '' }] }, 'keys[0].tenant'],
      [{ ...good, keys: [{ ...good.keys[0], createdAt: 'now' }] }, 'keys[0].createdAt'],
      [{ ...good, keys: [{ ...good.keys[0], hash: 'xyz' }] }, 'keys[0].hash'],
      [{ ...good, keys: [good.keys[0], { ...good.keys[0], name: 'cd' }] }, 'keys[1].hash'],
    ];
    for (const [content, problem] of cases) {
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      await writeFile(path, text);
      const error = await expectCode(CallerKeys.open({ path }), 'STORE_CORRUPT', 'path');
      expect(error.message).toContain(path);
      expect(String(error.details?.problem)).toContain(problem);
      expect(await readFile(path, 'utf8')).toBe(text);
    }
    await writeFile(path, JSON.stringify({ ...good, keys: [{ ...good.keys[0], tenant: 'team' }] }));
    expect((await CallerKeys.open({ path })).list()).toEqual([{ name: 'ci', tenant: 'team', scopes: ['inference'], createdAt: 1 }]);
  });

  it('keeps its keys when a write fails', async () => {
    const path = join(dir, 'callers.json');
    const keys = await CallerKeys.open({ path });
    const key = await keys.create({ name: 'ci', scopes: ['inference'] });
    await rm(path);
    await mkdir(join(path, 'blocker'), { recursive: true });
    await expectCode(keys.create({ name: 'other', scopes: ['inference'] }), 'STORE_FAILED', 'path');
    await expectCode(keys.revoke('ci'), 'STORE_FAILED', 'path');
    expect(keys.verify(key.reveal(), 'inference').name).toBe('ci');
    expect(keys.list().map((k) => k.name)).toEqual(['ci']);
  });
});
