/**
 * Registry benchmark (issue 3): with 10,000 registered models, on the memory store and on a SQLite
 * file, measures
 * - lookup by id or alias, p95 (target ≤ 10 µs);
 * - query by task + constraints, p95 (target ≤ 1 ms);
 * - recordSample, amortised over 100,000 samples including the batched flushes (target ≤ 20 µs), with
 *   the samples on the 100 busiest models, and spread over all 10,000 (the worst case for flushing).
 * Beside each figure stands a peer measured in the same run: the same operation done the direct way
 * on the same SQLite file (a prepared SELECT per lookup or query, one INSERT transaction per sample),
 * which is what a registry without an in-memory view would pay.
 *
 * Timings are printed, never asserted.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/registry.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Bench } from 'tinybench';
import { expect, it } from 'vitest';
import { ModelRegistry, type ModelQuery, type Task } from '../src/registry/index.js';
import { seededRandom as random } from '../test/helpers/expect.js';

const MODELS = 10_000;
const SAMPLES = 100_000;
const TASKS: Task[] = ['chat', 'completion', 'embedding', 'judge', 'code'];
const CONTEXTS = [2048, 4096, 8192, 32_768, 131_072];
const QUERY: ModelQuery = { task: 'chat', maxMemoryBytes: 8e9, minContextLength: 8192, localOnly: true };


async function populate(registry: ModelRegistry): Promise<void> {
  const next = random(42);
  for (let index = 0; index < MODELS; index++) {
    const tasks = TASKS.filter(() => next() < 0.4);
    const local = next() < 0.7;
    await registry.registerModel({
      id: `model-${index}`,
      aliases: [`model-${index}:latest`],
      tasks: tasks.length > 0 ? tasks : ['completion'],
      tags: [`family-${index % 20}`, index % 2 === 0 ? 'even' : 'odd'],
      version: {
        version: '1',
        source: local ? { kind: 'gguf', path: `/models/model-${index}.gguf` } : { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:8080/v1', model: `m${index}` },
        // Metadata given up front, as discovery does: the bench measures the registry, not file reads.
        ...(local ? { metadata: { format: 'gguf', sizeBytes: Math.round(1e8 + next() * 2e10), contextLength: CONTEXTS[Math.floor(next() * CONTEXTS.length)]!, architecture: 'llama' } } : {}),
        memoryEstimateBytes: local ? Math.round(1e8 + next() * 2e10) : 0,
      },
    });
  }
}

function p95(bench: Bench, name: string): number {
  const task = bench.getTask(name);
  const result = task?.result;
  if (result === undefined || !('latency' in result) || result.latency.samples === undefined) throw new Error(`no samples for ${name}`);
  const samples = result.latency.samples;
  return samples[Math.min(samples.length - 1, Math.ceil(0.95 * samples.length) - 1)]! * 1000; // ms → µs
}

interface Row {
  store: string;
  measure: string;
  modelpool: number;
  peer: number;
  target: number;
}

async function measure(label: 'memory' | 'sqlite', path: string): Promise<Row[]> {
  const registry = await ModelRegistry.open({ ...(label === 'sqlite' ? { path } : {}), refreshIntervalMs: 1000, history: { flushIntervalMs: 1000, flushBatchSize: 5000 } });
  const started = performance.now();
  await populate(registry);
  const populateMs = performance.now() - started;
  const names = Array.from({ length: 4096 }, (_, index) => (index % 2 === 0 ? `model-${(index * 7919) % MODELS}` : `model-${(index * 104_729) % MODELS}:latest`));
  let cursor = 0;
  let sink = 0;

  // The peer: the same operations straight on a SQLite file (the registry's own file in the sqlite run).
  const peerPath = label === 'sqlite' ? path : join(tmpdir(), `modelpool-bench-peer-${process.pid}.db`);
  if (label === 'memory') {
    const copy = await ModelRegistry.open({ path: peerPath, refreshIntervalMs: 0 });
    await populate(copy);
    await copy.close();
  }
  const db = new Database(peerPath);
  db.pragma('journal_mode = WAL');
  const lookup = db.prepare(
    `SELECT m.*, v.* FROM names n JOIN models m ON m.id = n.model_id JOIN versions v ON v.model_id = m.id AND v.version = m.default_version WHERE n.name = ?`,
  );
  const query = db.prepare(
    `SELECT m.id, v.version FROM models m JOIN versions v ON v.model_id = m.id AND v.version = m.default_version
     WHERE EXISTS (SELECT 1 FROM json_each(m.tasks) WHERE value = 'chat')
       AND coalesce(v.memory_estimate_bytes, json_extract(v.metadata, '$.sizeBytes')) <= ?
       AND coalesce(v.context_length, json_extract(v.metadata, '$.contextLength')) >= ?
       AND json_extract(v.source, '$.kind') IN ('gguf', 'onnx')
       AND v.state IN ('registered', 'loading', 'ready', 'draining') AND v.deprecated = 0`,
  );
  db.exec('CREATE TABLE IF NOT EXISTS bench_samples (model_id TEXT, version TEXT, task TEXT, total_ms REAL, ttft_ms REAL, success INTEGER, at INTEGER)');
  const insert = db.prepare('INSERT INTO bench_samples VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertOne = db.transaction((index: number) => insert.run(`model-${index % MODELS}`, '1', 'chat', 40 + (index % 17), 5, 1, Date.now()));

  const bench = new Bench({ time: 400, warmupTime: 100, retainSamples: true });
  bench
    .add('lookup', () => {
      sink += registry.resolve(names[cursor++ & 4095]!).version.ordinal;
    })
    .add('lookup peer', () => {
      sink += (lookup.get(names[cursor++ & 4095]) as { ordinal: number }).ordinal;
    })
    .add('query', () => {
      sink += registry.find(QUERY).length;
    })
    .add('query peer', () => {
      sink += query.all(8e9, 8192).length;
    });
  await bench.run();
  const matches = registry.find(QUERY).length;
  expect(query.all(8e9, 8192)).toHaveLength(matches);

  // recordSample, amortised: the whole loop plus the flushes it causes, divided by the samples. Once with
  // the samples on the 100 busiest models (a server's working set), once spread over all 10,000 (worst case:
  // every flush writes thousands of distinct keys).
  const recordUs = async (spread: number): Promise<number> => {
    const start = performance.now();
    for (let index = 0; index < SAMPLES; index++) {
      registry.recordSample({ model: `model-${index % spread}`, task: 'chat', totalMs: 40 + (index % 17), ttftMs: 5, tokensPerSecond: 30, success: index % 50 !== 0 });
      if ((index & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve)); // let batched flushes run, as a server's event loop would
    }
    await registry.flush();
    return ((performance.now() - start) * 1000) / SAMPLES;
  };
  const recordHotUs = await recordUs(100);
  const recordSpreadUs = await recordUs(MODELS);
  const peerSamples = 5_000;
  const peerStart = performance.now();
  for (let index = 0; index < peerSamples; index++) insertOne(index);
  const peerRecordUs = ((performance.now() - peerStart) * 1000) / peerSamples;
  expect(registry.performance('model-1', { task: 'chat' })!.samples).toBe(SAMPLES / 100 + SAMPLES / MODELS);

  db.close();
  if (label === 'memory') for (const suffix of ['', '-wal', '-shm']) rmSync(`${peerPath}${suffix}`, { force: true });
  await registry.close();
  console.log(`[${label}] populated ${MODELS} models in ${(populateMs / 1000).toFixed(1)} s; query matches ${matches}; sink ${sink > 0}`);
  return [
    { store: label, measure: 'lookup by id/alias, p95 (µs)', modelpool: p95(bench, 'lookup'), peer: p95(bench, 'lookup peer'), target: 10 },
    { store: label, measure: 'query task+constraints, p95 (µs)', modelpool: p95(bench, 'query'), peer: p95(bench, 'query peer'), target: 1000 },
    { store: label, measure: 'recordSample amortised, 100 busy models (µs)', modelpool: recordHotUs, peer: peerRecordUs, target: 20 },
    { store: label, measure: 'recordSample amortised, spread over 10,000 (µs)', modelpool: recordSpreadUs, peer: peerRecordUs, target: 20 },
  ];
}

it('registry benchmark', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'modelpool-bench-'));
  try {
    const rows = [...(await measure('memory', '')), ...(await measure('sqlite', join(folder, 'registry.db')))];
    const format = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
    const lines = [
      `registry benchmark: ${MODELS} models, Node ${process.version}, ${process.platform}/${process.arch}`,
      '| store | measure | modelpool | peer (direct SQLite) | target | met |',
      '| --- | --- | ---: | ---: | ---: | --- |',
      ...rows.map((row) => `| ${row.store} | ${row.measure} | ${format(row.modelpool)} | ${format(row.peer)} | ≤ ${row.target} | ${row.modelpool <= row.target ? 'yes' : 'NO'} |`),
      'peer: lookup = one prepared SELECT joining names/models/versions; query = one prepared SELECT with JSON filters;',
      'record = one INSERT transaction per sample (WAL, synchronous NORMAL). modelpool serves reads from memory and batches samples.',
    ];
    console.log(lines.join('\n'));
    for (const row of rows) expect(Number.isFinite(row.modelpool) && Number.isFinite(row.peer)).toBe(true);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
