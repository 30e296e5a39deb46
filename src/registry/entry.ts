import { isLocalSource } from './input.js';
import { tagLabel, taskLabel } from './query-index.js';
import type { ModelDocument, VersionRow } from './store/store.js';
import type { ModelVersion, RegisteredModel, ResolvedModel, TransitionRecord } from './types.js';

/**
 * A model as the registry holds it in memory: the committed document it was built from, and the
 * frozen views that reads hand out (built once per change, so that reads allocate nothing).
 */
export interface Entry {
  readonly doc: ModelDocument;
  readonly model: RegisteredModel;
  /** version → { model, version }, so that lookups allocate nothing. */
  readonly resolved: ReadonlyMap<string, ResolvedModel>;
  /** Task and tag labels of the query index. */
  readonly labels: readonly string[];
  /** Query index slots of the versions, in version order. */
  slots: number[];
  /** The default version, resolved (the hot path of `resolve(name)`). */
  readonly resolvedDefault: ResolvedModel | undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function versionView(modelId: string, row: VersionRow, transitions: TransitionRecord[]): ModelVersion {
  const local = isLocalSource(row.source);
  const view: ModelVersion = {
    modelId,
    version: row.version,
    ordinal: row.ordinal,
    source: row.source,
    local,
    memoryBytes: row.memoryEstimateBytes ?? (local ? row.metadata?.sizeBytes : 0),
    contextLength: row.contextLength ?? row.metadata?.contextLength,
    state: row.state,
    deprecated: row.deprecated,
    transitions,
    transitionCount: row.transitionCount,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
  const optional = view as { -readonly [K in keyof ModelVersion]: ModelVersion[K] };
  if (row.metadata !== undefined) optional.metadata = row.metadata;
  if (row.memoryEstimateBytes !== undefined) optional.memoryEstimateBytes = row.memoryEstimateBytes;
  if (row.hardware !== undefined) optional.hardware = row.hardware;
  if (row.deprecationReason !== undefined) optional.deprecationReason = row.deprecationReason;
  return view;
}

/** Builds the frozen views of a document. The document itself is frozen too: it is never edited, only replaced. */
export function buildEntry(doc: ModelDocument): Entry {
  deepFreeze(doc);
  const byVersion = new Map<string, TransitionRecord[]>();
  for (const { version, from, to, at, reason } of doc.transitions) {
    let list = byVersion.get(version);
    if (list === undefined) byVersion.set(version, (list = []));
    list.push({ from, to, at, reason });
  }
  const versions = doc.versions.map((row) => versionView(doc.model.id, row, byVersion.get(row.version) ?? []));
  const row = doc.model;
  const model: RegisteredModel = {
    id: row.id,
    aliases: row.aliases,
    tasks: row.tasks,
    tags: row.tags,
    versions,
    revision: row.revision,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.description === undefined ? {} : { description: row.description }),
    ...(row.defaultVersion === undefined ? {} : { defaultVersion: row.defaultVersion }),
  };
  deepFreeze(model);
  const resolved = new Map<string, ResolvedModel>();
  for (const version of versions) resolved.set(version.version, Object.freeze({ model, version }));
  const resolvedDefault = row.defaultVersion === undefined ? undefined : resolved.get(row.defaultVersion);
  return { doc, model, resolved, labels: [...row.tasks.map(taskLabel), ...row.tags.map(tagLabel)], slots: [], resolvedDefault };
}

/** What changed in a model apart from lifecycle states, for the 'updated' event. */
export function descriptiveState(doc: ModelDocument): string {
  const { revision: _revision, updatedAt: _updated, ...model } = doc.model;
  const versions = doc.versions.map(({ state: _state, transitionCount: _count, updatedAt: _at, ...rest }) => rest);
  return JSON.stringify({ model, versions });
}
