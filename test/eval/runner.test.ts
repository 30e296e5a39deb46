import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { parseSuite, recordQuality, runSuite, type ItemResult, type Suite, type SuiteItem, type SuiteReport, type SuiteTarget } from '../../src/eval/index.js';
import { ModelRegistry } from '../../src/registry/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const line = (value: unknown): string => JSON.stringify(value);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Items a..: the prompt is the expected answer, so an echoing target passes them all. */
function echoSuite(n: number, tags: (i: number) => string[] = () => []): Suite {
  const lines = Array.from({ length: n }, (_, i) => line({ id: `item${i}`, prompt: `answer ${i}`, grader: { type: 'exact', expected: `answer ${i}` }, tags: tags(i) }));
  return parseSuite(lines.join('\n'), 'echo');
}

const echo: SuiteTarget = async (item) => ({ text: item.prompt!, model: 'echo', latencyMs: 5 });

describe('runSuite', () => {
  it('grades every item in suite order, with mean score, pass rate and per-tag figures', async () => {
    const suite = parseSuite(
      [
        line({ id: 'a', prompt: '2+2', grader: { type: 'numeric', expected: 4 }, tags: ['math'] }),
        line({ id: 'b', prompt: '3+3', grader: { type: 'numeric', expected: 6 }, tags: ['math', 'hard'] }),
        line({ id: 'c', prompt: 'fox', grader: { type: 'overlap', reference: 'the quick brown fox' }, tags: ['text'] }),
      ].join('\n'),
    );
    const answers: Record<string, string> = { a: '4', b: '7', c: 'the brown fox' };
    const report = await runSuite(suite, async (item) => ({ text: answers[item.id]!, model: 'm', version: '2', latencyMs: 10 }));
    expect(report.source).toBe('suite');
    expect(report.items.map((r) => [r.id, r.pass])).toEqual([['a', true], ['b', false], ['c', true]]);
    const overlap = (2 * 1 * 0.75) / 1.75;
    expect(report.items[2]!.score).toBeCloseTo(overlap, 12);
    expect(report.items[0]).toMatchObject({ task: 'completion', tags: ['math'], latencyMs: 10, output: '4', model: 'm', version: '2' });
    expect(report.meanScore).toBeCloseTo((1 + 0 + overlap) / 3, 12);
    expect(report.passRate).toBeCloseTo(2 / 3, 12);
    expect(report.errors).toBe(0);
    expect(report.byTag).toEqual({
      math: { items: 2, meanScore: 0.5, passRate: 0.5, errors: 0 },
      hard: { items: 1, meanScore: 0, passRate: 0, errors: 0 },
      text: { items: 1, meanScore: expect.closeTo(overlap, 12), passRate: 1, errors: 0 },
    });
    expect(report.totalMs).toBeGreaterThanOrEqual(0);
  });

  it('records a failing target as an error with score 0 and completes the run', async () => {
    const suite = echoSuite(5);
    const target = ((item: SuiteItem) => {
      if (item.id === 'item1') return Promise.reject(new ModelpoolError('GENERATION_FAILED', 'the model broke'));
      if (item.id === 'item2') throw new Error('thrown synchronously');
      if (item.id === 'item3') return Promise.resolve({ txt: 'wrong shape' });
      return echo(item, new AbortController().signal);
    }) as unknown as SuiteTarget;
    const report = await runSuite(suite, target, { concurrency: 2 });
    expect(report.items.map((r) => r.id)).toEqual(['item0', 'item1', 'item2', 'item3', 'item4']);
    expect(report.errors).toBe(3);
    expect(report.items[1]).toMatchObject({ score: 0, pass: false, error: { code: 'GENERATION_FAILED', message: 'the model broke' } });
    expect(report.items[1]!.output).toBeUndefined();
    expect(report.items[2]!.error).toEqual({ message: 'thrown synchronously' });
    expect(report.items[3]!.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(report.items[3]!.error!.message).toContain('target result');
    expect(report.items[0]!.pass && report.items[4]!.pass).toBe(true);
    expect(report.meanScore).toBeCloseTo(2 / 5, 12);
    expect(report.items[1]!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  for (const concurrency of [undefined, 3]) {
    it(`keeps at most ${concurrency ?? 1} call(s) in flight${concurrency === undefined ? ' by default' : ''}`, async () => {
      let inFlight = 0;
      let most = 0;
      const started: string[] = [];
      const target: SuiteTarget = async (item) => {
        started.push(item.id);
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(5 + (Number(item.id.slice(4)) % 3) * 4);
        inFlight--;
        return { text: item.prompt! };
      };
      const report = await runSuite(echoSuite(10), target, concurrency === undefined ? {} : { concurrency });
      expect(most).toBe(concurrency ?? 1);
      expect(started).toHaveLength(10);
      expect(report.passRate).toBe(1);
    });
  }

  it('calls onResult once per item as it completes', async () => {
    const seen: ItemResult[] = [];
    const report = await runSuite(echoSuite(4), echo, { concurrency: 4, onResult: (r) => seen.push(r) });
    expect(seen.map((r) => r.id).sort()).toEqual(['item0', 'item1', 'item2', 'item3']);
    expect(new Set(seen)).toEqual(new Set(report.items));
  });

  it('uses its own wall time when the target reports no latency', async () => {
    const report = await runSuite(echoSuite(1), async (item) => {
      await sleep(20);
      return { text: item.prompt!, latencyMs: Number.NaN };
    });
    expect(report.items[0]!.latencyMs).toBeGreaterThanOrEqual(15);
  });

  it('times out an item whose target does not answer, aborting its signal, and goes on', async () => {
    const signals: AbortSignal[] = [];
    const target: SuiteTarget = (item, signal) => {
      signals.push(signal);
      return item.id === 'item0' ? new Promise(() => undefined) : echo(item, signal);
    };
    const report = await runSuite(echoSuite(2), target, { timeoutMs: 30 });
    expect(report.items[0]!.error).toMatchObject({ code: 'TIMEOUT' });
    expect(report.items[1]!.pass).toBe(true);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
  });

  it('rejects with ABORTED when the run is aborted: in-flight calls see their signal abort, no new item starts', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const signals: AbortSignal[] = [];
    const target: SuiteTarget = (item, signal) => {
      started.push(item.id);
      signals.push(signal);
      if (item.id === 'item1') setTimeout(() => controller.abort(), 5);
      return item.id === 'item0' ? echo(item, signal) : new Promise(() => undefined);
    };
    await expectCode(runSuite(echoSuite(6), target, { concurrency: 2, signal: controller.signal }), 'ABORTED');
    expect(started).toEqual(['item0', 'item1', 'item2']);
    expect(signals.slice(1).every((s) => s.aborted)).toBe(true);
    // Already aborted: nothing starts.
    let calls = 0;
    await expectCode(runSuite(echoSuite(2), async () => ({ text: String(calls++) }), { signal: AbortSignal.abort() }), 'ABORTED');
    expect(calls).toBe(0);
  });

  it('rejects with what onResult threw, starting no new item', async () => {
    let calls = 0;
    const failing = new Error('observer failed');
    const run = runSuite(echoSuite(5), async (item) => (calls++, { text: item.prompt! }), {
      onResult: () => {
        throw failing;
      },
    });
    await expect(run).rejects.toBe(failing);
    expect(calls).toBe(1);
  });

  it('records a thrown non-Error by its text, and gives zeros for a suite with no items', async () => {
    const report = await runSuite(echoSuite(1), () => Promise.reject('plain string'));
    expect(report.items[0]!.error).toEqual({ message: 'plain string' });
    const empty = await runSuite({ source: 'none', items: [], graders: new Map() }, echo);
    expect(empty).toMatchObject({ items: [], meanScore: 0, passRate: 0, errors: 0, byTag: {} });
  });

  it('rejects bad arguments, naming them', async () => {
    const suite = echoSuite(1);
    await expectCode(() => runSuite(suite, echo, { concurrency: 0 }), 'INVALID_ARGUMENT', 'options.concurrency');
    await expectCode(() => runSuite(suite, echo, { timeoutMs: 0 }), 'INVALID_ARGUMENT', 'options.timeoutMs');
    await expectCode(() => runSuite(suite, echo, { signal: 'stop' as unknown as AbortSignal }), 'INVALID_ARGUMENT', 'options.signal');
    await expectCode(() => runSuite(suite, echo, { onResult: 1 as unknown as () => void }), 'INVALID_ARGUMENT', 'options.onResult');
    await expectCode(() => runSuite(suite, 'echo' as unknown as SuiteTarget), 'INVALID_ARGUMENT', 'target');
    await expectCode(() => runSuite({ items: [] } as unknown as Suite, echo), 'INVALID_ARGUMENT', 'suite');
    await expectCode(() => runSuite(null as unknown as Suite, echo), 'INVALID_ARGUMENT', 'suite');
    const ungraded = await expectCode(() => runSuite({ ...suite, graders: new Map() }, echo), 'INVALID_ARGUMENT', 'suite');
    expect(ungraded.message).toContain('item0 has no grader');
  });
});

describe('recordQuality', () => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    registry = await ModelRegistry.open();
    await registry.registerModel({ id: 'stories', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
    await registry.registerModel({ id: 'echo', tasks: ['completion'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  });
  afterAll(() => registry.close());

  async function mixedReport(): Promise<SuiteReport> {
    const target: SuiteTarget = async (item) => {
      if (item.id === 'item3') throw new Error('down');
      return { text: item.id === 'item2' ? 'wrong' : item.prompt!, latencyMs: 40 };
    };
    return runSuite(echoSuite(4), target);
  }

  it('writes one sample per item into a real registry: quality = score, success = !error, totalMs = latency', async () => {
    const report = await mixedReport();
    expect(recordQuality(report, registry, { model: 'stories', version: '1', task: 'completion' })).toBe(4);
    const summary = registry.performance('stories', { task: 'completion' })!;
    expect(summary.samples).toBe(4);
    expect(summary.failures).toBe(1);
    expect(summary.successRate).toBeCloseTo(3 / 4, 12);
    expect(summary.quality).toBeCloseTo(2 / 4, 12);
    expect(summary.totalMs!.max).toBeGreaterThanOrEqual(40);
  });

  it("takes the model and the version from the target's output and the task from each item", async () => {
    const suite = parseSuite(line({ id: 'x', task: 'chat', prompt: 'hi', grader: { type: 'regex', pattern: 'h' } }));
    const report = await runSuite(suite, async () => ({ text: 'hello', model: 'echo', version: '1' }));
    const samples: unknown[] = [];
    recordQuality(report, { recordSample: (s) => samples.push(s) });
    expect(samples).toEqual([{ model: 'echo', version: '1', task: 'chat', totalMs: report.items[0]!.latencyMs, success: true, quality: 1 }]);
    recordQuality(report, registry);
    expect(registry.performance('echo', { task: 'chat' })!.samples).toBe(1);
  });

  it('records nothing when an item names no model and none is given; passes on the registry errors', async () => {
    const report = await mixedReport();
    const samples: unknown[] = [];
    await expectCode(() => recordQuality(report, { recordSample: (s) => samples.push(s) }), 'INVALID_ARGUMENT', 'options.model');
    expect(samples).toEqual([]);
    await expectCode(() => recordQuality(report, registry, { model: 'nobody' }), 'MODEL_NOT_FOUND');
    await expectCode(() => recordQuality(report, {} as unknown as ModelRegistry, { model: 'stories' }), 'INVALID_ARGUMENT', 'recorder');
    await expectCode(() => recordQuality({} as SuiteReport, registry, { model: 'stories' }), 'INVALID_ARGUMENT', 'report.items');
    await expectCode(() => recordQuality(report, registry, { model: '' }), 'INVALID_ARGUMENT', 'options.model');
  });
});
