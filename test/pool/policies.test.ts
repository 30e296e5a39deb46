/** Pure policies of the pool: queue order and aging, eviction scoring, thread budget, calibration, budgets. */

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isModelpoolError } from '../../src/errors.js';
import type { MemoryReport } from '../../src/engine/types.js';
import { resolveBudgets, resolveBytes, validateBudgetOptions } from '../../src/pool/budget.js';
import { MemoryCalibrator, reportDevices, sumBytes } from '../../src/pool/calibration.js';
import {
  DEFAULT_EVICTION_POLICY,
  bumpUseScore,
  chooseVictims,
  evictionCost,
  reuseProbability,
  type EvictionCandidate,
} from '../../src/pool/eviction.js';
import { WaitQueue, queueKey, type Queued } from '../../src/pool/queue.js';
import { allocateThreads, defaultThreadBudget } from '../../src/pool/threads.js';

const GB = 1e9;

describe('WaitQueue', () => {
  interface Item extends Queued {
    name: string;
  }
  let seq = 0;
  const item = (name: string, key: number): Item => ({ name, key, seq: seq++, cancelled: false });

  it('pops by key, first-in first-out on equal keys', () => {
    const q = new WaitQueue<Item>();
    for (const [n, k] of [['c', 3], ['a', 1], ['b1', 2], ['b2', 2], ['d', 4]] as const) q.push(item(n, k));
    expect(q.size).toBe(5);
    expect(q.drain().map((i) => i.name)).toEqual(['a', 'b1', 'b2', 'c', 'd']);
    expect(q.size).toBe(0);
    expect(q.pop()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it('drops cancelled items lazily and keeps the live count', () => {
    const q = new WaitQueue<Item>();
    const items = [item('a', 1), item('b', 2), item('c', 3), item('d', 0.5)];
    for (const i of items) q.push(i);
    q.cancel(items[3]!);
    q.cancel(items[1]!);
    q.cancel(items[1]!); // idempotent
    expect(q.size).toBe(2);
    expect(q.peek()!.name).toBe('a');
    expect(q.drain().map((i) => i.name)).toEqual(['a', 'c']);
  });

  it('stays a heap under random pushes and cancels', () => {
    const q = new WaitQueue<Item>();
    const all: Item[] = [];
    let x = 7;
    const rand = (): number => (x = (x * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 500; i++) {
      const it = item(String(i), Math.floor(rand() * 100));
      all.push(it);
      q.push(it);
      if (rand() < 0.3) q.cancel(all[Math.floor(rand() * all.length)]!);
    }
    const out = q.drain();
    expect(out.length).toBe(all.filter((i) => !i.cancelled).length);
    for (let i = 1; i < out.length; i++) {
      expect(out[i - 1]!.key < out[i]!.key || (out[i - 1]!.key === out[i]!.key && out[i - 1]!.seq < out[i]!.seq)).toBe(true);
    }
  });

  it('priority is a head start that aging overtakes', () => {
    const step = 1000;
    const high = queueKey(10_000, 'high', step);
    const normal = queueKey(10_000, 'normal', step);
    const low = queueKey(10_000, 'low', step);
    expect(high).toBeLessThan(normal);
    expect(normal).toBeLessThan(low);
    // A low request that waited more than two steps is served before a fresh high one.
    expect(queueKey(10_000 - 2 * step - 1, 'low', step)).toBeLessThan(high);
    expect(queueKey(10_000 - 2 * step + 1, 'low', step)).toBeGreaterThan(high);
  });
});

describe('eviction', () => {
  const policy = DEFAULT_EVICTION_POLICY;
  const cand = (name: string, bytes: number, extra: Partial<EvictionCandidate<string>> = {}): EvictionCandidate<string> => ({
    item: name,
    bytes: new Map([['CPU', bytes]]),
    reloadMs: 1000,
    useScore: 1,
    scoredAt: 0,
    keepAliveMs: 60_000,
    busy: false,
    ...extra,
  });

  it('reuse probability grows with recency and frequency, and is 0 for keep-alive 0', () => {
    const rare = cand('rare', 1, { useScore: 1 });
    const frequent = cand('frequent', 1, { useScore: 20 });
    expect(reuseProbability(frequent, 0, policy)).toBeGreaterThan(reuseProbability(rare, 0, policy));
    const old = cand('old', 1, { useScore: 20, scoredAt: 0 });
    expect(reuseProbability(old, 60 * 60_000, policy)).toBeLessThan(reuseProbability(old, 0, policy));
    expect(reuseProbability(cand('zero', 1, { keepAliveMs: 0, useScore: 100 }), 0, policy)).toBe(0);
    let s = 0;
    for (let t = 0; t < 10; t++) s = bumpUseScore(s, t === 0 ? 0 : t - 1, t, policy.halfLifeMs);
    expect(s).toBeCloseTo(10, 2);
  });

  it('busy models cost more than idle ones', () => {
    expect(evictionCost(cand('b', 1, { busy: true }), 0, policy)).toBeGreaterThan(evictionCost(cand('i', 1), 0, policy));
  });

  it('prefers the cheapest cost per byte freed, not the least recently used', () => {
    // "cheap" was used more recently but reloads fast; "slow" is older but costly to reload.
    const slow = cand('slow', 2 * GB, { reloadMs: 20_000, useScore: 3, scoredAt: 0 });
    const cheap = cand('cheap', 2 * GB, { reloadMs: 100, useScore: 3, scoredAt: 1000 });
    const choice = chooseVictims([slow, cheap], { bytes: new Map([['CPU', GB]]), models: 0 }, 2000, policy);
    expect(choice.covers).toBe(true);
    expect(choice.victims.map((v) => v.item)).toEqual(['cheap']);
  });

  it('weighs bytes freed: one big model rather than several small ones of equal cost', () => {
    const big = cand('big', 4 * GB, { reloadMs: 2000 });
    const smalls = [1, 2, 3, 4].map((i) => cand(`small${i}`, GB, { reloadMs: 1500 }));
    const choice = chooseVictims([...smalls, big], { bytes: new Map([['CPU', 3 * GB]]), models: 0 }, 0, policy);
    expect(choice.victims.map((v) => v.item)).toEqual(['big']);
  });

  it('trims victims that are not needed and reports when nothing covers', () => {
    const a = cand('a', GB, { reloadMs: 10 });
    const b = cand('b', 3 * GB, { reloadMs: 20 });
    const choice = chooseVictims([a, b], { bytes: new Map([['CPU', 2.5 * GB]]), models: 0 }, 0, policy);
    expect(choice.victims.map((v) => v.item)).toEqual(['b']);
    const none = chooseVictims([a], { bytes: new Map([['CPU', 2 * GB]]), models: 0 }, 0, policy);
    expect(none.covers).toBe(false);
  });

  it('covers a model-count shortfall with the cheapest model and counts only useful bytes', () => {
    const gpu = cand('gpu', 0, { bytes: new Map([['GPU0', GB]]), reloadMs: 5000 });
    const cpu = cand('cpu', GB, { reloadMs: 10 });
    const count = chooseVictims([gpu, cpu], { bytes: new Map(), models: 1 }, 0, policy);
    expect(count.victims.map((v) => v.item)).toEqual(['cpu']);
    const gpuNeed = chooseVictims([cpu, gpu], { bytes: new Map([['GPU0', GB / 2]]), models: 0 }, 0, policy);
    expect(gpuNeed.victims.map((v) => v.item)).toEqual(['gpu']);
    expect(gpuNeed.cost).toBeGreaterThan(0);
  });
});

describe('thread budget', () => {
  it('defaults to the cores left after the event loop, at least 1', () => {
    expect(defaultThreadBudget(2)).toBe(1);
    expect(defaultThreadBudget(1)).toBe(1);
    expect(defaultThreadBudget(16)).toBe(15);
    // Without an argument it counts the cores this process may run on.
    expect(defaultThreadBudget()).toBe(defaultThreadBudget(availableParallelism()));
  });

  it('never exceeds the total while running models fit, and respects caps', () => {
    for (let total = 1; total <= 16; total++) {
      for (let n = 1; n <= total; n++) {
        const models = Array.from({ length: n }, (_, i) => ({ key: i, demand: (i % 3) + 1, maxThreads: i === 0 ? 2 : 64 }));
        const a = allocateThreads(total, models);
        let sum = 0;
        for (const m of models) {
          const t = a.get(m.key)!;
          expect(t).toBeGreaterThanOrEqual(1);
          expect(t).toBeLessThanOrEqual(Math.max(1, m.maxThreads));
          sum += t;
        }
        expect(sum).toBeLessThanOrEqual(total);
        // Uncapped threads are all handed out.
        if (n > 1 || models[0]!.maxThreads >= total) expect(sum).toBe(Math.min(total, models.reduce((s, m) => s + m.maxThreads, 0)));
      }
    }
  });

  it('splits in proportion to demand', () => {
    const a = allocateThreads(15, [
      { key: 'busy', demand: 4, maxThreads: 64 },
      { key: 'light', demand: 1, maxThreads: 64 },
    ]);
    expect(a.get('busy')).toBeGreaterThan(a.get('light')!);
    expect(a.get('busy')! + a.get('light')!).toBe(15);
    expect(allocateThreads(4, []).size).toBe(0);
  });

  it('gives each model one thread when more run than the budget (the pool gates this)', () => {
    const a = allocateThreads(1, [
      { key: 1, demand: 1, maxThreads: 8 },
      { key: 2, demand: 1, maxThreads: 8 },
    ]);
    expect([...a.values()]).toEqual([1, 1]);
  });
});

const report = (weights: number, kv: number, compute: number, device = 'CPU'): MemoryReport => ({
  devices: [{ device, weights, kvCache: kv, compute, total: weights + kv + compute }],
  total: weights + kv + compute,
  weights,
  kvCache: kv,
  compute,
});

describe('MemoryCalibrator', () => {
  it('passes the raw estimate through for an unknown architecture', () => {
    const c = new MemoryCalibrator();
    expect(sumBytes(c.calibrate('llama', report(100, 10, 5)))).toBe(115);
    expect(c.stats()).toEqual([]);
  });

  it('learns measured/estimated per kind and the next estimate is within 5%', () => {
    const c = new MemoryCalibrator();
    // The engine underestimates compute by 2x and KV by 10%; weights are exact.
    const first = c.record('llama', report(1000, 200, 100), report(1000, 220, 200));
    expect(first.rawError).toBeGreaterThan(0.08);
    // A different shape of the same architecture.
    const raw = report(4000, 800, 300);
    const measured = report(4000, 880, 600);
    const estimate = sumBytes(c.calibrate('llama', raw));
    expect(Math.abs(estimate - measured.total) / measured.total).toBeLessThan(0.05);
    const second = c.record('llama', raw, measured);
    expect(Math.abs(second.error)).toBeLessThan(0.05);
    const [stats] = c.stats();
    expect(stats!.samples).toBe(2);
    expect(stats!.ratios.compute).toBeCloseTo(2, 5);
    expect(stats!.meanAbsError).toBeLessThan(stats!.rawMeanAbsError);
    // Other architectures are untouched.
    expect(sumBytes(c.calibrate('qwen2', raw))).toBe(raw.total);
  });

  it('learns offsets for kinds the estimate missed, and unkinded bytes', () => {
    const c = new MemoryCalibrator();
    const raw = report(1000, 0, 0);
    const measured: MemoryReport = {
      devices: [
        { device: 'CPU', weights: 1000, kvCache: 50, compute: 0, total: 1100 },
        { device: 'GPU0', weights: 0, kvCache: 0, compute: 30, total: 30 },
      ],
      total: 1130,
      weights: 1000,
      kvCache: 50,
      compute: 30,
    };
    c.record('llama', raw, measured);
    const next = c.calibrate('llama', raw);
    expect(next.get('CPU')).toBe(1100);
    expect(next.get('GPU0')).toBe(30);
  });

  it('moves with a weighted average and clamps wild ratios', () => {
    const c = new MemoryCalibrator({ alpha: 0.5, maxRatio: 4 });
    c.record('a', report(100, 0, 0), report(1000, 0, 0));
    expect(c.stats()[0]!.ratios.weights).toBe(4);
    for (let i = 0; i < 20; i++) c.record('a', report(100, 0, 0), report(110, 0, 0));
    expect(c.stats()[0]!.ratios.weights).toBeCloseTo(1.1, 3);
  });

  it('reports devices of a report, falling back to CPU', () => {
    expect(reportDevices({ devices: [], total: 5, weights: 5, kvCache: 0, compute: 0 }).get('CPU')).toBe(5);
    const c = new MemoryCalibrator();
    const empty = { devices: [], total: 0, weights: 0, kvCache: 0, compute: 0 };
    expect(c.record('x', empty, empty).error).toBe(0);
    expect(sumBytes(c.calibrate('x', { devices: [], total: 7, weights: 7, kvCache: 0, compute: 0 }))).toBe(7);
  });
});

describe('budgets', () => {
  const devices = [
    { device: 'CPU', total: 16 * GB, free: 10 * GB },
    { device: 'CUDA0', total: 8 * GB, free: 7 * GB },
  ];

  it('defaults to free memory minus a 10% margin of the total', () => {
    const b = resolveBudgets(undefined, devices);
    expect(b.get('CPU')).toBe(10 * GB - 1.6 * GB);
    expect(b.get('CUDA0')).toBe(7 * GB - 0.8 * GB);
  });

  it('accepts bytes and percentages, per device, and a custom margin', () => {
    const b = resolveBudgets({ budgets: { CPU: '50%', CUDA0: 2 * GB, Remote: 100 }, margin: 0 }, devices);
    expect(b.get('CPU')).toBe(8 * GB);
    expect(b.get('CUDA0')).toBe(2 * GB);
    expect(b.get('Remote')).toBe(100);
    expect(resolveBudgets({ margin: GB }, devices).get('CPU')).toBe(9 * GB);
    expect(resolveBudgets(undefined, [{ device: 'CPU', total: GB, free: 0 }]).get('CPU')).toBe(0);
  });

  it('rejects bad amounts with the field named', () => {
    for (const bad of [-1, Number.NaN, '120%', 'lots', '%', null]) {
      try {
        resolveBytes('memory.budgets.CPU', bad, 100);
        expect.unreachable();
      } catch (error) {
        expect(isModelpoolError(error, 'INVALID_ARGUMENT')).toBe(true);
        expect((error as Error).message).toContain('memory.budgets.CPU');
      }
    }
    expect(() => resolveBytes('memory.budgets.X', '50%', undefined)).toThrow(/percentage cannot be resolved/);
    expect(() => validateBudgetOptions({ budgets: null as never })).toThrow(/memory.budgets/);
    expect(() => validateBudgetOptions({ margin: 'x' as never })).toThrow(/memory.margin/);
    expect(() => validateBudgetOptions({ budgets: { CPU: '5%' }, margin: '1%' })).not.toThrow();
    expect(() => validateBudgetOptions(undefined)).not.toThrow();
  });
});
