/**
 * The health room in plain `node` processes, where nothing else holds the event loop: a monitor's
 * timers must not keep a script alive, `await monitor.close()` must settle (exit 0, not 13: an
 * unsettled top-level await), and a failover attempt's timeout must keep the loop alive until it fires.
 * The children import the compiled room from lib/health.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const built = pathToFileURL(join(repoRoot, 'lib', 'health', 'index.js')).href;

/** Whether lib/health is older than src/health. */
function stale(): boolean {
  const src = join(repoRoot, 'src', 'health');
  return readdirSync(src).some((name) => {
    const out = join(repoRoot, 'lib', 'health', name.replace(/\.ts$/, '.js'));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(join(src, name)).mtimeMs;
  });
}

beforeAll(() => {
  if (stale()) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    // tsc emits despite type errors elsewhere in the tree; what matters is that lib/health is current.
    if (stale()) throw new Error(`tsc did not build lib/health: ${r.stdout}${r.stderr}`);
  }
});

/** Runs `body` as an ES module with `health` imported; returns the exit status, the last stdout line as JSON, and the time. */
function run(body: string) {
  const source = `import * as health from ${JSON.stringify(built)};\n${body}`;
  const started = Date.now();
  // The timeout only turns a hang (the fault this guards against) into a failure.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, out: line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined, stderr: `${r.stderr}${r.error ?? ''}`, ms: Date.now() - started };
}

describe('health room in a plain node process', () => {
  it('exits by itself while a monitor still probes (its timers are unref()d), without close()', () => {
    const r = run(`
      const monitor = new health.HealthMonitor();
      monitor.add('good', async () => 'ok', { intervalMs: 20, timeoutMs: 50 });
      monitor.add('hanging', () => new Promise(() => {}), { intervalMs: 20, timeoutMs: 5000 });
      const result = await monitor.probeNow('good');
      console.log(JSON.stringify({ ok: result.ok, ready: monitor.ready('good') }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toEqual({ ok: true, ready: true });
    expect(r.ms).toBeLessThan(5000);
  });

  it('settles await monitor.close() with probes running, one honouring its signal and one ignoring it until its timeout', () => {
    const r = run(`
      const monitor = new health.HealthMonitor();
      let aborted = false;
      monitor.add('polite', (signal) => new Promise((resolve) => signal.addEventListener('abort', () => { aborted = true; resolve(); })), { intervalMs: 20, timeoutMs: 10000 });
      monitor.add('deaf', () => new Promise(() => {}), { intervalMs: 20, timeoutMs: 300 });
      await new Promise((resolve) => setTimeout(resolve, 30));
      await monitor.close();
      await monitor.close();
      console.log(JSON.stringify({ closed: true, aborted }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toEqual({ closed: true, aborted: true });
  });

  it('waits for a failover attempt’s timeout when the attempt hangs with nothing else holding the loop', () => {
    const r = run(`
      const breakers = new health.Breakers();
      const result = await health.failover(['hangs', 'answers'], (key) => key === 'hangs' ? new Promise(() => {}) : Promise.resolve(42), { breakers, attemptTimeoutMs: 50 });
      console.log(JSON.stringify({ key: result.key, value: result.value, first: result.attempts[0].error.code }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toEqual({ key: 'answers', value: 42, first: 'TIMEOUT' });
  });
});
