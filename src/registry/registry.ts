import { EventEmitter } from 'node:events';
import { resolve as resolvePath } from 'node:path';
import { invalidArgument, ModelpoolError } from '../errors.js';
import { PerformanceHistory, queryTenant, resolveHistoryOptions, checkSample, type HistoryOptions } from '../telemetry/index.js';
import { nonEmptyString, plainObject } from '../validate.js';
import { importDiscovered, type DiscoveryReport } from './discovery/import.js';
import type { DiscoveryOptions } from './discovery/scan.js';
import * as input from './input.js';
import { defaultInspectors, type SourceInspector } from './inspectors.js';
import { KIND_CODES, STATE_CODES, tagLabel, taskLabel } from './query-index.js';
import { RegistryState } from './state.js';
import { MemoryRegistryStore } from './store/memory.js';
import { SqliteRegistryStore, type SqliteStoreOptions } from './store/sqlite.js';
import type { RegistryStore } from './store/store.js';
import type {
  LifecycleState,
  LocalSourceKind,
  ModelInput,
  ModelPatch,
  ModelQuery,
  ModelVersion,
  PerformanceSample,
  PerformanceSummary,
  PerformanceWindow,
  RegisteredModel,
  RegistryEvents,
  ResolvedModel,
  Task,
  TransitionOptions,
  VersionInput,
  VersionPatch,
} from './types.js';
import * as writes from './writes.js';

export type { DiscoveryReport } from './discovery/import.js';

export interface RegistryOptions {
  /** Where models and history are kept. Default: a SQLite file at `path`, else an in-memory store. */
  store?: RegistryStore;
  /** SQLite file to open when no `store` is given. */
  path?: string;
  sqlite?: SqliteStoreOptions;
  /** Readers of local model files by source kind. Default: GGUF, the pure TypeScript header reader (`inspect`); ONNX: file size only. */
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
  /** The caller whose requests to summarise; default '' (all callers). */
  tenant?: string;
}

const SERVING_STATES: readonly LifecycleState[] = ['registered', 'loading', 'ready', 'draining'];

/**
 * The model registry: what models exist, their versions and lifecycle, and how each performed.
 *
 * Reads (`get`, `resolve`, `find`, `performance`) are served from memory and never wait on the
 * store. Writes are serialised, committed to the store first and applied to memory only after
 * the commit, so a failed write leaves both as they were. Registries in other processes on the
 * same store see each other's writes through `refresh()` (run in the background by reads every
 * `refreshIntervalMs`); a write based on a stale view is re-planned on fresh data, never applied
 * over another process's change.
 *
 * A facade assembled from small files: reads and performance queries are here, catalog writes in
 * writes.ts, the discovery import in discovery/import.ts, and the shared state with its store sync,
 * write loop and flushes in state.ts.
 */
export class ModelRegistry extends EventEmitter<RegistryEvents> {
  readonly store: RegistryStore;
  /** Everything the registry knows and the internals that keep it in step with the store (state.ts). */
  private readonly state: RegistryState;

  private constructor(store: RegistryStore, ownsStore: boolean, options: RegistryOptions) {
    super();
    this.store = store;
    this.state = new RegistryState(
      {
        store,
        ownsStore,
        inspectors: { ...defaultInspectors(), ...options.inspectors },
        refreshIntervalMs: options.refreshIntervalMs ?? 1000,
        transitionLimit: options.transitionHistoryLimit ?? 20,
        now: options.now ?? Date.now,
        history: new PerformanceHistory(resolveHistoryOptions(options.history)),
      },
      this,
    );
  }

  /** Opens a registry over `options.store` (or a SQLite file at `options.path`, or memory) and loads it. */
  static async open(options: RegistryOptions = {}): Promise<ModelRegistry> {
    input.registryOptions('options', options);
    const store = options.store ?? (options.path !== undefined ? new SqliteRegistryStore(options.path, options.sqlite) : new MemoryRegistryStore());
    const registry = new ModelRegistry(store, options.store === undefined, options);
    await registry.state.open();
    return registry;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads: from memory.

  /** Number of models. */
  get size(): number {
    this.state.beforeRead();
    return this.state.byId.size;
  }

  /** The model with this id or alias. */
  get(name: string): RegisteredModel | undefined {
    this.state.beforeRead();
    return this.state.byName.get(name)?.model;
  }

  has(name: string): boolean {
    this.state.beforeRead();
    return this.state.byName.has(name);
  }

  /**
   * The model with this id or alias and one of its versions (default: its default version).
   * Throws MODEL_NOT_FOUND or VERSION_NOT_FOUND.
   */
  resolve(name: string, version?: string): ResolvedModel {
    this.state.beforeRead();
    return this.state.resolve(name, version);
  }

  /** Every model, in no particular order. */
  list(): RegisteredModel[] {
    this.state.beforeRead();
    return [...this.state.byId.values()].map((entry) => entry.model);
  }

  /**
   * Versions matching every condition of `query` (see {@link ModelQuery} for the defaults), in no
   * particular order. Served from a columnar in-memory index.
   */
  find(query: ModelQuery = {}): ResolvedModel[] {
    this.state.beforeRead();
    const q = input.query('query', query);
    const labels = [...(q.task === undefined ? [] : [q.task]), ...(q.tasks ?? [])].map(taskLabel);
    for (const tag of q.tags ?? []) labels.push(tagLabel(tag));
    let stateMask = 0;
    for (const state of q.states ?? SERVING_STATES) stateMask |= 1 << STATE_CODES[state];
    let kindMask = 0;
    for (const kind of q.sourceKinds ?? []) kindMask |= 1 << KIND_CODES[kind];
    return this.state.queryIndex.find({
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
    this.state.beforeRead();
    const absolute = resolvePath(nonEmptyString('path', path));
    for (const entry of this.state.byId.values()) {
      for (const resolved of entry.resolved.values()) {
        if (input.isLocalSource(resolved.version.source) && resolved.version.source.path === absolute) return resolved;
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes: serialised, store first, memory after the commit (writes.ts).

  /** Registers a new model, with its first version when `input.version` is given. */
  registerModel(modelInput: ModelInput): Promise<RegisteredModel> {
    return writes.registerModel(this.state, modelInput);
  }

  /**
   * Adds a version to a model. Local files are inspected first (a missing file or a bad GGUF is an
   * error naming `source.path`). The new version's performance history starts from the previous
   * version's as a prior of reduced weight.
   */
  registerVersion(name: string, versionInput: VersionInput): Promise<ModelVersion> {
    return writes.registerVersion(this.state, name, versionInput);
  }

  /** Changes aliases, tasks, tags, description or the default version. */
  updateModel(name: string, patch: ModelPatch): Promise<RegisteredModel> {
    return writes.updateModel(this.state, name, patch);
  }

  /** Makes `version` the one that `resolve(name)` returns. */
  async setDefaultVersion(name: string, version: string): Promise<RegisteredModel> {
    return this.updateModel(name, { defaultVersion: input.versionName('version', version) });
  }

  /** Changes a version's memory estimate, context length or hardware needs (e.g. after measuring a load). */
  updateVersion(name: string, version: string, patch: VersionPatch): Promise<ModelVersion> {
    return writes.updateVersion(this.state, name, version, patch);
  }

  /** Marks a version deprecated (queries skip it unless `includeDeprecated`), or clears the mark. */
  setDeprecated(name: string, version: string, deprecated: boolean, reason?: string): Promise<ModelVersion> {
    return writes.setDeprecated(this.state, name, version, deprecated, reason);
  }

  /**
   * Moves a version through its lifecycle (see {@link LEGAL_TRANSITIONS}); refuses an illegal move
   * with ILLEGAL_TRANSITION naming both states. The move is logged with its time and reason.
   */
  transition(name: string, version: string, to: LifecycleState, options?: TransitionOptions): Promise<ModelVersion> {
    return writes.transition(this.state, name, version, to, options);
  }

  /** Removes a version. Refused with IN_USE while it is loading, ready or draining, or is the default of a model with other versions. */
  removeVersion(name: string, version: string): Promise<void> {
    return writes.removeVersion(this.state, name, version);
  }

  /** Removes a model with all its versions and history. Refused with IN_USE while any version is loading, ready or draining. */
  removeModel(name: string): Promise<void> {
    return writes.removeModel(this.state, name);
  }

  /**
   * Imports model files already on this machine (Ollama, LM Studio, Hugging Face cache,
   * node-llama-cpp, folders). Files already registered are reported as existing; files that are
   * not valid models are reported as skipped with the reason, never thrown.
   */
  discover(options: DiscoveryOptions = {}): Promise<DiscoveryReport> {
    return importDiscovered(this.state, options);
  }

  // ---------------------------------------------------------------------------------------------
  // Performance history.

  /**
   * Records one measured request (memory only; flushed to the store in batches), for all callers
   * and, when `sample.tenant` is set, for that tenant. Throws MODEL_NOT_FOUND / VERSION_NOT_FOUND /
   * INVALID_ARGUMENT for a bad sample.
   */
  recordSample(sample: PerformanceSample): void {
    this.state.assertOpen();
    if (typeof sample !== 'object' || sample === null) throw invalidArgument('sample', 'an object', sample);
    const entry = this.state.byName.get(sample.model);
    if (entry === undefined) {
      throw new ModelpoolError('MODEL_NOT_FOUND', `No model has the id or alias ${JSON.stringify(sample.model)}`, { field: 'sample.model', value: sample.model });
    }
    const version = sample.version ?? entry.model.defaultVersion;
    if (version === undefined || !entry.resolved.has(version)) {
      throw new ModelpoolError('VERSION_NOT_FOUND', `Model ${entry.model.id} has no version ${JSON.stringify(version)}`, { field: 'sample.version', value: version });
    }
    const at = checkSample(sample).at ?? this.state.now();
    if (this.state.history.record(entry.model.id, version, sample, at)) this.state.scheduleFlush();
  }

  /**
   * @internal recordSample() of a sample known to be valid — the front door's, of figures it measured
   * (finite, ≥ 0, a task and tenant it checked) — timed now: the sample's fields are not checked again.
   * Throws MODEL_NOT_FOUND / VERSION_NOT_FOUND when the version is gone.
   */
  recordMeasured(sample: PerformanceSample & { version: string }): void {
    this.state.assertOpen();
    const entry = this.state.byName.get(sample.model);
    if (entry === undefined || !entry.resolved.has(sample.version)) {
      // The general path names what is missing.
      this.recordSample(sample);
      return;
    }
    if (this.state.history.record(entry.model.id, sample.version, sample, this.state.now())) this.state.scheduleFlush();
  }

  /**
   * Aggregated history of a version for a task over a window (of one tenant's requests, or all
   * callers'), or undefined when there is none. Includes the prior inherited from the previous
   * version, marked as such.
   */
  performance(name: string, query: PerformanceQuery): PerformanceSummary | undefined {
    plainObject('query', query);
    const resolved = this.resolve(name, query.version);
    const { task, window, windowMs } = input.performanceWindow(query);
    const tenant = queryTenant('query.tenant', query.tenant);
    return this.state.history.summary(resolved.model.id, resolved.version.version, task, tenant, window, windowMs, this.state.now());
  }

  /** Tasks with recorded history (or a prior) for a version. */
  performanceTasks(name: string, version?: string): Task[] {
    const resolved = this.resolve(name, version);
    return this.state.history.tasks(resolved.model.id, resolved.version.version);
  }

  /** Tenants with recorded history (or a prior) for a version, any task, sorted ('' is not listed). */
  performanceTenants(name: string, version?: string): string[] {
    const resolved = this.resolve(name, version);
    return this.state.history.tenants(resolved.model.id, resolved.version.version);
  }

  /** Writes buffered samples to the store now. */
  async flush(): Promise<void> {
    await this.state.flush();
  }

  /** Loads changes other processes made to the store. Resolves true when something changed. */
  async refresh(): Promise<boolean> {
    return this.state.refresh();
  }

  /** Flushes samples, waits for pending writes and closes the store if the registry opened it. Idempotent. */
  async close(): Promise<void> {
    return this.state.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
