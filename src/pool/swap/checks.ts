/**
 * What a new version must pass before it serves: a warm-up, a health check with a real
 * generation, and optionally a canary comparison against the version it replaces — latency per
 * token and a quality score on a small prompt set.
 */

import { ModelpoolError, invalidArgument, isModelpoolError } from '../../errors.js';
import type { ModelHandle } from '../../model/handle.js';
import type { GenerationResult } from '../../model/types.js';
import { finiteNumber, optionalInteger, plainObject } from '../../validate.js';

export interface HealthCheckOptions {
  /** Default "Once upon a time". */
  prompt?: string;
  /** Default 4. */
  maxTokens?: number;
  /** Default 30 000 ms. */
  timeoutMs?: number;
  /** Extra check on the generation; return false or throw to fail. */
  validate?: (result: GenerationResult, model: ModelHandle) => boolean | void | Promise<boolean | void>;
}

export interface HealthReport {
  ok: boolean;
  ms: number;
  text: string;
  generatedTokens: number;
  error?: ModelpoolError;
}

export interface CanaryPrompt {
  prompt: string;
  /** Reference answer for the default scorer. */
  expected?: string;
}

export interface CanarySample {
  prompt: string;
  expected: string | undefined;
  output: string;
  model: ModelHandle;
}

export interface CanaryOptions {
  prompts: Array<string | CanaryPrompt>;
  /** Tokens generated per prompt (greedy). Default 16. */
  maxTokens?: number;
  /**
   * Quality in [0, 1] for one sample. Default: when the prompt has `expected`, the token-overlap
   * F1 of output and expected; otherwise no quality comparison.
   */
  score?: (sample: CanarySample) => number | Promise<number>;
  /** Roll back when new latency per token > old × (1 + this). Default 0.5. */
  maxLatencyRegression?: number;
  /** Roll back when mean quality drops by more than this (absolute). Default 0.05. */
  maxQualityDrop?: number;
  /** Runs per prompt; the median latency is used. Default 3. */
  repeats?: number;
}

export interface CanaryMeasurement {
  /** Median over prompts of generation time per generated token, ms. */
  msPerToken: number;
  /** Mean score, or undefined when nothing was scored. */
  quality: number | undefined;
  outputs: string[];
}

export interface CanaryComparison {
  baseline: CanaryMeasurement;
  candidate: CanaryMeasurement;
  /** candidate / baseline ms per token. */
  latencyRatio: number;
  /** candidate − baseline quality (undefined when not scored). */
  qualityDelta: number | undefined;
  pass: boolean;
  reasons: string[];
}

const DEFAULT_PROMPT = 'Once upon a time';

export function validateHealthOptions(value: unknown): HealthCheckOptions {
  if (value === undefined) return {};
  const o = plainObject('options.healthCheck', value) as HealthCheckOptions;
  if (o.prompt !== undefined && typeof o.prompt !== 'string') throw invalidArgument('options.healthCheck.prompt', 'a string', o.prompt);
  optionalInteger('options.healthCheck.maxTokens', o.maxTokens, 1);
  optionalInteger('options.healthCheck.timeoutMs', o.timeoutMs, 1);
  if (o.validate !== undefined && typeof o.validate !== 'function') throw invalidArgument('options.healthCheck.validate', 'a function', o.validate);
  return o;
}

export function validateCanaryOptions(value: unknown): CanaryOptions | undefined {
  if (value === undefined) return undefined;
  const o = plainObject('options.canary', value) as unknown as CanaryOptions;
  if (!Array.isArray(o.prompts) || o.prompts.length === 0) throw invalidArgument('options.canary.prompts', 'a non-empty array of prompts', o.prompts);
  o.prompts.forEach((p, i) => {
    if (typeof p === 'string') return;
    const obj = plainObject(`options.canary.prompts[${i}]`, p);
    if (typeof obj.prompt !== 'string') throw invalidArgument(`options.canary.prompts[${i}].prompt`, 'a string', obj.prompt);
    if (obj.expected !== undefined && typeof obj.expected !== 'string') throw invalidArgument(`options.canary.prompts[${i}].expected`, 'a string', obj.expected);
  });
  optionalInteger('options.canary.maxTokens', o.maxTokens, 1);
  optionalInteger('options.canary.repeats', o.repeats, 1, 100);
  if (o.maxLatencyRegression !== undefined) finiteNumber('options.canary.maxLatencyRegression', o.maxLatencyRegression, 0, 1e6);
  if (o.maxQualityDrop !== undefined) finiteNumber('options.canary.maxQualityDrop', o.maxQualityDrop, 0, 1);
  if (o.score !== undefined && typeof o.score !== 'function') throw invalidArgument('options.canary.score', 'a function', o.score);
  return o;
}

function withTimeout<T>(promise: Promise<T>, ms: number, controller: AbortController, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new ModelpoolError('TIMEOUT', `${what} did not finish within ${ms} ms`);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Generates from the model and checks that it produced text without error. A model that returns
 * nothing (no token and no end-of-sequence), errors, or hangs fails.
 */
export async function healthCheck(model: ModelHandle, options: HealthCheckOptions = {}, signal?: AbortSignal): Promise<HealthReport> {
  const start = performance.now();
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const result = await withTimeout(
      model.complete({ prompt: options.prompt ?? DEFAULT_PROMPT, maxTokens: options.maxTokens ?? 4, temperature: 0, signal: controller.signal }),
      timeoutMs,
      controller,
      'The health-check generation',
    );
    const ms = performance.now() - start;
    const report: HealthReport = { ok: true, ms, text: result.text, generatedTokens: result.generatedTokens };
    if (result.finishReason === 'abort') {
      return { ...report, ok: false, error: new ModelpoolError('ABORTED', 'The health-check generation was aborted') };
    }
    if (result.generatedTokens === 0 && result.finishReason !== 'eos') {
      return { ...report, ok: false, error: new ModelpoolError('GENERATION_FAILED', 'The health-check generation produced no tokens') };
    }
    if (options.validate !== undefined) {
      const verdict = await options.validate(result, model);
      if (verdict === false) return { ...report, ok: false, error: new ModelpoolError('GENERATION_FAILED', 'The health-check validator rejected the generation', { details: { text: result.text } }) };
    }
    return report;
  } catch (error) {
    const wrapped = isModelpoolError(error) ? error : new ModelpoolError('GENERATION_FAILED', `The health-check generation failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return { ok: false, ms: performance.now() - start, text: '', generatedTokens: 0, error: wrapped };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Token-overlap F1 between two texts (lower-cased words). 1 when both are empty. */
export function overlapScore(output: string, expected: string): number {
  const words = (s: string): string[] => s.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const a = words(output);
  const b = words(expected);
  if (a.length === 0 && b.length === 0) return 1;
  if (a.length === 0 || b.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const w of b) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of a) {
    const c = counts.get(w) ?? 0;
    if (c > 0) {
      common++;
      counts.set(w, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / a.length;
  const recall = common / b.length;
  return (2 * precision * recall) / (precision + recall);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timedRun(model: ModelHandle, prompt: string, options: CanaryOptions, signal: AbortSignal | undefined): Promise<{ msPerToken: number; text: string }> {
  if (signal?.aborted === true) throw new ModelpoolError('ABORTED', 'The canary run was aborted', { cause: signal.reason });
  const started = performance.now();
  const result = await model.complete({ prompt, maxTokens: options.maxTokens ?? 16, temperature: 0, ...(signal === undefined ? {} : { signal }) });
  return { msPerToken: (performance.now() - started) / Math.max(1, result.generatedTokens), text: result.text };
}

/**
 * Runs the canary prompt set greedily on one model or, given several, on all of them interleaved
 * run by run (A, B, A, B, ...): on a shared machine the load drifts, and pairing the runs makes the
 * drift hit every model alike instead of whichever happened to be measured during it.
 */
export async function measureCanaries(models: readonly ModelHandle[], options: CanaryOptions, signal?: AbortSignal): Promise<CanaryMeasurement[]> {
  const perModel = models.map(() => ({ latencies: [] as number[], outputs: [] as string[], scores: [] as number[] }));
  for (const item of options.prompts) {
    const { prompt, expected } = typeof item === 'string' ? { prompt: item, expected: undefined } : item;
    const runs = models.map(() => [] as number[]);
    const outputs = models.map(() => '');
    for (let r = 0; r < (options.repeats ?? 3); r++) {
      for (let m = 0; m < models.length; m++) {
        const run = await timedRun(models[m]!, prompt, options, signal);
        runs[m]!.push(run.msPerToken);
        outputs[m] = run.text;
      }
    }
    for (let m = 0; m < models.length; m++) {
      const acc = perModel[m]!;
      acc.latencies.push(median(runs[m]!));
      acc.outputs.push(outputs[m]!);
      if (options.score !== undefined) acc.scores.push(await options.score({ prompt, expected, output: outputs[m]!, model: models[m]! }));
      else if (expected !== undefined) acc.scores.push(overlapScore(outputs[m]!, expected));
    }
  }
  return perModel.map((acc) => ({
    msPerToken: median(acc.latencies),
    quality: acc.scores.length === 0 ? undefined : acc.scores.reduce((s, x) => s + x, 0) / acc.scores.length,
    outputs: acc.outputs,
  }));
}

/** Runs the canary prompt set greedily on one model. */
export async function measureCanary(model: ModelHandle, options: CanaryOptions, signal?: AbortSignal): Promise<CanaryMeasurement> {
  return (await measureCanaries([model], options, signal))[0]!;
}

/** Compares candidate with baseline against the thresholds. */
export function compareCanary(baseline: CanaryMeasurement, candidate: CanaryMeasurement, options: CanaryOptions): CanaryComparison {
  const reasons: string[] = [];
  const latencyRatio = baseline.msPerToken > 0 ? candidate.msPerToken / baseline.msPerToken : 1;
  const maxRegression = options.maxLatencyRegression ?? 0.5;
  if (latencyRatio > 1 + maxRegression) {
    reasons.push(`latency per token ${candidate.msPerToken.toFixed(3)} ms is ${((latencyRatio - 1) * 100).toFixed(0)}% above the current version's ${baseline.msPerToken.toFixed(3)} ms (limit ${(maxRegression * 100).toFixed(0)}%)`);
  }
  let qualityDelta: number | undefined;
  if (baseline.quality !== undefined && candidate.quality !== undefined) {
    qualityDelta = candidate.quality - baseline.quality;
    const maxDrop = options.maxQualityDrop ?? 0.05;
    if (-qualityDelta > maxDrop) {
      reasons.push(`quality ${candidate.quality.toFixed(3)} is ${(-qualityDelta).toFixed(3)} below the current version's ${baseline.quality.toFixed(3)} (limit ${maxDrop})`);
    }
  }
  return { baseline, candidate, latencyRatio, qualityDelta, pass: reasons.length === 0, reasons };
}
