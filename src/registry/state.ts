import type { EventEmitter } from 'node:events';
import { performance as clock } from 'node:perf_hooks';
import { invalidArgument, isModelpoolError, ModelpoolError } from '../errors.js';
import type { PerformanceHistory } from '../telemetry/index.js';
import { buildEntry, descriptiveState, type Entry } from './entry.js';
import type { SourceInspectors } from './inspectors.js';
import { QueryIndex } from './query-index.js';
import type { LoadOptions, ModelDocument, ModelWrite, RegistryStore, StoreCursor, StoreSnapshot, VersionRow, WriteResult } from './store/store.js';
import type { ChangeOrigin, RegistryEvents, ResolvedModel } from './types.js';

/**
 * The state a {@link ModelRegistry} is assembled around, and the internals that keep it in step
 * with the store: the in-memory view (entries by id and by name, the query index, performance
 * history), the queue that serialises store work, sync from the store, the write loop, and the
 * flushes of performance samples. The facade (registry.ts), the catalog writes (writes.ts) and the
 * discovery import (discovery/import.ts) all work on one instance.
 */

/** The registry's options with their defaults applied. */
export interface RegistrySettings {
  store: RegistryStore;
  /** The registry opened the store, so it closes it. */
  ownsStore: boolean;
  inspectors: SourceInspectors;
  refreshIntervalMs: number;
  transitionLimit: number;
  now: () => number;
  history: PerformanceHistory;
}

/** A planned write and how to read its result once it is applied. */
export interface Plan<T> {
  write: ModelWrite;
  result: () => T;
}

const CONFLICT_RETRIES = 3;

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

export class RegistryState {
  readonly store: RegistryStore;
  readonly ownsStore: boolean;
  readonly inspectors: SourceInspectors;
  readonly refreshIntervalMs: number;
  readonly transitionLimit: number;
  readonly now: () => number;
  readonly history: PerformanceHistory;

  readonly byId = new Map<string, Entry>();
  /** Ids and aliases. */
  readonly byName = new Map<string, Entry>();
  readonly queryIndex = new QueryIndex();
  private cursor: StoreCursor = { models: 0, perf: 0 };

  private queue: Promise<unknown> = Promise.resolve();
  private nextRefreshAt = 0;
  private refreshing = false;
  private flushScheduled = false;
  private readonly flushTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  constructor(
    settings: RegistrySettings,
    private readonly events: Pick<EventEmitter<RegistryEvents>, 'emit'>,
  ) {
    this.store = settings.store;
    this.ownsStore = settings.ownsStore;
    this.inspectors = settings.inspectors;
    this.refreshIntervalMs = settings.refreshIntervalMs;
    this.transitionLimit = settings.transitionLimit;
    this.now = settings.now;
    this.history = settings.history;
    const flushPending = (): void => {
      if (this.history.pending > 0) this.flushInBackground();
    };
    this.flushTimer = setInterval(flushPending, this.history.options.flushIntervalMs);
    this.flushTimer.unref();
    flushBeforeExit.set(this, flushPending);
    installExitFlush();
  }

  /** Loads everything from the store; on failure stops the timers and closes a store the registry opened. */
  async open(): Promise<void> {
    try {
      await this.exclusive(async () => this.applySnapshot(await this.store.load(this.loadOptions()), 'external'));
    } catch (error) {
      // A registry that failed to open is never handed out: nothing may keep it alive.
      clearInterval(this.flushTimer);
      flushBeforeExit.delete(this);
      if (this.ownsStore) await this.store.close();
      throw error;
    }
  }

  assertOpen(): void {
    if (this.closing !== undefined) throw new ModelpoolError('DISPOSED', 'The model registry is closed');
  }

  /** Every read goes through here: refuses when closed, and starts a background refresh when one is due. */
  beforeRead(): void {
    this.assertOpen();
    if (this.refreshIntervalMs > 0 && !this.refreshing) {
      const now = clock.now();
      if (now >= this.nextRefreshAt) {
        this.nextRefreshAt = now + this.refreshIntervalMs;
        this.refreshing = true;
        this.exclusive(() => (this.closing === undefined ? this.sync() : Promise.resolve(false)))
          .catch((error: Error) => this.events.emit('refreshFailed', error))
          .finally(() => {
            this.refreshing = false;
          });
      }
    }
  }

  /** Runs store work one task at a time, in call order. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------------------------------------
  // Lookups shared by reads and writes.

  requireEntry(name: string): Entry {
    const entry = this.byName.get(name);
    if (entry === undefined) {
      if (typeof name !== 'string') throw invalidArgument('name', 'a model id or alias', name);
      throw new ModelpoolError('MODEL_NOT_FOUND', `No model has the id or alias ${JSON.stringify(name)}`, { field: 'name', value: name });
    }
    return entry;
  }

  requireVersion(entry: Entry, version: string, field: string): VersionRow {
    const row = entry.doc.versions.find((item) => item.version === version);
    if (row === undefined) {
      if (typeof version !== 'string') throw invalidArgument(field, 'a version name', version);
      throw new ModelpoolError('VERSION_NOT_FOUND', `Model ${entry.model.id} has no version ${JSON.stringify(version)}`, { field, value: version });
    }
    return row;
  }

  /** The model with this id or alias and one of its versions (default: its default version). */
  resolve(name: string, version?: string): ResolvedModel {
    const entry = this.requireEntry(name);
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

  // ---------------------------------------------------------------------------------------------
  // Writes: serialised, store first, memory after the commit.

  /**
   * Plans a write on fresh data and commits it; a write refused as stale (another process changed
   * the model since) is planned again, up to {@link CONFLICT_RETRIES} times.
   */
  async mutate<T>(plan: () => Plan<T>): Promise<T> {
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

  // ---------------------------------------------------------------------------------------------
  // Flushes, refresh and close.

  /** Flushes soon (on the next turn of the event loop) after enough samples were recorded. */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushInBackground();
    });
  }

  private flushInBackground(): void {
    if (this.closing !== undefined) return;
    this.exclusive(() => this.flushLocked()).catch((error: Error) => this.events.emit('flushFailed', error));
  }

  async flush(): Promise<void> {
    this.assertOpen();
    await this.exclusive(() => this.flushLocked());
  }

  async refresh(): Promise<boolean> {
    this.assertOpen();
    return this.exclusive(() => this.sync());
  }

  /** Flushes samples, waits for pending writes and closes the store if the registry opened it. Idempotent. */
  close(): Promise<void> {
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

  private async flushLocked(): Promise<void> {
    const perfSeq = await this.history.flush(this.store, this.now());
    if (perfSeq !== undefined) this.advance({ modelSeq: 0, perfSeq });
  }

  // ---------------------------------------------------------------------------------------------
  // Sync: the store's changes into memory.

  private loadOptions(): LoadOptions {
    return { transitionLimit: this.transitionLimit, bucketsSince: this.now() - this.history.options.retentionMs };
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
      this.events.emit('removed', { origin, modelId: id });
      return;
    }
    if (entry === undefined) return;
    if (old === undefined) {
      this.events.emit('registered', { origin, model: entry.model });
      for (const version of entry.model.versions) this.events.emit('registered', { origin, model: entry.model, version });
      return;
    }
    for (const version of old.model.versions) {
      if (!entry.resolved.has(version.version)) {
        this.history.drop(id, version.version);
        this.events.emit('removed', { origin, modelId: id, version: version.version });
      }
    }
    for (const version of entry.model.versions) {
      const before = old.resolved.get(version.version)?.version;
      if (before === undefined) {
        this.events.emit('registered', { origin, model: entry.model, version });
      } else if (version.transitionCount > before.transitionCount) {
        const fresh = version.transitions.slice(-(version.transitionCount - before.transitionCount));
        for (const transition of fresh) this.events.emit('transition', { origin, modelId: id, version: version.version, ...transition });
      }
    }
    if (descriptiveState(old.doc) !== descriptiveState(entry.doc)) this.events.emit('updated', { origin, model: entry.model });
  }
}
