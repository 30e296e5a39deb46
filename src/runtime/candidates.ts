/**
 * The candidates of a selection: every serving version of every registered model that does the task,
 * with what the registry knows of it (memory, context, size, quantisation, its predecessor) and what
 * the performance history measured (quality, latency, cost), plus whether the pool has it loaded.
 * Building them reads the registry and its history, so lists are cached per task (rebuilt in the background once older than `ttlMs`) and
 * dropped when the registry changes a model or the pool loads or unloads one.
 */
import type { ModelPool } from '../pool/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { ModelVersion, RegisteredModel, ResolvedModel } from '../registry/types.js';
import type { Candidate, CandidateStats } from '../select/index.js';
import type { PerformanceSummary, PerformanceWindow } from '../telemetry/types.js';

/** The pool's id of a registered version: the model id for its default version, `id@version` otherwise. */
export function poolId(model: RegisteredModel, version: string): string {
  return model.defaultVersion === version ? model.id : `${model.id}@${version}`;
}


function statsOf(summary: PerformanceSummary | undefined): CandidateStats | undefined {
  if (summary === undefined || (summary.samples === 0 && summary.prior === undefined)) return undefined;
  const stats: CandidateStats = { samples: summary.samples };
  if (summary.successRate !== undefined) stats.successRate = summary.successRate;
  if (summary.quality !== undefined) {
    stats.quality = summary.quality;
    stats.qualityWeight = Math.max(1, summary.decayed.weight);
  }
  if (summary.totalMs !== undefined) {
    stats.p95LatencyMs = summary.totalMs.p95;
    stats.meanLatencyMs = summary.totalMs.mean;
  }
  if (summary.ttftMs !== undefined) stats.ttftMs = summary.ttftMs.p50;
  if (summary.tokensPerSecond !== undefined) stats.tokensPerSecond = summary.tokensPerSecond.mean;
  if (summary.costUsd !== undefined) stats.costUsd = summary.costUsd.mean;
  if (summary.memoryBytes !== undefined) stats.memoryBytes = summary.memoryBytes;
  return stats;
}

export interface CandidateEntry {
  candidate: Candidate;
  /** The id to acquire from the pool. */
  poolId: string;
  resolved: ResolvedModel;
}

/** A task's candidates, and the same as the selector takes them. */
export interface CandidateList {
  at: number;
  entries: CandidateEntry[];
  candidates: Candidate[];
}

export interface CandidateSourceOptions {
  /** History window the candidates' figures come from. Default '24h'. */
  window?: PerformanceWindow;
  /** How long a task's list is reused before it is rebuilt in the background (0: every call reads the history). Default 2000 ms. */
  ttlMs?: number;
}

export class CandidateSource {
  readonly #registry: ModelRegistry;
  readonly #pool: ModelPool;
  readonly #window: PerformanceWindow;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, CandidateList>();
  readonly #byKey = new Map<string, CandidateEntry>();
  #loaded = new Set<string>();
  readonly #off: Array<() => void> = [];
  readonly #rebuilding = new Set<string>();
  #closed = false;

  constructor(registry: ModelRegistry, pool: ModelPool, options: CandidateSourceOptions = {}) {
    this.#registry = registry;
    this.#pool = pool;
    this.#window = options.window ?? '24h';
    this.#ttlMs = options.ttlMs ?? 2000;
    const invalidate = () => this.invalidate();
    for (const event of ['registered', 'updated', 'transition', 'removed'] as const) {
      registry.on(event, invalidate);
      this.#off.push(() => registry.off(event, invalidate));
    }
    // Specific events only: a '*' listener would make the pool build every per-request event.
    for (const event of ['ready', 'unload', 'swap'] as const) this.#off.push(pool.on(event, invalidate));
  }

  invalidate(): void {
    this.#cache.clear();
  }

  /**
   * Candidates for a task (cached). A list older than the TTL is still returned, and rebuilt just after
   * (the next turn of the event loop): a request never waits for the history to be read again. After a
   * change of the registry or of what the pool holds, the next call builds the list first.
   */
  forTask(task: string, now = performance.now()): CandidateList {
    const cached = this.#cache.get(task);
    if (cached === undefined || this.#ttlMs === 0) return this.#build(task, now);
    if (now - cached.at >= this.#ttlMs) this.#rebuildSoon(task);
    return cached;
  }

  #rebuildSoon(task: string): void {
    if (this.#rebuilding.has(task)) return;
    this.#rebuilding.add(task);
    setImmediate(() => {
      this.#rebuilding.delete(task);
      // Invalidated meanwhile (the next call builds it) or closed: nothing to do.
      if (this.#closed || !this.#cache.has(task)) return;
      try {
        this.#build(task, performance.now());
      } catch {
        // The registry closed: the next call reports it.
        this.#cache.delete(task);
      }
    });
  }

  #build(task: string, now: number): CandidateList {
    this.#loaded = new Set(this.#pool.status().models.filter((m) => m.state === 'ready').map((m) => m.id));
    const entries = this.#registry.find({ task, versions: 'all' }).map((resolved) => this.#entry(resolved, task));
    const list: CandidateList = { at: now, entries, candidates: entries.map((entry) => entry.candidate) };
    this.#cache.set(task, list);
    for (const entry of entries) this.#byKey.set(`${entry.candidate.modelId}\u0000${entry.candidate.version}`, entry);
    return list;
  }

  /** The entry of a version picked by the selector. */
  entry(modelId: string, version: string): CandidateEntry | undefined {
    return this.#byKey.get(`${modelId}\u0000${version}`);
  }

  close(): void {
    this.#closed = true;
    for (const off of this.#off.splice(0)) off();
  }

  #entry(resolved: ResolvedModel, task: string): CandidateEntry {
    const { model, version } = resolved;
    const id = poolId(model, version.version);
    const candidate: Candidate = {
      modelId: model.id,
      version: version.version,
      tasks: model.tasks,
      tags: model.tags,
      local: version.local,
      loaded: this.#loaded.has(id),
    };
    if (version.contextLength !== undefined) candidate.contextLength = version.contextLength;
    if (version.memoryBytes !== undefined) candidate.memoryBytes = version.memoryBytes;
    const metadata = version.metadata;
    if (metadata?.parameterCount !== undefined) candidate.parameterCount = metadata.parameterCount;
    if (metadata?.quantization !== undefined) candidate.quantization = metadata.quantization;
    const predecessor = predecessorOf(model, version);
    if (predecessor !== undefined) candidate.predecessor = predecessor;
    const stats = statsOf(this.#registry.performance(model.id, { version: version.version, task, window: this.#window }));
    if (stats !== undefined) candidate.stats = stats;
    return { candidate, poolId: id, resolved };
  }
}

function predecessorOf(model: RegisteredModel, version: ModelVersion): string | undefined {
  let best: ModelVersion | undefined;
  for (const v of model.versions) if (v.ordinal < version.ordinal && (best === undefined || v.ordinal > best.ordinal)) best = v;
  return best?.version;
}
