import { EventEmitter } from 'node:events';
import { realpath, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { performance as clock } from 'node:perf_hooks';
import { invalidArgument, isModelpoolError, ModelpoolError } from '../errors.js';
import { finiteNumber, integer, nonEmptyString, optionalNumber, plainObject } from '../validate.js';
import { scanForModels, type DiscoveryOptions, type DiscoverySkip, type ScanResult } from './discovery/scan.js';
import * as input from './input.js';
import { defaultInspectors, type SourceInspector } from './inspectors.js';
import { assertTransition, IN_USE_STATES } from './lifecycle.js';
import { PerformanceHistory, resolveHistoryOptions, type HistoryOptions } from '../telemetry/index.js';
import { KIND_CODES, QueryIndex, STATE_CODES, tagLabel, taskLabel } from './query-index.js';
import { MemoryRegistryStore } from './store/memory.js';
import { SqliteRegistryStore, type SqliteStoreOptions } from './store/sqlite.js';
import {
  lastTransitions,
  type LoadOptions,
  type ModelDocument,
  type ModelRow,
  type ModelWrite,
  type PerfStatsRow,
  type RegistryStore,
  type StoreCursor,
  type StoreSnapshot,
  type StoredTransition,
  type VersionRow,
  type WriteResult,
} from './store/store.js';
import type {
  ChangeOrigin,
  LifecycleState,
  LocalModelMetadata,
  LocalSourceKind,
  ModelInput,
  ModelPatch,
  ModelQuery,
  ModelSource,
  ModelVersion,
  PerformanceSample,
  PerformanceSummary,
  PerformanceWindow,
  RegisteredModel,
  RegistryEvents,
  ResolvedModel,
  Task,
  TransitionOptions,
  TransitionRecord,
  VersionInput,
  VersionPatch,
} from './types.js';

export interface RegistryOptions {
  /** Where models and history are kept. Default: a SQLite file at `path`, else an in-memory store. */
  store?: RegistryStore;
  /** SQLite file to open when no `store` is given. */
  path?: string;
  sqlite?: SqliteStoreOptions;
  /** Readers of local model files by source kind. Default: the engine's GGUF `inspect`; ONNX: file size only. */
  inspectors?: Partial<Record<LocalSourceKind, SourceInspector>>;
  /**
   * Reads check the store for other processes' changes at most this often (ms), in the background;
   * `refresh()` checks at once. 0 turns the background check off. Default 1000.
   */
  refreshIntervalMs?: number;
  /** Transitions kept in memory per version (the store keeps all). Default 20. */
  transitionHistoryLimit?: number;
  history?: HistoryOptions;
  /** Clock in epoch milliseconds (for tests). Default Date.now. */
  now?: () => number;
}

export interface PerformanceQuery {
  task: Task;
  /** Default: the model's default version. */
  version?: string;
  /** Default 'all'. */
  window?: PerformanceWindow;
}

export interface DiscoveryReport {
  /** Newly registered (new models, or new versions of models found before under the same name). */
  registered: ResolvedModel[];
  /** Files already registered (same path). */
  existing: ResolvedModel[];
  /** Files not registered, with the reason (unreadable or invalid GGUF, split parts, projectors...). */
  skipped: DiscoverySkip[];
  scanned: ScanResult['scanned'];
}

interface Entry {
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

interface Plan<T> {
  write: ModelWrite;
  result: () => T;
}

const SERVING_STATES: readonly LifecycleState[] = ['registered', 'loading', 'ready', 'draining'];
const EMBEDDING_ARCHITECTURES = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 'modern-bert', 'neo-bert', 'eurobert', 't5encoder']);
const CONFLICT_RETRIES = 3;

function isLocal(source: ModelSource): source is Extract<ModelSource, { path: string }> {
  return source.kind === 'gguf' || source.kind === 'onnx';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function versionView(modelId: string, row: VersionRow, transitions: TransitionRecord[]): ModelVersion {
  const local = isLocal(row.source);
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
function buildEntry(doc: ModelDocument): Entry {
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
function descriptiveState(doc: ModelDocument): string {
  const { revision: _revision, updatedAt: _updated, ...model } = doc.model;
  const versions = doc.versions.map(({ state: _state, transitionCount: _count, updatedAt: _at, ...rest }) => rest);
  return JSON.stringify({ model, versions });
}

function guessTasks(metadata: LocalModelMetadata): Task[] {
  if (metadata.architecture !== undefined && EMBEDDING_ARCHITECTURES.has(metadata.architecture)) return ['embedding'];
  return metadata.hasChatTemplate ? ['chat', 'completion'] : ['completion'];
}

async function realpathOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

/**
 * Samples are flushed in batches by an unref'd timer so an idle registry never holds a process open.
 * A script that records samples and ends without close() would then lose the last batch: before the
 * event loop empties, every open registry flushes what it holds ('beforeExit' fires again after the
 * flush, when nothing is pending any more).
 */
const flushBeforeExit = new Map<object, () => void>();
let exitFlushInstalled = false;
function installExitFlush(): void {
  if (exitFlushInstalled) return;
  exitFlushInstalled = true;
  process.on('beforeExit', () => {
    for (const flush of flushBeforeExit.values()) flush();
  });
}

/**
 * The model registry: what models exist, their versions and lifecycle, and how each performed.
 *
 * Reads (`get`, `resolve`, `find`, `performance`) are served from memory and never wait on the
 * store. Writes are serialised, committed to the store first and applied to memory only after
 * the commit, so a failed write leaves both as they were. Registries in other processes on the
 * same store see each other's writes through `refresh()` (run in the background by reads every
 * `refreshIntervalMs`); a write based on a stale view is re-planned on fresh data, never applied
 * over another process's change.
 */
export class ModelRegistry extends EventEmitter<RegistryEvents> {
  readonly store: RegistryStore;
  private readonly ownsStore: boolean;
  private readonly inspectors: Record<LocalSourceKind, SourceInspector>;
  private readonly refreshIntervalMs: number;
  private readonly transitionLimit: number;
  private readonly now: () => number;
  private readonly history: PerformanceHistory;

  private readonly byId = new Map<string, Entry>();
  /** Ids and aliases. */
  private readonly byName = new Map<string, Entry>();
  private readonly queryIndex = new QueryIndex();
  private cursor: StoreCursor = { models: 0, perf: 0 };

  private queue: Promise<unknown> = Promise.resolve();
  private nextRefreshAt = 0;
  private refreshing = false;
  private flushScheduled = false;
  private readonly flushTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  private constructor(store: RegistryStore, ownsStore: boolean, options: RegistryOptions) {
    super();
    this.store = store;
    this.ownsStore = ownsStore;
    this.inspectors = { ...defaultInspectors(), ...options.inspectors };
    this.refreshIntervalMs = options.refreshIntervalMs ?? 1000;
    this.transitionLimit = options.transitionHistoryLimit ?? 20;
    this.now = options.now ?? Date.now;
    this.history = new PerformanceHistory(resolveHistoryOptions(options.history));
    const flushPending = (): void => {
      if (this.history.pending > 0) this.flushInBackground();
    };
    this.flushTimer = setInterval(flushPending, this.history.options.flushIntervalMs);
    this.flushTimer.unref();
    flushBeforeExit.set(this, flushPending);
    installExitFlush();
  }

  /** Opens a registry over `options.store` (or a SQLite file at `options.path`, or memory) and loads it. */
  static async open(options: RegistryOptions = {}): Promise<ModelRegistry> {
    const checked = plainObject('options', options);
    if (checked.store !== undefined && (typeof checked.store !== 'object' || checked.store === null || typeof (checked.store as RegistryStore).writeModel !== 'function')) {
      throw invalidArgument('options.store', 'a RegistryStore', checked.store);
    }
    if (checked.path !== undefined) nonEmptyString('options.path', checked.path, 4096);
    if (checked.refreshIntervalMs !== undefined) integer('options.refreshIntervalMs', checked.refreshIntervalMs, 0);
    if (checked.transitionHistoryLimit !== undefined) integer('options.transitionHistoryLimit', checked.transitionHistoryLimit, 1, 10_000);
    if (checked.history !== undefined) {
      const history = plainObject('options.history', checked.history);
      for (const key of ['halfLifeMs', 'bucketMs', 'retentionMs', 'flushIntervalMs', 'flushBatchSize', 'priorMaxSamples'] as const) {
        optionalNumber(`options.history.${key}`, history[key], key === 'priorMaxSamples' ? 0 : 1, Number.MAX_SAFE_INTEGER);
      }
      optionalNumber('options.history.priorWeight', history.priorWeight, 0, 1);
      optionalNumber('options.history.relativeAccuracy', history.relativeAccuracy, 1e-6, 0.5);
    }
    const store = options.store ?? (options.path !== undefined ? new SqliteRegistryStore(options.path, options.sqlite) : new MemoryRegistryStore());
    const registry = new ModelRegistry(store, options.store === undefined, options);
    try {
      await registry.exclusive(async () => registry.applySnapshot(await store.load(registry.loadOptions()), 'external'));
    } catch (error) {
      clearInterval(registry.flushTimer);
      if (registry.ownsStore) await store.close();
      throw error;
    }
    return registry;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads: from memory.

  /** Number of models. */
  get size(): number {
    this.beforeRead();
    return this.byId.size;
  }

  /** The model with this id or alias. */
  get(name: string): RegisteredModel | undefined {
    this.beforeRead();
    return this.byName.get(name)?.model;
  }

  has(name: string): boolean {
    this.beforeRead();
    return this.byName.has(name);
  }

  /**
   * The model with this id or alias and one of its versions (default: its default version).
   * Throws MODEL_NOT_FOUND or VERSION_NOT_FOUND.
   */
  resolve(name: string, version?: string): ResolvedModel {
    this.beforeRead();
    const entry = this.byName.get(name);
    if (entry === undefined) {
      if (typeof name !== 'string') throw invalidArgument('name', 'a model id or alias', name);
      throw new ModelpoolError('MODEL_NOT_FOUND', `No model has the id or alias ${JSON.stringify(name)}`, { field: 'name', value: name });
    }
    if (version === undefined && entry.resolvedDefault !== undefined) return entry.resolvedDefault;
    const wanted = version ?? entry.model.defaultVersion;
    const resolved = wanted === undefined ? undefined : entry.resolved.get(wanted);
    if (resolved === undefined) {
      const known = entry.model.versions.map((item) => item.version).join(', ') || 'none';
      throw new ModelpoolError(
        'VERSION_NOT_FOUND',
        wanted === undefined ? `Model ${entry.model.id} has no versions` : `Model ${entry.model.id} has no version ${JSON.stringify(wanted)} (versions: ${known})`,
        { field: 'version', value: wanted },
      );
    }
    return resolved;
  }

  /** Every model, in no particular order. */
  list(): RegisteredModel[] {
    this.beforeRead();
    return [...this.byId.values()].map((entry) => entry.model);
  }

  /**
   * Versions matching every condition of `query` (see {@link ModelQuery} for the defaults), in no
   * particular order. Served from a columnar in-memory index.
   */
  find(query: ModelQuery = {}): ResolvedModel[] {
    this.beforeRead();
    const q = input.query('query', query);
    const labels = [...(q.task === undefined ? [] : [q.task]), ...(q.tasks ?? [])].map(taskLabel);
    for (const tag of q.tags ?? []) labels.push(tagLabel(tag));
    let stateMask = 0;
    for (const state of q.states ?? SERVING_STATES) stateMask |= 1 << STATE_CODES[state];
    let kindMask = 0;
    for (const kind of q.sourceKinds ?? []) kindMask |= 1 << KIND_CODES[kind];
    return this.queryIndex.find({
      labels,
      stateMask,
      kindMask,
      maxMemoryBytes: q.maxMemoryBytes,
      minContextLength: q.minContextLength,
      localOnly: q.localOnly === true,
      includeDeprecated: q.includeDeprecated === true,
      defaultOnly: q.versions !== 'all',
      limit: q.limit ?? Number.POSITIVE_INFINITY,
    });
  }

  /** The version registered with this local file path, if any. */
  findBySourcePath(path: string): ResolvedModel | undefined {
    this.beforeRead();
    const absolute = resolvePath(nonEmptyString('path', path));
    for (const entry of this.byId.values()) {
      for (const resolved of entry.resolved.values()) {
        if (isLocal(resolved.version.source) && resolved.version.source.path === absolute) return resolved;
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes: serialised, store first, memory after the commit.

  /** Registers a new model, with its first version when `input.version` is given. */
  async registerModel(modelInput: ModelInput): Promise<RegisteredModel> {
    this.assertOpen();
    const model = input.modelInput('', modelInput);
    const version = model.version === undefined ? undefined : await this.prepareVersion(model.version, 'version.');
    return this.mutate(() => {
      const now = this.now();
      if (this.byId.has(model.id)) throw new ModelpoolError('ALREADY_EXISTS', `Model ${model.id} is already registered`, { field: 'id', value: model.id });
      this.assertNamesFree(model.id, model.id, model.aliases);
      const row: ModelRow = { id: model.id, revision: 1, aliases: model.aliases, tasks: model.tasks, tags: model.tags, createdAt: now, updatedAt: now };
      if (model.description !== undefined) row.description = model.description;
      const versions: VersionRow[] = [];
      if (version !== undefined) {
        versions.push(this.newVersionRow(version, 1, now));
        row.defaultVersion = version.version;
      }
      return {
        write: { modelId: model.id, expectedRevision: 0, document: { model: row, versions, transitions: [] }, newTransitions: [], removedVersions: [], priors: [] },
        result: () => this.byId.get(model.id)!.model,
      };
    });
  }

  /**
   * Adds a version to a model. Local files are inspected first (a missing file or a bad GGUF is an
   * error naming `source.path`). The new version's performance history starts from the previous
   * version's as a prior of reduced weight.
   */
  async registerVersion(name: string, versionInput: VersionInput): Promise<ModelVersion> {
    this.assertOpen();
    const version = await this.prepareVersion(input.versionInput('', versionInput), '');
    return this.mutate(() => {
      const now = this.now();
      const entry = this.requireEntry(name);
      if (entry.resolved.has(version.version)) {
        throw new ModelpoolError('ALREADY_EXISTS', `Model ${entry.model.id} already has a version ${version.version}`, { field: 'version', value: version.version });
      }
      const previous = entry.doc.versions.at(-1);
      const ordinal = (previous?.ordinal ?? 0) + 1;
      const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: now };
      if (version.makeDefault === true || model.defaultVersion === undefined) model.defaultVersion = version.version;
      const priors: PerfStatsRow[] = previous === undefined ? [] : this.history.buildPriors(entry.model.id, previous.version, version.version, now);
      const document: ModelDocument = { model, versions: [...entry.doc.versions, this.newVersionRow(version, ordinal, now)], transitions: entry.doc.transitions };
      return {
        write: { modelId: model.id, expectedRevision: entry.model.revision, document, newTransitions: [], removedVersions: [], priors },
        result: () => this.byId.get(model.id)!.resolved.get(version.version)!.version,
      };
    });
  }

  /** Changes aliases, tasks, tags, description or the default version. */
  async updateModel(name: string, patch: ModelPatch): Promise<RegisteredModel> {
    this.assertOpen();
    const changes = input.modelPatch('', patch, '');
    return this.mutate(() => {
      const entry = this.requireEntry(name);
      const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: this.now() };
      if (changes.aliases !== undefined) {
        this.assertNamesFree(model.id, undefined, changes.aliases);
        model.aliases = changes.aliases;
      }
      if (changes.tasks !== undefined) model.tasks = changes.tasks;
      if (changes.tags !== undefined) model.tags = changes.tags;
      if (changes.description === null) delete model.description;
      else if (changes.description !== undefined) model.description = changes.description;
      if (changes.defaultVersion !== undefined) {
        this.requireVersion(entry, changes.defaultVersion, 'defaultVersion');
        model.defaultVersion = changes.defaultVersion;
      }
      return this.documentPlan(entry, { ...entry.doc, model }, [], () => this.byId.get(model.id)!.model);
    });
  }

  /** Makes `version` the one that `resolve(name)` returns. */
  async setDefaultVersion(name: string, version: string): Promise<RegisteredModel> {
    return this.updateModel(name, { defaultVersion: input.versionName('version', version) });
  }

  /** Changes a version's memory estimate, context length or hardware needs (e.g. after measuring a load). */
  async updateVersion(name: string, version: string, patch: VersionPatch): Promise<ModelVersion> {
    this.assertOpen();
    const changes = input.versionPatch('', patch);
    return this.editVersion(name, version, (row) => {
      if (changes.memoryEstimateBytes === null) delete row.memoryEstimateBytes;
      else if (changes.memoryEstimateBytes !== undefined) row.memoryEstimateBytes = changes.memoryEstimateBytes;
      if (changes.contextLength === null) delete row.contextLength;
      else if (changes.contextLength !== undefined) row.contextLength = changes.contextLength;
      if (changes.hardware === null) delete row.hardware;
      else if (changes.hardware !== undefined) row.hardware = changes.hardware;
      return [];
    });
  }

  /** Marks a version deprecated (queries skip it unless `includeDeprecated`), or clears the mark. */
  async setDeprecated(name: string, version: string, deprecated: boolean, reason?: string): Promise<ModelVersion> {
    this.assertOpen();
    if (typeof deprecated !== 'boolean') throw invalidArgument('deprecated', 'a boolean', deprecated);
    if (reason !== undefined) nonEmptyString('reason', reason, 1024);
    return this.editVersion(name, version, (row) => {
      row.deprecated = deprecated;
      if (deprecated && reason !== undefined) row.deprecationReason = reason;
      else delete row.deprecationReason;
      return [];
    });
  }

  /**
   * Moves a version through its lifecycle (see {@link LEGAL_TRANSITIONS}); refuses an illegal move
   * with ILLEGAL_TRANSITION naming both states. The move is logged with its time and reason.
   */
  async transition(name: string, version: string, to: LifecycleState, options: TransitionOptions = {}): Promise<ModelVersion> {
    this.assertOpen();
    const target = input.lifecycleState('to', to);
    plainObject('options', options);
    const expected = options.from === undefined ? undefined : input.lifecycleState('options.from', options.from);
    const reason = options.reason === undefined ? '' : nonEmptyString('options.reason', options.reason, 1024);
    return this.editVersion(name, version, (row, entry) => {
      if (expected !== undefined && row.state !== expected) {
        throw new ModelpoolError(
          'ILLEGAL_TRANSITION',
          `Cannot move ${entry.model.id}@${row.version} from ${expected} to ${target}: it is ${row.state}`,
          { field: 'options.from', value: expected, details: { modelId: entry.model.id, version: row.version, from: row.state, to: target, expected } },
        );
      }
      assertTransition(entry.model.id, row.version, row.state, target);
      const transition: StoredTransition = { version: row.version, from: row.state, to: target, at: row.updatedAt, reason };
      row.state = target;
      row.transitionCount++;
      return [transition];
    });
  }

  /** Removes a version. Refused with IN_USE while it is loading, ready or draining, or is the default of a model with other versions. */
  async removeVersion(name: string, version: string): Promise<void> {
    this.assertOpen();
    return this.mutate(() => {
      const entry = this.requireEntry(name);
      const row = this.requireVersion(entry, version, 'version');
      if (IN_USE_STATES.has(row.state)) {
        throw new ModelpoolError('IN_USE', `Cannot remove ${entry.model.id}@${version}: it is ${row.state}; drain and retire it first`, {
          field: 'version',
          value: version,
          details: { state: row.state },
        });
      }
      const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: this.now() };
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

  /** Removes a model with all its versions and history. Refused with IN_USE while any version is loading, ready or draining. */
  async removeModel(name: string): Promise<void> {
    this.assertOpen();
    return this.mutate(() => {
      const entry = this.requireEntry(name);
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

  /**
   * Imports model files already on this machine (Ollama, LM Studio, Hugging Face cache,
   * node-llama-cpp, folders). Files already registered are reported as existing; files that are
   * not valid models are reported as skipped with the reason, never thrown.
   */
  async discover(options: DiscoveryOptions = {}): Promise<DiscoveryReport> {
    this.assertOpen();
    const tags = input.labels('options.tags', plainObject('options', options).tags ?? ['discovered']);
    const scan = await scanForModels(options);
    const report: DiscoveryReport = { registered: [], existing: [], skipped: [...scan.skipped], scanned: scan.scanned };
    await this.refresh();
    const known = new Map<string, ResolvedModel>();
    for (const entry of this.byId.values()) {
      for (const resolved of entry.resolved.values()) {
        if (isLocal(resolved.version.source)) known.set(await realpathOrSelf(resolved.version.source.path), resolved);
      }
    }
    for (const file of scan.found) {
      const real = await realpathOrSelf(file.path);
      const existing = known.get(real);
      if (existing !== undefined) {
        report.existing.push(existing);
        continue;
      }
      try {
        const source: ModelSource = { kind: 'gguf', path: file.path };
        const metadata = await this.inspectSource(source, 'source.path');
        const version: VersionInput = { version: file.version, source, metadata };
        const owner = file.alias === undefined ? undefined : this.byName.get(file.alias);
        let resolved: ResolvedModel;
        if (owner !== undefined) {
          const added = await this.registerVersion(owner.model.id, version);
          resolved = this.resolve(owner.model.id, added.version);
        } else {
          const id = this.uniqueId(file.id);
          const aliases = file.alias !== undefined && file.alias !== id && !this.byName.has(file.alias) ? [file.alias] : [];
          await this.registerModel({ id, aliases, tasks: guessTasks(metadata), tags, version });
          resolved = this.resolve(id);
        }
        report.registered.push(resolved);
        known.set(real, resolved);
      } catch (error) {
        report.skipped.push({ origin: file.origin, path: file.path, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return report;
  }

  // ---------------------------------------------------------------------------------------------
  // Performance history.

  /**
   * Records one measured request (memory only; flushed to the store in batches). Throws
   * MODEL_NOT_FOUND / VERSION_NOT_FOUND / INVALID_ARGUMENT for a bad sample.
   */
  recordSample(sample: PerformanceSample): void {
    this.assertOpen();
    if (typeof sample !== 'object' || sample === null) throw invalidArgument('sample', 'an object', sample);
    const entry = this.byName.get(sample.model);
    if (entry === undefined) {
      throw new ModelpoolError('MODEL_NOT_FOUND', `No model has the id or alias ${JSON.stringify(sample.model)}`, { field: 'sample.model', value: sample.model });
    }
    const version = sample.version ?? entry.model.defaultVersion;
    if (version === undefined || !entry.resolved.has(version)) {
      throw new ModelpoolError('VERSION_NOT_FOUND', `Model ${entry.model.id} has no version ${JSON.stringify(version)}`, { field: 'sample.version', value: version });
    }
    if (typeof sample.task !== 'string' || sample.task.length === 0 || sample.task.length > 64 || sample.task.includes('\n')) {
      throw invalidArgument('sample.task', 'a task name', sample.task);
    }
    finiteNumber('sample.totalMs', sample.totalMs, 0, Number.MAX_VALUE);
    if (typeof sample.success !== 'boolean') throw invalidArgument('sample.success', 'a boolean', sample.success);
    optionalNumber('sample.ttftMs', sample.ttftMs, 0, Number.MAX_VALUE);
    optionalNumber('sample.tokensPerSecond', sample.tokensPerSecond, 0, Number.MAX_VALUE);
    optionalNumber('sample.quality', sample.quality, 0, 1);
    optionalNumber('sample.memoryBytes', sample.memoryBytes, 0, Number.MAX_VALUE);
    optionalNumber('sample.costUsd', sample.costUsd, 0, Number.MAX_VALUE);
    const at = sample.at === undefined ? this.now() : finiteNumber('sample.at', sample.at, 0, Number.MAX_SAFE_INTEGER);
    if (this.history.record(entry.model.id, version, sample, at)) this.scheduleFlush();
  }

  /**
   * Aggregated history of a version for a task over a window, or undefined when there is none.
   * Includes the prior inherited from the previous version, marked as such.
   */
  performance(name: string, query: PerformanceQuery): PerformanceSummary | undefined {
    plainObject('query', query);
    const resolved = this.resolve(name, query.version);
    const window = query.window ?? 'all';
    const windowMs = input.windowLength('query.window', window);
    if (typeof query.task !== 'string') throw invalidArgument('query.task', 'a task name', query.task);
    return this.history.summary(resolved.model.id, resolved.version.version, query.task, window, windowMs, this.now());
  }

  /** Tasks with recorded history (or a prior) for a version. */
  performanceTasks(name: string, version?: string): Task[] {
    const resolved = this.resolve(name, version);
    return this.history.tasks(resolved.model.id, resolved.version.version);
  }

  /** Writes buffered samples to the store now. */
  async flush(): Promise<void> {
    this.assertOpen();
    await this.exclusive(() => this.flushLocked());
  }

  /** Loads changes other processes made to the store. Resolves true when something changed. */
  async refresh(): Promise<boolean> {
    this.assertOpen();
    return this.exclusive(() => this.sync());
  }

  /** Flushes samples, waits for pending writes and closes the store if the registry opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    clearInterval(this.flushTimer);
    flushBeforeExit.delete(this);
    this.closing = this.exclusive(async () => {
      try {
        await this.flushLocked();
      } finally {
        if (this.ownsStore) await this.store.close();
      }
    });
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals.

  private assertOpen(): void {
    if (this.closing !== undefined) throw new ModelpoolError('DISPOSED', 'The model registry is closed');
  }

  private beforeRead(): void {
    this.assertOpen();
    if (this.refreshIntervalMs > 0 && !this.refreshing) {
      const now = clock.now();
      if (now >= this.nextRefreshAt) {
        this.nextRefreshAt = now + this.refreshIntervalMs;
        this.refreshing = true;
        this.exclusive(() => (this.closing === undefined ? this.sync() : Promise.resolve(false)))
          .catch((error: Error) => this.emit('refreshFailed', error))
          .finally(() => {
            this.refreshing = false;
          });
      }
    }
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private loadOptions(): LoadOptions {
    return { transitionLimit: this.transitionLimit, bucketsSince: this.now() - this.history.options.retentionMs };
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushInBackground();
    });
  }

  private flushInBackground(): void {
    if (this.closing !== undefined) return;
    this.exclusive(() => this.flushLocked()).catch((error: Error) => this.emit('flushFailed', error));
  }

  private async flushLocked(): Promise<void> {
    const perfSeq = await this.history.flush(this.store, this.now());
    if (perfSeq !== undefined) this.advance({ modelSeq: 0, perfSeq });
  }

  /** Moves the cursor over our own write when nothing else came between. */
  private advance(result: WriteResult): void {
    if (result.modelSeq === this.cursor.models + 1) this.cursor = { ...this.cursor, models: result.modelSeq };
    if (result.perfSeq !== undefined && result.perfSeq === this.cursor.perf + 1) this.cursor = { ...this.cursor, perf: result.perfSeq };
  }

  private async sync(): Promise<boolean> {
    const changes = await this.store.changesSince(this.cursor, this.loadOptions());
    this.nextRefreshAt = clock.now() + this.refreshIntervalMs;
    if (changes === undefined) return false;
    if (changes.snapshot !== undefined) {
      this.applySnapshot(changes.snapshot, 'external');
    } else {
      for (const { id, document } of changes.models) {
        const current = this.byId.get(id);
        if (document === null ? current === undefined : current?.model.revision === document.model.revision) continue;
        this.applyDocument(id, document, 'external');
      }
      this.history.applyRows(changes.stats, changes.buckets);
    }
    this.cursor = changes.cursor;
    return true;
  }

  private applySnapshot(snapshot: StoreSnapshot, origin: ChangeOrigin): void {
    const ids = new Set(snapshot.models.map((doc) => doc.model.id));
    for (const id of [...this.byId.keys()]) if (!ids.has(id)) this.applyDocument(id, null, origin);
    for (const doc of snapshot.models) {
      if (this.byId.get(doc.model.id)?.model.revision !== doc.model.revision) this.applyDocument(doc.model.id, doc, origin);
    }
    this.history.reset();
    this.history.applyRows(snapshot.stats, snapshot.buckets);
    this.cursor = snapshot.cursor;
  }

  private async mutate<T>(plan: () => Plan<T>): Promise<T> {
    this.assertOpen();
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        await this.sync();
        const { write, result } = plan();
        let written: WriteResult;
        try {
          written = await this.store.writeModel(write);
        } catch (error) {
          // Another process changed the model between our sync and our write: plan again on fresh data.
          if (isModelpoolError(error, 'CONFLICT') && attempt < CONFLICT_RETRIES) continue;
          throw error;
        }
        this.advance(written);
        this.applyDocument(write.modelId, write.document, 'local');
        if (write.priors.length > 0) this.history.applyRows(write.priors, []);
        return result();
      }
    });
  }

  private documentPlan<T>(entry: Entry, document: ModelDocument, newTransitions: StoredTransition[], result: () => T): Plan<T> {
    return {
      write: { modelId: entry.model.id, expectedRevision: entry.model.revision, document, newTransitions, removedVersions: [], priors: [] },
      result,
    };
  }

  /** A write that changes one version row (and may log transitions). */
  private editVersion(name: string, version: string, edit: (row: VersionRow, entry: Entry) => StoredTransition[]): Promise<ModelVersion> {
    return this.mutate(() => {
      const entry = this.requireEntry(name);
      const current = this.requireVersion(entry, version, 'version');
      const now = this.now();
      const row: VersionRow = { ...current, updatedAt: now };
      const transitions = edit(row, entry);
      const model: ModelRow = { ...entry.doc.model, revision: entry.model.revision + 1, updatedAt: now };
      const document: ModelDocument = {
        model,
        versions: entry.doc.versions.map((item) => (item.version === version ? row : item)),
        transitions: transitions.length === 0 ? entry.doc.transitions : lastTransitions([...entry.doc.transitions, ...transitions], this.transitionLimit),
      };
      return this.documentPlan(entry, document, transitions, () => this.byId.get(model.id)!.resolved.get(version)!.version);
    });
  }

  private requireEntry(name: string): Entry {
    const entry = this.byName.get(name);
    if (entry === undefined) {
      if (typeof name !== 'string') throw invalidArgument('name', 'a model id or alias', name);
      throw new ModelpoolError('MODEL_NOT_FOUND', `No model has the id or alias ${JSON.stringify(name)}`, { field: 'name', value: name });
    }
    return entry;
  }

  private requireVersion(entry: Entry, version: string, field: string): VersionRow {
    const row = entry.doc.versions.find((item) => item.version === version);
    if (row === undefined) {
      if (typeof version !== 'string') throw invalidArgument(field, 'a version name', version);
      throw new ModelpoolError('VERSION_NOT_FOUND', `Model ${entry.model.id} has no version ${JSON.stringify(version)}`, { field, value: version });
    }
    return row;
  }

  /** Ids and aliases share one namespace. `id` is checked too when given (a new model). */
  private assertNamesFree(owner: string, id: string | undefined, aliases: readonly string[]): void {
    if (id !== undefined) {
      const holder = this.byName.get(id);
      if (holder !== undefined) throw new ModelpoolError('ALREADY_EXISTS', `The name ${JSON.stringify(id)} is already used by model ${holder.model.id}`, { field: 'id', value: id });
    }
    aliases.forEach((alias, index) => {
      if (alias === owner) throw invalidArgument(`aliases[${index}]`, 'an alias different from the model id', alias);
      const holder = this.byName.get(alias);
      if (holder !== undefined && holder.model.id !== owner) {
        throw new ModelpoolError('ALREADY_EXISTS', `The name ${JSON.stringify(alias)} is already used by model ${holder.model.id}`, { field: `aliases[${index}]`, value: alias });
      }
    });
  }

  private uniqueId(base: string): string {
    if (!this.byName.has(base)) return base;
    for (let suffix = 2; ; suffix++) {
      const id = `${base.slice(0, 120)}-${suffix}`;
      if (!this.byName.has(id)) return id;
    }
  }

  private newVersionRow(version: VersionInput, ordinal: number, now: number): VersionRow {
    const row: VersionRow = { version: version.version, ordinal, source: version.source, state: 'registered', deprecated: false, transitionCount: 0, createdAt: now, updatedAt: now };
    if (version.metadata !== undefined) row.metadata = version.metadata;
    if (version.memoryEstimateBytes !== undefined) row.memoryEstimateBytes = version.memoryEstimateBytes;
    if (version.contextLength !== undefined) row.contextLength = version.contextLength;
    if (version.hardware !== undefined) row.hardware = version.hardware;
    return row;
  }

  /** Makes a local path absolute and reads the file's metadata (unless given). */
  private async prepareVersion(version: VersionInput, field: string): Promise<VersionInput> {
    if (!isLocal(version.source)) return version;
    const source = { ...version.source, path: resolvePath(version.source.path) };
    const metadata = version.metadata ?? (await this.inspectSource(source, `${field}source.path`));
    return { ...version, source, metadata };
  }

  private async inspectSource(source: Extract<ModelSource, { path: string }>, field: string): Promise<LocalModelMetadata> {
    const path = source.path;
    let isFile: boolean;
    try {
      isFile = (await stat(path)).isFile();
    } catch (error) {
      const failure = invalidArgument(field, `an existing ${source.kind} file`, path);
      failure.message += ` (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`;
      throw failure;
    }
    if (!isFile) throw invalidArgument(field, `a ${source.kind} file, not a folder`, path);
    try {
      return await this.inspectors[source.kind](path);
    } catch (error) {
      const code = isModelpoolError(error) && error.code !== 'INVALID_ARGUMENT' ? error.code : source.kind === 'gguf' ? 'INVALID_GGUF' : 'INVALID_ARGUMENT';
      const reason = error instanceof Error ? error.message : String(error);
      throw new ModelpoolError(code, `${field} ${path} is not a readable ${source.kind} model: ${reason}`, { field, value: path, cause: error });
    }
  }

  private index(entry: Entry): void {
    this.byId.set(entry.model.id, entry);
    this.byName.set(entry.model.id, entry);
    for (const alias of entry.model.aliases) this.byName.set(alias, entry);
    entry.slots = [...entry.resolved.values()].map((resolved) => this.queryIndex.add(resolved, entry.labels));
  }

  private unindex(entry: Entry): void {
    this.byId.delete(entry.model.id);
    for (const name of [entry.model.id, ...entry.model.aliases]) if (this.byName.get(name) === entry) this.byName.delete(name);
    for (const slot of entry.slots) this.queryIndex.remove(slot, entry.labels);
  }

  /** Replaces a model in memory with its committed document and tells listeners what changed. */
  private applyDocument(id: string, document: ModelDocument | null, origin: ChangeOrigin): void {
    const old = this.byId.get(id);
    if (old !== undefined) this.unindex(old);
    const entry = document === null ? undefined : buildEntry(document);
    if (entry !== undefined) this.index(entry);

    if (old !== undefined && entry === undefined) {
      this.history.drop(id);
      this.emit('removed', { origin, modelId: id });
      return;
    }
    if (entry === undefined) return;
    if (old === undefined) {
      this.emit('registered', { origin, model: entry.model });
      for (const version of entry.model.versions) this.emit('registered', { origin, model: entry.model, version });
      return;
    }
    for (const version of old.model.versions) {
      if (!entry.resolved.has(version.version)) {
        this.history.drop(id, version.version);
        this.emit('removed', { origin, modelId: id, version: version.version });
      }
    }
    for (const version of entry.model.versions) {
      const before = old.resolved.get(version.version)?.version;
      if (before === undefined) {
        this.emit('registered', { origin, model: entry.model, version });
      } else if (version.transitionCount > before.transitionCount) {
        const fresh = version.transitions.slice(-(version.transitionCount - before.transitionCount));
        for (const transition of fresh) this.emit('transition', { origin, modelId: id, version: version.version, ...transition });
      }
    }
    if (descriptiveState(old.doc) !== descriptiveState(entry.doc)) this.emit('updated', { origin, model: entry.model });
  }
}
