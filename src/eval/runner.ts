/** The suite runner: every item through a target, graded, with a bound on calls in flight; and its quality records. */
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import { nonEmptyString, optionalInteger, optionalSignal, plainObject } from '../validate.js';
import { mapLimited } from '../core/concurrency.js';
import type { PerformanceSample } from '../telemetry/types.js';
import type {
  ItemResult,
  QualityRecorder,
  RecordQualityOptions,
  RunSuiteOptions,
  ScoreSummary,
  Suite,
  SuiteItem,
  SuiteReport,
  SuiteTarget,
  TargetOutput,
} from './types.js';

/** Mean score, pass rate and errors of a group of results (0 for an empty group). */
function summarize(results: readonly ItemResult[]): ScoreSummary {
  const n = results.length;
  const sum = (f: (r: ItemResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  return {
    items: n,
    meanScore: n === 0 ? 0 : sum((r) => r.score) / n,
    passRate: n === 0 ? 0 : sum((r) => (r.pass ? 1 : 0)) / n,
    errors: sum((r) => (r.error ? 1 : 0)),
  };
}

function errorOf(error: unknown): { message: string; code?: string } {
  if (isModelpoolError(error)) return { message: error.message, code: error.code };
  return { message: error instanceof Error ? error.message : String(error) };
}

function checkOutput(value: unknown): TargetOutput {
  if (typeof value !== 'object' || value === null || typeof (value as TargetOutput).text !== 'string') {
    throw invalidArgument('target result', 'an object with a string text', value);
  }
  return value as TargetOutput;
}

/**
 * One item: the target's call (raced against the run's abort and the item's time limit, so a target that
 * ignores its signal cannot hold the run), then the grade. A failure is the item's result, never thrown.
 */
async function runItem(suite: Suite, item: SuiteItem, target: SuiteTarget, outer: AbortSignal | undefined, timeoutMs: number | undefined): Promise<ItemResult> {
  const base = { id: item.id, task: item.task, tags: item.tags };
  const controller = new AbortController();
  let stop: (error: unknown) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => undefined); // only ever read through the race below
  const onAbort = (): void => {
    const error = new ModelpoolError('ABORTED', `item ${item.id}: the run was aborted`);
    controller.abort(error);
    stop(error);
  };
  outer?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          const error = new ModelpoolError('TIMEOUT', `item ${item.id}: no answer within ${timeoutMs} ms`);
          controller.abort(error);
          stop(error);
        }, timeoutMs);
  const started = performance.now();
  try {
    const output = checkOutput(await Promise.race([stopped, Promise.resolve().then(() => target(item, controller.signal))]));
    const wall = performance.now() - started;
    const latencyMs = typeof output.latencyMs === 'number' && Number.isFinite(output.latencyMs) && output.latencyMs >= 0 ? output.latencyMs : wall;
    const verdict = suite.graders.get(item.id)!.grade(output.text);
    return {
      ...base,
      ...verdict,
      latencyMs,
      output: output.text,
      ...(output.model !== undefined ? { model: output.model } : {}),
      ...(output.version !== undefined ? { version: output.version } : {}),
    };
  } catch (error) {
    return { ...base, score: 0, pass: false, latencyMs: performance.now() - started, error: errorOf(error) };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs every item of a suite through `target`, at most `concurrency` at once, and grades the outputs. A
 * target that throws (or times out) gives that item an error and score 0; the run goes on. Rejects with
 * ABORTED when `options.signal` aborts (the calls in flight see their signal abort and end at once), or
 * with what `onResult` threw (after the calls in flight end; no new item starts).
 */
export async function runSuite(suite: Suite, target: SuiteTarget, options: RunSuiteOptions = {}): Promise<SuiteReport> {
  plainObject('suite', suite);
  if (!Array.isArray(suite.items) || !(suite.graders instanceof Map)) throw invalidArgument('suite', 'a suite from parseSuite or loadSuite', suite);
  const ungraded = suite.items.find((item) => !suite.graders.has(item?.id));
  if (ungraded !== undefined) throw invalidArgument('suite', `a suite from parseSuite or loadSuite (item ${String(ungraded?.id)} has no grader)`, suite);
  if (typeof target !== 'function') throw invalidArgument('target', 'a function (item, signal) => Promise<{ text }>', target);
  plainObject('options', options);
  const concurrency = optionalInteger('options.concurrency', options.concurrency, 1, 1024) ?? 1;
  const signal = optionalSignal('options.signal', options.signal);
  const timeoutMs = optionalInteger('options.timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1);
  const onResult = options.onResult;
  if (onResult !== undefined && typeof onResult !== 'function') throw invalidArgument('options.onResult', 'a function', onResult);

  const started = performance.now();
  const items = suite.items;
  const settled = await mapLimited(
    items,
    concurrency,
    // The map's signal: the caller's, and aborted when onResult throws (no further item starts).
    async (item, _index, inner) => {
      const result = await runItem(suite, item, target, inner, timeoutMs);
      onResult?.(result);
      return result;
    },
    { signal, what: `The run of ${suite.source}` },
  );
  const results = settled.map((s) => (s as { ok: true; value: ItemResult }).value);

  const tagged = new Map<string, ItemResult[]>();
  for (const r of results) {
    for (const tag of r.tags) {
      const list = tagged.get(tag);
      if (list === undefined) tagged.set(tag, [r]);
      else list.push(r);
    }
  }
  const overall = summarize(results);
  return {
    source: suite.source,
    items: results,
    meanScore: overall.meanScore,
    passRate: overall.passRate,
    byTag: Object.fromEntries([...tagged].map(([tag, group]) => [tag, summarize(group)])),
    errors: overall.errors,
    totalMs: performance.now() - started,
  };
}

/**
 * Writes one performance sample per item of a report: quality = score, success = !error, totalMs =
 * latencyMs. Returns how many. The model (and version) come from the options, else from each item's
 * target output; INVALID_ARGUMENT naming `options.model` when neither names one.
 */
export function recordQuality(report: SuiteReport, recorder: QualityRecorder, options: RecordQualityOptions = {}): number {
  plainObject('report', report);
  if (!Array.isArray(report.items)) throw invalidArgument('report.items', 'an array of item results', report.items);
  if (typeof recorder?.recordSample !== 'function') throw invalidArgument('recorder', 'an object with recordSample(sample)', recorder);
  plainObject('options', options);
  const model = options.model === undefined ? undefined : nonEmptyString('options.model', options.model);
  const version = options.version === undefined ? undefined : nonEmptyString('options.version', options.version);
  const task = options.task === undefined ? undefined : nonEmptyString('options.task', options.task);
  // Every sample is built first, so that a report that names no model records nothing.
  const samples = report.items.map((item): PerformanceSample => {
    const name = model ?? item.model;
    if (name === undefined) throw invalidArgument('options.model', `a model id (item ${item.id} names none)`, undefined);
    const v = version ?? item.version;
    return {
      model: name,
      ...(v !== undefined ? { version: v } : {}),
      task: task ?? item.task,
      totalMs: item.latencyMs,
      success: item.error === undefined,
      quality: item.score,
    };
  });
  for (const sample of samples) recorder.recordSample(sample);
  return samples.length;
}
