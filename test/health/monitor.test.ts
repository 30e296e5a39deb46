// HealthMonitor with real short timers (intervalMs 20, timeoutMs 50): probes that succeed, fail and hang.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { Breakers, HealthMonitor, HealthTracker, type BreakerTransition, type ProbeResult } from '../../src/health/index.js';
import { expectCode } from '../helpers/expect.js';

const FAST = { intervalMs: 20, timeoutMs: 50 };

/** Waits until `condition()` holds (polling every 5 ms), failing after `ms`. */
async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const monitors: HealthMonitor[] = [];
function monitor(options: ConstructorParameters<typeof HealthMonitor>[0] = {}): HealthMonitor {
  const made = new HealthMonitor(options);
  monitors.push(made);
  return made;
}

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('HealthMonitor probes', () => {
  it('runs a probe at once and on its interval; a success makes the key ready', async () => {
    const m = monitor();
    let runs = 0;
    m.add('openai/gpt-x', async () => {
      runs += 1;
      return 'ok';
    }, FAST);
    expect(m.ready('openai/gpt-x')).toBe(false);
    await until(() => runs >= 3);
    expect(m.ready('openai/gpt-x')).toBe(true);
    const status = m.statusOf('openai/gpt-x')!;
    expect(status).toMatchObject({ key: 'openai/gpt-x', state: 'closed', ready: true, errorRate: 0, consecutiveFailures: 0, lastProbe: { ok: true } });
    expect(status.p50).toEqual(expect.any(Number));
    expect(status.p95).toEqual(expect.any(Number));
    expect(status.lastProbe!.error).toBeUndefined();
    expect(m.tracker.get('openai/gpt-x')!.requests).toBeGreaterThanOrEqual(2);
  });

  it('fails a hanging probe with TIMEOUT and aborts its signal', async () => {
    const m = monitor();
    let signal: AbortSignal | undefined;
    m.add('k', (s) => {
      signal = s;
      return new Promise(() => undefined); // never settles, ignores its signal
    }, { ...FAST, immediate: false });
    const result = await m.probeNow('k');
    expect(result).toMatchObject({ ok: false, error: { code: 'TIMEOUT', message: 'The health probe of "k" took longer than 50 ms' } });
    expect(result.ms).toBeGreaterThanOrEqual(45);
    expect(signal!.aborted).toBe(true);
    expect((signal!.reason as ModelpoolError).code).toBe('TIMEOUT');
    expect(m.ready('k')).toBe(false);
    expect(m.statusOf('k')!.consecutiveFailures).toBe(1);
  });

  it('a probe failing 3 times opens the breaker; once it recovers, a half-open trial probe closes it', async () => {
    const breakers = new Breakers({ defaults: { cooldownMs: 60 } });
    const transitions: BreakerTransition[] = [];
    breakers.on('transition', (t) => transitions.push(t));
    const m = monitor({ breakers });
    let failing = true;
    m.add('k', async () => {
      if (failing) throw new ModelpoolError('PROVIDER_UNAVAILABLE', 'cannot reach the server (ECONNREFUSED)');
    }, FAST);
    await until(() => breakers.peek('k')?.state === 'open');
    expect(m.statusOf('k')).toMatchObject({ state: 'open', ready: false, consecutiveFailures: 3, errorRate: 1, lastProbe: { ok: false, error: { code: 'PROVIDER_UNAVAILABLE' } } });
    failing = false;
    await until(() => breakers.peek('k')!.state === 'closed');
    expect(m.ready('k')).toBe(true);
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
    expect(m.status()).toMatchObject([{ key: 'k', state: 'closed', ready: true, consecutiveFailures: 0 }]);
  });

  it('never overlaps runs of one probe; probeNow() joins the run in progress', async () => {
    const m = monitor();
    let running = 0;
    let most = 0;
    let runs = 0;
    m.add('k', async () => {
      runs += 1;
      running += 1;
      most = Math.max(most, running);
      await sleep(30);
      running -= 1;
    }, { intervalMs: 1, timeoutMs: 1000 });
    await until(() => running === 1);
    const [a, b] = [m.probeNow('k'), m.probeNow('k')];
    expect(a).toBe(b);
    await a;
    await until(() => runs >= 4);
    expect(most).toBe(1);
  });

  it('spreads the interval by ±jitter from the random source', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const draws = [0, 1];
    const m = monitor({ random: () => draws.shift() ?? 0.5, probe: { intervalMs: 1000, timeoutMs: 100 } });
    let runs = 0;
    m.add('k', async () => {
      runs += 1;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(899);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // 1000 × (1 − 0.1)
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(1099);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(1); // 1000 × (1 + 0.1)
    expect(runs).toBe(3);
    await vi.advanceTimersByTimeAsync(1000); // 0.5: no spread
    expect(runs).toBe(4);
  });

  it('with immediate false the first run waits one interval; a random source out of range is clamped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const m = monitor({ random: () => Number.NaN });
    let runs = 0;
    m.add('k', async () => {
      runs += 1;
    }, { intervalMs: 100, immediate: false, jitter: 0.5 });
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
  });

  it('a probe that throws synchronously, or rejects with a caller fault, fails the run; the caller fault leaves the breaker alone', async () => {
    const m = monitor();
    m.add('sync', () => {
      throw new Error('probe bug');
    }, { ...FAST, immediate: false });
    expect(await m.probeNow('sync')).toMatchObject({ ok: false, error: { code: 'Error', message: 'probe bug' } });
    m.add('caller', async () => {
      throw new ModelpoolError('INVALID_ARGUMENT', 'bad probe');
    }, { ...FAST, immediate: false });
    for (let i = 0; i < 3; i++) await m.probeNow('caller');
    expect(m.statusOf('caller')).toMatchObject({ state: 'closed', ready: false, consecutiveFailures: 0, lastProbe: { ok: false } });
  });

  it('while the breaker is open a probe still runs and is reported, but only a half-open trial moves the breaker', async () => {
    const breakers = new Breakers({ defaults: { failureThreshold: 1, cooldownMs: 60_000 } });
    const m = monitor({ breakers });
    breakers.get('k').failure(new ModelpoolError('PROVIDER_ERROR', 'HTTP 500'));
    m.add('k', async () => 'ok', { ...FAST, immediate: false });
    expect(await m.probeNow('k')).toMatchObject({ ok: true });
    expect(m.statusOf('k')).toMatchObject({ state: 'open', ready: false, lastProbe: { ok: true } });
    m.add('j', async () => {
      throw new ModelpoolError('PROVIDER_ERROR', 'HTTP 500');
    }, { ...FAST, immediate: false });
    breakers.get('j').failure();
    await m.probeNow('j');
    expect(m.statusOf('j')).toMatchObject({ state: 'open', consecutiveFailures: 1 });
    const probeKeys = m.keys();
    expect(probeKeys).toEqual(['k', 'j']);
  });
});

describe('HealthMonitor lifetime', () => {
  it('close() stops the timers, aborts a running probe and waits for it; it is idempotent', async () => {
    const m = monitor();
    let runs = 0;
    let settled = false;
    let aborted: unknown;
    m.add('k', (signal) => {
      runs += 1;
      return new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = signal.reason;
          setTimeout(() => {
            settled = true;
            resolve(undefined);
          }, 10);
        });
      });
    }, { intervalMs: 5, timeoutMs: 10_000 });
    await until(() => runs === 1);
    const closing = m.close();
    expect(m.close()).toBe(closing);
    await closing;
    expect(settled).toBe(true);
    expect((aborted as ModelpoolError).code).toBe('ABORTED');
    await sleep(30);
    expect(runs).toBe(1);
    // an aborted run is not counted against the key
    expect(m.statusOf('k')).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
    expect(m.statusOf('k')!.lastProbe).toBeUndefined();
    await expectCode(() => m.add('j', async () => 1), 'DISPOSED');
    await expectCode(() => m.probeNow('k'), 'DISPOSED');
  });

  it('close() does not wait past the timeout of a probe that ignores its signal', async () => {
    const m = monitor();
    m.add('k', () => new Promise(() => undefined), { intervalMs: 1000, timeoutMs: 80 });
    await sleep(10);
    const started = Date.now();
    await m.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('remove() stops one key; a removed key is no longer probed or reported', async () => {
    const m = monitor();
    let runs = 0;
    m.add('k', async () => {
      runs += 1;
    }, FAST);
    await until(() => runs >= 1);
    expect(await m.remove('k')).toBe(true);
    expect(await m.remove('k')).toBe(false);
    const after = runs;
    await sleep(60);
    expect(runs).toBe(after);
    expect(m.status()).toEqual([]);
    expect(m.ready('k')).toBe(false);
    expect(m.statusOf('k')).toBeUndefined();
    m.add('k', async () => 1, FAST); // may be added again
    await using disposable = monitor();
    expect(disposable.keys()).toEqual([]);
  });

  it('reports (as a warning) a run that could not start, and keeps the schedule', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let broken = true;
    const m = monitor({
      now: () => {
        if (broken) return Number.NaN;
        return Date.now();
      },
    });
    let runs = 0;
    m.add('k', async () => {
      runs += 1;
    }, FAST);
    await until(() => warn.mock.calls.length > 0);
    expect(String(warn.mock.calls[0]![0])).toContain('could not run');
    broken = false;
    await until(() => runs >= 1);
  });

  it('validates its options and arguments, naming the field', async () => {
    await expectCode(() => new HealthMonitor({ breakers: {} as never }), 'INVALID_ARGUMENT', 'options.breakers');
    await expectCode(() => new HealthMonitor({ tracker: {} as never }), 'INVALID_ARGUMENT', 'options.tracker');
    await expectCode(() => new HealthMonitor({ probe: { intervalMs: 0 } }), 'INVALID_ARGUMENT', 'options.probe.intervalMs');
    await expectCode(() => new HealthMonitor({ random: 3 as never }), 'INVALID_ARGUMENT', 'options.random');
    await expectCode(() => new HealthMonitor({ extra: 1 } as never), 'INVALID_ARGUMENT', 'options.extra');
    const tracker = new HealthTracker();
    const m = monitor({ tracker });
    expect(m.tracker).toBe(tracker);
    await expectCode(() => m.add('', async () => 1), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => m.add('k', 'probe' as never), 'INVALID_ARGUMENT', 'probe');
    await expectCode(() => m.add('k', async () => 1, { timeoutMs: 0 }), 'INVALID_ARGUMENT', 'options.timeoutMs');
    await expectCode(() => m.add('k', async () => 1, { jitter: 0.9 }), 'INVALID_ARGUMENT', 'options.jitter');
    await expectCode(() => m.add('k', async () => 1, { immediate: 'yes' as never }), 'INVALID_ARGUMENT', 'options.immediate');
    await expectCode(() => m.add('k', async () => 1, { every: 1 } as never), 'INVALID_ARGUMENT', 'options.every');
    m.add('k', async () => 1, { immediate: false });
    await expectCode(() => m.add('k', async () => 1), 'ALREADY_EXISTS', 'key');
    await expectCode(() => m.probeNow('nope'), 'INVALID_ARGUMENT', 'key');
    const result: ProbeResult = await m.probeNow('k');
    expect(result.ok).toBe(true);
  });
});
