import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { invalidArgument, isModelpoolError, ModelpoolError } from '../../errors.js';
import { integer, nonEmptyString } from '../../validate.js';
import { Aggregate, DecayedSums, foldAggregate, foldStats, groupByBucket, liveStatsFromJSON, liveStatsToJSON, type AggregateJson, type LiveStats, type PerfStatsJson, type RecordedSample } from '../../telemetry/index.js';
import {
  conflict,
  nameTaken,
  type LoadOptions,
  type ModelDocument,
  type ModelWrite,
  type PerfFlush,
  type PerfFlushKey,
  type PerfFlushResult,
  type PerfKey,
  type RegistryStore,
  type StoreChanges,
  type StoreCursor,
  type StoreSnapshot,
  type WriteResult,
} from './store.js';
import { APPLICATION_ID, MIGRATIONS } from './sqlite-schema.js';
import {
  groupBy,
  toBucketRow,
  toDocument,
  toModelSql,
  toStatsRow,
  toVersionSql,
  type ModelSqlRow,
  type NameSqlRow,
  type PerfBucketSqlRow,
  type PerfStatsSqlRow,
  type TransitionSqlRow,
  type VersionSqlRow,
} from './sqlite-rows.js';

export interface SqliteStoreOptions {
  /** How long a writer waits for another process's write lock (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** 'NORMAL' (default) survives a process crash; 'FULL' also a power loss. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Run `PRAGMA quick_check` when opening (default true): a damaged file fails fast with STORE_CORRUPT. */
  checkOnOpen?: boolean;
  /** Change-log rows kept; a reader further behind reloads everything. Default 10,000. */
  changeLogLimit?: number;
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/**
 * The embedded default store: one SQLite file through better-sqlite3 (WAL, busy timeout, schema
 * migrations, one IMMEDIATE transaction per write). Several processes may open the same file:
 * each write re-reads the model's revision inside its transaction and refuses a stale one
 * (CONFLICT), and readers follow the `changes` log, checking `PRAGMA data_version` first so that an
 * idle check costs one pragma.
 */
export class SqliteRegistryStore implements RegistryStore {
  readonly location: string;
  private db: Database.Database;
  private readonly changeLogLimit: number;
  private readonly statements: ReturnType<SqliteRegistryStore['prepare']>;
  private lastDataVersion = -1;
  /** Highest model change and perf flush this connection wrote or read. */
  private known: StoreCursor = { models: 0, perf: 0 };
  private writes = 0;
  private closed = false;
  /**
   * Rows this connection last wrote in a flush, parsed, with the perf sequence they were written
   * at. The sequence is unique per committed write (a counter bumped inside each write
   * transaction), so a row whose seq still matches is byte for byte what the cache holds: a flush
   * folds into the cached objects without parsing the row again. Cleared when a flush fails.
   */
  private readonly statsCache = new Map<string, { seq: number; live: LiveStats }>();
  private readonly bucketCache = new Map<string, { seq: number; aggregate: Aggregate }>();

  /** Opens (creating if absent) and migrates the file. Throws STORE_CORRUPT naming the path for a damaged file. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    nonEmptyString('path', path, 4096);
    const synchronous = options.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw invalidArgument('options.synchronous', "'NORMAL' or 'FULL'", synchronous);
    const busyTimeoutMs = integer('options.busyTimeoutMs', options.busyTimeoutMs ?? 5000, 0);
    this.changeLogLimit = integer('options.changeLogLimit', options.changeLogLimit ?? 10_000, 1);
    this.location = path === ':memory:' ? path : resolve(path);
    const existed = this.location !== ':memory:' && existsSync(this.location) && statSync(this.location).size > 0;
    try {
      this.db = new Database(this.location, { timeout: busyTimeoutMs });
    } catch (error) {
      throw this.failure(error, 'open');
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${synchronous}`);
      if (existed && options.checkOnOpen !== false) {
        const result = this.db.pragma('quick_check', { simple: true });
        if (result !== 'ok') {
          throw new ModelpoolError('STORE_CORRUPT', `The registry database ${this.location} is damaged (quick_check: ${String(result)}); it was left untouched`, {
            field: 'path',
            value: this.location,
            details: { check: result },
          });
        }
      }
      this.migrate();
      this.statements = this.prepare();
    } catch (error) {
      this.db.close();
      throw this.failure(error, 'open');
    }
  }

  private failure(error: unknown, action: string): ModelpoolError {
    if (isModelpoolError(error)) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (isCorruption(error)) {
      return new ModelpoolError('STORE_CORRUPT', `The registry database ${this.location} is damaged or not a database (${message}); it was left untouched`, {
        field: 'path',
        value: this.location,
        cause: error,
      });
    }
    return new ModelpoolError('STORE_FAILED', `Registry database ${this.location}: ${action} failed: ${message}`, {
      field: 'path',
      value: this.location,
      cause: error,
    });
  }

  private migrate(): void {
    const applicationId = this.db.pragma('application_id', { simple: true }) as number;
    const userVersion = this.db.pragma('user_version', { simple: true }) as number;
    if (applicationId !== 0 && applicationId !== APPLICATION_ID) {
      throw new ModelpoolError('STORE_FAILED', `${this.location} is a SQLite database of another application (application_id ${applicationId}); refusing to use it`, {
        field: 'path',
        value: this.location,
      });
    }
    if (applicationId === 0) {
      const tables = this.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      if (tables.n > 0 && userVersion === 0) {
        throw new ModelpoolError('STORE_FAILED', `${this.location} is a SQLite database that modelpool did not create; refusing to use it`, {
          field: 'path',
          value: this.location,
        });
      }
    }
    if (userVersion > MIGRATIONS.length) {
      throw new ModelpoolError(
        'STORE_FAILED',
        `${this.location} has registry schema version ${userVersion}, newer than this modelpool supports (${MIGRATIONS.length}); upgrade modelpool`,
        { field: 'path', value: this.location, details: { schemaVersion: userVersion, supported: MIGRATIONS.length } },
      );
    }
    // Another process may be migrating at the same moment: re-read the version inside the lock.
    this.db
      .transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (let index = current; index < MIGRATIONS.length; index++) {
          this.db.exec(MIGRATIONS[index]!);
          this.db.pragma(`user_version = ${index + 1}`);
        }
        if (current < MIGRATIONS.length) this.db.pragma(`application_id = ${APPLICATION_ID}`);
      })
      .immediate();
  }

  /** Schema version of the open file. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }


  private prepare() {
    const db = this.db;
    return {
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      allModels: db.prepare('SELECT * FROM models'),
      allNames: db.prepare('SELECT name, model_id FROM names WHERE is_alias = 1 ORDER BY model_id, position'),
      allVersions: db.prepare('SELECT * FROM versions ORDER BY model_id, ordinal'),
      allTransitions: db.prepare(
        `SELECT model_id, version, from_state, to_state, at, reason FROM (
           SELECT *, row_number() OVER (PARTITION BY model_id, version ORDER BY id DESC) AS recent FROM transitions
         ) WHERE recent <= ? ORDER BY id`,
      ),
      model: db.prepare('SELECT * FROM models WHERE id = ?'),
      aliases: db.prepare('SELECT name, model_id FROM names WHERE model_id = ? AND is_alias = 1 ORDER BY position'),
      versions: db.prepare('SELECT * FROM versions WHERE model_id = ? ORDER BY ordinal'),
      transitions: db.prepare(
        `SELECT model_id, version, from_state, to_state, at, reason FROM (
           SELECT *, row_number() OVER (PARTITION BY version ORDER BY id DESC) AS recent FROM transitions WHERE model_id = ?
         ) WHERE recent <= ? ORDER BY id`,
      ),
      revision: db.prepare('SELECT revision FROM models WHERE id = ?').pluck(),
      nameOwner: db.prepare('SELECT model_id FROM names WHERE name = ?').pluck(),
      maxChange: db.prepare('SELECT coalesce(max(seq), 0) FROM changes').pluck(),
      minChange: db.prepare('SELECT min(seq) FROM changes').pluck(),
      changedModels: db.prepare('SELECT DISTINCT model_id FROM changes WHERE seq > ?').pluck(),
      perfCounter: db.prepare("SELECT value FROM counters WHERE name = 'perf'").pluck(),
      bumpPerf: db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'perf' RETURNING value").pluck(),
      upsertModel: db.prepare(
        `INSERT INTO models (id, revision, description, default_version, tasks, tags, created_at, updated_at)
         VALUES (@id, @revision, @description, @default_version, @tasks, @tags, @created_at, @updated_at)
         ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, description = excluded.description,
           default_version = excluded.default_version, tasks = excluded.tasks, tags = excluded.tags,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ),
      deleteModel: db.prepare('DELETE FROM models WHERE id = ?'),
      deleteNames: db.prepare('DELETE FROM names WHERE model_id = ?'),
      insertName: db.prepare('INSERT INTO names (name, model_id, is_alias, position) VALUES (?, ?, ?, ?)'),
      deleteVersions: db.prepare('DELETE FROM versions WHERE model_id = ?'),
      insertVersion: db.prepare(
        `INSERT INTO versions (model_id, version, ordinal, source, metadata, memory_estimate_bytes, context_length, hardware,
           state, deprecated, deprecation_reason, transition_count, created_at, updated_at)
         VALUES (@model_id, @version, @ordinal, @source, @metadata, @memory_estimate_bytes, @context_length, @hardware,
           @state, @deprecated, @deprecation_reason, @transition_count, @created_at, @updated_at)`,
      ),
      versionExists: db.prepare('SELECT 1 FROM versions WHERE model_id = ? AND version = ?').pluck(),
      insertTransition: db.prepare('INSERT INTO transitions (model_id, version, from_state, to_state, at, reason) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteModelTransitions: db.prepare('DELETE FROM transitions WHERE model_id = ?'),
      deleteVersionTransitions: db.prepare('DELETE FROM transitions WHERE model_id = ? AND version = ?'),
      insertChange: db.prepare('INSERT INTO changes (model_id, at) VALUES (?, ?)'),
      pruneChanges: db.prepare('DELETE FROM changes WHERE seq <= ?'),
      allStats: db.prepare('SELECT model_id, version, task, tenant, stats FROM perf_stats'),
      allBuckets: db.prepare('SELECT model_id, version, task, tenant, start, aggregate FROM perf_buckets WHERE start >= ?'),
      statsSince: db.prepare('SELECT model_id, version, task, tenant, stats FROM perf_stats WHERE seq > ?'),
      bucketsSince: db.prepare('SELECT model_id, version, task, tenant, start, aggregate FROM perf_buckets WHERE seq > ? AND start >= ?'),
      updateStats: db.prepare('UPDATE perf_stats SET seq = ?, stats = ? WHERE model_id = ? AND version = ? AND task = ? AND tenant = ? AND seq = ?'),
      stats: db.prepare('SELECT stats FROM perf_stats WHERE model_id = ? AND version = ? AND task = ? AND tenant = ?').pluck(),
      updateBucket: db.prepare('UPDATE perf_buckets SET seq = ?, aggregate = ? WHERE model_id = ? AND version = ? AND task = ? AND tenant = ? AND start = ? AND seq = ?'),
      bucket: db.prepare('SELECT aggregate FROM perf_buckets WHERE model_id = ? AND version = ? AND task = ? AND tenant = ? AND start = ?').pluck(),
      putStats: db.prepare(
        `INSERT INTO perf_stats (model_id, version, task, tenant, seq, stats) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (model_id, version, task, tenant) DO UPDATE SET seq = excluded.seq, stats = excluded.stats`,
      ),
      putBucket: db.prepare(
        `INSERT INTO perf_buckets (model_id, version, task, tenant, start, seq, aggregate) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model_id, version, task, tenant, start) DO UPDATE SET seq = excluded.seq, aggregate = excluded.aggregate`,
      ),
      deleteModelStats: db.prepare('DELETE FROM perf_stats WHERE model_id = ?'),
      deleteModelBuckets: db.prepare('DELETE FROM perf_buckets WHERE model_id = ?'),
      deleteVersionStats: db.prepare('DELETE FROM perf_stats WHERE model_id = ? AND version = ?'),
      deleteVersionBuckets: db.prepare('DELETE FROM perf_buckets WHERE model_id = ? AND version = ?'),
      pruneBuckets: db.prepare('DELETE FROM perf_buckets WHERE start < ?'),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new ModelpoolError('DISPOSED', `The registry database ${this.location} is closed`);
  }

  /** Runs `body` in a transaction, mapping SQLite errors to typed ones. */
  private run<T>(action: string, kind: 'deferred' | 'immediate', body: () => T, onFailure?: () => void): T {
    this.assertOpen();
    try {
      return this.db.transaction(body)[kind]();
    } catch (error) {
      onFailure?.();
      throw this.failure(error, action);
    }
  }

  async load(options: LoadOptions): Promise<StoreSnapshot> {
    return this.run('load', 'deferred', () => {
      const s = this.statements;
      this.lastDataVersion = s.dataVersion.get() as number;
      const aliases = groupBy(s.allNames.all() as NameSqlRow[], (row) => row.model_id);
      const versions = groupBy(s.allVersions.all() as VersionSqlRow[], (row) => row.model_id);
      const transitions = groupBy(s.allTransitions.all(options.transitionLimit) as TransitionSqlRow[], (row) => row.model_id);
      const models = (s.allModels.all() as ModelSqlRow[]).map((row) =>
        toDocument(row, aliases.get(row.id) ?? [], versions.get(row.id) ?? [], transitions.get(row.id) ?? []),
      );
      const cursor = { models: s.maxChange.get() as number, perf: s.perfCounter.get() as number };
      this.see(cursor);
      return {
        cursor,
        models,
        stats: (s.allStats.all() as PerfStatsSqlRow[]).map(toStatsRow),
        buckets: (s.allBuckets.all(options.bucketsSince) as PerfBucketSqlRow[]).map(toBucketRow),
      };
    });
  }

  private see(cursor: StoreCursor): void {
    this.known = { models: Math.max(this.known.models, cursor.models), perf: Math.max(this.known.perf, cursor.perf) };
  }

  private readDocument(id: string, transitionLimit: number): ModelDocument | null {
    const s = this.statements;
    const row = s.model.get(id) as ModelSqlRow | undefined;
    if (row === undefined) return null;
    return toDocument(row, s.aliases.all(id) as NameSqlRow[], s.versions.all(id) as VersionSqlRow[], s.transitions.all(id, transitionLimit) as TransitionSqlRow[]);
  }

  async changesSince(cursor: StoreCursor, options: LoadOptions): Promise<StoreChanges | undefined> {
    this.assertOpen();
    // Cheap path: no other connection committed, and this one has shown the caller all it wrote.
    let dataVersion: number;
    try {
      dataVersion = this.statements.dataVersion.get() as number;
    } catch (error) {
      throw this.failure(error, 'check for changes');
    }
    if (dataVersion === this.lastDataVersion && cursor.models >= this.known.models && cursor.perf >= this.known.perf) return undefined;
    const changes = this.run('read changes', 'deferred', (): StoreChanges | 'reload' | undefined => {
      const s = this.statements;
      const next: StoreCursor = { models: s.maxChange.get() as number, perf: s.perfCounter.get() as number };
      this.see(next);
      if (next.models <= cursor.models && next.perf <= cursor.perf) return undefined;
      const oldest = s.minChange.get() as number | null;
      if (next.models > cursor.models && oldest !== null && oldest > cursor.models + 1) return 'reload';
      const ids = next.models > cursor.models ? (s.changedModels.all(cursor.models) as string[]) : [];
      const perfChanged = next.perf > cursor.perf;
      return {
        cursor: next,
        models: ids.map((id) => ({ id, document: this.readDocument(id, options.transitionLimit) })),
        stats: perfChanged ? (s.statsSince.all(cursor.perf) as PerfStatsSqlRow[]).map(toStatsRow) : [],
        buckets: perfChanged ? (s.bucketsSince.all(cursor.perf, options.bucketsSince) as PerfBucketSqlRow[]).map(toBucketRow) : [],
      };
    });
    this.lastDataVersion = dataVersion;
    if (changes === 'reload') {
      // The reader fell behind the pruned change log: reload everything.
      const snapshot = await this.load(options);
      return { cursor: snapshot.cursor, snapshot, models: [], stats: [], buckets: [] };
    }
    return changes;
  }

  async writeModel(write: ModelWrite): Promise<WriteResult> {
    return this.run('write', 'immediate', () => {
      const s = this.statements;
      const current = (s.revision.get(write.modelId) as number | undefined) ?? 0;
      if (current !== write.expectedRevision) throw conflict(write.modelId, write.expectedRevision, current);
      const document = write.document;
      if (document === null) {
        s.deleteNames.run(write.modelId);
        s.deleteVersions.run(write.modelId);
        s.deleteModelTransitions.run(write.modelId);
        s.deleteModelStats.run(write.modelId);
        s.deleteModelBuckets.run(write.modelId);
        s.deleteModel.run(write.modelId);
        this.forgetCached(write.modelId);
      } else {
        const names = [document.model.id, ...document.model.aliases];
        names.forEach((name, index) => {
          const owner = s.nameOwner.get(name) as string | undefined;
          if (owner !== undefined && owner !== write.modelId) throw nameTaken(name, owner, index > 0);
        });
        s.upsertModel.run(toModelSql(document.model));
        s.deleteNames.run(write.modelId);
        names.forEach((name, index) => s.insertName.run(name, write.modelId, index > 0 ? 1 : 0, index));
        s.deleteVersions.run(write.modelId);
        for (const version of document.versions) s.insertVersion.run(toVersionSql(write.modelId, version));
        for (const version of write.removedVersions) {
          s.deleteVersionTransitions.run(write.modelId, version);
          s.deleteVersionStats.run(write.modelId, version);
          s.deleteVersionBuckets.run(write.modelId, version);
          this.forgetCached(write.modelId, version);
        }
        for (const transition of write.newTransitions) {
          s.insertTransition.run(write.modelId, transition.version, transition.from, transition.to, transition.at, transition.reason);
        }
      }
      const result: WriteResult = { modelSeq: Number(s.insertChange.run(write.modelId, Date.now()).lastInsertRowid) };
      if (write.priors.length > 0) {
        const perfSeq = s.bumpPerf.get() as number;
        for (const prior of write.priors) s.putStats.run(prior.modelId, prior.version, prior.task, prior.tenant, perfSeq, JSON.stringify(prior.stats));
        result.perfSeq = perfSeq;
      }
      if (++this.writes % 256 === 0) s.pruneChanges.run(result.modelSeq - this.changeLogLimit);
      this.see({ models: result.modelSeq, perf: result.perfSeq ?? 0 });
      return result;
    });
  }

  async flushPerformance(flush: PerfFlush): Promise<PerfFlushResult> {
    return this.run('flush performance', 'immediate', () => {
      const s = this.statements;
      const perfSeq = s.bumpPerf.get() as number;
      const exists = new Map<string, boolean>();
      const versionExists = (key: PerfKey): boolean => {
        const id = `${key.modelId}\n${key.version}`;
        let found = exists.get(id);
        if (found === undefined) exists.set(id, (found = s.versionExists.get(key.modelId, key.version) !== undefined));
        return found;
      };
      for (const flushed of flush.keys) {
        if (!versionExists(flushed)) continue;
        const id = `${flushed.modelId}\n${flushed.version}\n${flushed.task}\n${flushed.tenant}`;
        this.flushStats(id, flushed, flush, perfSeq);
        for (const [start, samples] of groupByBucket(flushed.samples, flush.bucketMs)) this.flushBucket(`${id}\n${start}`, flushed, start, samples, flush, perfSeq);
      }
      if (flush.pruneBefore !== undefined) {
        s.pruneBuckets.run(flush.pruneBefore);
        for (const id of this.bucketCache.keys()) if (Number(id.slice(id.lastIndexOf('\n') + 1)) < flush.pruneBefore) this.bucketCache.delete(id);
      }
      this.see({ models: 0, perf: perfSeq });
      return { perfSeq };
    }, () => {
      // The transaction rolled back (and its perf sequence may be reused): the cache may hold what was not written.
      this.statsCache.clear();
      this.bucketCache.clear();
    });
  }

  /**
   * Folds a key's samples into its stats row. Fast path: fold into the cached row and write it
   * back only if the stored row is still the cached one (same seq); else read, fold, write.
   */
  private flushStats(id: string, key: PerfFlushKey, flush: PerfFlush, perfSeq: number): void {
    const s = this.statements;
    const { modelId, version, task, tenant } = key;
    const cached = this.statsCache.get(id);
    if (cached !== undefined) {
      foldStats(cached.live, key.samples, flush.halfLifeMs);
      if (s.updateStats.run(perfSeq, JSON.stringify(liveStatsToJSON(cached.live)), modelId, version, task, tenant, cached.seq).changes === 1) {
        cached.seq = perfSeq;
        return;
      }
      this.statsCache.delete(id); // another connection wrote the row since (or it is gone)
    }
    const text = s.stats.get(modelId, version, task, tenant) as string | undefined;
    const live = text === undefined ? { decayed: new DecayedSums(), all: new Aggregate(flush.relativeAccuracy) } : liveStatsFromJSON(JSON.parse(text) as PerfStatsJson);
    foldStats(live, key.samples, flush.halfLifeMs);
    s.putStats.run(modelId, version, task, tenant, perfSeq, JSON.stringify(liveStatsToJSON(live)));
    this.statsCache.set(id, { seq: perfSeq, live });
  }

  private flushBucket(id: string, key: PerfKey, start: number, samples: readonly RecordedSample[], flush: PerfFlush, perfSeq: number): void {
    const s = this.statements;
    const { modelId, version, task, tenant } = key;
    const cached = this.bucketCache.get(id);
    if (cached !== undefined) {
      foldAggregate(cached.aggregate, samples);
      if (s.updateBucket.run(perfSeq, JSON.stringify(cached.aggregate.toJSON()), modelId, version, task, tenant, start, cached.seq).changes === 1) {
        cached.seq = perfSeq;
        return;
      }
      this.bucketCache.delete(id);
    }
    const text = s.bucket.get(modelId, version, task, tenant, start) as string | undefined;
    const aggregate = text === undefined ? new Aggregate(flush.relativeAccuracy) : Aggregate.fromJSON(JSON.parse(text) as AggregateJson);
    foldAggregate(aggregate, samples);
    s.putBucket.run(modelId, version, task, tenant, start, perfSeq, JSON.stringify(aggregate.toJSON()));
    this.bucketCache.set(id, { seq: perfSeq, aggregate });
  }

  /** Forgets cached rows of a model (of one version when given). */
  private forgetCached(modelId: string, version?: string): void {
    const prefix = version === undefined ? `${modelId}\n` : `${modelId}\n${version}\n`;
    for (const cache of [this.statsCache, this.bucketCache] as Array<Map<string, unknown>>) {
      for (const id of cache.keys()) if (id.startsWith(prefix)) cache.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
