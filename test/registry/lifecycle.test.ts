import { describe, expect, it } from 'vitest';
import { isModelpoolError } from '../../src/errors.js';
import { canTransition, LEGAL_TRANSITIONS, ModelRegistry, type LifecycleState } from '../../src/registry/index.js';
import { expectError, manualClock } from './helpers.js';

const STATES: LifecycleState[] = ['registered', 'loading', 'ready', 'draining', 'retired', 'failed'];
/** A legal path from 'registered' to each state. */
const PATH_TO: Record<LifecycleState, LifecycleState[]> = {
  registered: [],
  loading: ['loading'],
  ready: ['loading', 'ready'],
  draining: ['loading', 'ready', 'draining'],
  retired: ['retired'],
  failed: ['loading', 'failed'],
};

describe('lifecycle table', () => {
  it('allows exactly the documented moves', () => {
    expect(LEGAL_TRANSITIONS).toEqual({
      registered: ['loading', 'retired'],
      loading: ['ready', 'failed', 'registered'],
      ready: ['draining', 'failed'],
      draining: ['retired', 'registered', 'ready'],
      failed: ['loading', 'retired'],
      retired: ['loading'],
    });
    expect(Object.isFrozen(LEGAL_TRANSITIONS) && Object.isFrozen(LEGAL_TRANSITIONS.ready)).toBe(true);
    for (const from of STATES) expect(canTransition(from, from)).toBe(false);
  });
});

describe('ModelRegistry.transition', () => {
  it('accepts every legal move and refuses every illegal one with ILLEGAL_TRANSITION naming both states', async () => {
    const clock = manualClock();
    const registry = await ModelRegistry.open({ refreshIntervalMs: 0, now: clock.read });
    let checked = 0;
    for (const from of STATES) {
      for (const to of STATES) {
        const id = `m-${from}-${to}`;
        await registry.registerModel({ id, version: { version: '1', source: { kind: 'openai', model: 'x' } } });
        for (const step of PATH_TO[from]) await registry.transition(id, '1', step, { reason: `to ${step}` });
        expect(registry.resolve(id).version.state).toBe(from);
        if (canTransition(from, to)) {
          clock.advance(5);
          const version = await registry.transition(id, '1', to, { reason: 'test', from });
          expect(version.state).toBe(to);
          expect(version.transitions.at(-1)).toEqual({ from, to, at: clock.now, reason: 'test' });
          expect(version.transitionCount).toBe(PATH_TO[from].length + 1);
        } else {
          const error = await expectError(registry.transition(id, '1', to), 'ILLEGAL_TRANSITION', 'to', to);
          expect(error.message).toContain(`from ${from} to ${to}`);
          expect(error.details).toMatchObject({ modelId: id, version: '1', from, to });
          expect(registry.resolve(id).version.state).toBe(from);
        }
        checked++;
      }
    }
    expect(checked).toBe(36);
    await registry.close();
  });

  it('records each move with time and reason, and keeps a bounded list in memory', async () => {
    const clock = manualClock();
    const registry = await ModelRegistry.open({ refreshIntervalMs: 0, now: clock.read, transitionHistoryLimit: 3 });
    await registry.registerModel({ id: 'm', version: { version: '1', source: { kind: 'openai', model: 'x' } } });
    for (let round = 0; round < 3; round++) {
      clock.advance(1000);
      await registry.transition('m', '1', 'loading', { reason: `round ${round}` });
      clock.advance(1000);
      await registry.transition('m', '1', 'failed', { reason: 'out of memory' });
    }
    const version = registry.resolve('m').version;
    expect(version.transitionCount).toBe(6);
    expect(version.transitions).toEqual([
      { from: 'loading', to: 'failed', at: clock.now - 2000, reason: 'out of memory' },
      { from: 'failed', to: 'loading', at: clock.now - 1000, reason: 'round 2' },
      { from: 'loading', to: 'failed', at: clock.now, reason: 'out of memory' },
    ]);
    await registry.close();
  });

  it('supports compare-and-set with options.from, and validates its arguments', async () => {
    const registry = await ModelRegistry.open({ refreshIntervalMs: 0 });
    await registry.registerModel({ id: 'm', version: { version: '1', source: { kind: 'openai', model: 'x' } } });
    const error = await expectError(registry.transition('m', '1', 'ready', { from: 'loading' }), 'ILLEGAL_TRANSITION', 'options.from', 'loading');
    expect(error.details).toMatchObject({ from: 'registered', expected: 'loading' });
    await expectError(registry.transition('m', '1', 'flying' as never), 'INVALID_ARGUMENT', 'to', 'flying');
    await expectError(registry.transition('m', '1', 'loading', { from: 'x' as never }), 'INVALID_ARGUMENT', 'options.from', 'x');
    await expectError(registry.transition('m', '1', 'loading', { reason: '' }), 'INVALID_ARGUMENT', 'options.reason');
    await expectError(registry.transition('m', '1', 'loading', null as never), 'INVALID_ARGUMENT', 'options');
    await expectError(registry.transition('m', '2', 'loading'), 'VERSION_NOT_FOUND', 'version', '2');
    await expectError(registry.transition('nope', '1', 'loading'), 'MODEL_NOT_FOUND', 'name', 'nope');
    await expectError(registry.transition(7 as never, '1', 'loading'), 'INVALID_ARGUMENT', 'name');
    expect(isModelpoolError(new Error('x'))).toBe(false);
    await registry.close();
  });
});
