import { describe, expect, it } from 'vitest';
import { compareCanary, healthCheck, measureCanary, overlapScore } from '../../src/swap/index.js';
import { FakeProvider } from '../../src/testing/fake-provider.js';

async function fakeModel(config = {}) {
  const loader = new FakeProvider({ m: config });
  return loader.load({ id: 'm', source: 'm' }, { threads: 1 });
}

describe('overlapScore', () => {
  it('is the token-overlap F1 of two texts', () => {
    expect(overlapScore('The cat sat', 'the cat sat')).toBe(1);
    expect(overlapScore('', '')).toBe(1);
    expect(overlapScore('cat', '')).toBe(0);
    expect(overlapScore('dog', 'cat')).toBe(0);
    expect(overlapScore('the cat', 'the cat sat on the mat')).toBeCloseTo(0.5, 5);
  });
});

describe('compareCanary', () => {
  const m = (msPerToken: number, quality?: number) => ({ msPerToken, quality, outputs: [] });
  it('passes within the thresholds and explains failures', () => {
    expect(compareCanary(m(1, 0.8), m(1.4, 0.78), { prompts: ['x'] }).pass).toBe(true);
    const slow = compareCanary(m(1), m(2), { prompts: ['x'], maxLatencyRegression: 0.5 });
    expect(slow.pass).toBe(false);
    expect(slow.latencyRatio).toBe(2);
    expect(slow.reasons[0]).toMatch(/100% above/);
    const worse = compareCanary(m(1, 0.9), m(1, 0.5), { prompts: ['x'] });
    expect(worse.pass).toBe(false);
    expect(worse.qualityDelta).toBeCloseTo(-0.4, 5);
    expect(compareCanary(m(0), m(1), { prompts: ['x'] }).latencyRatio).toBe(1);
    expect(compareCanary(m(1, 0.5), m(1), { prompts: ['x'] }).qualityDelta).toBeUndefined();
  });
});

describe('healthCheck', () => {
  it('passes a model that generates', async () => {
    const report = await healthCheck(await fakeModel());
    expect(report).toMatchObject({ ok: true, generatedTokens: 4 });
  });

  it('fails one that generates nothing, errors, hangs, or is aborted', async () => {
    expect((await healthCheck(await fakeModel({ generatedTokens: 0 }))).error!.code).toBe('GENERATION_FAILED');
    expect((await healthCheck(await fakeModel({ failGenerate: true }))).error!.code).toBe('GENERATION_FAILED');
    const hung = await healthCheck(await fakeModel({ tokenMs: 10_000 }), { timeoutMs: 20 });
    expect(hung.ok).toBe(false);
    expect(hung.error!.code).toBe('TIMEOUT');
    const controller = new AbortController();
    const pending = healthCheck(await fakeModel({ tokenMs: 10_000 }), {}, controller.signal);
    controller.abort();
    expect((await pending).error!.code).toBe('ABORTED');
    const thrower = await fakeModel();
    thrower.complete = () => Promise.reject(new Error('native crash'));
    expect((await healthCheck(thrower)).error!.message).toContain('native crash');
  });
});

describe('measureCanary', () => {
  it('measures latency per token and mean quality', async () => {
    const model = await fakeModel({ tokenMs: 2, text: 'a b c' });
    const m = await measureCanary(model, { prompts: ['x', { prompt: 'y', expected: 'a b c' }], maxTokens: 4, repeats: 2 });
    expect(m.msPerToken).toBeGreaterThan(1);
    expect(m.quality).toBe(1);
    expect(m.outputs).toEqual(['a b c', 'a b c']);
    const unscored = await measureCanary(model, { prompts: ['x'] });
    expect(unscored.quality).toBeUndefined();
    await expect(measureCanary(model, { prompts: ['x'] }, AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
