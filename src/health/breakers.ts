/**
 * Breakers by key, made on first use from shared options and per-key overrides. Memory is bounded:
 * keys unused for `idleMs` and not open are dropped (a dropped key comes back closed), and past
 * `maxKeys` the least recently used goes.
 */
import { invalidArgument } from '../errors.js';
import { integer, nonEmptyString, onlyKnownKeys, plainObject } from '../validate.js';
import { CircuitBreaker, subscribe } from './breaker.js';
import { KeyedStore } from './keyed.js';
import { functionOption, mergeBreakerOptions, readClock, resolveBreakerOptions } from './options.js';
import type { BreakerOptions, BreakerSnapshot, BreakersOptions, BreakerTransition } from './types.js';

const DEFAULT_MAX_KEYS = 10_000;
const DEFAULT_IDLE_MS = 600_000;

type TransitionListener = (transition: BreakerTransition) => void;

/** A keyed collection of {@link CircuitBreaker}s sharing options, a clock and transition listeners. */
export class Breakers {
  readonly maxKeys: number;
  readonly idleMs: number;
  readonly #now: () => number;
  readonly #defaults: BreakerOptions;
  readonly #overrides = new Map<string, BreakerOptions>();
  readonly #store: KeyedStore<CircuitBreaker>;
  readonly #listeners = new Set<TransitionListener>();
  readonly #forward = (transition: BreakerTransition): void => {
    for (const listener of [...this.#listeners]) {
      try {
        listener(transition);
      } catch (thrown) {
        process.emitWarning(`modelpool: a breaker transition listener threw: ${String(thrown)}`);
      }
    }
  };

  /** Throws INVALID_ARGUMENT naming `options.*` (`options.defaults.*`, `options.overrides["key"].*`). */
  constructor(options: BreakersOptions = {}) {
    const o = plainObject('options', options);
    onlyKnownKeys('options', o, ['defaults', 'overrides', 'maxKeys', 'idleMs', 'now']);
    this.maxKeys = integer('options.maxKeys', options.maxKeys ?? DEFAULT_MAX_KEYS, 1, 10_000_000);
    this.idleMs = integer('options.idleMs', options.idleMs ?? DEFAULT_IDLE_MS, 1, Number.MAX_SAFE_INTEGER);
    this.#now = functionOption('options.now', options.now, Date.now, 'a function returning epoch milliseconds');
    this.#defaults = { ...(options.defaults ?? {}) };
    resolveBreakerOptions(this.#defaults, 'options.defaults');
    refuseOwnClock(this.#defaults, 'options.defaults');
    if (options.overrides !== undefined) {
      for (const [key, override] of Object.entries(plainObject('options.overrides', options.overrides))) {
        this.#setOverride(key, override, `options.overrides[${JSON.stringify(key)}]`);
      }
    }
    // A half-open breaker nobody uses is dropped too: it would close on its first success anyway.
    this.#store = new KeyedStore(this.maxKeys, this.idleMs, (breaker) => breaker.state !== 'open');
  }

  /** The breaker of `key`, made on first use; marks the key used. Throws INVALID_ARGUMENT naming `key`. */
  get(key: string): CircuitBreaker {
    nonEmptyString('key', key, 1024);
    return this.#store.use(key, readClock(this.#now), () => {
      const breaker = new CircuitBreaker(key, { ...mergeBreakerOptions(this.#defaults, this.#overrides.get(key)), now: this.#now });
      breaker.on('transition', this.#forward);
      return breaker;
    });
  }

  /** The breaker of `key` if there is one, without making it or marking it used. */
  peek(key: string): CircuitBreaker | undefined {
    return this.#store.peek(key);
  }

  /**
   * Sets (or, with undefined, clears) the options of `key` over the defaults. A breaker the key already
   * has is replaced by a new, closed one. Throws INVALID_ARGUMENT naming `key` or `options.*`.
   */
  configure(key: string, options: BreakerOptions | undefined): void {
    nonEmptyString('key', key, 1024);
    if (options === undefined) this.#overrides.delete(key);
    else this.#setOverride(key, options, 'options');
    this.#store.delete(key);
  }

  /** Forgets `key`'s breaker (the next get() makes a closed one); false when there was none. */
  delete(key: string): boolean {
    return this.#store.delete(key);
  }

  /** Keys with a breaker now. */
  get size(): number {
    return this.#store.size;
  }

  /** Every breaker's snapshot, by key. */
  snapshot(): BreakerSnapshot[] {
    return this.#store
      .values()
      .map((breaker) => breaker.snapshot())
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Calls `listener` on each change of state of any breaker of the collection (synchronously; a
   * listener that throws is reported as a process warning). Returns the function that removes it.
   */
  on(event: 'transition', listener: (transition: BreakerTransition) => void): () => void {
    return subscribe(this.#listeners, event, listener);
  }

  #setOverride(key: string, override: unknown, field: string): void {
    const merged = mergeBreakerOptions(this.#defaults, plainObject(field, override) as BreakerOptions);
    // Checked merged, so a field named wrongly is reported under the override's name.
    resolveBreakerOptions(override, field);
    resolveBreakerOptions(merged, field);
    refuseOwnClock(override as BreakerOptions, field);
    this.#overrides.set(key, { ...(override as BreakerOptions) });
  }
}

/** Breakers of a collection share its clock: a `now` of their own would be silently ignored, so it is refused. */
function refuseOwnClock(options: BreakerOptions, field: string): void {
  if (options.now !== undefined) throw invalidArgument(`${field}.now`, 'no clock here (the collection\'s options.now is every breaker\'s)', options.now);
}
