import { describe, expect, it } from 'vitest';
import { KeyedStore } from '../../src/health/keyed.js';

describe('KeyedStore', () => {
  it('keeps keys in order of last use, whether the key used is the newest or not', () => {
    const store = new KeyedStore<number>(10, 1000);
    let made = 0;
    const use = (key: string, now: number) => store.use(key, now, () => ++made);
    use('a', 0);
    use('b', 1);
    use('a', 2);
    expect(store.keys()).toEqual(['b', 'a']);
    use('a', 3); // the newest again: stays at the back
    expect(store.keys()).toEqual(['b', 'a']);
    use('b', 4);
    expect(store.keys()).toEqual(['a', 'b']);
    store.delete('b');
    use('c', 5);
    use('a', 6);
    expect(store.keys()).toEqual(['c', 'a']);
    expect(made).toBe(3);
  });

  it('drops idle keys first, then the least recently used past maxKeys, the newest included when it is the oldest', () => {
    const store = new KeyedStore<string>(2, 100);
    store.use('a', 0, () => 'A');
    store.use('a', 50, () => 'A2'); // newest: only its time changes
    store.use('b', 60, () => 'B');
    store.use('c', 200, () => 'C'); // a and b idle since 50 and 60: both dropped
    expect(store.keys()).toEqual(['c']);
    store.use('d', 210, () => 'D');
    store.use('e', 220, () => 'E'); // full: c, the least recently used, goes
    expect(store.keys()).toEqual(['d', 'e']);
    expect(store.peek('e')).toBe('E');
    const one = new KeyedStore<string>(1, 1_000_000);
    one.use('x', 0, () => 'X');
    one.use('y', 1, () => 'Y'); // x was the newest, and the one to go
    one.use('y', 2, () => 'never');
    expect(one.keys()).toEqual(['y']);
    expect(one.peek('y')).toBe('Y');
  });
});
