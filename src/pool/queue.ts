/**
 * The per-model wait queue: a binary min-heap ordered by a virtual arrival time.
 *
 * Priority classes and aging are folded into one number: a waiter's key is its arrival time
 * shifted by a head start for its class (`priorityStepMs` per class). Every waiter ages at the same rate, so the
 * order never changes after insertion — a `low` request that has waited `2 × priorityStepMs`
 * overtakes a `high` one that has just arrived. That is aging without re-sorting, and it bounds
 * starvation: no waiter can be overtaken by requests that arrive more than two steps after it.
 */

export type Priority = 'high' | 'normal' | 'low';

export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { high: 2, normal: 1, low: 0 };

/**
 * The virtual arrival time used to order waiters (smaller is served first): a `normal` request's
 * key is its arrival time, `high` is one step earlier, `low` one step later — so `now − key` is
 * the effective wait, real for `normal`.
 */
export function queueKey(arrivedAt: number, priority: Priority, priorityStepMs: number): number {
  return arrivedAt - (PRIORITY_RANK[priority] - PRIORITY_RANK.normal) * priorityStepMs;
}

export interface Queued {
  readonly key: number;
  /** Insertion order, to keep equal keys first-in first-out. */
  readonly seq: number;
  /** Set when the item left the queue some other way (abort, timeout); popped lazily. */
  cancelled: boolean;
}

function before(a: Queued, b: Queued): boolean {
  return a.key < b.key || (a.key === b.key && a.seq < b.seq);
}

/** Min-heap with lazy deletion: cancelled items stay until they reach the top. */
export class WaitQueue<T extends Queued> {
  readonly #heap: T[] = [];
  #live = 0;

  /** Items not cancelled. */
  get size(): number {
    return this.#live;
  }

  push(item: T): void {
    const heap = this.#heap;
    heap.push(item);
    this.#live++;
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Marks an item as gone; it is dropped when it reaches the top. */
  cancel(item: T): void {
    if (item.cancelled) return;
    item.cancelled = true;
    this.#live--;
    this.#dropCancelled();
  }

  peek(): T | undefined {
    this.#dropCancelled();
    return this.#heap[0];
  }

  pop(): T | undefined {
    this.#dropCancelled();
    const top = this.#heap[0];
    if (top === undefined) return undefined;
    this.#removeTop();
    this.#live--;
    this.#dropCancelled();
    return top;
  }

  /** Removes and returns every live item, in queue order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.pop(); item !== undefined; item = this.pop()) out.push(item);
    return out;
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#removeTop();
  }

  #removeTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
