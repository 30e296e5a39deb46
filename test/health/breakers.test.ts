import { afterEach, describe, expect, it, vi } from 'vitest';
import { Breakers, type BreakersOptions, type BreakerTransition } from '../../src/health/index.js';
import { expectCode } from '../helpers/expect.js';

function setup(options: Omit<BreakersOptions, 'now'> = {}) {
  let time = 1_700_000_000_000;
  const breakers = new Breakers({ ...options, now: () => time });
  return {
    breakers,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

afterEach(() => vi.restoreAllMocks());

describe('Breakers', () => {
  it('makes one breaker per key on first use, with the shared options and per-key overrides', () => {
    const { breakers } = setup({ defaults: { failureThreshold: 2, cooldownMs: 1000 }, overrides: { 'local:stories': { failureThreshold: 5 } } });
    const remote = breakers.get('openai/gpt-x');
    expect(breakers.get('openai/gpt-x')).toBe(remote);
    expect(remote.options).toMatchObject({ failureThreshold: 2, cooldownMs: 1000 });
    expect(breakers.get('local:stories').options).toMatchObject({ failureThreshold: 5, cooldownMs: 1000 });
    expect(breakers.size).toBe(2);
    expect(breakers.peek('nope')).toBeUndefined();
    expect(breakers.size).toBe(2);
  });

  it('configure() replaces the key’s breaker with a closed one under the new options, or restores the defaults', () => {
    const { breakers } = setup({ defaults: { failureThreshold: 1 } });
    breakers.get('a').failure();
    expect(breakers.get('a').state).toBe('open');
    breakers.configure('a', { failureThreshold: 4 });
    expect(breakers.get('a').state).toBe('closed');
    expect(breakers.get('a').options.failureThreshold).toBe(4);
    breakers.configure('a', undefined);
    expect(breakers.get('a').options.failureThreshold).toBe(1);
  });

  it('snapshot() lists every breaker by key; transitions of any breaker reach the collection’s listeners', () => {
    const { breakers, advance } = setup({ defaults: { failureThreshold: 1, cooldownMs: 100 } });
    const heard: BreakerTransition[] = [];
    const off = breakers.on('transition', (t) => heard.push(t));
    breakers.get('b').failure();
    breakers.get('a').success();
    expect(breakers.snapshot().map((s) => [s.key, s.state])).toEqual([
      ['a', 'closed'],
      ['b', 'open'],
    ]);
    advance(100);
    expect(breakers.get('b').state).toBe('half-open');
    expect(heard.map((t) => `${t.key}:${t.to}`)).toEqual(['b:open', 'b:half-open']);
    off();
    breakers.get('b').failure();
    expect(heard).toHaveLength(2);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    breakers.on('transition', () => {
      throw new Error('listener bug');
    });
    advance(100);
    expect(breakers.get('b').state).toBe('half-open');
    expect(String(warn.mock.calls[0]![0])).toContain('listener bug');
  });

  it('drops keys idle for idleMs that are not open, when a new key arrives', () => {
    const { breakers, advance } = setup({ idleMs: 1000, defaults: { failureThreshold: 1, cooldownMs: 60_000 } });
    breakers.get('idle-closed');
    breakers.get('idle-open').failure();
    advance(500);
    breakers.get('recent');
    advance(600);
    breakers.get('new');
    expect(breakers.snapshot().map((s) => s.key)).toEqual(['idle-open', 'new', 'recent']);
    expect(breakers.delete('new')).toBe(true);
    expect(breakers.delete('new')).toBe(false);
  });

  it('keeps at most maxKeys: the least recently used one not open goes first, else the least recently used', () => {
    const { breakers, advance } = setup({ maxKeys: 3, defaults: { failureThreshold: 1 } });
    breakers.get('open-1').failure();
    breakers.get('closed-1');
    breakers.get('closed-2');
    breakers.get('open-1'); // used again: still open, kept
    breakers.get('k4');
    expect(breakers.snapshot().map((s) => s.key)).toEqual(['closed-2', 'k4', 'open-1']);
    const { breakers: allOpen } = setup({ maxKeys: 2, defaults: { failureThreshold: 1 } });
    allOpen.get('x').failure();
    allOpen.get('y').failure();
    advance(1);
    allOpen.get('z');
    expect(allOpen.snapshot().map((s) => s.key)).toEqual(['y', 'z']);
    expect(allOpen.size).toBe(2);
  });

  it('validates its options, overrides and keys, naming the field', async () => {
    await expectCode(() => new Breakers({ maxKeys: 0 }), 'INVALID_ARGUMENT', 'options.maxKeys');
    await expectCode(() => new Breakers({ idleMs: -5 }), 'INVALID_ARGUMENT', 'options.idleMs');
    await expectCode(() => new Breakers({ defaults: { cooldownMs: 'x' as never } }), 'INVALID_ARGUMENT', 'options.defaults.cooldownMs');
    await expectCode(() => new Breakers({ defaults: { now: Date.now } }), 'INVALID_ARGUMENT', 'options.defaults.now');
    await expectCode(() => new Breakers({ overrides: { a: { halfOpenProbes: 0 } } }), 'INVALID_ARGUMENT', 'options.overrides["a"].halfOpenProbes');
    await expectCode(() => new Breakers({ defaults: { cooldownMs: 90_000 }, overrides: { a: { maxCooldownMs: 1000 } } }), 'INVALID_ARGUMENT', 'options.overrides["a"].maxCooldownMs');
    await expectCode(() => new Breakers({ overrides: [] as never }), 'INVALID_ARGUMENT', 'options.overrides');
    await expectCode(() => new Breakers({ extra: 1 } as never), 'INVALID_ARGUMENT', 'options.extra');
    await expectCode(() => new Breakers({ now: 5 as never }), 'INVALID_ARGUMENT', 'options.now');
    const { breakers } = setup();
    await expectCode(() => breakers.get(''), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => breakers.configure('', {}), 'INVALID_ARGUMENT', 'key');
    await expectCode(() => breakers.configure('a', { failureThreshold: -1 }), 'INVALID_ARGUMENT', 'options.failureThreshold');
    await expectCode(() => breakers.on('x' as never, () => undefined), 'INVALID_ARGUMENT', 'event');
    await expectCode(() => breakers.on('transition', null as never), 'INVALID_ARGUMENT', 'listener');
  });
});
