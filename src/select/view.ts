/**
 * What the selector keeps per candidate list (per array object, taken over by a new array holding the
 * same objects): each candidate's prepared figures, the static ones also as typed arrays, and its lanes
 * (lane.ts), one per task or context key. A selection over a known list is then a loop over typed
 * arrays.
 */
import type { Prepared } from './prepared.js';
import type { Candidate } from './types.js';
import type { Lane } from './lane.js';

/** Lanes kept per list before they are dropped (contexts are many only with unbounded tags). */
const MAX_LANES = 256;

export class ListView {
  readonly #lanes = new Map<string, Lane>();
  /** Per candidate: context length, memory and log10(memory + 1 MB) (NaN: unknown). */
  readonly contextLength: Float64Array;
  readonly memory: Float64Array;
  readonly logMemory: Float64Array;

  constructor(
    /** The list last selected over. */
    public list: readonly Candidate[],
    readonly prepared: readonly Prepared[],
  ) {
    const count = prepared.length;
    this.contextLength = new Float64Array(count);
    this.memory = new Float64Array(count);
    this.logMemory = new Float64Array(count);
    prepared.forEach((entry, index) => {
      this.contextLength[index] = entry.contextLength;
      this.memory[index] = entry.memory;
      this.logMemory[index] = entry.logMemory;
    });
  }

  /** The lane of `key`, if it was built. */
  laneOf(key: string): Lane | undefined {
    return this.#lanes.get(key);
  }

  /** Keeps a lane built for `key` (a fresh lane is up to date: it needs no sync). */
  addLane(key: string, lane: Lane): Lane {
    if (this.#lanes.size >= MAX_LANES) this.#lanes.clear();
    this.#lanes.set(key, lane);
    return lane;
  }

  /** Whether `list` holds exactly this view's candidate objects in the same order. */
  sameAs(list: readonly Candidate[]): boolean {
    const own = this.list;
    if (own.length !== list.length) return false;
    for (let index = 0; index < own.length; index++) if (own[index] !== list[index]) return false;
    return true;
  }
}
