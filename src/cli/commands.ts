/**
 * CLI commands beyond serve and demo. Those that act on a running server (`ps`, `load`, `unload`, `swap`)
 * talk to it over its admin API (`--server`, default http://127.0.0.1:11435; `--key` or MODELPOOL_KEY when
 * it has caller keys); the others (`ls`, `add`, `rm`, `run`) work on the local registry. `--json` prints
 * machine-readable output. Errors print `CODE: message` and exit 1.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ModelpoolError } from '../errors.js';
import { ModelRegistry } from '../registry/index.js';
import type { Task } from '../registry/types.js';
import { dataFolder } from './defaults.js';

export interface ServerFlags {
  server: string;
  key?: string;
  json?: boolean;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** A call to the server's admin API; its errors as modelpool errors (the server's message, a code from the status). */
export async function call(flags: ServerFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${flags.server.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(flags.key !== undefined ? { authorization: `Bearer ${flags.key}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    throw new ModelpoolError('PROVIDER_UNAVAILABLE', `No modelpool server at ${flags.server} (start one with modelpool serve)`, { cause: error });
  }
  const payload = (await response.json().catch(() => ({}))) as { error?: { message?: string; code?: string } };
  if (!response.ok) {
    const code = response.status === 401 ? 'UNAUTHORIZED' : response.status === 403 ? 'FORBIDDEN' : response.status === 404 ? 'MODEL_NOT_FOUND' : response.status < 500 ? 'INVALID_ARGUMENT' : 'PROVIDER_ERROR';
    throw new ModelpoolError(code, payload.error?.message ?? `HTTP ${response.status}`);
  }
  return payload;
}

interface StatusModel {
  id: string;
  version?: string;
  state: string;
  sizeBytes: number;
  leases: number;
  queued: number;
  pinned: boolean;
  expiresAt: number | null;
}

/** `modelpool ps`: the server's loaded models, memory and expiry, as `ollama ps` shows them. */
export async function ps(flags: ServerFlags): Promise<void> {
  const status = (await call(flags, 'GET', '/admin/status')) as { pool: { models: StatusModel[]; devices: Array<{ device: string; used: number; budget?: number }> } };
  if (flags.json === true) return void console.log(JSON.stringify(status.pool));
  const now = Date.now();
  const rows = [['NAME', 'VERSION', 'STATE', 'SIZE', 'IN USE', 'QUEUED', 'UNTIL']];
  for (const m of status.pool.models) {
    const until = m.pinned ? 'pinned' : m.expiresAt === null ? (m.leases > 0 ? 'in use' : 'forever') : `${Math.max(0, Math.round((m.expiresAt - now) / 1000))} s from now`;
    rows.push([m.id, m.version ?? '-', m.state, mib(m.sizeBytes), String(m.leases), String(m.queued), until]);
  }
  console.log(table(rows));
  for (const d of status.pool.devices) console.log(`${d.device}: ${mib(d.used)} used${d.budget !== undefined ? ` of ${mib(d.budget)}` : ''}`);
}

/** `modelpool load|unload|swap`: acts on the server's pool. */
export async function poolAction(flags: ServerFlags, action: 'load' | 'unload' | 'swap', model: string, version?: string): Promise<void> {
  const result = await call(flags, 'POST', `/admin/models/${encodeURIComponent(model)}/${action}`, action === 'swap' ? { version } : {});
  if (flags.json === true) return void console.log(JSON.stringify(result));
  console.log(action === 'swap' ? `${model}: now serving version ${version}` : `${model}: ${action === 'load' ? 'loaded' : 'unloaded'}`);
}

async function openRegistry(path: string | undefined): Promise<ModelRegistry> {
  const file = path ?? join(dataFolder(), 'registry.db');
  mkdirSync(dirname(file), { recursive: true });
  return ModelRegistry.open({ path: file });
}

/** `modelpool ls`: the local registry's models. */
export async function ls(options: { registry?: string; json?: boolean }): Promise<void> {
  const registry = await openRegistry(options.registry);
  try {
    const models = registry.list();
    if (options.json === true) return void console.log(JSON.stringify(models));
    const rows = [['NAME', 'VERSIONS', 'DEFAULT', 'TASKS', 'SOURCE']];
    for (const m of models) {
      const current = m.versions.find((v) => v.version === m.defaultVersion);
      const source = current?.source;
      rows.push([m.id, String(m.versions.length), m.defaultVersion ?? '-', m.tasks.join(','), source === undefined ? '-' : 'path' in source ? source.path : `${source.kind}:${source.model}`]);
    }
    console.log(rows.length === 1 ? 'no models registered (modelpool add <file.gguf>)' : table(rows));
  } finally {
    await registry.close();
  }
}

/** `modelpool add FILE`: registers a GGUF or ONNX file (a new version when the name exists). */
export async function add(path: string, options: { name?: string; version?: string; task?: string[]; registry?: string; json?: boolean }): Promise<void> {
  const file = resolve(path);
  if (!existsSync(file)) throw new ModelpoolError('MODEL_NOT_FOUND', `No file at ${file}`, { field: 'path', value: path });
  const id = options.name ?? basename(file, extname(file));
  const kind = extname(file).toLowerCase() === '.onnx' ? 'onnx' : 'gguf';
  const registry = await openRegistry(options.registry);
  try {
    const source = { kind, path: file } as const;
    const tasks = (options.task ?? (kind === 'onnx' ? ['embedding'] : ['completion', 'chat'])) as Task[];
    if (registry.has(id)) await registry.registerVersion(id, { version: options.version ?? String(registry.resolve(id).model.versions.length + 1), source });
    else await registry.registerModel({ id, tasks, version: { version: options.version ?? '1', source } });
    const model = registry.resolve(id).model;
    if (options.json === true) console.log(JSON.stringify(model));
    else console.log(`${id}: registered ${file} (versions ${model.versions.map((v) => v.version).join(', ')})`);
  } finally {
    await registry.close();
  }
}

/** `modelpool rm NAME`: removes a model from the local registry. */
export async function rm(name: string, options: { registry?: string }): Promise<void> {
  const registry = await openRegistry(options.registry);
  try {
    await registry.removeModel(name);
    console.log(`${name}: removed`);
  } finally {
    await registry.close();
  }
}

/** `modelpool run MODEL PROMPT`: streams a completion to the terminal, in this process (a GGUF file or a registered name). */
export async function run(model: string, prompt: string, options: { registry?: string; maxTokens: number; temperature: number; json?: boolean }): Promise<void> {
  const { FrontDoor } = await import('../runtime/index.js');
  const registry = existsSync(model) ? await ModelRegistry.open() : await openRegistry(options.registry);
  const name = existsSync(model) ? basename(model, extname(model)) : model;
  if (existsSync(model) && !registry.has(name)) await registry.registerModel({ id: name, tasks: ['completion', 'chat'], version: { version: '1', source: { kind: 'gguf', path: resolve(model) } } });
  const door = new FrontDoor({ registry, specDefaults: { contextSize: 2048 } });
  const bar = progress(`loading ${name}`, 100);
  const stopProgress = door.pool.on('load-progress', (event) => bar.tick(Math.round(event.progress * 100)));
  door.pool.on('ready', () => bar.end());
  try {
    const stream = door.generate({ model: name, prompt, maxTokens: options.maxTokens, temperature: options.temperature });
    if (options.json !== true) for await (const text of stream) process.stdout.write(text);
    const r = await stream.result;
    if (options.json === true) console.log(JSON.stringify({ text: r.text, model: r.model, version: r.version, promptTokens: r.promptTokens, generatedTokens: r.generatedTokens, finishReason: r.finishReason, cost: r.cost }));
    else process.stderr.write(`\n\n${r.generatedTokens} tokens, ${r.decodeTokensPerSecond.toFixed(0)} tokens/s, first token ${r.timeToFirstTokenMs.toFixed(1)} ms\n`);
  } finally {
    stopProgress();
    await door.dispose();
    await registry.close();
  }
}

/** A one-line progress bar on stderr (a terminal only), for runs that take a while. */
export function progress(label: string, total: number): { tick(done: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  const draw = (done: number) => {
    if (!tty) return;
    const width = 30;
    const filled = total === 0 ? width : Math.round((width * done) / total);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  };
  return { tick: draw, end: () => tty && process.stderr.write('\n') };
}

/** `modelpool discover`: registers the GGUF files Ollama, LM Studio, Hugging Face, node-llama-cpp (and folders given) hold. */
export async function discover(options: { dir?: string[]; registry?: string; json?: boolean }): Promise<void> {
  const registry = await openRegistry(options.registry);
  try {
    const report = await registry.discover(options.dir === undefined ? {} : { directories: options.dir.map((d) => resolve(d)) });
    if (options.json === true) return void console.log(JSON.stringify({ registered: report.registered.map((r) => r.model.id), existing: report.existing.map((r) => r.model.id), skipped: report.skipped }));
    console.log(`registered ${report.registered.length}, already known ${report.existing.length}, skipped ${report.skipped.length}`);
    for (const r of report.registered) console.log(`  + ${r.model.id} (${'path' in r.version.source ? r.version.source.path : r.version.source.kind})`);
    for (const s of report.skipped) console.log(`  - ${s.path}: ${s.reason}`);
  } finally {
    await registry.close();
  }
}

/** `modelpool eval SUITE MODEL`: runs a task suite (JSONL) on a model, prints the scores and records them as its quality. */
export async function evaluate(suitePath: string, model: string, options: { registry?: string; concurrency: number; json?: boolean }): Promise<void> {
  const { loadSuite, runSuite, recordQuality } = await import('../eval/index.js');
  const { FrontDoor } = await import('../runtime/index.js');
  const suite = await loadSuite(suitePath);
  const registry = await openRegistry(options.registry);
  const door = new FrontDoor({ registry, specDefaults: { contextSize: 2048, parallel: options.concurrency } });
  try {
    const bar = progress(`eval ${model}`, suite.items.length);
    let done = 0;
    const report = await runSuite(
      suite,
      async (item, signal) => {
        const input = item.messages !== undefined ? { messages: item.messages } : { prompt: item.prompt ?? '' };
        return door.complete({ model, ...input, maxTokens: item.maxTokens ?? 128, temperature: 0, signal });
      },
      { concurrency: options.concurrency, onResult: () => bar.tick(++done) },
    );
    bar.end();
    if (registry.has(model)) {
      recordQuality(report, registry, { model });
      await registry.flush();
    }
    if (options.json === true) return void console.log(JSON.stringify(report));
    console.log(`${report.source}: ${suite.items.length} items on ${model}: mean score ${report.meanScore.toFixed(3)}, pass rate ${(100 * report.passRate).toFixed(1)}%, ${report.errors} errors, ${(report.totalMs / 1000).toFixed(1)} s`);
    for (const [tag, s] of Object.entries(report.byTag)) console.log(`  ${tag}: mean ${s.meanScore.toFixed(3)} over ${s.items}`);
  } finally {
    await door.dispose();
    await registry.close();
  }
}

/** `modelpool bench MODEL`: requests of one prompt, one after another: latency percentiles and decode speed. */
export async function bench(model: string, options: { registry?: string; requests: number; maxTokens: number; json?: boolean }): Promise<void> {
  const { FrontDoor } = await import('../runtime/index.js');
  const registry = existsSync(model) ? await ModelRegistry.open() : await openRegistry(options.registry);
  const name = existsSync(model) ? basename(model, extname(model)) : model;
  if (existsSync(model)) await registry.registerModel({ id: name, tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: resolve(model) } } });
  const door = new FrontDoor({ registry, specDefaults: { contextSize: 1024 } });
  try {
    await door.complete({ model: name, prompt: 'Once upon a time', maxTokens: 4 });
    const bar = progress(`bench ${name}`, options.requests);
    const wall: number[] = [];
    const ttft: number[] = [];
    const decode: number[] = [];
    for (let i = 0; i < options.requests; i++) {
      const r = await door.complete({ model: name, prompt: 'Once upon a time', maxTokens: options.maxTokens, temperature: 0 });
      wall.push(r.cost.wallMs);
      ttft.push(r.timeToFirstTokenMs);
      decode.push(r.decodeTokensPerSecond);
      bar.tick(i + 1);
    }
    bar.end();
    const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
    const result = { model: name, requests: options.requests, maxTokens: options.maxTokens, wallMs: { p50: q(wall, 0.5), p95: q(wall, 0.95), p99: q(wall, 0.99) }, ttftMs: { p50: q(ttft, 0.5) }, decodeTokensPerSecond: { p50: q(decode, 0.5) } };
    if (options.json === true) return void console.log(JSON.stringify(result));
    console.log(`${name}: ${options.requests} requests of ${options.maxTokens} tokens: wall p50 ${result.wallMs.p50.toFixed(1)} ms, p95 ${result.wallMs.p95.toFixed(1)}, p99 ${result.wallMs.p99.toFixed(1)}; first token p50 ${result.ttftMs.p50.toFixed(1)} ms; decode p50 ${result.decodeTokensPerSecond.p50.toFixed(0)} tokens/s`);
  } finally {
    await door.dispose();
    await registry.close();
  }
}
