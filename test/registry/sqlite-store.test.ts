import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { APPLICATION_ID, MIGRATIONS, ModelRegistry, SqliteRegistryStore, type RegistryEvents } from '../../src/registry/index.js';
import { LEGACY_AT, LEGACY_ROWS } from '../telemetry/legacy-rows.js';
import { expectError, manualClock, tempFolder } from './helpers.js';

const source = { kind: 'openai' as const, model: 'x' };
const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function dbPath(): string {
  return join(tempFolder(), 'registry.db');
}

describe('SqliteRegistryStore', () => {
  it('creates a WAL database with the schema version and application id', async () => {
    const path = dbPath();
    const store = new SqliteRegistryStore(path, { synchronous: 'FULL', busyTimeoutMs: 100 });
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.location).toBe(path);
    await store.close();
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
    await expectError(store.load({ transitionLimit: 1, bucketsSince: 0 }), 'DISPOSED');
    await expectError(store.changesSince({ models: 0, perf: 0 }, { transitionLimit: 1, bucketsSince: 0 }), 'DISPOSED');
    await expectError(() => new SqliteRegistryStore(path, { synchronous: 'OFF; DROP TABLE models' as never }), 'INVALID_ARGUMENT', 'options.synchronous');
    await expectError(() => new SqliteRegistryStore(path, { busyTimeoutMs: -1 }), 'INVALID_ARGUMENT', 'options.busyTimeoutMs', -1);
    await expectError(() => new SqliteRegistryStore('', {}), 'INVALID_ARGUMENT', 'path', '');
  });

  it('refuses a stale write with CONFLICT and a taken name with ALREADY_EXISTS, changing nothing', async () => {
    const store = new SqliteRegistryStore(':memory:');
    const document = (id: string, revision: number, aliases: string[] = []) => ({
      model: { id, revision, aliases, tasks: [], tags: [], createdAt: 1, updatedAt: 1 },
      versions: [],
      transitions: [],
    });
    const write = (id: string, expectedRevision: number, aliases: string[] = []) =>
      store.writeModel({ modelId: id, expectedRevision, document: document(id, expectedRevision + 1, aliases), newTransitions: [], removedVersions: [], priors: [] });
    await write('a', 0, ['x']);
    await expectError(write('a', 0), 'CONFLICT', 'id', 'a');
    await expectError(write('b', 0, ['x']), 'ALREADY_EXISTS', 'aliases', 'x');
    await expectError(write('a', 1, ['b', 'x']).then(() => write('b', 0)), 'ALREADY_EXISTS', 'id', 'b');
    const snapshot = await store.load({ transitionLimit: 5, bucketsSince: 0 });
    expect(snapshot.models.map((doc) => [doc.model.id, doc.model.revision, doc.model.aliases])).toEqual([['a', 2, ['b', 'x']]]);
    await store.close();
  });
});

describe('ModelRegistry on SQLite', () => {
  it('folds flushes from two connections into the same rows without double counting or losing any (row cache, stale rows, rollback, prune)', async () => {
    const path = dbPath();
    const clock = manualClock();
    const history = { bucketMs: 60_000, retentionMs: 120_000 };
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read, history });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read, history, sqlite: { busyTimeoutMs: 0 } });
    await a.registerModel({ id: 'm', version: { version: '1', source } });
    await a.registerVersion('m', { version: '2', source });
    await b.refresh();
    const record = (registry: ModelRegistry, totalMs: number, count = 1, version = '1') => {
      for (let index = 0; index < count; index++) registry.recordSample({ model: 'm', version, task: 'chat', totalMs, success: true });
    };
    record(a, 10, 3);
    await a.flush(); // new rows, cached by A
    record(a, 10, 2);
    await a.flush(); // A's cache is current: fast path
    record(b, 20, 4);
    await b.flush(); // B has no cache: reads A's rows
    record(a, 30, 1);
    await a.flush(); // A's cached rows are stale (B wrote them): re-read, fold, write
    record(b, 40, 1, '2');
    await b.flush();

    // A flush that fails inside its transaction (the write lock is taken) keeps its samples and drops B's cache.
    const blocker = new Database(path, { timeout: 0 });
    blocker.exec('BEGIN IMMEDIATE');
    record(b, 50, 2);
    await expect(b.flush()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    blocker.exec('ROLLBACK');
    blocker.close();
    await b.flush();
    record(b, 50, 1);
    await b.flush();

    // Removing a version forgets its cached rows; a later version 2 starts empty.
    await b.refresh();
    await b.removeVersion('m', '2');
    await a.refresh();
    await a.registerVersion('m', { version: '2', source });
    await b.refresh();
    record(b, 60, 1, '2');
    await b.flush();

    for (const registry of [a, b]) {
      await registry.refresh();
      const summary = registry.performance('m', { task: 'chat' })!;
      expect(summary.samples).toBe(13);
      expect(summary.totalMs!.mean).toBeCloseTo((5 * 10 + 4 * 20 + 30 + 3 * 50) / 13, 9);
      expect(registry.performance('m', { task: 'chat', window: '1h' })!.samples).toBe(13);
      expect(registry.performance('m', { version: '2', task: 'chat' })!.samples).toBe(1);
    }
    const fresh = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read, history });
    expect(fresh.performance('m', { task: 'chat' })!.samples).toBe(13);
    // Version 2 starts from version 1's prior plus its one sample, the same seen from every side.
    expect(fresh.performance('m', { version: '2', task: 'chat' })).toEqual(b.performance('m', { version: '2', task: 'chat' }));
    expect(fresh.performance('m', { version: '2', task: 'chat' })!.prior?.fromVersion).toBe('1');
    await fresh.close();

    // Old buckets are pruned from the file and from the row cache; the all-time stats keep counting.
    clock.advance(10 * 60_000);
    record(a, 70, 1);
    await a.flush();
    record(a, 70, 1);
    await a.flush();
    await b.refresh();
    expect(b.performance('m', { task: 'chat' })!.samples).toBe(15);
    expect(b.performance('m', { task: 'chat', window: '1h' })!.samples).toBe(15); // B's view keeps the buckets it read
    await a.close();
    await b.close();
    const reopened = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read, history });
    expect(reopened.performance('m', { task: 'chat', window: '24h' })!.samples).toBe(2);
    expect(reopened.performance('m', { task: 'chat' })!.samples).toBe(15);
    await reopened.close();
  });

  it('survives close and reopen with everything committed', async () => {
    const path = dbPath();
    const first = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await first.registerModel({ id: 'm', aliases: ['m:latest'], tasks: ['chat'], tags: ['t'], description: 'd', version: { version: '1', source, hardware: { backends: ['CPU'] } } });
    await first.registerVersion('m', { version: '2', source: { kind: 'ollama', model: 'llama3' }, memoryEstimateBytes: 42, makeDefault: true });
    await first.transition('m', '1', 'loading', { reason: 'boot' });
    await first.transition('m', '1', 'failed', { reason: 'oom' });
    await first.setDeprecated('m', '1', true, 'old');
    await first.registerModel({ id: 'gone', version: { version: '1', source } });
    await first.removeModel('gone');
    const before = first.list();
    await first.close();

    const second = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    expect(second.list()).toEqual(before);
    const old = second.resolve('m:latest', '1').version;
    expect(old).toMatchObject({ state: 'failed', deprecated: true, deprecationReason: 'old', transitionCount: 2, hardware: { backends: ['CPU'] } });
    expect(old.transitions.map((transition) => transition.reason)).toEqual(['boot', 'oom']);
    expect(second.resolve('m').version).toMatchObject({ version: '2', memoryBytes: 42 });
    expect(second.has('gone')).toBe(false);
    await second.close();
  });

  it('refuses a corrupted file with STORE_CORRUPT naming the path, and leaves it untouched', async () => {
    const folder = tempFolder();
    const garbage = join(folder, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    const hash = digest(garbage);
    const error = await expectError(ModelRegistry.open({ path: garbage }), 'STORE_CORRUPT', 'path', garbage);
    expect(error.message).toContain(garbage);
    expect(digest(garbage)).toBe(hash);
    expect(existsSync(`${garbage}-wal`)).toBe(false);

    // A real registry whose pages were overwritten in the middle.
    const damaged = join(folder, 'damaged.db');
    const registry = await ModelRegistry.open({ path: damaged, refreshIntervalMs: 0 });
    for (let index = 0; index < 200; index++) await registry.registerModel({ id: `model-${index}`, tags: ['x'.repeat(50)], version: { version: '1', source } });
    await registry.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0xa5, 4096 * 2, 4096 * 6);
    writeFileSync(damaged, bytes);
    const damagedHash = digest(damaged);
    await expectError(ModelRegistry.open({ path: damaged }), 'STORE_CORRUPT', 'path', damaged);
    expect(digest(damaged)).toBe(damagedHash);
  });

  it("refuses another application's database and a newer schema with STORE_FAILED", async () => {
    const folder = tempFolder();
    const foreign = join(folder, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
    db.close();
    await expectError(ModelRegistry.open({ path: foreign }), 'STORE_FAILED', 'path', foreign);
    const other = join(folder, 'other.db');
    const otherDb = new Database(other);
    otherDb.pragma('application_id = 1234');
    otherDb.close();
    await expectError(ModelRegistry.open({ path: other }), 'STORE_FAILED', 'path', other);

    const newer = join(folder, 'newer.db');
    (await ModelRegistry.open({ path: newer })).close();
    const newerDb = new Database(newer);
    newerDb.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    newerDb.close();
    const error = await expectError(ModelRegistry.open({ path: newer }), 'STORE_FAILED', 'path', newer);
    expect(error.message).toContain('newer than this modelpool supports');
    await expectError(ModelRegistry.open({ path: join(folder, 'no', 'such', 'folder', 'x.db') }), 'STORE_FAILED', 'path');
  });

  it('keeps two registries on one file consistent', async () => {
    const path = dbPath();
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    const seen: string[] = [];
    const on = <K extends keyof RegistryEvents>(name: K, text: (...args: RegistryEvents[K]) => string) => b.on(name, ((...args: RegistryEvents[K]) => seen.push(text(...args))) as never);
    on('registered', (event) => `${event.origin} registered ${event.model.id}${event.version ? `@${event.version.version}` : ''}`);
    on('transition', (event) => `${event.origin} ${event.modelId}@${event.version} ${event.from}->${event.to}`);
    on('updated', (event) => `${event.origin} updated ${event.model.id}`);
    on('removed', (event) => `${event.origin} removed ${event.modelId}${event.version ? `@${event.version}` : ''}`);

    await a.registerModel({ id: 'm', tasks: ['chat'], version: { version: '1', source } });
    expect(b.has('m')).toBe(false);
    expect(await b.refresh()).toBe(true);
    expect(await b.refresh()).toBe(false); // nothing new: one pragma
    expect(b.get('m')).toEqual(a.get('m'));
    expect(b.find({ task: 'chat' })).toHaveLength(1);

    await a.transition('m', '1', 'loading');
    await a.updateModel('m', { aliases: ['m:latest'] });
    await a.registerVersion('m', { version: '2', source });
    await a.removeVersion('m', '2');
    await b.refresh(); // B sees the latest state: the version added and removed in between is not news

    expect(b.get('m:latest')).toEqual(a.get('m'));
    await expectError(a.removeModel('m'), 'IN_USE', 'name', 'm'); // refused: loading
    await a.transition('m', '1', 'registered');
    await b.refresh();
    await a.removeModel('m');
    await b.refresh();
    expect(b.has('m')).toBe(false);
    expect(seen).toEqual([
      'external registered m',
      'external registered m@1',
      'external m@1 registered->loading',
      'external updated m',
      'external m@1 loading->registered',
      'external removed m',
    ]);
    await a.close();
    await b.close();
  });

  it('never clobbers a change made by another registry: stale writes are re-planned on fresh data', async () => {
    const path = dbPath();
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await a.registerModel({ id: 'm', version: { version: '1', source } });
    await a.registerModel({ id: 'n' });
    await b.refresh();

    // Both believe m@1 is 'registered'; A moves it first. B's compare-and-set then fails on fresh data.
    await a.transition('m', '1', 'loading', { reason: 'A loads' });
    await expectError(b.transition('m', '1', 'loading', { from: 'registered' }), 'ILLEGAL_TRANSITION');
    expect(b.resolve('m').version.state).toBe('loading');

    // B's tag edit lands on top of A's alias edit instead of erasing it.
    await a.updateModel('m', { aliases: ['m:a'] });
    await b.updateModel('m', { tags: ['from-b'] });
    await a.refresh();
    expect(a.get('m')).toMatchObject({ aliases: ['m:a'], tags: ['from-b'] });

    // An alias taken by A cannot be given to another model by B.
    await a.updateModel('n', { aliases: ['shared'] });
    await expectError(b.updateModel('m', { aliases: ['shared'] }), 'ALREADY_EXISTS', 'aliases[0]', 'shared');
    await expectError(b.registerModel({ id: 'shared' }), 'ALREADY_EXISTS', 'id', 'shared');
    expect(a.get('m')!.aliases).toEqual(['m:a']);

    // A conflict at the store (a write between B's sync and its commit) is retried on fresh data.
    const store = b.store;
    const original = store.writeModel.bind(store);
    let interleaved = false;
    store.writeModel = async (write) => {
      if (!interleaved) {
        interleaved = true;
        await a.updateModel('m', { description: 'A was faster' });
      }
      return original(write);
    };
    await b.updateModel('m', { tasks: ['chat'] });
    store.writeModel = original;
    await a.refresh();
    expect(a.get('m')).toMatchObject({ description: 'A was faster', tasks: ['chat'] });
    await a.close();
    await b.close();
  });

  it('gives up with CONFLICT when every retry loses the race', async () => {
    const path = dbPath();
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await a.registerModel({ id: 'm' });
    const store = b.store;
    const original = store.writeModel.bind(store);
    let round = 0;
    store.writeModel = async (write) => {
      await a.updateModel('m', { description: `A ${round++}` });
      return original(write);
    };
    await expectError(b.updateModel('m', { tags: ['b'] }), 'CONFLICT', 'id', 'm');
    store.writeModel = original;
    await b.refresh();
    expect(b.get('m')).toMatchObject({ description: 'A 2', tags: [] });
    await a.close();
    await b.close();
  });

  it('reloads everything when a reader falls behind the pruned change log', async () => {
    const path = dbPath();
    const writer = await ModelRegistry.open({ store: new SqliteRegistryStore(path, { changeLogLimit: 10 }), refreshIntervalMs: 0 });
    const reader = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await writer.registerModel({ id: 'doomed' });
    await writer.registerModel({ id: 'kept', version: { version: '1', source } });
    writer.recordSample({ model: 'kept', task: 'chat', totalMs: 10, success: true });
    await writer.flush();
    await reader.refresh();
    reader.recordSample({ model: 'kept', task: 'chat', totalMs: 30, success: true }); // not flushed: must survive the reload
    const removed: string[] = [];
    reader.on('removed', (event) => removed.push(event.modelId));
    await writer.removeModel('doomed');
    for (let index = 0; index < 260; index++) await writer.registerModel({ id: `m${index}` });
    writer.recordSample({ model: 'kept', task: 'chat', totalMs: 20, success: true });
    await writer.flush();
    expect(await reader.refresh()).toBe(true);
    expect(reader.size).toBe(261);
    expect(removed).toEqual(['doomed']);
    const history = reader.performance('kept', { task: 'chat' })!;
    expect(history.samples).toBe(3);
    expect(history.totalMs!.mean).toBeCloseTo(20, 9);
    await writer.close();
    await writer.store.close();
    await reader.close();
  });

  it('refreshes in the background from reads, at most every refreshIntervalMs', async () => {
    const path = dbPath();
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 20 });
    const registered = new Promise<string>((resolve) => b.once('registered', (event) => resolve(event.model.id)));
    await a.registerModel({ id: 'late' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(b.has('late')).toBe(false); // this read starts the refresh...
    expect(await registered).toBe('late'); // ...which lands shortly after
    expect(b.has('late')).toBe(true);

    // A failing background refresh is reported, and reads keep serving.
    const failures: Error[] = [];
    b.on('refreshFailed', (error) => failures.push(error));
    const store = b.store;
    const original = store.changesSince.bind(store);
    store.changesSince = async () => {
      throw new Error('disk unplugged');
    };
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(b.get('late')?.id).toBe('late');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(failures.map((error) => error.message)).toEqual(['disk unplugged']);
    store.changesSince = original;
    await a.close();
    await b.close();
  });

  it('migrates a schema-1 file in place: perf rows gain the tenant key, old stats and buckets load and keep counting', async () => {
    // A file as modelpool wrote it before tenants: the first migration's DDL (never edited) and rows the code of that time wrote.
    const path = dbPath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old.pragma(`application_id = ${APPLICATION_ID}`);
    for (const [table, rows] of Object.entries(LEGACY_ROWS)) {
      const insert = table === 'counters' ? 'INSERT OR REPLACE' : 'INSERT';
      for (const row of rows) {
        const columns = Object.keys(row);
        old.prepare(`${insert} INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((column) => `@${column}`).join(', ')})`).run(row);
      }
    }
    const columns = (db: Database.Database, table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; pk: number }>).filter((column) => column.pk > 0).map((column) => column.name);
    expect(columns(old, 'perf_stats')).toEqual(['model_id', 'version', 'task']);
    old.close();

    const store = new SqliteRegistryStore(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    const snapshot = await store.load({ transitionLimit: 5, bucketsSince: 0 });
    expect(snapshot.cursor.perf).toBe(2); // sequence numbers kept: readers' cursors stay valid
    expect(snapshot.stats.map((row) => [row.version, row.tenant])).toEqual([['1', ''], ['2', '']]);
    expect(snapshot.buckets.map((row) => [row.version, row.tenant, row.start])).toEqual([['1', '', LEGACY_ROWS.perf_buckets[0].start]]);
    await store.close();
    const migrated = new Database(path, { readonly: true });
    expect(columns(migrated, 'perf_stats')).toEqual(['model_id', 'version', 'task', 'tenant']);
    expect(columns(migrated, 'perf_buckets')).toEqual(['model_id', 'version', 'task', 'tenant', 'start']);
    const indexes = migrated.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'perf_%' ORDER BY name").pluck().all();
    expect(indexes).toEqual(['perf_buckets_by_seq', 'perf_buckets_by_start', 'perf_stats_by_seq']);
    expect(migrated.prepare("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v2'").pluck().get()).toBe(0);
    migrated.close();

    // Two registries on the migrated file: the old figures load, tenant samples with cost measures fold into the old rows.
    const clock = manualClock(LEGACY_AT);
    const a = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    const b = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read, sqlite: { busyTimeoutMs: 0 } });
    const stored = a.performance('m', { task: 'chat', version: '1' })!;
    expect(stored).toMatchObject({ tenant: '', samples: 4, failures: 1, successRate: 0.75, quality: 0.5, memoryBytes: 1000, firstAt: LEGACY_AT });
    expect(stored.totalMs).toMatchObject({ mean: 25, min: 10, max: 40 });
    expect(stored.costUsd).toEqual({ mean: expect.closeTo(0.002, 12), total: expect.closeTo(0.008, 12) });
    expect(stored.totals).toEqual({ requests: 4, promptTokens: 0, generatedTokens: 0, cpuMs: 0, memoryGbSeconds: 0, costUsd: expect.closeTo(0.008, 12) });
    expect(stored.queueMs).toBeUndefined();
    expect(stored.decayed).toMatchObject({ weight: 4, totalMs: 25, successRate: 0.75 });
    expect(stored.decayed.cpuMs).toBeUndefined();
    expect(a.performance('m', { task: 'chat', version: '1', window: '1h' })!.samples).toBe(4);
    expect(a.performance('m', { task: 'chat', version: '2' })!.prior).toMatchObject({ fromVersion: '1', weight: expect.closeTo(1.2, 9) });
    expect(a.performanceTenants('m')).toEqual([]);

    const record = (registry: ModelRegistry, tenant: string, count: number) => {
      for (let index = 0; index < count; index++) {
        registry.recordSample({ model: 'm', task: 'chat', tenant, totalMs: 50, success: true, queueMs: 5, promptTokens: 40, generatedTokens: 8, cpuMs: 30, memoryGbSeconds: 0.2, costUsd: 0.001 });
      }
    };
    record(a, 'acme', 3);
    await a.flush();
    record(b, 'acme', 2);
    record(b, 'globex', 1);
    await b.flush(); // B reads A's rows, folds into them
    record(a, 'globex', 1);
    await a.flush(); // A's cached rows are stale: re-read, fold, write
    for (const registry of [a, b]) {
      await registry.refresh();
      const all = registry.performance('m', { task: 'chat' })!;
      expect(all).toMatchObject({ samples: 11, failures: 1, totals: { requests: 11, cpuMs: 210, promptTokens: 280, costUsd: expect.closeTo(0.015, 12) } });
      expect(all.totalMs!.mean).toBeCloseTo((100 + 7 * 50) / 11, 9);
      expect(all.queueMs).toMatchObject({ weight: 7, mean: 5 });
      expect(registry.performance('m', { task: 'chat', window: '1h' })!.samples).toBe(11); // the old bucket took the new samples
      expect(registry.performance('m', { task: 'chat', tenant: 'acme' })).toMatchObject({ samples: 5, totals: { requests: 5, cpuMs: 150 } });
      expect(registry.performance('m', { task: 'chat', tenant: 'globex' })).toMatchObject({ samples: 2, totals: { requests: 2, cpuMs: 60 } });
      expect(registry.performanceTenants('m')).toEqual(['acme', 'globex']);
    }
    const before = a.performance('m', { task: 'chat', tenant: 'acme' });
    await a.close();
    await b.close();

    const reopened = await ModelRegistry.open({ path, refreshIntervalMs: 0, now: clock.read });
    expect(reopened.performance('m', { task: 'chat' })!.samples).toBe(11);
    expect(reopened.performance('m', { task: 'chat', tenant: 'acme' })).toEqual(before);
    await reopened.close();
    const file = new Database(path, { readonly: true });
    const rows = file.prepare("SELECT tenant, stats FROM perf_stats WHERE version = '1' ORDER BY tenant").all() as Array<{ tenant: string; stats: string }>;
    expect(rows.map((row) => row.tenant)).toEqual(['', 'acme', 'globex']);
    const written = JSON.parse(rows[0]!.stats) as { decayed: { w: number[] }; all: { means: number[]; queue?: unknown } };
    expect(written.decayed.w).toHaveLength(12);
    expect(written.all.means).toHaveLength(14);
    expect(written.all.queue).toBeDefined();
    file.close();
  });
});
