/**
 * Pool benchmark (issue 4), on real models through the real engine:
 * - acquire() p95 for a loaded model (target ≤ 50 µs; the seed budgeted 100 ms for pool allocation),
 *   beside the floor of one resolved-promise await measured the same way;
 * - hot swap during a steady load of concurrent requests: failed requests (target 0) and p99
 *   latency of requests that overlapped a swap vs those that did not (target ≤ +10%), for the
 *   `beside` strategy and, for comparison, the `sequential` one (memory for one version only);
 * - estimate error after learning (target ≤ 5%): the engine's dry-run estimate, and — as a peer —
 *   an Ollama-style estimate from GGUF metadata alone, raw and after the pool's per-architecture
 *   calibration.
 *
 * Timings are printed, never asserted: the machines are shared and noisy.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/pool.bench.ts
 *
 * Environment: BENCH_SWAPS (default 12) swaps per strategy, BENCH_ACQUIRES (default 20000).
 */
import { loadavg } from 'node:os';
import { expect, it } from 'vitest';

import { estimateMemory, inspect, loadModel } from '../src/engine/index.js';
import { ModelPool, createEngineLoader } from '../src/pool/index.js';
import type { ModelLoader, ModelSpec } from '../src/pool/types.js';
import { cachedTestModel } from '../src/testing/model-generator.js';
import { metadataEstimate } from './metadata-estimate.js';

const STORIES = new URL('../../shared/models/stories260K.gguf', import.meta.url).pathname;
const SWAPS = Math.max(1, Number(process.env.BENCH_SWAPS ?? 12));
const ACQUIRES = Math.max(1000, Number(process.env.BENCH_ACQUIRES ?? 20_000));
const LOAD = { contextSize: 256, batchSize: 64 } as const;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
const ms = (v: number): string => `${v.toFixed(2)} ms`;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

interface Row {
  measure: string;
  value: string;
  peer: string;
  target: string;
}
const rows: Row[] = [];
const notes: string[] = [];

// ---------------------------------------------------------------------------------------------
// 1. acquire p95 on a loaded model

async function benchAcquire(): Promise<void> {
  const pool = new ModelPool({ models: [{ id: 'stories', source: STORIES, parallel: 4, ...LOAD }], keepAliveMs: -1 });
  try {
    await pool.load('stories');
    const acquire: number[] = [];
    const roundTrip: number[] = [];
    const floor: number[] = [];
    // Warm-up, then interleave the pool and the floor in blocks.
    for (let i = 0; i < 2000; i++) (await pool.acquire('stories')).release();
    for (let block = 0; block < ACQUIRES / 1000; block++) {
      for (let i = 0; i < 1000; i++) {
        const t0 = performance.now();
        const lease = await pool.acquire('stories');
        const t1 = performance.now();
        lease.release();
        const t2 = performance.now();
        acquire.push(t1 - t0);
        roundTrip.push(t2 - t0);
      }
      for (let i = 0; i < 1000; i++) {
        const t0 = performance.now();
        await Promise.resolve(i);
        floor.push(performance.now() - t0);
      }
    }
    rows.push({ measure: 'acquire() p50, loaded model', value: us(quantile(acquire, 0.5)), peer: `await Promise.resolve(): ${us(quantile(floor, 0.5))}`, target: '' });
    rows.push({ measure: 'acquire() p95, loaded model', value: us(quantile(acquire, 0.95)), peer: `await Promise.resolve(): ${us(quantile(floor, 0.95))}`, target: '≤ 50 µs' });
    rows.push({ measure: 'acquire() p99, loaded model', value: us(quantile(acquire, 0.99)), peer: `await Promise.resolve(): ${us(quantile(floor, 0.99))}`, target: '' });
    rows.push({ measure: 'acquire()+release() p95', value: us(quantile(roundTrip, 0.95)), peer: '', target: '' });
  } finally {
    await pool.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. hot swap under steady concurrent load

interface SwapBench {
  steady: number[];
  during: number[];
  failures: number;
  ok: number;
  swapMs: number[];
  pausedMs: number[];
  strategies: Set<string>;
  /** Beside: latencies of requests that overlapped each phase of a swap (the first phase they overlapped). */
  phases: Record<SwapPhase, number[]>;
}

type SwapPhase = 'load' | 'check' | 'drain';

/** When a beside swap's new version was loaded, when it was published, and when the old version was unloaded. */
interface SwapTimeline {
  start: number;
  ready?: number;
  published?: number;
  unloaded?: number;
}

async function benchSwap(strategy: 'beside' | 'sequential'): Promise<SwapBench> {
  const storiesBytes = (await estimateMemory(STORIES, LOAD)).total;
  const pool = new ModelPool({
    models: [{ id: 'stories', source: STORIES, version: 'a', parallel: 4, ...LOAD }],
    keepAliveMs: -1,
    // sequential: memory for one version only, so the pool must swap in place.
    ...(strategy === 'sequential' ? { memory: { budgets: { CPU: Math.floor(storiesBytes * 1.5) } } } : {}),
  });
  const result: SwapBench = { steady: [], during: [], failures: 0, ok: 0, swapMs: [], pausedMs: [], strategies: new Set(), phases: { load: [], check: [], drain: [] } };
  const swapWindows: Array<[number, number]> = [];
  const timelines: SwapTimeline[] = [];
  pool.on('ready', () => {
    const last = timelines.at(-1);
    if (last !== undefined && last.ready === undefined) last.ready = performance.now();
  });
  pool.on('swap', () => {
    const last = timelines.at(-1);
    if (last !== undefined) last.published = performance.now();
  });
  pool.on('unload', (event) => {
    const waiting = timelines.find((t) => t.published !== undefined && t.unloaded === undefined);
    if (event.reason === 'swap' && waiting !== undefined) waiting.unloaded = performance.now();
  });
  const samples: Array<[number, number, number]> = []; // start, end, latency
  let stop = false;
  try {
    await pool.load('stories');
    const client = async (): Promise<void> => {
      while (!stop) {
        const start = performance.now();
        try {
          await pool.use('stories', (lease) => lease.model.complete({ prompt: 'Once upon a time', maxTokens: 8, temperature: 0 }));
          result.ok++;
          const end = performance.now();
          samples.push([start, end, end - start]);
        } catch {
          result.failures++;
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await new Promise((r) => setTimeout(r, 500)); // warm
    samples.length = 0;
    for (let i = 0; i < SWAPS; i++) {
      await new Promise((r) => setTimeout(r, 300)); // steady window
      const start = performance.now();
      timelines.push({ start });
      const swap = await pool.swapVersion('stories', { source: STORIES, version: i % 2 === 0 ? 'b' : 'a', parallel: 4, ...LOAD });
      // The swap window lasts until the old version has drained: requests still on it overlap.
      const end = performance.now();
      swapWindows.push([start, end]);
      result.swapMs.push(end - start);
      result.pausedMs.push(swap.pausedMs);
      result.strategies.add(swap.strategy);
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(clients);
  } finally {
    stop = true;
    await pool.dispose();
  }
  for (const [s, e, latency] of samples) {
    const overlaps = swapWindows.some(([ws, we]) => s < we && e > ws);
    (overlaps ? result.during : result.steady).push(latency);
    if (strategy !== 'beside') continue;
    const within = (from: number | undefined, to: number | undefined): boolean => from !== undefined && to !== undefined && s < to && e > from;
    for (const t of timelines) {
      const phase: SwapPhase | undefined = within(t.start, t.ready) ? 'load' : within(t.ready, t.published) ? 'check' : within(t.published, t.unloaded) ? 'drain' : undefined;
      if (phase === undefined) continue;
      result.phases[phase].push(latency);
      break;
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// 3. estimate error after learning

/** The peer: estimates from GGUF metadata alone, Ollama's approach (metadata-estimate.ts); loads through the engine. */
function metadataLoader(): ModelLoader {
  const engine = createEngineLoader();
  return {
    ...engine,
    async estimate(spec, options) {
      const info = await inspect(spec.source);
      return { memory: await metadataEstimate(spec.source, options), architecture: info.architecture, layers: info.layers, trainContextLength: info.contextLength };
    },
    load: (spec, options) => engine.load(spec, options),
  };
}

interface EstimateBench {
  label: string;
  errors: Array<{ model: string; raw: number; calibrated: number }>;
}

async function benchEstimates(models: Array<{ name: string; path: string; contextSize: number }>, loader: ModelLoader, label: string): Promise<EstimateBench> {
  const specs: ModelSpec[] = models.map((m) => ({ id: m.name, source: m.path, contextSize: m.contextSize, batchSize: 64 }));
  const pool = new ModelPool({ loader, models: specs, keepAliveMs: 0 });
  const out: EstimateBench = { label, errors: [] };
  pool.on('ready', (e) => out.errors.push({ model: e.modelId, raw: e.rawEstimateError, calibrated: e.estimateError }));
  try {
    for (const m of models) await pool.load(m.name);
  } finally {
    await pool.dispose();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

it('pool benchmark', async () => {
  const load0 = loadavg()[0]!;
  await loadModel(STORIES, { ...LOAD, threads: 1 }).then((m) => m.dispose()); // probe once, outside the timings
  await benchAcquire();

  for (const strategy of ['beside', 'sequential'] as const) {
    const r = await benchSwap(strategy);
    const p99Steady = quantile(r.steady, 0.99);
    const p99During = quantile(r.during, 0.99);
    rows.push({ measure: `swap (${strategy}): failed requests`, value: `${r.failures} of ${r.ok + r.failures}`, peer: '', target: strategy === 'beside' ? '0' : '' });
    rows.push({
      measure: `swap (${strategy}): p99 during vs steady`,
      value: `${ms(p99During)} vs ${ms(p99Steady)} (${p99During >= p99Steady ? '+' : ''}${pct(p99During / p99Steady - 1)})`,
      peer: `p50 ${ms(quantile(r.during, 0.5))} vs ${ms(quantile(r.steady, 0.5))}`,
      target: strategy === 'beside' ? '≤ +10%' : '',
    });
    rows.push({
      measure: `swap (${strategy}): swap time p50 / requests held p50`,
      value: `${ms(quantile(r.swapMs, 0.5))} / ${ms(quantile(r.pausedMs, 0.5))}`,
      peer: `${SWAPS} swaps, ${r.during.length} requests overlapped, ${r.steady.length} steady`,
      target: '',
    });
    notes.push(`swap (${strategy}) strategies used: ${[...r.strategies].join(', ')}`);
    if (strategy === 'beside') {
      const phase = (name: string, values: number[]): string => `${name} ${ms(quantile(values, 0.5))} (${values.length})`;
      notes.push(
        `swap (beside) p50 of requests by the swap phase they overlapped: ${phase('loading the new version', r.phases.load)}, ${phase('its health check', r.phases.check)}, ` +
          `${phase('the old version draining', r.phases.drain)}; steady ${ms(quantile(r.steady, 0.5))}`,
      );
    }
  }

  const common = { heads: 4, kvHeads: 2, contextLength: 1024, type: 'F32' as const, vocabPath: STORIES };
  const small = await cachedTestModel({ ...common, layers: 2, embeddingSize: 64, feedForwardSize: 128 });
  const medium = await cachedTestModel({ ...common, layers: 4, embeddingSize: 128, feedForwardSize: 256 });
  const large = await cachedTestModel({ ...common, layers: 8, embeddingSize: 256, feedForwardSize: 512 });
  const wide = await cachedTestModel({ ...common, layers: 6, embeddingSize: 192, feedForwardSize: 384, type: 'F16' });
  const sequence = [
    { name: 'stories@256', path: STORIES, contextSize: 256 },
    { name: 'small@512', path: small, contextSize: 512 },
    { name: 'medium@256', path: medium, contextSize: 256 },
    { name: 'large@1024', path: large, contextSize: 1024 },
    { name: 'wide-f16@512', path: wide, contextSize: 512 },
    { name: 'stories@1024', path: STORIES, contextSize: 1024 },
  ];
  for (const [loader, label] of [
    [createEngineLoader(), 'engine dry-run estimate'],
    [metadataLoader(), 'peer: GGUF-metadata formula (Ollama-style)'],
  ] as const) {
    const r = await benchEstimates(sequence, loader, label);
    const after = r.errors.slice(2);
    const meanRaw = after.reduce((s, e) => s + Math.abs(e.raw), 0) / after.length;
    const meanCal = after.reduce((s, e) => s + Math.abs(e.calibrated), 0) / after.length;
    const maxCal = Math.max(...after.map((e) => Math.abs(e.calibrated)));
    rows.push({
      measure: `estimate error after learning — ${label}`,
      value: `mean |err| ${pct(meanCal)}, max ${pct(maxCal)}`,
      peer: `uncalibrated mean |err| ${pct(meanRaw)}`,
      target: '≤ 5%',
    });
    notes.push(`${label}: per load (raw → calibrated) ${r.errors.map((e) => `${e.model} ${pct(e.raw)} → ${pct(e.calibrated)}`).join('; ')}`);
  }

  const load1 = loadavg()[0]!;
  const width = (k: keyof Row): number => Math.max(k.length, ...rows.map((r) => r[k].length));
  const line = (r: Row): string => `| ${r.measure.padEnd(width('measure'))} | ${r.value.padEnd(width('value'))} | ${r.peer.padEnd(width('peer'))} | ${r.target.padEnd(width('target'))} |`;
  console.log(
    [
      '',
      'modelpool pool benchmark (real engine, stories260K and generated llama models)',
      line({ measure: 'measure', value: 'value', peer: 'peer / context', target: 'target' }),
      line({ measure: '-'.repeat(width('measure')), value: '-'.repeat(width('value')), peer: '-'.repeat(width('peer')), target: '-'.repeat(width('target')) }),
      ...rows.map(line),
      '',
      ...notes.map((n) => `- ${n}`),
      `- load average ${load0.toFixed(2)} → ${load1.toFixed(2)} (1 min); 4 concurrent clients, 8 tokens per request; acquires: ${ACQUIRES}`,
      '',
    ].join('\n'),
  );
  expect(rows.length).toBeGreaterThan(0);
});
