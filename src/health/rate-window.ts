/**
 * Requests and failures over a sliding time window, in ten buckets: memory stays ten pairs of counts
 * however many requests pass, and the window counted is between 90% and 100% of its width.
 */
const BUCKETS = 10;

export class RateWindow {
  readonly #bucketMs: number;
  /** Bucket index → [requests, failures], oldest first; at most BUCKETS entries. */
  readonly #buckets = new Map<number, [number, number]>();

  constructor(readonly windowMs: number) {
    this.#bucketMs = windowMs / BUCKETS;
  }

  add(at: number, failed: boolean): void {
    const index = Math.floor(at / this.#bucketMs);
    this.#prune(index);
    let bucket = this.#buckets.get(index);
    if (bucket === undefined) this.#buckets.set(index, (bucket = [0, 0]));
    bucket[0] += 1;
    if (failed) bucket[1] += 1;
  }

  /** Requests and failures of the buckets within the window ending at `at`. */
  counts(at: number): { requests: number; failures: number } {
    this.#prune(Math.floor(at / this.#bucketMs));
    let requests = 0;
    let failures = 0;
    for (const [r, f] of this.#buckets.values()) {
      requests += r;
      failures += f;
    }
    return { requests, failures };
  }

  clear(): void {
    this.#buckets.clear();
  }

  /** Drops buckets that fell out of the window ending in bucket `current` (and any left far ahead by a clock set back). */
  #prune(current: number): void {
    for (const index of this.#buckets.keys()) if (index <= current - BUCKETS || index > current + BUCKETS) this.#buckets.delete(index);
  }
}
