/** Running a function of an AbortSignal under a time limit and a caller's signal. */

export interface BoundedRun<T> {
  /** Settles with the function, or rejects with the timeout's or the abort's error, whichever comes first. */
  result: Promise<T>;
  /** Resolves once the function's own promise has settled (it may outlive `result` when it ignores its signal). */
  settled: Promise<void>;
}

export interface BoundedOptions {
  /** After this long the run fails with `timeoutError()` and its signal aborts with it (ms). */
  timeoutMs?: number;
  /** Whether the time limit keeps a process alive. A background probe's does not. */
  unref?: boolean;
  /** When it aborts, the run fails with `abortError(reason)` and its signal aborts with that error. */
  signal?: AbortSignal;
  timeoutError: () => Error;
  abortError: (reason: unknown) => Error;
}

/**
 * Calls `fn` with a signal that aborts when the time runs out or `options.signal` aborts, and does not
 * wait for a function that ignores it: `result` settles at once; `settled` tells when it really ended.
 */
export function runBounded<T>(fn: (signal: AbortSignal) => Promise<T>, options: BoundedOptions): BoundedRun<T> {
  const controller = new AbortController();
  const parent = options.signal;
  let timer: NodeJS.Timeout | undefined;
  let own: Promise<T>;
  let done = false;
  let settle!: { resolve: (value: T) => void; reject: (error: unknown) => void };
  const result = new Promise<T>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const finish = (): boolean => {
    if (done) return false;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    parent?.removeEventListener('abort', onAbort);
    return true;
  };
  const fail = (error: Error): void => {
    if (!finish()) return;
    controller.abort(error);
    settle.reject(error);
  };
  function onAbort(): void {
    fail(options.abortError(parent!.reason));
  }
  if (parent?.aborted === true) {
    fail(options.abortError(parent.reason));
    return { result, settled: Promise.resolve() };
  }
  parent?.addEventListener('abort', onAbort, { once: true });
  if (options.timeoutMs !== undefined) {
    timer = setTimeout(() => fail(options.timeoutError()), options.timeoutMs);
    if (options.unref === true) timer.unref();
  }
  try {
    own = Promise.resolve(fn(controller.signal));
  } catch (error) {
    own = Promise.reject(error);
  }
  own.then(
    (value) => {
      if (finish()) settle.resolve(value);
    },
    (error: unknown) => {
      if (finish()) settle.reject(error);
    },
  );
  return { result, settled: own.then(noop, noop) };
}

function noop(): void {}
