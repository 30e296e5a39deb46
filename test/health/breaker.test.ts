import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { BREAKER_DEFAULTS, CircuitBreaker, countsAsFailure, isCallerFault, summarizeError, type BreakerOptions, type BreakerTransition } from '../../src/health/index.js';
import { expectCode } from '../helpers/expect.js';

function setup(options: BreakerOptions = {}) {
  let time = 1_700_000_000_000;
  const breaker = new CircuitBreaker('openai/gpt-x', { ...options, now: () => time });
  const transitions: BreakerTransition[] = [];
  breaker.on('transition', (t) => transitions.push(t));
  return {
    breaker,
    transitions,
    advance: (ms: number) => {
      time += ms;
    },
    now: () => time,
  };
}

const providerError = () => new ModelpoolError('PROVIDER_ERROR', 'HTTP 503: overloaded', { details: { status: 503 } });

afterEach(() => vi.restoreAllMocks());

describe('CircuitBreaker transitions', () => {
  it('opens after 3 consecutive failures, half-opens after 5 s, closes on a successful trial', () => {
    const { breaker, transitions, advance, now } = setup();
    expect(breaker.state).toBe('closed');
    breaker.failure(providerError());
    breaker.failure(providerError());
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    breaker.failure(providerError());
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual([
      { key: 'openai/gpt-x', from: 'closed', to: 'open', at: now(), reason: 'failures', cooldownMs: 5000, error: { code: 'PROVIDER_ERROR', message: 'HTTP 503: overloaded' } },
    ]);
    expect(breaker.allow()).toBe(false);
    expect(breaker.retryAfterMs()).toBe(5000);
    advance(4999);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs()).toBe(1);
    const openedAt = now() - 4999;
    advance(1);
    expect(breaker.state).toBe('half-open');
    expect(transitions[1]).toEqual({ key: 'openai/gpt-x', from: 'open', to: 'half-open', at: openedAt + 5000, reason: 'cooldown-elapsed' });
    const permit = breaker.acquire();
    expect(permit.trial).toBe(true);
    permit.success(120);
    expect(breaker.state).toBe('closed');
    expect(transitions[2]).toMatchObject({ from: 'half-open', to: 'closed', reason: 'recovered' });
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, opens: 1, lastLatencyMs: 120 });
  });

  it('a success resets the consecutive count', () => {
    const { breaker } = setup();
    breaker.failure(providerError());
    breaker.failure(providerError());
    breaker.success();
    breaker.failure(providerError());
    breaker.failure(providerError());
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().consecutiveFailures).toBe(2);
  });

  it('a failed trial re-opens with the cooldown, growing ×2 up to the maximum, and closing resets it', () => {
    const { breaker, transitions, advance } = setup({ failureThreshold: 1, cooldownMs: 1000, cooldownGrowth: 2, maxCooldownMs: 3000 });
    breaker.failure(providerError());
    expect(breaker.snapshot()).toMatchObject({ state: 'open', cooldownMs: 1000, retryAfterMs: 1000 });
    const cooldowns: number[] = [];
    for (let i = 0; i < 3; i++) {
      advance(breaker.retryAfterMs());
      expect(breaker.state).toBe('half-open');
      breaker.acquire().failure(providerError());
      expect(breaker.state).toBe('open');
      cooldowns.push(breaker.snapshot().cooldownMs);
    }
    expect(cooldowns).toEqual([2000, 3000, 3000]);
    expect(transitions.filter((t) => t.to === 'open').map((t) => t.reason)).toEqual(['failures', 'trial-failed', 'trial-failed', 'trial-failed']);
    advance(3000);
    breaker.acquire().success();
    expect(breaker.state).toBe('closed');
    breaker.failure(providerError());
    expect(breaker.snapshot().cooldownMs).toBe(1000);
  });

  it('needs successesToClose successful trials, one at a time with halfOpenProbes 1', () => {
    const { breaker, advance } = setup({ failureThreshold: 1, successesToClose: 2 });
    breaker.failure();
    advance(5000);
    const first = breaker.acquire();
    expect(breaker.tryAcquire()).toBeUndefined();
    first.success();
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', trialSuccesses: 1, trialsInFlight: 0 });
    breaker.acquire().success();
    expect(breaker.state).toBe('closed');
  });

  it('half-open admits at most halfOpenProbes trials at once and refuses the others with CIRCUIT_OPEN', async () => {
    const { breaker, advance } = setup({ failureThreshold: 1, halfOpenProbes: 2, trialTimeoutMs: 800 });
    breaker.failure();
    advance(5000);
    const a = breaker.acquire();
    const b = breaker.acquire();
    expect(breaker.allow()).toBe(false);
    const error = await expectCode(() => breaker.acquire(), 'CIRCUIT_OPEN');
    expect(error.details).toEqual({ key: 'openai/gpt-x', state: 'half-open', retryAfterMs: 800 });
    expect(error.message).toContain('half-open');
    a.release(); // neither success nor failure: only the place is freed
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', trialsInFlight: 1 });
    const c = breaker.acquire();
    expect(c.trial).toBe(true);
    // a trial never reported frees its place after trialTimeoutMs
    advance(800);
    expect(breaker.snapshot().trialsInFlight).toBe(0);
    b.success();
    expect(breaker.state).toBe('closed');
    c.failure(providerError()); // admitted since the last opening, so it counts: the closed breaker opens again (threshold 1)
    expect(breaker.state).toBe('open');
  });

  it('allow() in half-open takes a trial place that success()/failure() free', () => {
    const { breaker, advance } = setup({ failureThreshold: 1 });
    breaker.failure();
    advance(5000);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.failure(new ModelpoolError('INVALID_ARGUMENT', 'bad prompt'));
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', trialsInFlight: 0 });
    expect(breaker.allow()).toBe(true);
    breaker.failure(providerError());
    expect(breaker.state).toBe('open');
  });

  it('CIRCUIT_OPEN from acquire() carries key, state and retryAfterMs', async () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.failure(providerError());
    advance(1200);
    const error = await expectCode(() => breaker.acquire(), 'CIRCUIT_OPEN');
    expect(error.details).toEqual({ key: 'openai/gpt-x', state: 'open', retryAfterMs: 3800 });
    expect(error.message).toBe('The circuit breaker for "openai/gpt-x" is open: retry in 3800 ms');
  });

  it('ignores outcomes of requests admitted before it last opened', () => {
    const { breaker, advance } = setup({ failureThreshold: 2 });
    const early = breaker.acquire();
    const earlyToo = breaker.acquire();
    breaker.failure(providerError());
    breaker.failure(providerError());
    expect(breaker.state).toBe('open');
    advance(5000);
    expect(breaker.state).toBe('half-open');
    early.success(); // admitted while closed, before the outage: says nothing about now
    expect(breaker.state).toBe('half-open');
    earlyToo.failure(providerError());
    expect(breaker.state).toBe('half-open');
    expect(breaker.snapshot().lastFailure).toMatchObject({ code: 'PROVIDER_ERROR' });
    // a permit settles once
    const trial = breaker.acquire();
    trial.success();
    trial.failure(providerError());
    expect(trial.failure()).toBe(false);
    expect(breaker.state).toBe('closed');
  });

  it('outcomes while open change nothing', () => {
    const { breaker } = setup({ failureThreshold: 1 });
    breaker.failure();
    breaker.success();
    expect(breaker.state).toBe('open');
    breaker.failure();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', opens: 1, consecutiveFailures: 2 });
  });

  it('stays open at least as long as a provider 429 asked (capped at maxCooldownMs)', () => {
    const { breaker } = setup({ failureThreshold: 1, maxCooldownMs: 20_000 });
    breaker.failure(new ModelpoolError('RATE_LIMITED', 'HTTP 429', { details: { status: 429, retryAfterMs: 12_000 } }));
    expect(breaker.snapshot()).toMatchObject({ state: 'open', cooldownMs: 12_000 });
    const { breaker: capped } = setup({ failureThreshold: 1, maxCooldownMs: 20_000 });
    capped.failure(new ModelpoolError('RATE_LIMITED', 'HTTP 429', { details: { status: 429, retryAfterMs: 90_000 } }));
    expect(capped.snapshot().cooldownMs).toBe(20_000);
  });

  it('reset() closes it and clears the counters', () => {
    const { breaker, transitions } = setup({ failureThreshold: 1 });
    breaker.failure();
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(transitions.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'reset' });
    breaker.reset();
    expect(transitions).toHaveLength(2);
    expect(breaker.allow()).toBe(true);
  });

  it('a closed breaker with cooldown 0 half-opens at once', () => {
    const { breaker } = setup({ failureThreshold: 1, cooldownMs: 0 });
    breaker.failure();
    expect(breaker.state).toBe('half-open');
  });
});

describe('CircuitBreaker failure rate', () => {
  const rate = { threshold: 0.5, minRequests: 10, windowMs: 30_000 };

  it('opens at ≥ 50% failures of ≥ 10 requests in the window, without 3 in a row', () => {
    const { breaker, transitions } = setup({ failureRate: rate });
    for (let i = 0; i < 4; i++) {
      breaker.success();
      breaker.failure(providerError());
    }
    expect(breaker.state).toBe('closed'); // 8 requests: too few to judge
    breaker.success();
    expect(breaker.snapshot().window).toEqual({ requests: 9, failures: 4, rate: 4 / 9 });
    breaker.failure(providerError());
    expect(breaker.state).toBe('open');
    expect(transitions[0]).toMatchObject({ reason: 'failure-rate' });
  });

  it('forgets requests older than the window', () => {
    const { breaker, advance } = setup({ failureRate: rate, failureThreshold: 100 });
    for (let i = 0; i < 9; i++) breaker.failure(providerError());
    advance(31_000);
    expect(breaker.snapshot().window).toEqual({ requests: 0, failures: 0, rate: 0 });
    for (let i = 0; i < 9; i++) breaker.success();
    breaker.failure(providerError());
    expect(breaker.state).toBe('closed'); // 1 of 10
  });

  it('starts a fresh window when it closes again', () => {
    const { breaker, advance } = setup({ failureRate: { minRequests: 2 }, failureThreshold: 100 });
    breaker.failure(providerError());
    breaker.failure(providerError());
    expect(breaker.state).toBe('open');
    advance(5000);
    breaker.acquire().success();
    expect(breaker.snapshot().window).toEqual({ requests: 0, failures: 0, rate: 0 });
    breaker.failure(providerError());
    expect(breaker.state).toBe('closed');
  });
});

describe('failure classifier', () => {
  const caller = [
    new ModelpoolError('INVALID_ARGUMENT', 'x'),
    new ModelpoolError('INVALID_SCHEMA', 'x'),
    new ModelpoolError('ABORTED', 'x'),
    new ModelpoolError('BUDGET_EXCEEDED', 'x'),
    new ModelpoolError('QUEUE_FULL', 'x'),
    new ModelpoolError('CONTEXT_OVERFLOW', 'x'),
    new ModelpoolError('CONTEXT_TOO_LARGE', 'x'),
    new ModelpoolError('DISPOSED', 'x'),
    new ModelpoolError('RATE_LIMITED', 'our own limiter', { details: { retryAfterMs: 100 } }),
    Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }),
  ];
  const model = [
    new ModelpoolError('PROVIDER_ERROR', 'HTTP 500', { details: { status: 500 } }),
    new ModelpoolError('PROVIDER_UNAVAILABLE', 'ECONNREFUSED'),
    new ModelpoolError('TIMEOUT', 'slow'),
    new ModelpoolError('RATE_LIMITED', 'HTTP 429', { details: { status: 429 } }),
    new ModelpoolError('UNAUTHORIZED', 'HTTP 401: revoked key', { details: { status: 401 } }),
    new ModelpoolError('FORBIDDEN', 'HTTP 403', { details: { status: 403 } }),
    new ModelpoolError('GENERATION_FAILED', 'decode failed'),
    new ModelpoolError('MODEL_NOT_FOUND', 'HTTP 404', { details: { status: 404 } }),
    new TypeError('fetch failed'),
    'a thrown string',
  ];

  it('caller faults neither count nor trip a breaker', () => {
    for (const error of caller) {
      expect(isCallerFault(error), String(error)).toBe(true);
      expect(countsAsFailure(error), String(error)).toBe(false);
    }
    const { breaker } = setup({ failureThreshold: 1 });
    for (const error of caller) expect(breaker.failure(error)).toBe(false);
    expect(breaker.state).toBe('closed');
  });

  it('failures of the model or provider count', () => {
    for (const error of model) {
      expect(isCallerFault(error), String(error)).toBe(false);
      expect(countsAsFailure(error), String(error)).toBe(true);
    }
    for (const error of model) {
      const { breaker } = setup({ failureThreshold: 1 });
      expect(breaker.failure(error)).toBe(true);
      expect(breaker.state).toBe('open');
    }
  });

  it('CIRCUIT_OPEN is neither the caller fault nor a failure', () => {
    const error = new ModelpoolError('CIRCUIT_OPEN', 'nested');
    expect(isCallerFault(error)).toBe(false);
    expect(countsAsFailure(error)).toBe(false);
  });

  it('a custom classifier decides; one that throws counts the failure with a warning', () => {
    const { breaker } = setup({ failureThreshold: 1, countsAsFailure: (e) => (e as Error).message === 'bad' });
    expect(breaker.failure(new Error('fine'))).toBe(false);
    expect(breaker.state).toBe('closed');
    expect(breaker.countsAsFailure(new Error('bad'))).toBe(true);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { breaker: throwing } = setup({
      failureThreshold: 1,
      countsAsFailure: () => {
        throw new Error('classifier bug');
      },
    });
    expect(throwing.failure(new Error('x'))).toBe(true);
    expect(throwing.state).toBe('open');
    expect(String(warn.mock.calls[0]![0])).toContain('classifier bug');
  });

  it('summarizeError keeps the code and a short message with credentials masked', () => {
    const key = 'sk-proj-abcdefghijklmnopqrstuvwxyz012345';
    expect(summarizeError(new ModelpoolError('UNAUTHORIZED', `Incorrect API key provided: ${key}`))).toEqual({
      code: 'UNAUTHORIZED',
      message: 'Incorrect API key provided: [masked]',
    });
    expect(summarizeError(new Error('header Authorization: Bearer abc.def.ghi was refused')).message).toBe('header Authorization: [masked] was refused');
    expect(summarizeError(new Error(`token ${'a1B2'.repeat(12)} leaked`)).message).toBe('token [masked] leaked');
    expect(summarizeError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toEqual({ code: 'ECONNREFUSED', message: 'connect' });
    expect(summarizeError(new RangeError('r'))).toEqual({ code: 'RangeError', message: 'r' });
    expect(summarizeError('plain words')).toEqual({ code: 'UNKNOWN', message: 'plain words' });
    expect(summarizeError(undefined)).toEqual({ code: 'UNKNOWN', message: 'undefined' });
    expect(summarizeError({ secret: 'x' })).toEqual({ code: 'UNKNOWN', message: 'a thrown [object Object]' });
    expect(summarizeError(42)).toEqual({ code: 'UNKNOWN', message: '42' });
    const long = summarizeError(new Error('word '.repeat(100)));
    expect(long.message).toHaveLength(200);
    expect(long.message.endsWith('...')).toBe(true);
  });
});

describe('CircuitBreaker arguments and listeners', () => {
  it('validates its key and options, naming the field', async () => {
    await expectCode(() => new CircuitBreaker(''), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => new CircuitBreaker('k', { failureThreshold: 0 }), 'INVALID_ARGUMENT', 'options.failureThreshold');
    await expectCode(() => new CircuitBreaker('k', { cooldownMs: -1 }), 'INVALID_ARGUMENT', 'options.cooldownMs');
    await expectCode(() => new CircuitBreaker('k', { cooldownMs: 10_000, maxCooldownMs: 5000 }), 'INVALID_ARGUMENT', 'options.maxCooldownMs');
    await expectCode(() => new CircuitBreaker('k', { cooldownGrowth: 0.5 }), 'INVALID_ARGUMENT', 'options.cooldownGrowth');
    await expectCode(() => new CircuitBreaker('k', { halfOpenProbes: 0 }), 'INVALID_ARGUMENT', 'options.halfOpenProbes');
    await expectCode(() => new CircuitBreaker('k', { failureRate: { threshold: 0 } }), 'INVALID_ARGUMENT', 'options.failureRate.threshold');
    await expectCode(() => new CircuitBreaker('k', { failureRate: { windowMs: 1 } }), 'INVALID_ARGUMENT', 'options.failureRate.windowMs');
    await expectCode(() => new CircuitBreaker('k', { failureRate: { rate: 1 } as never }), 'INVALID_ARGUMENT', 'options.failureRate.rate');
    await expectCode(() => new CircuitBreaker('k', { countsAsFailure: 'no' as never }), 'INVALID_ARGUMENT', 'options.countsAsFailure');
    await expectCode(() => new CircuitBreaker('k', { cooldown: 5 } as never), 'INVALID_ARGUMENT', 'options.cooldown');
    await expectCode(() => new CircuitBreaker('k', { now: () => Number.NaN }), 'INVALID_ARGUMENT', 'now()');
    expect(new CircuitBreaker('k', { cooldownMs: 120_000 }).options.maxCooldownMs).toBe(120_000);
    expect(new CircuitBreaker('k').options).toMatchObject({ failureThreshold: 3, cooldownMs: 5000, halfOpenProbes: 1, successesToClose: 1 });
    expect(Object.isFrozen(BREAKER_DEFAULTS)).toBe(true);
    expect(new CircuitBreaker('k').retryAfterMs()).toBe(0);
    const { breaker } = setup();
    await expectCode(() => breaker.success(-1), 'INVALID_ARGUMENT', 'latencyMs');
    await expectCode(() => breaker.acquire().success(Number.NaN), 'INVALID_ARGUMENT', 'latencyMs');
    await expectCode(() => breaker.on('change' as never, () => undefined), 'INVALID_ARGUMENT', 'event');
    await expectCode(() => breaker.on('transition', 'no' as never), 'INVALID_ARGUMENT', 'listener');
  });

  it('a listener removed hears nothing; one that throws is reported as a warning and the others still hear', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { breaker } = setup({ failureThreshold: 1 });
    const heard: string[] = [];
    breaker.on('transition', () => {
      throw new Error('listener bug');
    });
    const off = breaker.on('transition', (t) => heard.push(`off:${t.to}`));
    breaker.on('transition', (t) => heard.push(t.to));
    off();
    breaker.failure();
    expect(heard).toEqual(['open']);
    expect(String(warn.mock.calls[0]![0])).toContain('listener bug');
  });

  it('a snapshot is plain data', () => {
    const { breaker, advance } = setup({ failureThreshold: 1 });
    breaker.failure(providerError());
    advance(1000);
    const snapshot = breaker.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({ key: 'openai/gpt-x', state: 'open', retryAfterMs: 4000, opens: 1, lastFailure: { code: 'PROVIDER_ERROR' } });
  });
});
