import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { tempFolder } from './helpers.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Child {
  process: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching, rejects if the child exits first. */
  waitFor: (predicate: (line: string, lines: string[]) => boolean) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs child-writer.ts in a real second Node process. */
function child(...args: string[]): Child {
  const process_ = spawn(process.execPath, ['--import', join(fixtures, 'ts-loader.mjs'), join(fixtures, 'child-writer.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const waiters: Array<() => void> = [];
  let buffer = '';
  process_.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  process_.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => process_.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = (predicate: (line: string, lines: string[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.some((line) => predicate(line, lines))) resolve();
        else waiters.push(check);
      };
      void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before the awaited line; stderr: ${stderr}`)));
      check();
    });
  return { process: process_, lines, waitFor, exited };
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('ModelRegistry across processes', () => {
  it('two processes writing one file concurrently both land, and each sees the other', async () => {
    const path = join(tempFolder(), 'shared.db');
    const parent = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await parent.registerModel({ id: 'seed' });
    const writer = child('write', path, 'child', '30');
    await writer.waitFor((line) => line.startsWith('sees'));
    for (let index = 0; index < 30; index++) {
      await parent.registerModel({ id: `parent-${index}`, version: { version: '1', source: { kind: 'openai', model: 'x' } } });
      if (index % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await writer.exited).toEqual({ code: 0, signal: null });
    expect(writer.lines[0]).toBe('sees 1');
    expect(writer.lines.at(-1)).toBe('done');
    await parent.refresh();
    expect(parent.size).toBe(61);
    expect(parent.find({ task: 'chat' })).toHaveLength(30);
    const fresh = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    expect(fresh.list().map((model) => model.id).sort()).toEqual(parent.list().map((model) => model.id).sort());
    await fresh.close();
    await parent.close();
    expect(integrity(path)).toBe('ok');
  });

  it('a process killed while writing loses nothing it committed and leaves the file intact', async () => {
    const path = join(tempFolder(), 'crash.db');
    const writer = child('crash-loop', path, 'crash');
    await writer.waitFor((_line, lines) => lines.filter((line) => line.startsWith('committed')).length >= 25);
    writer.process.kill('SIGKILL');
    expect((await writer.exited).signal).toBe('SIGKILL');
    const committed = writer.lines.filter((line) => line.startsWith('committed ')).map((line) => line.slice('committed '.length));
    const loading = new Set(writer.lines.filter((line) => line.startsWith('loading ')).map((line) => line.slice('loading '.length)));

    expect(integrity(path)).toBe('ok');
    // Every committed model but perhaps the last was also moved to loading before the kill.
    expect(loading.size).toBeGreaterThanOrEqual(committed.length - 1);
    const registry = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    for (const id of committed) {
      expect(registry.has(id)).toBe(true);
      if (loading.has(id)) expect(registry.resolve(id).version.state).toBe('loading');
    }
    // Whatever was in flight is either wholly there or wholly absent, and the file takes new writes.
    expect(registry.size - committed.length).toBeLessThanOrEqual(1);
    await registry.registerModel({ id: 'after-crash' });
    await registry.close();
  });

  it('a process killed inside an open transaction leaves no trace of it', async () => {
    const path = join(tempFolder(), 'tx.db');
    const registry = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    await registry.registerModel({ id: 'before', version: { version: '1', source: { kind: 'openai', model: 'x' } } });
    const writer = child('crash-in-transaction', path, 'half-written');
    await writer.waitFor((line) => line === 'in-transaction');
    writer.process.kill('SIGKILL');
    await writer.exited;
    expect(await registry.refresh()).toBe(false);
    expect(registry.has('half-written')).toBe(false);
    await registry.registerModel({ id: 'after' }); // the dead writer's lock is gone
    await registry.close();
    expect(integrity(path)).toBe('ok');
    const reopened = await ModelRegistry.open({ path, refreshIntervalMs: 0 });
    expect(reopened.list().map((model) => model.id).sort()).toEqual(['after', 'before']);
    await reopened.close();
  });
});
