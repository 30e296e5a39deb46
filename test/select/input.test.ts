import { describe, expect, it } from 'vitest';
import { Selector, type Candidate } from '../../src/select/index.js';
import { expectCode } from '../helpers/expect.js';
import { candidate } from './helpers.js';

const list = [candidate('a')];
const bad = (fields: Record<string, unknown>) => ({ ...candidate('a'), ...fields }) as unknown as Candidate;

describe('Selector: bad input is INVALID_ARGUMENT naming the field', () => {
  it('options', async () => {
    await expectCode(() => new Selector('x' as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => new Selector({ exploration: 'ucb' as never }), 'INVALID_ARGUMENT', 'options.exploration');
    await expectCode(() => new Selector({ priorStrength: 0 }), 'INVALID_ARGUMENT', 'options.priorStrength');
    await expectCode(() => new Selector({ seed: Number.NaN }), 'INVALID_ARGUMENT', 'options.seed');
    await expectCode(() => new Selector({ contextual: 'yes' as never }), 'INVALID_ARGUMENT', 'options.contextual');
    await expectCode(() => new Selector({ objective: { latency: -1 } }), 'INVALID_ARGUMENT', 'options.objective.latency');
    await expectCode(() => new Selector({ objective: { quality: 0, latency: 0, cost: 0, memory: 0 } }), 'INVALID_ARGUMENT', 'options.objective');
    await expectCode(() => new Selector({ maxHistoryWeight: -1 }), 'INVALID_ARGUMENT', 'options.maxHistoryWeight');
  });

  it('requests', async () => {
    const selector = new Selector();
    await expectCode(() => selector.select(null as never, list), 'INVALID_ARGUMENT', 'request');
    await expectCode(() => selector.select({ task: '' }, list), 'INVALID_ARGUMENT', 'request.task');
    await expectCode(() => selector.select({ task: 'chat', constraints: [] as never }, list), 'INVALID_ARGUMENT', 'request.constraints');
    await expectCode(() => selector.select({ task: 'chat', constraints: { maxCostUsd: -1 } }, list), 'INVALID_ARGUMENT', 'request.constraints.maxCostUsd');
    await expectCode(() => selector.select({ task: 'chat', constraints: { minQuality: 2 } }, list), 'INVALID_ARGUMENT', 'request.constraints.minQuality');
    await expectCode(() => selector.select({ task: 'chat', constraints: { minContextLength: 1.5 } }, list), 'INVALID_ARGUMENT', 'request.constraints.minContextLength');
    await expectCode(() => selector.select({ task: 'chat', constraints: { localOnly: 1 as never } }, list), 'INVALID_ARGUMENT', 'request.constraints.localOnly');
    await expectCode(() => selector.select({ task: 'chat', constraints: { models: ['a', 3 as never] } }, list), 'INVALID_ARGUMENT', 'request.constraints.models[1]');
    await expectCode(() => selector.select({ task: 'chat', constraints: { tags: 'x' as never } }, list), 'INVALID_ARGUMENT', 'request.constraints.tags');
    await expectCode(() => selector.select({ task: 'chat', context: { promptTokens: -1 } }, list), 'INVALID_ARGUMENT', 'request.context.promptTokens');
    await expectCode(() => selector.select({ task: 'chat', context: { tags: [''] } }, list), 'INVALID_ARGUMENT', 'request.context.tags[0]');
    await expectCode(() => selector.select({ task: 'chat', objective: { cost: Number.POSITIVE_INFINITY } }, list), 'INVALID_ARGUMENT', 'request.objective.cost');
    await expectCode(() => selector.select({ task: 'chat' }, 'a' as never), 'INVALID_ARGUMENT', 'candidates');
  });

  it('candidates, by index', async () => {
    const selector = new Selector();
    const at1 = (c: Candidate) => () => selector.select({ task: 'chat' }, [candidate('ok'), c]);
    await expectCode(at1(null as never), 'INVALID_ARGUMENT', 'candidates[1]');
    await expectCode(at1(bad({ modelId: '' })), 'INVALID_ARGUMENT', 'candidates[1].modelId');
    await expectCode(at1(bad({ version: 2 })), 'INVALID_ARGUMENT', 'candidates[1].version');
    await expectCode(at1(bad({ tasks: undefined })), 'INVALID_ARGUMENT', 'candidates[1].tasks');
    await expectCode(at1(bad({ tasks: ['chat', ''] })), 'INVALID_ARGUMENT', 'candidates[1].tasks[1]');
    await expectCode(at1(bad({ tags: [1] })), 'INVALID_ARGUMENT', 'candidates[1].tags[0]');
    await expectCode(at1(bad({ local: 'yes' })), 'INVALID_ARGUMENT', 'candidates[1].local');
    await expectCode(at1(bad({ loaded: undefined })), 'INVALID_ARGUMENT', 'candidates[1].loaded');
    await expectCode(at1(bad({ memoryBytes: -5 })), 'INVALID_ARGUMENT', 'candidates[1].memoryBytes');
    await expectCode(at1(bad({ quantization: '' })), 'INVALID_ARGUMENT', 'candidates[1].quantization');
    await expectCode(at1(bad({ predecessor: 1 })), 'INVALID_ARGUMENT', 'candidates[1].predecessor');
    await expectCode(at1(bad({ stats: 5 })), 'INVALID_ARGUMENT', 'candidates[1].stats');
    await expectCode(at1(bad({ stats: {} })), 'INVALID_ARGUMENT', 'candidates[1].stats.samples');
    await expectCode(at1(bad({ stats: { samples: 3, quality: 1.5 } })), 'INVALID_ARGUMENT', 'candidates[1].stats.quality');
    await expectCode(at1(bad({ stats: { samples: 3, p95LatencyMs: Number.NaN } })), 'INVALID_ARGUMENT', 'candidates[1].stats.p95LatencyMs');
  });

  it('outcomes', async () => {
    const selector = new Selector();
    const ok = { modelId: 'a', version: '1', task: 'chat', success: true, latencyMs: 10 };
    await expectCode(() => selector.observe(undefined as never), 'INVALID_ARGUMENT', 'outcome');
    await expectCode(() => selector.observe({ ...ok, modelId: '' }), 'INVALID_ARGUMENT', 'outcome.modelId');
    await expectCode(() => selector.observe({ ...ok, task: undefined as never }), 'INVALID_ARGUMENT', 'outcome.task');
    await expectCode(() => selector.observe({ ...ok, success: 'y' as never }), 'INVALID_ARGUMENT', 'outcome.success');
    await expectCode(() => selector.observe({ ...ok, quality: -0.1 }), 'INVALID_ARGUMENT', 'outcome.quality');
    await expectCode(() => selector.observe({ ...ok, latencyMs: -1 }), 'INVALID_ARGUMENT', 'outcome.latencyMs');
    await expectCode(() => selector.observe({ ...ok, costUsd: Number.NaN }), 'INVALID_ARGUMENT', 'outcome.costUsd');
    await expectCode(() => selector.observe({ ...ok, context: { promptTokens: 0.5 } }), 'INVALID_ARGUMENT', 'outcome.context.promptTokens');
    await expectCode(() => selector.observe({ ...ok, context: { tags: [2 as never] } }), 'INVALID_ARGUMENT', 'outcome.context.tags[0]');
    // A bad outcome changes nothing.
    expect(selector.toJSON().arms).toEqual([]);
  });
});
