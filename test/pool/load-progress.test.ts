// 'load-progress' events: the provider's progress of a real load (stories260K through the llama provider),
// non-decreasing, ending at 1, before 'ready' (a model this small may report 1 at once).
import { describe, expect, it } from 'vitest';
import { ModelPool } from '../../src/pool/index.js';
import { STORIES } from '../helpers/models.js';

describe('pool load progress', () => {
  it('reports a load from 0 to 1 before the model is ready', async () => {
    const pool = new ModelPool({ models: [{ id: 's', source: STORIES, contextSize: 256, probe: 'never' }], threads: 1 });
    const seen: Array<string | number> = [];
    pool.on('load-progress', (e) => seen.push(e.progress));
    pool.on('ready', () => seen.push('ready'));
    await pool.load('s');
    await pool.dispose();
    const progress = seen.slice(0, -1) as number[];
    expect(seen.at(-1)).toBe('ready');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toBe(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
  });
});
