import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { HealthTracker, type TrackerOptions } from '../../src/health/index.js';
import { expectCode } from '../helpers/expect.js';

function setup(options: Omit<TrackerOptions, 'now'> = {}) {
  let time = 1_700_000_000_000;
  const tracker = new HealthTracker({ ...options, now: () => time });
  return {
    tracker,
    advance: (ms: number) => {
      time += ms;
    },
    now: () => time,
  };
}

describe('HealthTracker', () => {
  it('reports error rate and p50/p95 (nearest rank) of the successes in the window', () => {
    const { tracker } = setup();
    for (let ms = 1; ms <= 100; ms++) {
      if (ms % 10 === 0) tracker.failure('k', new ModelpoolError('PROVIDER_ERROR', 'HTTP 502'));
      else tracker.success('k', ms);
    }
    // 90 successes: 1..99 less the multiples of 10. 45th smallest = 49, 86th = 95.
    expect(tracker.get('k')).toMatchObject({
      key: 'k',
      requests: 100,
      failures: 10,
      errorRate: 0.1,
      p50: 49,
      p95: 95,
      totalRequests: 100,
      totalFailures: 10,
      consecutiveFailures: 1,
    });
  });

  it('keeps a moving average of latency (alpha weights the newest)', () => {
    const { tracker } = setup({ ewmaAlpha: 0.5 });
    tracker.success('k', 100);
    expect(tracker.get('k')!.latencyEwma).toBe(100);
    tracker.success('k', 200);
    tracker.failure('k', new Error('x')); // failures leave latency alone
    tracker.success('k', 50);
    expect(tracker.get('k')!.latencyEwma).toBe(100); // 150, then (150 + 50) / 2
  });

  it('counts consecutive failures, the last error (code and masked message only) and the last success', () => {
    const { tracker, advance, now } = setup();
    tracker.success('k', 10);
    const successAt = now();
    advance(1000);
    tracker.failure('k', new ModelpoolError('UNAUTHORIZED', 'HTTP 401: Incorrect API key provided: sk-abcdefghijklmnopqrstuvwx', { details: { status: 401, headers: { authorization: 'Bearer x' } } }));
    tracker.failure('k', new ModelpoolError('UNAUTHORIZED', 'HTTP 401: key revoked'));
    tracker.failure('k');
    const figures = tracker.get('k')!;
    expect(figures.consecutiveFailures).toBe(3);
    expect(figures.lastSuccessAt).toBe(successAt);
    expect(figures.lastError).toEqual({ code: 'UNKNOWN', message: 'a failure was reported without an error', at: now() });
    tracker.failure('k', new ModelpoolError('UNAUTHORIZED', 'HTTP 401: Incorrect API key provided: sk-abcdefghijklmnopqrstuvwx'));
    expect(tracker.get('k')!.lastError).toEqual({ code: 'UNAUTHORIZED', message: 'HTTP 401: Incorrect API key provided: [masked]', at: now() });
    tracker.success('k', 5);
    expect(tracker.get('k')!.consecutiveFailures).toBe(0);
  });

  it('counts only the last windowSize requests, and only those of the last windowMs', () => {
    const { tracker, advance } = setup({ windowSize: 4, windowMs: 10_000 });
    tracker.failure('k', new Error('old'));
    tracker.failure('k', new Error('old'));
    for (const ms of [10, 20, 30]) tracker.success('k', ms);
    expect(tracker.get('k')).toMatchObject({ requests: 4, failures: 1, errorRate: 0.25, p50: 20, p95: 30, totalRequests: 5 });
    advance(10_001);
    tracker.success('k', 7);
    expect(tracker.get('k')).toMatchObject({ requests: 1, failures: 0, errorRate: 0, p50: 7, p95: 7 });
    advance(10_001);
    const figures = tracker.get('k')!;
    expect(figures).toMatchObject({ requests: 0, errorRate: 0, latencyEwma: expect.any(Number) });
    expect(figures.p50).toBeUndefined();
    expect(figures.p95).toBeUndefined();
  });

  it('is bounded: idle keys are dropped when new ones arrive, and past maxKeys the least recently used', () => {
    const { tracker, advance } = setup({ maxKeys: 2, idleMs: 1000 });
    tracker.success('a', 1);
    tracker.success('b', 1);
    tracker.success('a', 1);
    tracker.success('c', 1);
    expect(tracker.snapshot().map((f) => f.key)).toEqual(['a', 'c']);
    advance(1000);
    tracker.success('c', 1);
    tracker.success('d', 1);
    expect(tracker.snapshot().map((f) => f.key)).toEqual(['c', 'd']);
    expect(tracker.size).toBe(2);
    expect(tracker.delete('c')).toBe(true);
    expect(tracker.delete('c')).toBe(false);
    expect(tracker.get('c')).toBeUndefined();
  });

  it('validates its options and arguments, naming the field', async () => {
    await expectCode(() => new HealthTracker({ windowSize: 0 }), 'INVALID_ARGUMENT', 'options.windowSize');
    await expectCode(() => new HealthTracker({ ewmaAlpha: 0 }), 'INVALID_ARGUMENT', 'options.ewmaAlpha');
    await expectCode(() => new HealthTracker({ ewmaAlpha: 2 }), 'INVALID_ARGUMENT', 'options.ewmaAlpha');
    await expectCode(() => new HealthTracker({ windowMs: 0 }), 'INVALID_ARGUMENT', 'options.windowMs');
    await expectCode(() => new HealthTracker({ size: 1 } as never), 'INVALID_ARGUMENT', 'options.size');
    await expectCode(() => new HealthTracker(null as never), 'INVALID_ARGUMENT', 'options');
    expect(new HealthTracker().options).toMatchObject({ windowSize: 100, windowMs: 300_000, ewmaAlpha: 0.2 });
    const { tracker } = setup();
    await expectCode(() => tracker.success('k', -1), 'INVALID_ARGUMENT', 'latencyMs');
    await expectCode(() => tracker.success('', 1), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => tracker.failure(undefined as never), 'INVALID_ARGUMENT', 'key');
  });
});
