/**
 * A bounded map of per-key state: least recently used first. Keys idle longer than `idleMs` are dropped
 * when a new key arrives (if `canDrop` lets them go), and past `maxKeys` the least recently used
 * droppable one goes (or, when none may, the least recently used of all: memory is bounded whatever).
 */
export class KeyedStore<V> {
  readonly #entries = new Map<string, { value: V; usedAt: number }>();
  /** The key at the back of the map (used or added last), while it is there. */
  #newest: string | undefined;

  constructor(
    readonly maxKeys: number,
    readonly idleMs: number,
    private readonly canDrop: (value: V) => boolean = () => true,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The value of `key` without marking it used. */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** The value of `key`, marked used at `now` (created with `create` when absent). */
  use(key: string, now: number, create: () => V): V {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      // Re-inserting keeps the map in order of use, so idle keys sit at the front (the key used last
      // is at the back already: one model serving request after request costs no re-insertion).
      if (key !== this.#newest) {
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        this.#newest = key;
      }
      entry.usedAt = now;
      return entry.value;
    }
    this.#makeRoom(now);
    const value = create();
    this.#entries.set(key, { value, usedAt: now });
    this.#newest = key;
    return value;
  }

  delete(key: string): boolean {
    if (key === this.#newest) this.#newest = undefined;
    return this.#entries.delete(key);
  }

  /** Values in order of last use, oldest first. */
  values(): V[] {
    return [...this.#entries.values()].map((entry) => entry.value);
  }

  /** Keys in order of last use, oldest first. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  #makeRoom(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.usedAt < this.idleMs) break;
      if (this.canDrop(entry.value)) this.#entries.delete(key);
    }
    if (this.#entries.size < this.maxKeys) return;
    for (const [key, entry] of this.#entries) {
      if (this.canDrop(entry.value)) {
        this.#entries.delete(key);
        return;
      }
    }
    this.#entries.delete(this.#entries.keys().next().value!);
  }
}
