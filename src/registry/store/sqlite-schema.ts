/** The schema of the SQLite registry store (sqlite.ts): the file's marker and its migrations. */

/** 'mpol': marks the file as a modelpool registry, so that we never migrate someone else's database. */
export const APPLICATION_ID = 0x6d706f6c;

/**
 * Schema migrations, applied in order inside one IMMEDIATE transaction each; `PRAGMA user_version`
 * holds the number of the last one applied. Append, never edit a shipped migration.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE models (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    description TEXT,
    default_version TEXT,
    tasks TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  -- Ids and aliases share one namespace: the primary key keeps them unique across processes.
  CREATE TABLE names (
    name TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    is_alias INTEGER NOT NULL,
    position INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX names_by_model ON names (model_id);
  CREATE TABLE versions (
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    source TEXT NOT NULL,
    metadata TEXT,
    memory_estimate_bytes INTEGER,
    context_length INTEGER,
    hardware TEXT,
    state TEXT NOT NULL CHECK (state IN ('registered', 'loading', 'ready', 'draining', 'retired', 'failed')),
    deprecated INTEGER NOT NULL DEFAULT 0,
    deprecation_reason TEXT,
    transition_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (model_id, version)
  ) STRICT;
  CREATE TABLE transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at INTEGER NOT NULL,
    reason TEXT NOT NULL
  ) STRICT;
  CREATE INDEX transitions_by_version ON transitions (model_id, version, id);
  -- One row per committed model write: readers in other processes follow it from their cursor.
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE perf_stats (
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    task TEXT NOT NULL,
    seq INTEGER NOT NULL,
    stats TEXT NOT NULL,
    PRIMARY KEY (model_id, version, task)
  ) STRICT;
  CREATE INDEX perf_stats_by_seq ON perf_stats (seq);
  CREATE TABLE perf_buckets (
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    task TEXT NOT NULL,
    start INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    aggregate TEXT NOT NULL,
    PRIMARY KEY (model_id, version, task, start)
  ) STRICT;
  CREATE INDEX perf_buckets_by_seq ON perf_buckets (seq);
  CREATE INDEX perf_buckets_by_start ON perf_buckets (start);
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  INSERT INTO counters (name, value) VALUES ('perf', 0);
  `,
  // 2: performance history per caller. The tenant joins the key of perf_stats and perf_buckets ('' is all
  // callers, which every row written before was). SQLite cannot change a primary key in place, so both
  // tables are rebuilt; their rows and sequence numbers are kept, so readers' cursors stay valid.
  `
  CREATE TABLE perf_stats_v2 (
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    task TEXT NOT NULL,
    tenant TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL,
    stats TEXT NOT NULL,
    PRIMARY KEY (model_id, version, task, tenant)
  ) STRICT;
  INSERT INTO perf_stats_v2 (model_id, version, task, tenant, seq, stats) SELECT model_id, version, task, '', seq, stats FROM perf_stats;
  DROP TABLE perf_stats;
  ALTER TABLE perf_stats_v2 RENAME TO perf_stats;
  CREATE INDEX perf_stats_by_seq ON perf_stats (seq);
  CREATE TABLE perf_buckets_v2 (
    model_id TEXT NOT NULL,
    version TEXT NOT NULL,
    task TEXT NOT NULL,
    tenant TEXT NOT NULL DEFAULT '',
    start INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    aggregate TEXT NOT NULL,
    PRIMARY KEY (model_id, version, task, tenant, start)
  ) STRICT;
  INSERT INTO perf_buckets_v2 (model_id, version, task, tenant, start, seq, aggregate)
    SELECT model_id, version, task, '', start, seq, aggregate FROM perf_buckets;
  DROP TABLE perf_buckets;
  ALTER TABLE perf_buckets_v2 RENAME TO perf_buckets;
  CREATE INDEX perf_buckets_by_seq ON perf_buckets (seq);
  CREATE INDEX perf_buckets_by_start ON perf_buckets (start);
  `,
];
