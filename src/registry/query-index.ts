import type { LifecycleState, ResolvedModel, SourceKind } from './types.js';

/**
 * The in-memory index behind `find`: one slot per version, its query fields in typed arrays, and a
 * bitset per task and per tag. A query ANDs the bitsets 32 slots at a time and checks the columns
 * of the surviving slots, so it reads a few contiguous arrays instead of chasing one object graph
 * per model (10,000 models: tens of microseconds instead of milliseconds).
 */

export const STATE_CODES: Readonly<Record<LifecycleState, number>> = { registered: 0, loading: 1, ready: 2, draining: 3, retired: 4, failed: 5 };
export const KIND_CODES: Readonly<Record<SourceKind, number>> = { gguf: 0, onnx: 1, ollama: 2, 'openai-compatible': 3, openai: 4, anthropic: 5 };

const LOCAL = 1;
const DEPRECATED = 2;
const DEFAULT = 4;

export interface IndexFilter {
  /** Task and tag labels, each prefixed by {@link taskLabel} / {@link tagLabel}; all must be set. */
  labels: string[];
  /** Bit i set: state code i matches. */
  stateMask: number;
  /** Bit i set: kind code i matches; 0 = any kind. */
  kindMask: number;
  maxMemoryBytes: number | undefined;
  minContextLength: number | undefined;
  localOnly: boolean;
  includeDeprecated: boolean;
  defaultOnly: boolean;
  limit: number;
}

export const taskLabel = (task: string): string => `t:${task}`;
export const tagLabel = (tag: string): string => `g:${tag}`;

interface Bitset {
  bits: Uint32Array;
  count: number;
}

export class QueryIndex {
  private capacity = 0;
  /** Slots ever used (the scan bound). */
  private used = 0;
  private memory = new Float64Array(0);
  private context = new Float64Array(0);
  private state = new Uint8Array(0);
  private kind = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private readonly resolved: Array<ResolvedModel | undefined> = [];
  private readonly free: number[] = [];
  private readonly live: Bitset = { bits: new Uint32Array(0), count: 0 };
  private readonly labels = new Map<string, Bitset>();

  private grow(): void {
    const capacity = Math.max(64, this.capacity * 2);
    const widen = <T extends Float64Array | Uint8Array | Uint32Array>(old: T, make: (length: number) => T, length: number): T => {
      const next = make(length);
      next.set(old);
      return next;
    };
    this.memory = widen(this.memory, (length) => new Float64Array(length), capacity);
    this.context = widen(this.context, (length) => new Float64Array(length), capacity);
    this.state = widen(this.state, (length) => new Uint8Array(length), capacity);
    this.kind = widen(this.kind, (length) => new Uint8Array(length), capacity);
    this.flags = widen(this.flags, (length) => new Uint8Array(length), capacity);
    for (const set of [this.live, ...this.labels.values()]) set.bits = widen(set.bits, (length) => new Uint32Array(length), capacity >>> 5);
    this.capacity = capacity;
  }

  private setBit(set: Bitset, slot: number, on: boolean): void {
    const word = slot >>> 5;
    const mask = 1 << (slot & 31);
    if (on) set.bits[word]! |= mask;
    else set.bits[word]! &= ~mask;
    set.count += on ? 1 : -1;
  }

  /** Indexes one version; returns its slot. */
  add(resolved: ResolvedModel, labels: readonly string[]): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    const { model, version } = resolved;
    this.resolved[slot] = resolved;
    this.memory[slot] = version.memoryBytes ?? Number.NaN;
    this.context[slot] = version.contextLength ?? Number.NaN;
    this.state[slot] = STATE_CODES[version.state];
    this.kind[slot] = KIND_CODES[version.source.kind];
    this.flags[slot] = (version.local ? LOCAL : 0) | (version.deprecated ? DEPRECATED : 0) | (model.defaultVersion === version.version ? DEFAULT : 0);
    this.setBit(this.live, slot, true);
    for (const label of labels) {
      let set = this.labels.get(label);
      if (set === undefined) this.labels.set(label, (set = { bits: new Uint32Array(this.capacity >>> 5), count: 0 }));
      this.setBit(set, slot, true);
    }
    return slot;
  }

  remove(slot: number, labels: readonly string[]): void {
    this.resolved[slot] = undefined;
    this.setBit(this.live, slot, false);
    for (const label of labels) {
      const set = this.labels.get(label)!;
      this.setBit(set, slot, false);
      if (set.count === 0) this.labels.delete(label);
    }
    this.free.push(slot);
  }

  find(filter: IndexFilter): ResolvedModel[] {
    const sets: Uint32Array[] = [];
    for (const label of filter.labels) {
      const set = this.labels.get(label);
      if (set === undefined) return [];
      sets.push(set.bits);
    }
    if (sets.length === 0) sets.push(this.live.bits);
    const [first, ...others] = sets as [Uint32Array, ...Uint32Array[]];
    const { stateMask, kindMask, maxMemoryBytes, minContextLength, limit } = filter;
    const required = (filter.defaultOnly ? DEFAULT : 0) | (filter.localOnly ? LOCAL : 0);
    const forbidden = filter.includeDeprecated ? 0 : DEPRECATED;
    const result: ResolvedModel[] = [];
    const words = (this.used + 31) >>> 5;
    for (let word = 0; word < words; word++) {
      let bits = first[word]!;
      for (let index = 0; bits !== 0 && index < others.length; index++) bits &= others[index]![word]!;
      while (bits !== 0) {
        const lowest = bits & -bits;
        bits ^= lowest;
        const slot = (word << 5) | (31 - Math.clz32(lowest));
        const flags = this.flags[slot]!;
        if ((flags & required) !== required || (flags & forbidden) !== 0) continue;
        if (((stateMask >>> this.state[slot]!) & 1) === 0) continue;
        if (kindMask !== 0 && ((kindMask >>> this.kind[slot]!) & 1) === 0) continue;
        if (maxMemoryBytes !== undefined && !(this.memory[slot]! <= maxMemoryBytes)) continue;
        if (minContextLength !== undefined && !(this.context[slot]! >= minContextLength)) continue;
        result.push(this.resolved[slot]!);
        if (result.length >= limit) return result;
      }
    }
    return result;
  }
}
