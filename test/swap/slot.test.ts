import { describe, expect, it } from 'vitest';
import { isModelpoolError } from '../../src/errors.js';
import { ReferenceSlot } from '../../src/core/ref-slot.js';

describe('ReferenceSlot', () => {
  it('is empty until a value is published', () => {
    const slot = new ReferenceSlot<string>();
    expect(slot.current).toBeUndefined();
    expect(slot.acquire()).toBeUndefined();
    expect(slot.currentRefs).toBe(0);
  });

  it('counts references on the current value; release is idempotent', () => {
    const slot = new ReferenceSlot('a');
    const r1 = slot.acquire()!;
    const r2 = slot.acquire()!;
    expect(r1.value).toBe('a');
    expect(slot.currentRefs).toBe(2);
    r1.release();
    r1.release();
    expect(slot.currentRefs).toBe(1);
    r2.release();
    expect(slot.refs('a')).toBe(0);
  });

  it('switches atomically; old references finish on the old value, which drains by count', async () => {
    const slot = new ReferenceSlot('v1');
    const old1 = slot.acquire()!;
    const old2 = slot.acquire()!;
    const { previous, drained } = slot.replace('v2');
    expect(previous).toBe('v1');
    expect(slot.current).toBe('v2');
    expect(slot.acquire()!.value).toBe('v2');
    expect(slot.draining).toEqual(['v1']);
    let done = false;
    void drained.then(() => (done = true));
    old1.release();
    await Promise.resolve();
    expect(done).toBe(false);
    expect(old2.value).toBe('v1');
    old2.release();
    await drained;
    expect(done).toBe(true);
    expect(slot.draining).toEqual([]);
    expect(slot.refs('v1')).toBe(0);
  });

  it('drains at once a value nobody holds, and can be emptied', async () => {
    const slot = new ReferenceSlot('a');
    const r = slot.replace(undefined);
    expect(r.previous).toBe('a');
    await r.drained;
    expect(slot.current).toBeUndefined();
    const again = slot.replace('b');
    expect(again.previous).toBeUndefined();
    await again.drained;
  });

  it('refuses to publish a value that is current or still draining', () => {
    const slot = new ReferenceSlot('a');
    const held = slot.acquire()!;
    expect(() => slot.replace('a')).toThrow();
    slot.replace('b');
    try {
      slot.replace('a');
      expect.unreachable();
    } catch (error) {
      expect(isModelpoolError(error, 'ILLEGAL_TRANSITION')).toBe(true);
    }
    expect(slot.current).toBe('b');
    held.release();
    slot.replace('a');
    expect(slot.current).toBe('a');
  });
});
