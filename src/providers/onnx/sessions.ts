/**
 * A pool of sessions of one model: `size` session workers, and the runs waiting for one, served in
 * arrival order. What may run at once follows the model's thread budget (see execution.ts): a session
 * starts while the intra-op threads of those running, its own added, stay within the budget — one
 * always may run. ONNX Runtime fixes a session's threads when it is created, so sessions are rebuilt
 * (closed, then created again with their share of the budget, one at a time, when free) when the budget
 * falls below a session's threads — at once: one such session alone would run more threads than the
 * budget — and when a larger share has lasted `rebuildDelayMs`. Only sessions on the CPU execution
 * provider are rebuilt; memory stays that of `size` sessions.
 */
import { ModelpoolError } from '../../errors.js';
import { SessionWorker, type OnnxExecutionProvider, type OnnxTensorData, type SessionConfig, type SessionDescription } from './execution.js';

export interface SessionPoolConfig extends Omit<SessionConfig, 'threads'> {
  /** Sessions (each a worker thread with its own copy of the weights). */
  sessions: number;
  /** The model's CPU thread budget, shared by its sessions. */
  threads: number;
  /** How long a budget giving each session more threads must last before they are rebuilt with them (ms; negative: never). Default 10 000. */
  rebuildDelayMs?: number;
}

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: SessionWorker;
  /** The threads counted for its run in flight. */
  charged: number;
}

const DEFAULT_REBUILD_DELAY_MS = 10_000;

export class SessionPool {
  readonly #config: SessionPoolConfig;
  readonly #slots: Slot[];
  readonly #free: Slot[];
  readonly #waiting: Waiter[] = [];
  #budget: number;
  #running = 0;
  /** Intra-op threads of the runs in flight. */
  #runningThreads = 0;
  #closed = false;
  readonly #idle: Array<() => void> = [];
  /** The rebuild under way, and a wait of it for a free slot that needs rebuilding. */
  #rebuilding: Promise<void> | undefined;
  #claim: ((slot: Slot | undefined) => void) | undefined;
  /** A larger share is due: set when it has lasted rebuildDelayMs. */
  #growDue = false;
  #growTimer: NodeJS.Timeout | undefined;
  /** Sessions rebuilt so far, and the last rebuild's failure. */
  #rebuilt = 0;
  #rebuildError: unknown;
  /** The first session's graph and providers (the others run on the same providers). */
  readonly description: SessionDescription;

  private constructor(config: SessionPoolConfig, workers: SessionWorker[]) {
    this.#config = config;
    this.#slots = workers.map((worker) => ({ worker, charged: 0 }));
    this.#free = [...this.#slots];
    this.#budget = config.threads;
    this.description = workers[0]!.description;
  }

  /** Intra-op threads for each of `sessions` sessions sharing `threads`. */
  static threadsPerSession(threads: number, sessions: number): number {
    return Math.max(1, Math.floor(threads / sessions));
  }

  /**
   * Starts the sessions: the first tries each execution provider list in turn; the others use the
   * providers it ended on, so that all run alike. Any failure closes those started and is thrown.
   */
  static async create(config: SessionPoolConfig, signal?: AbortSignal): Promise<SessionPool> {
    const threads = SessionPool.threadsPerSession(config.threads, config.sessions);
    const first = await SessionWorker.start({ ...config, threads }, signal);
    const attempts: OnnxExecutionProvider[][] = [first.description.providers];
    const rest = await Promise.allSettled(Array.from({ length: config.sessions - 1 }, () => SessionWorker.start({ ...config, attempts, threads }, signal)));
    const started = [first, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(started.map((w) => w.close()));
      throw failed.reason;
    }
    return new SessionPool({ ...config, attempts }, started);
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Runs in flight now. */
  get running(): number {
    return this.#running;
  }

  /** Runs waiting for a session. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** The thread budget now. */
  get budget(): number {
    return this.#budget;
  }

  /** Intra-op threads of a session now (the most of any, while a rebuild is under way). */
  get sessionThreads(): number {
    let most = 0;
    for (const slot of this.#slots) most = Math.max(most, slot.worker.threads);
    return most;
  }

  /** How many sessions may run at once under the budget now. */
  get concurrency(): number {
    return Math.min(this.#slots.length, Math.max(1, Math.floor(this.#budget / this.sessionThreads)));
  }

  /** Sessions rebuilt for a new budget so far, whether a rebuild is under way, and the last one's failure. */
  get rebuilds(): { rebuilt: number; rebuilding: boolean; lastError?: string } {
    const out: { rebuilt: number; rebuilding: boolean; lastError?: string } = { rebuilt: this.#rebuilt, rebuilding: this.#rebuilding !== undefined };
    if (this.#rebuildError !== undefined) out.lastError = (this.#rebuildError as Error).message ?? String(this.#rebuildError);
    return out;
  }

  /** Resolves when no rebuild is under way. */
  async rebuilt(): Promise<void> {
    while (this.#rebuilding !== undefined) await this.#rebuilding;
  }

  /**
   * Changes the thread budget; runs in flight finish, later ones start under the new limit. Sessions
   * with more threads than the budget are rebuilt with their share now; a larger share, once it has
   * lasted `rebuildDelayMs`.
   */
  setBudget(threads: number): void {
    this.#budget = threads;
    this.#pump();
    if (this.#closed || !this.#onCpu()) return;
    const share = this.#share();
    const grow = this.#slots.some((slot) => slot.worker.threads < share);
    if (!grow) {
      clearTimeout(this.#growTimer);
      this.#growTimer = undefined;
      this.#growDue = false;
    } else if (this.#growTimer === undefined && !this.#growDue) {
      const delay = this.#config.rebuildDelayMs ?? DEFAULT_REBUILD_DELAY_MS;
      if (delay >= 0) {
        this.#growTimer = setTimeout(() => {
          this.#growTimer = undefined;
          this.#growDue = true;
          this.#startRebuild();
        }, delay);
        this.#growTimer.unref();
      }
    }
    this.#settleClaim();
    if (this.#slots.some((slot) => slot.worker.threads > this.#budget)) this.#startRebuild();
  }

  /**
   * A rebuild waiting for a slot after the budget moved: a free slot that now needs rebuilding is handed to
   * it; when none needs it any more, the rebuild ends (it would otherwise wait for a release to tell).
   */
  #settleClaim(): void {
    const claim = this.#claim;
    if (claim === undefined) return;
    const at = this.#free.findIndex(this.#needs);
    if (at >= 0) {
      this.#claim = undefined;
      claim(this.#free.splice(at, 1)[0]);
    } else if (!this.#slots.some(this.#needs)) {
      this.#claim = undefined;
      claim(undefined);
    }
  }

  /**
   * Runs on the next free session (replacing a session whose worker stopped). When `signal` fires the
   * run is rejected with its reason at once: a queued run leaves the queue; one in flight finishes in its
   * worker, which holds its session until then.
   */
  async run(feeds: Record<string, OnnxTensorData>, fetches: string[], signal?: AbortSignal): Promise<Record<string, OnnxTensorData>> {
    const slot = await this.#acquire(signal);
    const work = (async () => {
      try {
        if (slot.worker.broken) slot.worker = await this.#restart();
        return await slot.worker.run(feeds, fetches);
      } finally {
        this.#release(slot);
      }
    })();
    if (signal === undefined) return work;
    work.catch(() => undefined); // its outcome may be abandoned for the abort
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Each session's share of the budget. */
  #share(): number {
    return SessionPool.threadsPerSession(this.#budget, this.#slots.length);
  }

  /** Whether the sessions run on the CPU execution provider (the others are not rebuilt for threads). */
  #onCpu(): boolean {
    const first = this.description.providers[0];
    return (typeof first === 'string' ? first : first?.name) === 'cpu';
  }

  /** Whether `slot` needs rebuilding now. */
  #needs = (slot: Slot): boolean => slot.worker.threads > this.#budget || (this.#growDue && slot.worker.threads < this.#share());

  #startRebuild(): void {
    if (this.#rebuilding !== undefined || this.#closed) return;
    this.#rebuilding = this.#rebuild()
      .catch((error: unknown) => {
        this.#rebuildError = error;
      })
      .finally(() => {
      this.#rebuilding = undefined;
        // The budget may have moved while the last session was being rebuilt.
        if (!this.#closed && this.#rebuildError === undefined && this.#slots.some(this.#needs)) this.#startRebuild();
      });
  }

  /** Rebuilds the sessions that need it, one at a time, each when it is free. */
  async #rebuild(): Promise<void> {
    while (!this.#closed && this.#slots.some(this.#needs)) {
      const slot = await this.#claimFree();
      if (slot === undefined) return;
      try {
        const threads = this.#share();
        await slot.worker.close();
        try {
          slot.worker = await SessionWorker.start({ ...this.#config, threads });
          this.#rebuilt++;
        } catch (error) {
          // Left broken: the next run on it starts a worker again (GENERATION_FAILED for that run if it cannot).
          slot.worker.broken = true;
          this.#rebuildError = error;
          this.#growDue = false;
          return;
        }
      } finally {
        this.#free.push(slot);
        this.#pump();
        this.#notifyIdle();
      }
    }
    if (!this.#slots.some((slot) => slot.worker.threads < this.#share())) this.#growDue = false;
  }

  /** A free slot that needs rebuilding, taken out of service; waits for one to be released; undefined once closed. */
  #claimFree(): Promise<Slot | undefined> {
    const at = this.#free.findIndex(this.#needs);
    if (at >= 0) return Promise.resolve(this.#free.splice(at, 1)[0]);
    return new Promise((resolve) => (this.#claim = resolve));
  }

  /** A new worker in place of one that stopped; GENERATION_FAILED for the run waiting on it when it cannot start. */
  async #restart(): Promise<SessionWorker> {
    try {
      return await SessionWorker.start({ ...this.#config, threads: this.#share() });
    } catch (error) {
      throw new ModelpoolError('GENERATION_FAILED', `An ONNX session worker stopped and could not be started again: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Whether a free session with `threads` may start now. */
  #fits(threads: number): boolean {
    return this.#running === 0 || this.#runningThreads + threads <= this.#budget;
  }

  /** The index in #free of a session that may start now, or -1. */
  #startable(): number {
    for (let i = 0; i < this.#free.length; i++) if (this.#fits(this.#free[i]!.worker.threads)) return i;
    return -1;
  }

  #start(at: number): Slot {
    const slot = this.#free.splice(at, 1)[0]!;
    slot.charged = slot.worker.threads;
    this.#running++;
    this.#runningThreads += slot.charged;
    return slot;
  }

  #acquire(signal: AbortSignal | undefined): Promise<Slot> {
    if (this.#closed) return Promise.reject(new ModelpoolError('DISPOSED', 'The ONNX sessions have been released'));
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (this.#waiting.length === 0) {
      const at = this.#startable();
      if (at >= 0) return Promise.resolve(this.#start(at));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (slot) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        reject,
      };
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal!.reason);
        this.#notifyIdle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(slot: Slot): void {
    this.#running--;
    this.#runningThreads -= slot.charged;
    slot.charged = 0;
    const claim = this.#claim;
    if (claim !== undefined && this.#needs(slot)) {
      this.#claim = undefined;
      claim(slot);
    } else {
      this.#free.push(slot);
    }
    this.#pump();
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (this.#running === 0 && this.#waiting.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  #pump(): void {
    while (this.#waiting.length > 0) {
      const at = this.#startable();
      if (at < 0) return;
      this.#waiting.shift()!.resolve(this.#start(at));
    }
  }

  /**
   * Stops taking runs, waits for those in flight and queued and for a rebuild under way, then releases
   * every session and ends its worker. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#growTimer);
    this.#growTimer = undefined;
    if (this.#running > 0 || this.#waiting.length > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#claim?.(undefined);
    this.#claim = undefined;
    await this.rebuilt();
    await Promise.all(this.#slots.map((slot) => slot.worker.close()));
  }
}
