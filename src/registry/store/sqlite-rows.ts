import type { AggregateJson, PerfStatsJson } from '../../telemetry/index.js';
import type { LifecycleState } from '../types.js';
import type { ModelDocument, ModelRow, PerfBucketRow, PerfStatsRow, StoredTransition, VersionRow } from './store.js';

/** Rows as better-sqlite3 returns them, and their conversion to and from the store's documents. */

export interface ModelSqlRow {
  id: string;
  revision: number;
  description: string | null;
  default_version: string | null;
  tasks: string;
  tags: string;
  created_at: number;
  updated_at: number;
}

export interface VersionSqlRow {
  model_id: string;
  version: string;
  ordinal: number;
  source: string;
  metadata: string | null;
  memory_estimate_bytes: number | null;
  context_length: number | null;
  hardware: string | null;
  state: LifecycleState;
  deprecated: number;
  deprecation_reason: string | null;
  transition_count: number;
  created_at: number;
  updated_at: number;
}

export interface TransitionSqlRow {
  model_id: string;
  version: string;
  from_state: LifecycleState;
  to_state: LifecycleState;
  at: number;
  reason: string;
}

export interface NameSqlRow {
  name: string;
  model_id: string;
}

export interface PerfStatsSqlRow extends PerfKeySql {
  stats: string;
}

export interface PerfBucketSqlRow extends PerfKeySql {
  start: number;
  aggregate: string;
}

interface PerfKeySql {
  model_id: string;
  version: string;
  task: string;
  tenant: string;
}

export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const name = key(row);
    const group = groups.get(name);
    if (group === undefined) groups.set(name, [row]);
    else group.push(row);
  }
  return groups;
}

export function toDocument(row: ModelSqlRow, aliases: NameSqlRow[], versions: VersionSqlRow[], transitions: TransitionSqlRow[]): ModelDocument {
  const model: ModelRow = {
    id: row.id,
    revision: row.revision,
    aliases: aliases.map((alias) => alias.name),
    tasks: JSON.parse(row.tasks) as string[],
    tags: JSON.parse(row.tags) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.description !== null) model.description = row.description;
  if (row.default_version !== null) model.defaultVersion = row.default_version;
  return {
    model,
    versions: versions.map(toVersionRow),
    transitions: transitions.map(
      (transition): StoredTransition => ({ version: transition.version, from: transition.from_state, to: transition.to_state, at: transition.at, reason: transition.reason }),
    ),
  };
}

function toVersionRow(row: VersionSqlRow): VersionRow {
  const version: VersionRow = {
    version: row.version,
    ordinal: row.ordinal,
    source: JSON.parse(row.source) as VersionRow['source'],
    state: row.state,
    deprecated: row.deprecated === 1,
    transitionCount: row.transition_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.metadata !== null) version.metadata = JSON.parse(row.metadata) as VersionRow['metadata'];
  if (row.memory_estimate_bytes !== null) version.memoryEstimateBytes = row.memory_estimate_bytes;
  if (row.context_length !== null) version.contextLength = row.context_length;
  if (row.hardware !== null) version.hardware = JSON.parse(row.hardware) as VersionRow['hardware'];
  if (row.deprecation_reason !== null) version.deprecationReason = row.deprecation_reason;
  return version;
}

export function toModelSql(model: ModelRow): ModelSqlRow {
  return {
    id: model.id,
    revision: model.revision,
    description: model.description ?? null,
    default_version: model.defaultVersion ?? null,
    tasks: JSON.stringify(model.tasks),
    tags: JSON.stringify(model.tags),
    created_at: model.createdAt,
    updated_at: model.updatedAt,
  };
}

export function toVersionSql(modelId: string, version: VersionRow): VersionSqlRow {
  return {
    model_id: modelId,
    version: version.version,
    ordinal: version.ordinal,
    source: JSON.stringify(version.source),
    metadata: version.metadata === undefined ? null : JSON.stringify(version.metadata),
    memory_estimate_bytes: version.memoryEstimateBytes ?? null,
    context_length: version.contextLength ?? null,
    hardware: version.hardware === undefined ? null : JSON.stringify(version.hardware),
    state: version.state,
    deprecated: version.deprecated ? 1 : 0,
    deprecation_reason: version.deprecationReason ?? null,
    transition_count: version.transitionCount,
    created_at: version.createdAt,
    updated_at: version.updatedAt,
  };
}

export function toStatsRow(row: PerfStatsSqlRow): PerfStatsRow {
  return { modelId: row.model_id, version: row.version, task: row.task, tenant: row.tenant, stats: JSON.parse(row.stats) as PerfStatsJson };
}

export function toBucketRow(row: PerfBucketSqlRow): PerfBucketRow {
  return {
    modelId: row.model_id,
    version: row.version,
    task: row.task,
    tenant: row.tenant,
    start: row.start,
    aggregate: JSON.parse(row.aggregate) as AggregateJson,
  };
}
