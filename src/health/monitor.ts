/**
 * Active health checks: each key's probe (a tiny real request, supplied by the caller) runs on its
 * interval, bounded by a timeout, and its outcome feeds the key's breaker and tracker. Readiness is
 * "the last probe succeeded and the breaker is not open". Timers are unref()'d, so a monitor never
 * keeps a process alive, and one probe never overlaps itself.
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { nonEmptyString, onlyKnownKeys, plainObject } from '../validate.js';
import { Breakers } from './breakers.js';
import { runBounded } from './bounded.js';
import { summarizeError } from './classify.js';
import { PROBE_DEFAULTS, functionOption, readClock, resolveProbeOptions, type ResolvedProbeOptions } from './options.js';
import { HealthTracker } from './tracker.js';
import type { BreakerPermit, HealthStatus, MonitorOptions, Probe, ProbeOptions, ProbeResult } from './types.js';

interface Running {
  result: Promise<ProbeResult>;
  /** When the probe's own promise settles (it may ignore its signal). */
  settled: Promise<void>;
  /** performance.now() at which its timeout passes. */
  deadline: number;
}

interface Watched {
  readonly key: string;
  readonly probe: Probe;
  readonly options: ResolvedProbeOptions;
  /** Aborted when the key is removed or the monitor closes: stops the running probe and the schedule. */
  readonly stop: AbortController;
  timer: NodeJS.Timeout | undefined;
  running: Running | undefined;
  last: ProbeResult | undefined;
}

/** Runs probes per key on intervals and answers readiness and status from them, the breakers and the tracker. */
export class HealthMonitor {
  /** The breakers the probes feed (shared with failover when given in the options). */
  readonly breakers: Breakers;
  /** The tracker the probes feed. */
  readonly tracker: HealthTracker;
  readonly #defaults: ResolvedProbeOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #watched = new Map<string, Watched>();
  #closing: Promise<void> | undefined;

  /** Throws INVALID_ARGUMENT naming `options.*`. */
  constructor(options: MonitorOptions = {}) {
    const o = plainObject('options', options);
    onlyKnownKeys('options', o, ['breakers', 'tracker', 'probe', 'now', 'random']);
    if (options.breakers !== undefined && !(options.breakers instanceof Breakers)) throw invalidArgument('options.breakers', 'a Breakers collection', options.breakers);
    if (options.tracker !== undefined && !(options.tracker instanceof HealthTracker)) throw invalidArgument('options.tracker', 'a HealthTracker', options.tracker);
    this.#now = functionOption('options.now', options.now, Date.now, 'a function returning epoch milliseconds');
    this.#random = functionOption('options.random', options.random, Math.random, 'a function returning a number in [0, 1)');
    this.#defaults = resolveProbeOptions(options.probe, 'options.probe', PROBE_DEFAULTS);
    this.breakers = options.breakers ?? new Breakers({ now: this.#now });
    this.tracker = options.tracker ?? new HealthTracker({ now: this.#now });
  }

  /**
   * Starts probing `key` with `probe`: at once (unless `options.immediate` is false), then every
   * `intervalMs` ±`jitter` after the end of the previous run. Throws INVALID_ARGUMENT naming `key`,
   * `probe` or `options.*`, ALREADY_EXISTS naming `key` when it is probed already, DISPOSED once closed.
   */
  add(key: string, probe: Probe, options: ProbeOptions = {}): void {
    nonEmptyString('key', key, 1024);
    if (typeof probe !== 'function') throw invalidArgument('probe', 'a function (signal) => Promise', probe);
    const resolved = resolveProbeOptions(options, 'options', this.#defaults);
    this.#checkOpen();
    if (this.#watched.has(key)) throw new ModelpoolError('ALREADY_EXISTS', `The key "${key}" is probed already`, { field: 'key', value: key });
    const watched: Watched = { key, probe, options: resolved, stop: new AbortController(), timer: undefined, running: undefined, last: undefined };
    this.#watched.set(key, watched);
    this.#schedule(watched, resolved.immediate ? 0 : this.#interval(watched));
  }

  /** Stops probing `key` (aborting a run in progress and waiting for it); false when it was not probed. */
  async remove(key: string): Promise<boolean> {
    const watched = this.#watched.get(key);
    if (watched === undefined) return false;
    this.#watched.delete(key);
    await this.#stop(watched);
    return true;
  }

  /**
   * Runs `key`'s probe now (or joins the run in progress) and restarts its interval from the end of
   * this run. Throws INVALID_ARGUMENT naming `key` when it is not probed, DISPOSED once closed.
   */
  probeNow(key: string): Promise<ProbeResult> {
    this.#checkOpen();
    const watched = this.#watched.get(key);
    if (watched === undefined) throw invalidArgument('key', 'a key added to the monitor', key);
    if (watched.timer !== undefined) clearTimeout(watched.timer);
    watched.timer = undefined;
    return this.#run(watched);
  }

  /** Whether `key`'s last probe succeeded and its breaker is not open; false for a key not probed or not probed yet. */
  ready(key: string): boolean {
    const watched = this.#watched.get(key);
    return watched?.last?.ok === true && this.breakers.peek(key)?.state !== 'open';
  }

  /** The health of `key`, or undefined when it is not probed. */
  statusOf(key: string): HealthStatus | undefined {
    const watched = this.#watched.get(key);
    if (watched === undefined) return undefined;
    const figures = this.tracker.get(key);
    const status: HealthStatus = {
      key,
      state: this.breakers.peek(key)?.state ?? 'closed',
      ready: this.ready(key),
      errorRate: figures?.errorRate ?? 0,
      consecutiveFailures: figures?.consecutiveFailures ?? 0,
    };
    if (watched.last !== undefined) status.lastProbe = { ...watched.last };
    if (figures?.p50 !== undefined) status.p50 = figures.p50;
    if (figures?.p95 !== undefined) status.p95 = figures.p95;
    return status;
  }

  /** The health of every probed key, by key. */
  status(): HealthStatus[] {
    return [...this.#watched.keys()].sort().map((key) => this.statusOf(key)!);
  }

  /** Keys probed, in the order they were added. */
  keys(): string[] {
    return [...this.#watched.keys()];
  }

  /**
   * Stops every timer, aborts the probes in progress and waits until each has settled (at most until
   * its timeout). Idempotent: every call returns the same promise. Afterwards add() and probeNow()
   * throw DISPOSED; status() and ready() still answer.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#watched.values()].map((watched) => this.#stop(watched))).then(() => undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new ModelpoolError('DISPOSED', 'The health monitor is closed');
  }

  #schedule(watched: Watched, delayMs: number): void {
    if (watched.stop.signal.aborted) return;
    watched.timer = setTimeout(() => {
      watched.timer = undefined;
      this.#run(watched).catch((error: unknown) => process.emitWarning(`modelpool: the health probe of "${watched.key}" could not run: ${String(error)}`));
    }, delayMs);
    watched.timer.unref();
  }

  /** The interval ± jitter, from the injected random source (clamped to [0, 1]). */
  #interval(watched: Watched): number {
    const drawn = this.#random();
    const r = typeof drawn === 'number' && Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0.5;
    const { intervalMs, jitter } = watched.options;
    return Math.max(1, Math.round(intervalMs * (1 + jitter * (2 * r - 1))));
  }

  #run(watched: Watched): Promise<ProbeResult> {
    if (watched.running !== undefined) return watched.running.result;
    const { key, options } = watched;
    const stopped = watched.stop.signal;
    let permit: BreakerPermit | undefined;
    let at: number;
    try {
      at = readClock(this.#now);
      permit = this.breakers.get(key).tryAcquire();
    } catch (error) {
      this.#schedule(watched, this.#interval(watched));
      return Promise.reject(error);
    }
    const started = performance.now();
    const run = runBounded(watched.probe, {
      timeoutMs: options.timeoutMs,
      unref: true,
      signal: stopped,
      timeoutError: () =>
        new ModelpoolError('TIMEOUT', `The health probe of "${key}" took longer than ${options.timeoutMs} ms`, { details: { key, timeoutMs: options.timeoutMs } }),
      abortError: (reason) =>
        new ModelpoolError('ABORTED', `The health probe of "${key}" was stopped (the key was removed or the monitor closed)`, { details: { key }, cause: reason }),
    });
    const record = (ok: boolean, error?: unknown): ProbeResult => {
      const ms = performance.now() - started;
      const result: ProbeResult = { ok, at, ms };
      if (error !== undefined) result.error = summarizeError(error);
      // A probe stopped by remove() or close() says nothing about the key.
      if (stopped.aborted) {
        permit?.release();
        return result;
      }
      if (ok) {
        permit?.success(ms);
        this.tracker.success(key, ms);
      } else {
        const counted = permit === undefined ? this.breakers.get(key).countsAsFailure(error) : permit.failure(error);
        if (counted) this.tracker.failure(key, error);
      }
      watched.last = result;
      return result;
    };
    const result = run.result
      .then(
        () => record(true),
        (error: unknown) => record(false, error),
      )
      .finally(() => {
        watched.running = undefined;
        this.#schedule(watched, this.#interval(watched));
      });
    watched.running = { result, settled: run.settled, deadline: started + options.timeoutMs };
    return result;
  }

  /** Stops `watched`'s schedule and running probe; resolves when the probe has settled or its timeout passed. */
  async #stop(watched: Watched): Promise<void> {
    if (watched.timer !== undefined) clearTimeout(watched.timer);
    watched.timer = undefined;
    watched.stop.abort();
    const running = watched.running;
    if (running === undefined) return;
    await running.result.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    // Not unref()'d: `await monitor.close()` must not leave a script's top-level await unsettled.
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, running.deadline - performance.now()));
    });
    await Promise.race([running.settled, deadline]);
    clearTimeout(timer);
  }
}
