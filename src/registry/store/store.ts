import { ModelpoolError } from '../../errors.js';
import type { PerfBucketRow, PerfStatsRow, PerformanceStore } from '../../telemetry/index.js';
import type { HardwareNeeds, LifecycleState, LocalModelMetadata, ModelSource, TransitionRecord } from '../types.js';

/**
 * The durable side of the registry. The registry serves every read from memory and writes through
 * a store; a store only has to keep documents, refuse stale writes, and say what changed since a
 * cursor. Methods are async so that a store over a network database (PostgreSQL) fits the same
 * interface; the SQLite and in-memory stores answer at once.
 */

/** Telemetry rows are defined in src/telemetry; stores keep them, so their types are re-exported here. */
export type { PerfBucketRow, PerfFlush, PerfFlushKey, PerfFlushResult, PerfKey, PerfStatsRow, PerformanceStore } from '../../telemetry/index.js';

export interface ModelRow {
  id: string;
  /** Bumped by every write of this model; writes name the revision they were based on. */
  revision: number;
  aliases: string[];
  tasks: string[];
  tags: string[];
  description?: string;
  defaultVersion?: string;
  createdAt: number;
  updatedAt: number;
}

export interface VersionRow {
  version: string;
  ordinal: number;
  source: ModelSource;
  metadata?: LocalModelMetadata;
  memoryEstimateBytes?: number;
  contextLength?: number;
  hardware?: HardwareNeeds;
  state: LifecycleState;
  deprecated: boolean;
  deprecationReason?: string;
  transitionCount: number;
  createdAt: number;
  updatedAt: number;
}

export interface StoredTransition extends TransitionRecord {
  version: string;
}

export interface ModelDocument {
  model: ModelRow;
  /** In ordinal order. */
  versions: VersionRow[];
  /** The most recent transitions of each version (a bounded number), oldest first. */
  transitions: StoredTransition[];
}

/** How far a reader has seen: the last model change and the last performance flush. */
export interface StoreCursor {
  models: number;
  perf: number;
}

export interface LoadOptions {
  /** Transitions kept per version. */
  transitionLimit: number;
  /** Only buckets starting at or after this (epoch ms). */
  bucketsSince: number;
}

export interface StoreSnapshot {
  cursor: StoreCursor;
  models: ModelDocument[];
  stats: PerfStatsRow[];
  buckets: PerfBucketRow[];
}

export interface StoreChanges {
  cursor: StoreCursor;
  /** Set when the reader fell too far behind the change log: replace everything with this. */
  snapshot?: StoreSnapshot;
  /** Current documents of the models changed since the cursor (null: removed). */
  models: Array<{ id: string; document: ModelDocument | null }>;
  stats: PerfStatsRow[];
  buckets: PerfBucketRow[];
}

export interface ModelWrite {
  modelId: string;
  /** Revision the change was based on; 0 when the model must not exist yet. */
  expectedRevision: number;
  /** The model's new document (its revision is expectedRevision + 1), or null to remove it. */
  document: ModelDocument | null;
  /** Transitions to append to the log. */
  newTransitions: StoredTransition[];
  /** Versions removed by this write: their transitions and performance go with them. */
  removedVersions: string[];
  /** Performance priors of new versions. */
  priors: PerfStatsRow[];
}

export interface WriteResult {
  /** Sequence number of this change in the change log. */
  modelSeq: number;
  /** Set when the write also wrote performance rows (priors). */
  perfSeq?: number;
}

/** Model documents and, through {@link PerformanceStore}, the telemetry rows of their versions. */
export interface RegistryStore extends PerformanceStore {
  /** Where the data lives (a file path, ':memory:', a URL without credentials). */
  readonly location: string;
  load(options: LoadOptions): Promise<StoreSnapshot>;
  /** What changed since `cursor`, or undefined when nothing did (this must be cheap). */
  changesSince(cursor: StoreCursor, options: LoadOptions): Promise<StoreChanges | undefined>;
  /**
   * Writes one model atomically. Refuses with CONFLICT when the stored revision is not
   * `expectedRevision`, and with ALREADY_EXISTS (field "aliases" or "id") when a name is taken by
   * another model. A refused write changes nothing.
   */
  writeModel(write: ModelWrite): Promise<WriteResult>;
  /** Idempotent. */
  close(): Promise<void>;
}

export function conflict(modelId: string, expected: number, actual: number): ModelpoolError {
  return new ModelpoolError('CONFLICT', `Model ${modelId} changed in the store (revision ${actual}, expected ${expected})`, {
    field: 'id',
    value: modelId,
    details: { expected, actual },
  });
}

export function nameTaken(name: string, owner: string, isAlias: boolean): ModelpoolError {
  return new ModelpoolError('ALREADY_EXISTS', `The name ${JSON.stringify(name)} is already used by model ${owner}`, {
    field: isAlias ? 'aliases' : 'id',
    value: name,
    details: { owner },
  });
}

/** Keeps the last `limit` transitions of each version, oldest first. */
export function lastTransitions(transitions: readonly StoredTransition[], limit: number): StoredTransition[] {
  const counts = new Map<string, number>();
  const kept: StoredTransition[] = [];
  for (let index = transitions.length - 1; index >= 0; index--) {
    const transition = transitions[index]!;
    const count = counts.get(transition.version) ?? 0;
    if (count < limit) {
      counts.set(transition.version, count + 1);
      kept.push(transition);
    }
  }
  return kept.reverse();
}
