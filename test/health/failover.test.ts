import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { Breakers, HealthTracker, failover } from '../../src/health/index.js';
import { expectCode } from '../helpers/expect.js';

function setup() {
  let time = 1_700_000_000_000;
  const now = () => time;
  const breakers = new Breakers({ now, defaults: { failureThreshold: 1, cooldownMs: 1000 } });
  const tracker = new HealthTracker({ now });
  return {
    breakers,
    tracker,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

const down = (key: string) => new ModelpoolError('PROVIDER_UNAVAILABLE', `${key}: cannot reach the server (ECONNREFUSED)`);

/** A run that fails for the keys in `failing` (with the error made for each) and answers `value:<key>` for the others. */
function runner(failing: Record<string, (key: string) => unknown>) {
  const calls: string[] = [];
  const run = async (key: string, signal: AbortSignal): Promise<string> => {
    calls.push(key);
    expect(signal).toBeInstanceOf(AbortSignal);
    const make = failing[key];
    if (make !== undefined) throw make(key);
    return `value:${key}`;
  };
  return { run, calls };
}

describe('failover', () => {
  it('returns the first candidate’s value when it succeeds, recording the attempt', async () => {
    const { breakers, tracker } = setup();
    const { run, calls } = runner({});
    const result = await failover(['local:stories', 'openai/gpt-x'], run, { breakers, tracker });
    expect(result).toMatchObject({ value: 'value:local:stories', key: 'local:stories', skipped: [] });
    expect(result.attempts).toEqual([{ key: 'local:stories', ms: expect.any(Number) }]);
    expect(calls).toEqual(['local:stories']);
    expect(tracker.get('local:stories')).toMatchObject({ requests: 1, failures: 0 });
  });

  it('tries the next candidate when one fails by no fault of the caller, in order, recording each attempt', async () => {
    const { breakers, tracker } = setup();
    const { run, calls } = runner({ a: down, b: () => new ModelpoolError('TIMEOUT', 'slow') });
    const result = await failover(['a', 'b', 'c'], run, { breakers, tracker });
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(result.key).toBe('c');
    expect(result.attempts.map((a) => [a.key, a.error?.code])).toEqual([
      ['a', 'PROVIDER_UNAVAILABLE'],
      ['b', 'TIMEOUT'],
      ['c', undefined],
    ]);
    expect(breakers.get('a').state).toBe('open');
    expect(breakers.get('b').state).toBe('open');
    expect(tracker.get('a')).toMatchObject({ failures: 1, lastError: { code: 'PROVIDER_UNAVAILABLE' } });
  });

  it('skips candidates whose breaker is open, and lists them', async () => {
    const { breakers } = setup();
    breakers.get('a').failure();
    const { run, calls } = runner({});
    const result = await failover(['a', 'b'], run, { breakers });
    expect(calls).toEqual(['b']);
    expect(result.skipped).toEqual([{ key: 'a', state: 'open', retryAfterMs: 1000 }]);
  });

  it('throws a caller fault at once, without failing over or tripping the breaker', async () => {
    const { breakers, tracker } = setup();
    const { run, calls } = runner({ a: () => new ModelpoolError('CONTEXT_OVERFLOW', 'prompt too long') });
    await expectCode(failover(['a', 'b'], run, { breakers, tracker }), 'CONTEXT_OVERFLOW');
    expect(calls).toEqual(['a']);
    expect(breakers.get('a').state).toBe('closed');
    expect(tracker.get('a')).toBeUndefined();
    // a custom classifier: QUEUE_FULL fails over here (and does not trip the breaker)
    const queue = runner({ a: () => new ModelpoolError('QUEUE_FULL', 'busy') });
    const result = await failover(['a', 'b'], queue.run, { breakers, isCallerFault: () => false });
    expect(result.key).toBe('b');
    expect(breakers.get('a').state).toBe('closed');
    // a classifier that throws is read as "not the caller's fault"
    const thrown = runner({ a: down });
    const again = await failover(['a', 'b'], thrown.run, {
      breakers: new Breakers(),
      isCallerFault: () => {
        throw new Error('bug');
      },
    });
    expect(again.key).toBe('b');
  });

  it('stops after maxAttempts and throws the last failure’s code, listing every attempt', async () => {
    const { breakers } = setup();
    const { run, calls } = runner({ a: down, b: () => new ModelpoolError('RATE_LIMITED', 'HTTP 429', { details: { status: 429, retryAfterMs: 2000 } }) });
    const error = await expectCode(failover(['a', 'b', 'c'], run, { breakers, maxAttempts: 2 }), 'RATE_LIMITED');
    expect(calls).toEqual(['a', 'b']);
    expect(error.message).toBe('All 2 candidates tried failed: "a" (PROVIDER_UNAVAILABLE: a: cannot reach the server (ECONNREFUSED)); "b" (RATE_LIMITED: HTTP 429)');
    expect(error.details).toMatchObject({ status: 429, retryAfterMs: 2000, skipped: [] });
    expect((error.details!.attempts as unknown[]).length).toBe(2);
    expect(error.cause).toBeInstanceOf(ModelpoolError);
  });

  it('an error that is not a ModelpoolError fails over and, last, becomes PROVIDER_ERROR', async () => {
    const { breakers } = setup();
    breakers.get('b').failure();
    const { run } = runner({ a: () => new TypeError('fetch failed') });
    const error = await expectCode(failover(['a', 'b'], run, { breakers }), 'PROVIDER_ERROR');
    expect(error.message).toBe('The only candidate tried failed: "a" (TypeError: fetch failed); skipped "b" (open)');
    expect(error.details).toMatchObject({ skipped: [{ key: 'b', state: 'open' }] });
  });

  it('throws CIRCUIT_OPEN listing each candidate when every breaker refuses', async () => {
    const { breakers, advance } = setup();
    breakers.get('a').failure();
    advance(400);
    breakers.get('b').failure();
    const { run, calls } = runner({});
    const error = await expectCode(failover(['b', 'a'], run, { breakers }), 'CIRCUIT_OPEN');
    expect(calls).toEqual([]);
    expect(error.details).toEqual({
      candidates: [
        { key: 'b', state: 'open', retryAfterMs: 1000 },
        { key: 'a', state: 'open', retryAfterMs: 600 },
      ],
      retryAfterMs: 600,
    });
    expect(error.message).toContain('"a" (open, retry in 600 ms)');
    advance(600);
    expect((await failover(['b', 'a'], run, { breakers })).key).toBe('a'); // its half-open trial
    expect(breakers.get('a').state).toBe('closed');
  });

  it('a failed half-open trial re-opens the breaker', async () => {
    const { breakers, advance } = setup();
    breakers.get('a').failure();
    advance(1000);
    const failing = runner({ a: down });
    await expectCode(failover(['a'], failing.run, { breakers }), 'PROVIDER_UNAVAILABLE');
    expect(breakers.get('a').state).toBe('open');
  });

  it('fails an attempt that takes longer than attemptTimeoutMs with TIMEOUT, aborting its signal, and moves on', async () => {
    const { breakers } = setup();
    let seen: AbortSignal | undefined;
    const run = (key: string, signal: AbortSignal): Promise<string> => {
      if (key === 'b') return Promise.resolve('fast');
      seen = signal;
      return new Promise(() => undefined); // hangs, ignoring its signal
    };
    const result = await failover(['a', 'b'], run, { breakers, attemptTimeoutMs: 20 });
    expect(result.key).toBe('b');
    expect(result.attempts[0]).toMatchObject({ key: 'a', error: { code: 'TIMEOUT', message: '"a" did not answer within 20 ms' } });
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as ModelpoolError).code).toBe('TIMEOUT');
  });

  it('stops with ABORTED when the caller’s signal aborts, before or during an attempt, recording nothing', async () => {
    const { breakers, tracker } = setup();
    const controller = new AbortController();
    controller.abort();
    const { run, calls } = runner({});
    await expectCode(failover(['a'], run, { breakers, signal: controller.signal }), 'ABORTED');
    expect(calls).toEqual([]);

    const during = new AbortController();
    const hanging = (_key: string, signal: AbortSignal) =>
      new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('the SDK saw the abort'))));
    const pending = failover(['a', 'b'], hanging, { breakers, tracker, signal: during.signal });
    setTimeout(() => during.abort(), 5);
    const error = await expectCode(pending, 'ABORTED');
    expect(error.message).toBe('The request was aborted while "a" ran');
    expect(breakers.get('a').snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(tracker.get('a')).toBeUndefined();

    // a run that throws its own error once the caller has aborted: still ABORTED
    const late = new AbortController();
    const own = async () => {
      late.abort();
      throw new Error('stream closed');
    };
    await expectCode(failover(['a'], own, { breakers, signal: late.signal }), 'ABORTED');
    expect(breakers.get('a').snapshot().consecutiveFailures).toBe(0);
  });

  it('validates its arguments, naming the field', async () => {
    const { breakers } = setup();
    const run = async () => 1;
    await expectCode(failover([], run, { breakers }), 'INVALID_ARGUMENT', 'chain');
    await expectCode(failover('a' as never, run, { breakers }), 'INVALID_ARGUMENT', 'chain');
    await expectCode(failover([''], run, { breakers }), 'INVALID_ARGUMENT', 'chain[0]');
    await expectCode(failover(['a'], 'run' as never, { breakers }), 'INVALID_ARGUMENT', 'run');
    await expectCode(failover(['a'], run, undefined as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(failover(['a'], run, {} as never), 'INVALID_ARGUMENT', 'options.breakers');
    await expectCode(failover(['a'], run, { breakers, tracker: {} as never }), 'INVALID_ARGUMENT', 'options.tracker');
    await expectCode(failover(['a'], run, { breakers, maxAttempts: 0 }), 'INVALID_ARGUMENT', 'options.maxAttempts');
    await expectCode(failover(['a'], run, { breakers, attemptTimeoutMs: 0 }), 'INVALID_ARGUMENT', 'options.attemptTimeoutMs');
    await expectCode(failover(['a'], run, { breakers, signal: {} as never }), 'INVALID_ARGUMENT', 'options.signal');
    await expectCode(failover(['a'], run, { breakers, isCallerFault: 1 as never }), 'INVALID_ARGUMENT', 'options.isCallerFault');
    await expectCode(failover(['a'], run, { breakers, retries: 1 } as never), 'INVALID_ARGUMENT', 'options.retries');
  });
});
