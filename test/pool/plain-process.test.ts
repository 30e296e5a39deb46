/**
 * Pool lifetime in plain `node` processes. The test runner keeps its own event loop alive, so a
 * request that only a timer or a native callback would finish can look fine here and still be lost
 * in a user's script; these scenarios run in child processes where nothing else holds the loop.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STORIES, repoRoot } from '../helpers/models.js';

const child = join(repoRoot, 'test', 'pool', 'fixtures', 'plain-pool-child.mjs');

interface Summary {
  scenario: string;
  answered: number;
  errors: Record<string, number>;
  evictions?: number;
  version?: string;
  loaded?: number;
}

function run(scenario: string): { status: number | null; summary: Summary | undefined; stderr: string } {
  // The timeout only turns a hang (the fault this guards against) into a failure.
  const r = spawnSync(process.execPath, [child, scenario, STORIES], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, summary: line.startsWith('{') ? (JSON.parse(line) as Summary) : undefined, stderr: `${r.stderr}${r.error ?? ''}` };
}

beforeAll(() => {
  // Children import the compiled package by its name (npm test builds it first).
  if (!existsSync(join(repoRoot, 'lib', 'index.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  }
});

describe('ModelPool in a plain node process', () => {
  it('answers every request while models are evicted to make room (exit 0, not 13)', () => {
    const r = run('evict');
    expect(r.status, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ answered: 30, errors: {} });
    expect(r.summary!.evictions).toBeGreaterThan(0);
  });

  it('answers requests whose load must wait for a busy model to drain', () => {
    const r = run('busy-evict');
    expect(r.status, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ answered: 16, errors: {} });
  });

  it('answers requests that wait for a CPU turn', () => {
    const r = run('cpu-turn');
    expect(r.status, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ answered: 20, errors: {} });
  });

  it('answers requests queued during a version swap, and the swap completes', () => {
    const r = run('swap');
    expect(r.status, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ answered: 13, errors: {}, version: '2' });
  });

  it('settles every request with a result or a typed error when disposed mid-flight', () => {
    const r = run('dispose');
    expect(r.status, r.stderr).toBe(0);
    const s = r.summary!;
    const failed = Object.values(s.errors).reduce((a, b) => a + b, 0);
    expect(s.answered + failed).toBe(10);
    expect(Object.keys(s.errors).every((code) => code === 'DISPOSED' || code === 'ABORTED')).toBe(true);
  });

  it('exits when the work is done although a model stays loaded with a long keep-alive', () => {
    const r = run('idle-exit');
    expect(r.status, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ answered: 1, errors: {}, loaded: 1 });
  });
});
