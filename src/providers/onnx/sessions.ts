/**
 * A pool of sessions of one model: `size` session workers, and the runs waiting for one, served in
 * arrival order. How many may run at once follows the model's thread budget (see execution.ts): the
 * budget divided by each session's intra-op threads, at least one, at most all of them.
 */
import { ModelpoolError } from '../../errors.js';
import { SessionWorker, type OnnxExecutionProvider, type OnnxTensorData, type SessionConfig, type SessionDescription } from './execution.js';

export interface SessionPoolConfig extends Omit<SessionConfig, 'threads'> {
  /** Sessions (each a worker thread with its own copy of the weights). */
  sessions: number;
  /** The model's CPU thread budget, shared by its sessions. */
  threads: number;
}

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: SessionWorker;
}

export class SessionPool {
  readonly #config: SessionPoolConfig;
  readonly #slots: Slot[];
  readonly #free: Slot[];
  readonly #waiting: Waiter[] = [];
  #budget: number;
  #running = 0;
  #closed = false;
  readonly #idle: Array<() => void> = [];
  /** Intra-op threads of each session, fixed when it was created. */
  readonly sessionThreads: number;
  /** The first session's graph and providers (the others run on the same providers). */
  readonly description: SessionDescription;

  private constructor(config: SessionPoolConfig, workers: SessionWorker[]) {
    this.#config = config;
    this.#slots = workers.map((worker) => ({ worker }));
    this.#free = [...this.#slots];
    this.#budget = config.threads;
    this.sessionThreads = workers[0]!.threads;
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

  /** How many sessions may run at once under the budget now. */
  get concurrency(): number {
    return Math.min(this.#slots.length, Math.max(1, Math.floor(this.#budget / this.sessionThreads)));
  }

  /** Changes the thread budget; runs in flight finish, later ones start under the new limit. */
  setBudget(threads: number): void {
    this.#budget = threads;
    this.#pump();
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

  /** A new worker in place of one that stopped; GENERATION_FAILED for the run waiting on it when it cannot start. */
  async #restart(): Promise<SessionWorker> {
    try {
      return await SessionWorker.start({ ...this.#config, threads: this.sessionThreads });
    } catch (error) {
      throw new ModelpoolError('GENERATION_FAILED', `An ONNX session worker stopped and could not be started again: ${(error as Error).message}`, { cause: error });
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<Slot> {
    if (this.#closed) return Promise.reject(new ModelpoolError('DISPOSED', 'The ONNX sessions have been released'));
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (this.#waiting.length === 0 && this.#free.length > 0 && this.#running < this.concurrency) {
      this.#running++;
      return Promise.resolve(this.#free.shift()!);
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
    this.#free.push(slot);
    this.#pump();
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (this.#running === 0 && this.#waiting.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#free.length > 0 && this.#running < this.concurrency) {
      this.#running++;
      this.#waiting.shift()!.resolve(this.#free.shift()!);
    }
  }

  /**
   * Stops taking runs, waits for those in flight and queued, then releases every session and ends its
   * worker. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#running > 0 || this.#waiting.length > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await Promise.all(this.#slots.map((slot) => slot.worker.close()));
  }
}
