import { describe, expect, it } from 'vitest';
import { Selector, type SelectorJson } from '../../src/select/index.js';
import { expectCode } from '../helpers/expect.js';
import { candidate, simulate, type Truth } from './helpers.js';

const list = [candidate('a', { parameterCount: 1e9 }), candidate('b', { parameterCount: 3e9, quantization: 'Q4_0' }), candidate('c', { local: false, estimatedCostUsd: 0.001 })];
const truth = (id: string, context: { promptTokens?: number }): Truth => ({ quality: id === 'a' ? 0.6 : (context.promptTokens ?? 0) > 100 ? 0.8 : 0.4, latencyMs: id === 'c' ? 900 : 300 });
const contexts = [{ promptTokens: 20 }, { promptTokens: 500, tags: ['x'] }];

describe('Selector.toJSON / fromJSON', () => {
  it('round-trips every posterior and the random state: the restored selector picks as the original would', () => {
    const original = new Selector({ seed: 8, objective: { latency: 0.2 }, priorStrength: 3, contextPriorWeight: 6 });
    simulate(original, list, truth, 200, contexts);
    original.observe({ modelId: 'ghost', version: '9', task: 'chat', success: true, latencyMs: 5, costUsd: 0.5 });
    const json = JSON.parse(JSON.stringify(original.toJSON())) as SelectorJson;
    expect(json.format).toBe('modelpool-selector');
    expect(json.options).toMatchObject({ priorStrength: 3, contextPriorWeight: 6, objective: { latency: 0.2, quality: 1 } });
    expect(json.arms.find((arm) => arm.modelId === 'a')!.contexts).toHaveProperty(['chat|<=64|']);
    const restored = Selector.fromJSON(json);
    expect(restored.toJSON()).toEqual(json);
    // Same future: the same picks and scores on fresh candidate objects.
    const copies = list.map((c) => ({ ...c }));
    for (let i = 0; i < 50; i++) {
      const request = { task: 'chat', context: contexts[i % 2]! };
      const [x, y] = [original.select(request, list), restored.select(request, copies)];
      expect([y.modelId, y.score, y.explored]).toEqual([x.modelId, x.score, x.explored]);
    }
  });

  it('names the bad field of a damaged snapshot', async () => {
    const good = new Selector({ seed: 1 });
    simulate(good, list, truth, 20, contexts);
    const json = (): Record<string, any> => JSON.parse(JSON.stringify(good.toJSON()));
    await expectCode(() => Selector.fromJSON(null), 'INVALID_ARGUMENT', 'json');
    await expectCode(() => Selector.fromJSON({ ...json(), format: 'other' }), 'INVALID_ARGUMENT', 'json.format');
    await expectCode(() => Selector.fromJSON({ ...json(), version: 2 }), 'INVALID_ARGUMENT', 'json.version');
    await expectCode(() => Selector.fromJSON({ ...json(), options: { ...json().options, priorStrength: -1 } }), 'INVALID_ARGUMENT', 'json.options.priorStrength');
    await expectCode(() => Selector.fromJSON({ ...json(), random: [1, 2, 3] }), 'INVALID_ARGUMENT', 'json.random');
    await expectCode(() => Selector.fromJSON({ ...json(), random: [1, 2, 3, 2 ** 40] }), 'INVALID_ARGUMENT', 'json.random[3]');
    await expectCode(() => Selector.fromJSON({ ...json(), arms: {} }), 'INVALID_ARGUMENT', 'json.arms');
    const broken = json();
    broken.arms[1].data[2] = 'x';
    await expectCode(() => Selector.fromJSON(broken), 'INVALID_ARGUMENT', 'json.arms[1].data[2]');
    // A negative weight would make a posterior NaN.
    const negative = json();
    negative.arms[1].data[2] = -3;
    await expectCode(() => Selector.fromJSON(negative), 'INVALID_ARGUMENT', 'json.arms[1].data[2]');
    const badPrior = json();
    badPrior.arms[0].prior.qualityKnown = 1;
    await expectCode(() => Selector.fromJSON(badPrior), 'INVALID_ARGUMENT', 'json.arms[0].prior.qualityKnown');
    const badContext = json();
    badContext.arms[0].contexts['chat|<=64|'] = [1, 2];
    await expectCode(() => Selector.fromJSON(badContext), 'INVALID_ARGUMENT', 'json.arms[0].contexts["chat|<=64|"]');
    const noModel = json();
    delete noModel.arms[0].modelId;
    await expectCode(() => Selector.fromJSON(noModel), 'INVALID_ARGUMENT', 'json.arms[0].modelId');
  });

  it('gives an arm first met through observe() its candidate prior later, also after a restore', () => {
    const selector = new Selector({ exploration: 'greedy', contextual: false });
    selector.observe({ modelId: 'a', version: '1', task: 'chat', success: true, quality: 0.9, latencyMs: 100 });
    const restored = Selector.fromJSON(selector.toJSON());
    expect(restored.toJSON().arms[0]!.prior.fromCandidate).toBe(false);
    restored.select({ task: 'chat' }, [candidate('a', { parameterCount: 7e10 })]);
    const arm = restored.toJSON().arms[0]!;
    expect(arm.prior.fromCandidate).toBe(true);
    expect(arm.prior.qualityKnown).toBe(true);
    expect(arm.observed).toBe(1);
  });
});
