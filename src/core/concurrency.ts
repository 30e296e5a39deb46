/**
 * Bounded concurrency: a limiter that lets at most `limit` calls run at once (a judge's runner calls,
 * every method together), and a map over items with at most `limit` in flight (judging a batch,
 * running a task suite).
 */
import { ModelpoolError } from '../errors.js';

/** ABORTED for work whose signal fired: "<what> was aborted <when>". */
export function abortedError(signal: AbortSignal, when: string, what = 'Judging'): ModelpoolError {
  return new ModelpoolError('ABORTED', `${what} was aborted ${when}`, { cause: signal.reason });
}

/** At most `limit` calls of run() in flight; the others wait in arrival order. */
export class Limiter {
  #active = 0;
  readonly #waiting: Array<{ start: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Calls in flight now. */
  get active(): number {
    return this.#active;
  }

  /** Runs `fn` when a place is free; ABORTED when `signal` fires first (fn is then never called). */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) throw abortedError(signal, 'before it started');
    if (this.#active >= this.limit) await this.#wait(signal);
    else this.#active += 1;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#active -= 1;
      else next.start(); // the place passes straight to the next waiter
    }
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const at = this.#waiting.indexOf(entry);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(abortedError(signal!, 'while it waited for a turn'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }
}

/** One item's outcome in {@link mapLimited}. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Calls `fn` on every item with at most `limit` in flight, results in input order. With `settle`
 * every item runs and each outcome is returned; without it the first failure aborts the items in
 * flight (through the signal `fn` gets), starts no more and is thrown. When the caller's signal
 * fires, no more items start and ABORTED is thrown.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: { signal?: AbortSignal; settle?: boolean; what?: string } = {},
): Promise<Array<Settled<R>>> {
  const { signal, settle = false, what } = options;
  if (signal?.aborted === true) throw abortedError(signal, 'before it started', what);
  const controller = new AbortController();
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    controller.abort(signal!.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const results = new Array<Settled<R>>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !controller.signal.aborted) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await fn(items[index]!, index, controller.signal) };
      } catch (error) {
        results[index] = { ok: false, error };
        if (!settle && failure === undefined) {
          failure = { error };
          controller.abort(error);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (aborted) throw abortedError(signal!, 'while its items ran', what);
  if (failure !== undefined) throw failure.error;
  return results;
}

/** Every promise's value in order, once all have settled (none is left running); else the first failure. */
export async function allSettledOrThrow<T>(promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
