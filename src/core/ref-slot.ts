/**
 * A reference-counted slot: the hot-swap primitive on the JavaScript side.
 *
 * `acquire()` takes a reference on the value current at call time; `replace(next)` publishes a
 * new value in one synchronous step (nothing can observe a half-switched slot on the single
 * JavaScript thread) and returns the previous one with a promise that resolves once its last
 * reference is released. References taken before the switch keep the old value until released.
 *
 * The engine's native slot does the same per generation request inside C++. The pool needs this
 * one as well because its unit is a lease, which spans several engine calls (tokenize, generate,
 * generate again) and JavaScript work between them, and because the pool must know the exact
 * moment the old model drains to give its memory reservation and thread share back. The native
 * slot frees the old model on its own schedule, invisible to that accounting.
 */

import { ModelpoolError } from '../errors.js';

export interface SlotReference<T> {
  readonly value: T;
  /** Drops the reference; idempotent. */
  release(): void;
}

interface Cell<T> {
  readonly value: T;
  /** The slot's cells, which a drained cell leaves. */
  readonly cells: Map<T, Cell<T>>;
  refs: number;
  retired: boolean;
  drained?: () => void;
  drainedPromise?: Promise<void>;
}

export interface SlotReplacement<T> {
  previous: T | undefined;
  /** Resolves when the previous value has no references left (at once if it had none). */
  drained: Promise<void>;
}

/** A reference from acquire(): one object and no closure, as the pool takes one on every lease. */
class Reference<T> implements SlotReference<T> {
  readonly value: T;
  #cell: Cell<T> | undefined;

  constructor(cell: Cell<T>) {
    this.value = cell.value;
    this.#cell = cell;
  }

  release(): void {
    const cell = this.#cell;
    if (cell === undefined) return;
    this.#cell = undefined;
    cell.refs--;
    if (cell.refs === 0 && cell.retired) {
      cell.cells.delete(cell.value);
      cell.drained?.();
    }
  }
}

export class ReferenceSlot<T> {
  #cell: Cell<T> | undefined;
  readonly #cells = new Map<T, Cell<T>>();

  constructor(initial?: T) {
    if (initial !== undefined) this.#publish(initial);
  }

  get current(): T | undefined {
    return this.#cell?.value;
  }

  /** References held on the current value. */
  get currentRefs(): number {
    return this.#cell?.refs ?? 0;
  }

  /** References held on any value this slot has published and not yet drained. */
  refs(value: T): number {
    return this.#cells.get(value)?.refs ?? 0;
  }

  /** Values replaced but still referenced. */
  get draining(): T[] {
    return [...this.#cells.values()].filter((c) => c.retired).map((c) => c.value);
  }

  /** Takes a reference on the current value, or returns undefined when the slot is empty. */
  acquire(): SlotReference<T> | undefined {
    const cell = this.#cell;
    if (cell === undefined) return undefined;
    cell.refs++;
    return new Reference(cell);
  }

  /** Publishes `next` atomically; the previous value drains by reference count. */
  replace(next: T | undefined): SlotReplacement<T> {
    if (next !== undefined && this.#cells.has(next)) {
      // A value still current or draining cannot be published again: its drain would never settle.
      throw new ModelpoolError('ILLEGAL_TRANSITION', 'Cannot publish a value that this slot still holds or drains');
    }
    const old = this.#cell;
    this.#cell = undefined;
    if (next !== undefined) this.#publish(next);
    if (old === undefined) return { previous: undefined, drained: Promise.resolve() };
    old.retired = true;
    if (old.refs === 0) {
      this.#cells.delete(old.value);
      return { previous: old.value, drained: Promise.resolve() };
    }
    old.drainedPromise = new Promise<void>((resolve) => {
      old.drained = resolve;
    });
    return { previous: old.value, drained: old.drainedPromise };
  }

  #publish(value: T): void {
    const cell: Cell<T> = { value, cells: this.#cells, refs: 0, retired: false };
    this.#cells.set(value, cell);
    this.#cell = cell;
  }
}
