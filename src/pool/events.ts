/**
 * A small typed event stream. Listeners run synchronously in registration order; an exception in
 * a listener is reported on `process` as a warning and never disturbs the pool.
 */

import type { PoolEvent, PoolEventOf, PoolEventType } from './types.js';

type Listener = (event: PoolEvent) => void;

export class PoolEvents {
  readonly #byType = new Map<string, Set<Listener>>();
  #count = 0;

  /** Whether anyone listens to `type` (or to everything), so emitters can skip building events. */
  wants(type: PoolEventType): boolean {
    return this.#count > 0 && (this.#byType.has(type) || this.#byType.has('*'));
  }

  on<K extends PoolEventType>(type: K, listener: (event: PoolEventOf<K>) => void): () => void;
  on(type: '*', listener: (event: PoolEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    let set = this.#byType.get(type);
    if (set === undefined) {
      set = new Set();
      this.#byType.set(type, set);
    }
    const fn = listener as Listener;
    if (!set.has(fn)) {
      set.add(fn);
      this.#count++;
    }
    return () => {
      const current = this.#byType.get(type);
      if (current?.delete(fn) === true) {
        this.#count--;
        if (current.size === 0) this.#byType.delete(type);
      }
    };
  }

  emit(event: PoolEvent): void {
    if (this.#count === 0) return;
    for (const key of [event.type, '*']) {
      const set = this.#byType.get(key);
      if (set === undefined) continue;
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch (error) {
          process.emitWarning(`modelpool: a pool event listener for "${event.type}" threw: ${String(error)}`);
        }
      }
    }
  }

  clear(): void {
    this.#byType.clear();
    this.#count = 0;
  }
}
