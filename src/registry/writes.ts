import { invalidArgument, ModelpoolError } from '../errors.js';
import type { Entry } from './entry.js';
import * as input from './input.js';
import { prepareVersion } from './inspectors.js';
import { assertTransition, IN_USE_STATES } from './lifecycle.js';
import type { Plan, RegistryState } from './state.js';
import { lastTransitions, type ModelDocument, type ModelRow, type PerfStatsRow, type StoredTransition, type VersionRow } from './store/store.js';
import type { LifecycleState, ModelInput, ModelPatch, ModelVersion, RegisteredModel, TransitionOptions, VersionInput, VersionPatch } from './types.js';

/**
 * The catalog writes behind {@link ModelRegistry}'s methods of the same names (documented there):
 * register, update, deprecate, move through the lifecycle, remove. Each validates its arguments,
 * then plans the model's new document on fresh data; {@link RegistryState.mutate} commits it to the
 * store and applies it to memory after the commit, so a failed write leaves both as they were.
 */

export async function registerModel(state: RegistryState, modelInput: ModelInput): Promise<RegisteredModel> {
  state.assertOpen();
  const model = input.modelInput('', modelInput);
  const version = model.version === undefined ? undefined : await prepareVersion(state.inspectors, model.version, 'version.');
  return state.mutate(() => {
    const now = state.now();
    if (state.byId.has(model.id)) throw new ModelpoolError('ALREADY_EXISTS', `Model ${model.id} is already registered`, { field: 'id', value: model.id });
    assertNamesFree(state, model.id, model.id, model.aliases);
    const row: ModelRow = { id: model.id, revision: 1, aliases: model.aliases, tasks: model.tasks, tags: model.tags, createdAt: now, updatedAt: now };
    if (model.description !== undefined) row.description = model.description;
    const versions: VersionRow[] = [];
    if (version !== undefined) {
      versions.push(newVersionRow(version, 1, now));
      row.defaultVersion = version.version;
    }
    return {
      write: { modelId: model.id, expectedRevision: 0, document: { model: row, versions, transitions: [] }, newTransitions: [], removedVersions: [], priors: [] },
      result: () => state.byId.get(model.id)!.model,
    };
  });
}

export async function registerVersion(state: RegistryState, name: string, versionInput: VersionInput): Promise<ModelVersion> {
  state.assertOpen();
  const version = await prepareVersion(state.inspectors, input.versionInput('', versionInput), '');
  return state.mutate(() => {
    const now = state.now();
    const entry = state.requireEntry(name);
    if (entry.resolved.has(version.version)) {
      throw new ModelpoolError('ALREADY_EXISTS', `Model ${entry.model.id} already has a version ${version.version}`, { field: 'version', value: version.version });
    }
    const previous = entry.doc.versions.at(-1);
    const ordinal = (previous?.ordinal ?? 0) + 1;
    const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: now };
    if (version.makeDefault === true || model.defaultVersion === undefined) model.defaultVersion = version.version;
    const priors: PerfStatsRow[] = previous === undefined ? [] : state.history.buildPriors(entry.model.id, previous.version, version.version, now);
    const document: ModelDocument = { model, versions: [...entry.doc.versions, newVersionRow(version, ordinal, now)], transitions: entry.doc.transitions };
    return {
      write: { modelId: model.id, expectedRevision: entry.model.revision, document, newTransitions: [], removedVersions: [], priors },
      result: () => state.byId.get(model.id)!.resolved.get(version.version)!.version,
    };
  });
}

export async function updateModel(state: RegistryState, name: string, patch: ModelPatch): Promise<RegisteredModel> {
  state.assertOpen();
  const changes = input.modelPatch('', patch, '');
  return state.mutate(() => {
    const entry = state.requireEntry(name);
    const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: state.now() };
    if (changes.aliases !== undefined) {
      assertNamesFree(state, model.id, undefined, changes.aliases);
      model.aliases = changes.aliases;
    }
    if (changes.tasks !== undefined) model.tasks = changes.tasks;
    if (changes.tags !== undefined) model.tags = changes.tags;
    if (changes.description === null) delete model.description;
    else if (changes.description !== undefined) model.description = changes.description;
    if (changes.defaultVersion !== undefined) {
      state.requireVersion(entry, changes.defaultVersion, 'defaultVersion');
      model.defaultVersion = changes.defaultVersion;
    }
    return documentPlan(entry, { ...entry.doc, model }, [], () => state.byId.get(model.id)!.model);
  });
}

export async function updateVersion(state: RegistryState, name: string, version: string, patch: VersionPatch): Promise<ModelVersion> {
  state.assertOpen();
  const changes = input.versionPatch('', patch);
  return editVersion(state, name, version, (row) => {
    if (changes.memoryEstimateBytes === null) delete row.memoryEstimateBytes;
    else if (changes.memoryEstimateBytes !== undefined) row.memoryEstimateBytes = changes.memoryEstimateBytes;
    if (changes.contextLength === null) delete row.contextLength;
    else if (changes.contextLength !== undefined) row.contextLength = changes.contextLength;
    if (changes.hardware === null) delete row.hardware;
    else if (changes.hardware !== undefined) row.hardware = changes.hardware;
    return [];
  });
}

export async function setDeprecated(state: RegistryState, name: string, version: string, deprecated: boolean, reason?: string): Promise<ModelVersion> {
  state.assertOpen();
  const mark = input.deprecation(deprecated, reason);
  return editVersion(state, name, version, (row) => {
    row.deprecated = mark.deprecated;
    if (mark.deprecated && mark.reason !== undefined) row.deprecationReason = mark.reason;
    else delete row.deprecationReason;
    return [];
  });
}

export async function transition(state: RegistryState, name: string, version: string, to: LifecycleState, options: TransitionOptions = {}): Promise<ModelVersion> {
  state.assertOpen();
  const target = input.lifecycleState('to', to);
  const { from: expected, reason } = input.transitionOptions('options', options);
  return editVersion(state, name, version, (row, entry) => {
    if (expected !== undefined && row.state !== expected) {
      throw new ModelpoolError(
        'ILLEGAL_TRANSITION',
        `Cannot move ${entry.model.id}@${row.version} from ${expected} to ${target}: it is ${row.state}`,
        { field: 'options.from', value: expected, details: { modelId: entry.model.id, version: row.version, from: row.state, to: target, expected } },
      );
    }
    assertTransition(entry.model.id, row.version, row.state, target);
    const record: StoredTransition = { version: row.version, from: row.state, to: target, at: row.updatedAt, reason };
    row.state = target;
    row.transitionCount++;
    return [record];
  });
}

export async function removeVersion(state: RegistryState, name: string, version: string): Promise<void> {
  state.assertOpen();
  return state.mutate(() => {
    const entry = state.requireEntry(name);
    const row = state.requireVersion(entry, version, 'version');
    if (IN_USE_STATES.has(row.state)) {
      throw new ModelpoolError('IN_USE', `Cannot remove ${entry.model.id}@${version}: it is ${row.state}; drain and retire it first`, {
        field: 'version',
        value: version,
        details: { state: row.state },
      });
    }
    const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: state.now() };
    const versions = entry.doc.versions.filter((item) => item.version !== version);
    if (model.defaultVersion === version) {
      if (versions.length > 0) {
        throw new ModelpoolError('IN_USE', `Cannot remove ${entry.model.id}@${version}: it is the default version; set another default first`, {
          field: 'version',
          value: version,
        });
      }
      delete model.defaultVersion;
    }
    const document: ModelDocument = { model, versions, transitions: entry.doc.transitions.filter((item) => item.version !== version) };
    return {
      write: { modelId: model.id, expectedRevision: entry.model.revision, document, newTransitions: [], removedVersions: [version], priors: [] },
      result: () => undefined,
    };
  });
}

export async function removeModel(state: RegistryState, name: string): Promise<void> {
  state.assertOpen();
  return state.mutate(() => {
    const entry = state.requireEntry(name);
    const busy = entry.doc.versions.find((row) => IN_USE_STATES.has(row.state));
    if (busy !== undefined) {
      throw new ModelpoolError('IN_USE', `Cannot remove model ${entry.model.id}: version ${busy.version} is ${busy.state}`, {
        field: 'name',
        value: name,
        details: { version: busy.version, state: busy.state },
      });
    }
    return {
      write: { modelId: entry.model.id, expectedRevision: entry.model.revision, document: null, newTransitions: [], removedVersions: [], priors: [] },
      result: () => undefined,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers.

function documentPlan<T>(entry: Entry, document: ModelDocument, newTransitions: StoredTransition[], result: () => T): Plan<T> {
  return {
    write: { modelId: entry.model.id, expectedRevision: entry.model.revision, document, newTransitions, removedVersions: [], priors: [] },
    result,
  };
}

/** A write that changes one version row (and may log transitions). */
function editVersion(state: RegistryState, name: string, version: string, edit: (row: VersionRow, entry: Entry) => StoredTransition[]): Promise<ModelVersion> {
  return state.mutate(() => {
    const entry = state.requireEntry(name);
    const current = state.requireVersion(entry, version, 'version');
    const now = state.now();
    const row: VersionRow = { ...current, updatedAt: now };
    const transitions = edit(row, entry);
    const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: now };
    const document: ModelDocument = {
      model,
      versions: entry.doc.versions.map((item) => (item.version === version ? row : item)),
      transitions: transitions.length === 0 ? entry.doc.transitions : lastTransitions([...entry.doc.transitions, ...transitions], state.transitionLimit),
    };
    return documentPlan(entry, document, transitions, () => state.byId.get(model.id)!.resolved.get(version)!.version);
  });
}

/** Ids and aliases share one namespace. `id` is checked too when given (a new model). */
function assertNamesFree(state: RegistryState, owner: string, id: string | undefined, aliases: readonly string[]): void {
  if (id !== undefined) {
    const holder = state.byName.get(id);
    if (holder !== undefined) throw new ModelpoolError('ALREADY_EXISTS', `The name ${JSON.stringify(id)} is already used by model ${holder.model.id}`, { field: 'id', value: id });
  }
  aliases.forEach((alias, index) => {
    if (alias === owner) throw invalidArgument(`aliases[${index}]`, 'an alias different from the model id', alias);
    const holder = state.byName.get(alias);
    if (holder !== undefined && holder.model.id !== owner) {
      throw new ModelpoolError('ALREADY_EXISTS', `The name ${JSON.stringify(alias)} is already used by model ${holder.model.id}`, { field: `aliases[${index}]`, value: alias });
    }
  });
}

function newVersionRow(version: VersionInput, ordinal: number, now: number): VersionRow {
  const row: VersionRow = { version: version.version, ordinal, source: version.source, state: 'registered', deprecated: false, transitionCount: 0, createdAt: now, updatedAt: now };
  if (version.metadata !== undefined) row.metadata = version.metadata;
  if (version.memoryEstimateBytes !== undefined) row.memoryEstimateBytes = version.memoryEstimateBytes;
  if (version.contextLength !== undefined) row.contextLength = version.contextLength;
  if (version.hardware !== undefined) row.hardware = version.hardware;
  return row;
}
