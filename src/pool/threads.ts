/**
 * The CPU thread budget. The pool owns `total` decode threads (by default the cores left after
 * the event loop). Only models that are running — holding at least one lease — use CPU, so the
 * budget is shared among them; an idle model keeps its last setting, which costs nothing because
 * it does not decode, and is set again before its next lease is granted. The pool admits at most
 * `total` running models at once (a model waits for a turn otherwise), so the sum never exceeds
 * the budget. Oversubscribing one model (more threads than free cores) is what makes llama.cpp's
 * thread barrier spin: on a 2-core machine 2 threads run ~20× slower than 1.
 */

import os from 'node:os';

export interface ThreadDemand<K> {
  readonly key: K;
  /** Relative weight: leases plus queued requests. */
  readonly demand: number;
  /** Most threads this model can use well. */
  readonly maxThreads: number;
}

/** Decode threads available to models: cores minus `reserved` for the event loop, at least 1. */
export function defaultThreadBudget(cores: number = os.availableParallelism(), reserved = 1): number {
  return Math.max(1, cores - reserved);
}

/**
 * Splits `total` threads among running models: each gets at least 1 and at most its own cap,
 * the rest in proportion to demand (largest remainder). When more models run than there are
 * threads, each still gets 1 — the pool prevents that state by gating, and reports it otherwise.
 */
export function allocateThreads<K>(total: number, models: ReadonlyArray<ThreadDemand<K>>): Map<K, number> {
  const shares = shareThreads(total, models);
  return new Map(models.map((m, i) => [m.key, shares[i]!]));
}

/** {@link allocateThreads} as an array in the order of `models`: the pool's lease path, which runs it on most acquires and releases, builds no Map. */
export function shareThreads(total: number, models: ReadonlyArray<ThreadDemand<unknown>>): number[] {
  const result = new Array<number>(models.length).fill(1);
  let left = total - models.length;
  if (left <= 0) return result;
  // Hand out the rest in proportion to demand, respecting caps; loop because caps free threads.
  let open = models.flatMap((m, i) => (m.maxThreads > 1 ? [i] : []));
  while (left > 0 && open.length > 0) {
    const weight = open.reduce((s, i) => s + Math.max(models[i]!.demand, 1e-9), 0);
    const shares = open.map((i) => {
      const exact = (left * Math.max(models[i]!.demand, 1e-9)) / weight;
      return { i, demand: models[i]!.demand, whole: Math.floor(exact), frac: exact - Math.floor(exact) };
    });
    let given = 0;
    for (const s of shares) {
      const add = Math.min(models[s.i]!.maxThreads - result[s.i]!, s.whole);
      result[s.i]! += add;
      given += add;
    }
    // Largest remainders take the leftovers one by one.
    shares.sort((a, b) => b.frac - a.frac || b.demand - a.demand);
    let leftover = left - given;
    for (const s of shares) {
      if (leftover <= 0) break;
      if (result[s.i]! < models[s.i]!.maxThreads) {
        result[s.i]!++;
        leftover--;
        given++;
      }
    }
    left -= given;
    open = open.filter((i) => result[i]! < models[i]!.maxThreads);
    if (given === 0) break;
  }
  return result;
}
