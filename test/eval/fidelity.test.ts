// Quantisation fidelity on the real trained stories260K and the project's own quantizer: orderings with
// margin, never exact figures (they depend on llama.cpp's kernels).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureFidelity, quantizedVariant, type FidelityReport } from '../../src/eval/index.js';
import { cachedTestModel } from '../../src/testing/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const PROMPTS = [
  'Once upon a time, there was a little girl named Lily.',
  'One day, a big dog',
  'Tom and Sue went to the park.',
  'The sun was hot and',
  'There was a small bird who',
  'Mom said',
];

describe('measureFidelity on stories260K', () => {
  const paths: Record<'F16' | 'Q8_0' | 'Q4_0', string> = { F16: '', Q8_0: '', Q4_0: '' };
  let exact: FidelityReport;
  beforeAll(async () => {
    for (const type of ['F16', 'Q8_0', 'Q4_0'] as const) paths[type] = await quantizedVariant(STORIES, type, { threads: 1 });
    exact = await measureFidelity({
      reference: STORIES,
      variants: [{ name: 'F32', path: STORIES }, ...(['F16', 'Q8_0', 'Q4_0'] as const).map((name) => ({ name, path: paths[name] }))],
      prompts: PROMPTS,
      continuationTokens: 16,
      threads: 1,
    });
  });
  const variant = (report: FidelityReport, name: string) => report.variants.find((v) => v.name === name)!;

  it('compares whole distributions on a 512-token vocabulary: the KL is exact', () => {
    expect(exact.vocabularySize).toBe(512);
    expect(exact.topK).toBe(512);
    expect(exact.exact).toBe(true);
    expect(exact.prompts + exact.skippedPrompts).toBe(PROMPTS.length);
    expect(exact.prompts).toBeGreaterThan(0);
    for (const v of exact.variants) {
      expect(v.positions).toBeGreaterThan(exact.prompts);
      expect(v.positions).toBeLessThanOrEqual(exact.prompts * 16);
    }
  });

  it('the reference against itself agrees everywhere with KL ≈ 0', () => {
    const self = variant(exact, 'F32');
    expect(self.top1Agreement).toBe(1);
    expect(self.meanKl).toBeLessThan(1e-6);
    expect(self.maxKl).toBeLessThan(1e-5);
    expect(self.perplexity).toBeCloseTo(exact.reference.perplexity, 6);
    expect(self.sizeBytes).toBe(exact.reference.sizeBytes);
  });

  it('orders the quantisations: Q4_0 diverges far more than Q8_0, and Q8_0 more than F16', () => {
    const [f16, q8, q4] = ['F16', 'Q8_0', 'Q4_0'].map((n) => variant(exact, n));
    expect(q4!.meanKl).toBeGreaterThan(10 * f16!.meanKl);
    expect(q4!.meanKl).toBeGreaterThan(3 * q8!.meanKl);
    expect(q8!.meanKl).toBeGreaterThan(3 * f16!.meanKl);
    expect(q4!.p95Kl).toBeGreaterThan(f16!.p95Kl);
    expect(q4!.maxKl).toBeGreaterThanOrEqual(q4!.p95Kl);
    expect(q4!.p95Kl).toBeGreaterThanOrEqual(0);
    expect(f16!.top1Agreement).toBeGreaterThanOrEqual(q4!.top1Agreement);
    expect(q4!.top1Agreement).toBeGreaterThan(0.5);
    // Fewer bits, smaller file; and the variants' perplexity on the reference's text is no better than the reference's.
    expect(f16!.sizeBytes).toBeLessThan(exact.reference.sizeBytes);
    expect(q8!.sizeBytes).toBeLessThan(f16!.sizeBytes);
    expect(q4!.sizeBytes).toBeLessThan(q8!.sizeBytes);
    expect(q4!.perplexity).toBeGreaterThan(exact.reference.perplexity);
    expect(q4!.memoryBytes).toBeGreaterThan(0);
  });

  it('with a truncated topK the KL is a lower bound of the exact one', async () => {
    const truncated = await measureFidelity({ reference: STORIES, variants: [{ name: 'Q4_0', path: paths.Q4_0 }], prompts: PROMPTS, continuationTokens: 16, topK: 5, threads: 1 });
    expect(truncated.exact).toBe(false);
    expect(truncated.topK).toBe(5);
    const t = truncated.variants[0]!;
    const e = variant(exact, 'Q4_0');
    expect(t.positions).toBe(e.positions);
    expect(t.meanKl).toBeLessThanOrEqual(e.meanKl + 1e-9);
    expect(t.maxKl).toBeLessThanOrEqual(e.maxKl + 1e-9);
    expect(t.meanKl).toBeGreaterThan(0);
    expect(t.top1Agreement).toBe(e.top1Agreement);
  });

  it('rejects bad options, naming them', async () => {
    const v = [{ name: 'a', path: STORIES }];
    await expectCode(measureFidelity({ reference: '', variants: v, prompts: ['x'] }), 'INVALID_ARGUMENT', 'options.reference');
    await expectCode(measureFidelity({ reference: STORIES, variants: [], prompts: ['x'] }), 'INVALID_ARGUMENT', 'options.variants');
    await expectCode(measureFidelity({ reference: STORIES, variants: [v[0]!, v[0]!], prompts: ['x'] }), 'INVALID_ARGUMENT', 'options.variants[1].name');
    await expectCode(measureFidelity({ reference: STORIES, variants: [{ name: 'a', path: '' }], prompts: ['x'] }), 'INVALID_ARGUMENT', 'options.variants[0].path');
    await expectCode(measureFidelity({ reference: STORIES, variants: v, prompts: [] }), 'INVALID_ARGUMENT', 'options.prompts');
    await expectCode(measureFidelity({ reference: STORIES, variants: v, prompts: [''] }), 'INVALID_ARGUMENT', 'options.prompts[0]');
    await expectCode(measureFidelity({ reference: STORIES, variants: v, prompts: ['x'], continuationTokens: 0 }), 'INVALID_ARGUMENT', 'options.continuationTokens');
    await expectCode(measureFidelity({ reference: STORIES, variants: v, prompts: ['x'], topK: 513, threads: 1 }), 'INVALID_ARGUMENT', 'options.topK');
    await expectCode(measureFidelity(null as unknown as Parameters<typeof measureFidelity>[0]), 'INVALID_ARGUMENT', 'options');
  });

  it('stops with ABORTED when its signal aborts', async () => {
    await expectCode(measureFidelity({ reference: STORIES, variants: [{ name: 'a', path: STORIES }], prompts: PROMPTS, signal: AbortSignal.abort() }), 'ABORTED');
  });

  it('refuses a variant with another vocabulary, naming its path', async () => {
    const other = await cachedTestModel();
    await expectCode(measureFidelity({ reference: STORIES, variants: [{ name: 'other', path: other }], prompts: PROMPTS.slice(0, 1), continuationTokens: 4, threads: 1 }), 'INVALID_ARGUMENT', 'options.variants[0].path');
  });

  it('defaults to the top 64 on a large vocabulary (a lower bound)', async () => {
    const big = await cachedTestModel();
    const r = await measureFidelity({ reference: big, variants: [{ name: 'self', path: big }], prompts: PROMPTS.slice(0, 2), continuationTokens: 4, threads: 1, signal: new AbortController().signal });
    expect(r.vocabularySize).toBeGreaterThan(4096);
    expect(r.topK).toBe(64);
    expect(r.exact).toBe(false);
    expect(r.variants[0]!.top1Agreement).toBe(1);
    expect(r.variants[0]!.meanKl).toBeLessThan(1e-6);
  });
});

describe('quantizedVariant', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'modelpool-variants-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('quantises once (concurrent callers share the work) and returns the cached file after', async () => {
    const [first, concurrent] = await Promise.all([quantizedVariant(STORIES, 'Q8_0', { cacheDir, threads: 1 }), quantizedVariant(STORIES, 'Q8_0', { cacheDir })]);
    expect(concurrent).toBe(first);
    expect(first.startsWith(cacheDir)).toBe(true);
    expect(first).toMatch(/stories260K-Q8_0-[0-9a-f]{16}\.gguf$/);
    const written = statSync(first).mtimeMs;
    expect(await quantizedVariant(STORIES, 'Q8_0', { cacheDir })).toBe(first);
    expect(statSync(first).mtimeMs).toBe(written);
    // No temporary file is left behind; another type is another file.
    expect(await quantizedVariant(STORIES, 'Q4_0', { cacheDir })).not.toBe(first);
    expect(readdirSync(cacheDir).sort()).toEqual([basename(first), basename(await quantizedVariant(STORIES, 'Q4_0', { cacheDir }))].sort());
  });

  it('names an unreadable input and a bad type, leaving nothing behind', async () => {
    await expectCode(quantizedVariant('no-such-model.gguf', 'Q4_0', { cacheDir }), 'INVALID_ARGUMENT', 'input');
    const before = readdirSync(cacheDir).length;
    await expectCode(quantizedVariant(STORIES, 'Q3' as 'Q4_0', { cacheDir }), 'INVALID_ARGUMENT', 'type');
    expect(readdirSync(cacheDir)).toHaveLength(before);
    await expectCode(quantizedVariant(STORIES, 'Q4_0', { threads: 0 }), 'INVALID_ARGUMENT', 'options.threads');
    await expectCode(quantizedVariant(STORIES, '../Q4_0' as 'Q4_0', { cacheDir }), 'INVALID_ARGUMENT', 'type');
  });
});
