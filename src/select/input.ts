/**
 * Checks of everything the selector is given: options, requests, candidates and outcomes. Each bad
 * input is an INVALID_ARGUMENT naming the field ('options.priorStrength', 'request.constraints.maxCostUsd',
 * 'candidates[3].stats.quality', 'outcome.latencyMs') and the value.
 */
import { invalidArgument } from '../errors.js';
import { boolean, finiteNumber, integer, nonEmptyString, optionalBoolean, optionalNumber, optionalStringArray, plainObject } from '../validate.js';
import type { ArmSettings } from './arm.js';
import type { Candidate, Objective, SelectOutcome, SelectRequest, SelectorOptions } from './types.js';

/** Default objective weights: quality-heavy. */
export const DEFAULT_OBJECTIVE: Readonly<Required<Objective>> = { quality: 1, latency: 0.1, cost: 0.05, memory: 0.02 };

const MAX_WEIGHT = 1e6;

export interface ResolvedOptions extends ArmSettings {
  halfLife: number;
  objective: Required<Objective>;
  exploration: 'thompson' | 'greedy';
  contextual: boolean;
  seed: number | undefined;
}


/** Objective weights, each a number ≥ 0; missing ones from `base`. */
function resolveObjective(field: string, value: unknown, base: Readonly<Required<Objective>>): Required<Objective> {
  if (value === undefined) return base;
  const objective = plainObject(field, value);
  const resolved = {
    quality: optionalNumber(`${field}.quality`, objective.quality, 0, MAX_WEIGHT) ?? base.quality,
    latency: optionalNumber(`${field}.latency`, objective.latency, 0, MAX_WEIGHT) ?? base.latency,
    cost: optionalNumber(`${field}.cost`, objective.cost, 0, MAX_WEIGHT) ?? base.cost,
    memory: optionalNumber(`${field}.memory`, objective.memory, 0, MAX_WEIGHT) ?? base.memory,
  };
  if (resolved.quality + resolved.latency + resolved.cost + resolved.memory === 0) {
    throw invalidArgument(field, 'at least one weight above 0', value);
  }
  return resolved;
}

export function resolveOptions(value: unknown): ResolvedOptions {
  const options = (value === undefined ? {} : plainObject('options', value)) as SelectorOptions;
  const exploration = options.exploration ?? 'thompson';
  const halfLife = options.halfLife === Infinity ? Infinity : (optionalNumber('options.halfLife', options.halfLife, 1, 1e12) ?? 1000);
  if (exploration !== 'thompson' && exploration !== 'greedy') {
    throw invalidArgument('options.exploration', "'thompson' or 'greedy'", exploration);
  }
  return {
    objective: resolveObjective('options.objective', options.objective, DEFAULT_OBJECTIVE),
    exploration,
    thompson: exploration === 'thompson',
    contextual: optionalBoolean('options.contextual', options.contextual) ?? true,
    seed: optionalNumber('options.seed', options.seed, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    priorStrength: optionalNumber('options.priorStrength', options.priorStrength, 1e-3, 1e6) ?? 2,
    maxHistoryWeight: optionalNumber('options.maxHistoryWeight', options.maxHistoryWeight, 0, 1e9) ?? 50,
    maxPredecessorWeight: optionalNumber('options.maxPredecessorWeight', options.maxPredecessorWeight, 0, 1e9) ?? 10,
    contextPriorWeight: optionalNumber('options.contextPriorWeight', options.contextPriorWeight, 1e-3, 1e6) ?? 4,
    halfLife,
    decay: Number.isFinite(halfLife) ? 2 ** (-1 / halfLife) : 1,
  };
}

/** A request with every limit as a number (NaN: no limit), the way the selection loop reads it. */
export interface CompiledRequest {
  task: string;
  promptTokens: number | undefined;
  contextTags: string[] | undefined;
  objective: Required<Objective>;
  minQuality: number;
  maxP95LatencyMs: number;
  maxMemoryBytes: number;
  maxCostUsd: number;
  /** Explicit minimum context length (NaN: none). */
  minContextLength: number;
  localOnly: boolean;
  loadedOnly: boolean;
  tags: string[] | undefined;
  models: Set<string> | undefined;
  modelList: string[] | undefined;
  /** Any constraint beyond the task. */
  constrained: boolean;
  /** Constraints read from the candidate objects: models, localOnly, loadedOnly, tags. */
  objectChecks: boolean;
  /** Context length needed: the explicit minimum and the prompt, whichever is larger (0: none). */
  contextFloor: number;
  explicitContext: boolean;
  hasMaxMemory: boolean;
  hasMaxCost: boolean;
  hasMaxLatency: boolean;
  hasMinQuality: boolean;
}

const limit = (value: number | undefined): number => (value === undefined ? Number.NaN : value);

/**
 * A request with no constraints, objective or tags (what most are, and returned as is for them): the
 * selector's objective and the prompt's length as the only limit. The general case fills in the rest.
 */
function unconstrained(task: string, promptTokens: number | undefined, objective: Required<Objective>): CompiledRequest {
  const floor = promptTokens ?? 0;
  return {
    task,
    promptTokens,
    contextTags: undefined,
    objective,
    minQuality: Number.NaN,
    maxP95LatencyMs: Number.NaN,
    maxMemoryBytes: Number.NaN,
    maxCostUsd: Number.NaN,
    minContextLength: Number.NaN,
    localOnly: false,
    loadedOnly: false,
    tags: undefined,
    models: undefined,
    modelList: undefined,
    constrained: floor > 0,
    objectChecks: false,
    contextFloor: floor,
    explicitContext: false,
    hasMaxMemory: false,
    hasMaxCost: false,
    hasMaxLatency: false,
    hasMinQuality: false,
  };
}

export function compileRequest(value: unknown, base: Readonly<Required<Objective>>): CompiledRequest {
  const request = plainObject('request', value) as unknown as SelectRequest;
  const task = nonEmptyString('request.task', request.task);
  const context = request.context === undefined ? undefined : plainObject('request.context', request.context);
  const promptTokens = context?.promptTokens === undefined ? undefined : integer('request.context.promptTokens', context.promptTokens, 0);
  const compiled = unconstrained(task, promptTokens, base as Required<Objective>);
  if (request.constraints === undefined && request.objective === undefined && context?.tags === undefined) return compiled;
  const constraints = (request.constraints === undefined ? {} : plainObject('request.constraints', request.constraints)) as Record<string, unknown>;
  const models = optionalStringArray('request.constraints.models', constraints.models);
  compiled.contextTags = optionalStringArray('request.context.tags', context?.tags);
  compiled.objective = resolveObjective('request.objective', request.objective, base);
  compiled.minQuality = limit(optionalNumber('request.constraints.minQuality', constraints.minQuality, 0, 1));
  compiled.maxP95LatencyMs = limit(optionalNumber('request.constraints.maxP95LatencyMs', constraints.maxP95LatencyMs, 0, Number.MAX_VALUE));
  compiled.maxMemoryBytes = limit(optionalNumber('request.constraints.maxMemoryBytes', constraints.maxMemoryBytes, 0, Number.MAX_VALUE));
  compiled.maxCostUsd = limit(optionalNumber('request.constraints.maxCostUsd', constraints.maxCostUsd, 0, Number.MAX_VALUE));
  compiled.minContextLength = constraints.minContextLength === undefined ? Number.NaN : integer('request.constraints.minContextLength', constraints.minContextLength, 0);
  compiled.localOnly = optionalBoolean('request.constraints.localOnly', constraints.localOnly) ?? false;
  compiled.loadedOnly = optionalBoolean('request.constraints.loadedOnly', constraints.loadedOnly) ?? false;
  compiled.tags = optionalStringArray('request.constraints.tags', constraints.tags);
  compiled.models = models === undefined ? undefined : new Set(models);
  compiled.modelList = models;
  compiled.objectChecks = compiled.localOnly || compiled.loadedOnly || compiled.tags !== undefined || compiled.models !== undefined;
  compiled.explicitContext = !Number.isNaN(compiled.minContextLength);
  compiled.contextFloor = Math.max(compiled.explicitContext ? compiled.minContextLength : 0, promptTokens ?? 0);
  compiled.hasMaxMemory = !Number.isNaN(compiled.maxMemoryBytes);
  compiled.hasMaxCost = !Number.isNaN(compiled.maxCostUsd);
  compiled.hasMaxLatency = !Number.isNaN(compiled.maxP95LatencyMs);
  compiled.hasMinQuality = !Number.isNaN(compiled.minQuality);
  compiled.constrained =
    compiled.objectChecks ||
    compiled.contextFloor > 0 ||
    compiled.explicitContext ||
    compiled.hasMaxMemory ||
    compiled.hasMaxCost ||
    compiled.hasMaxLatency ||
    compiled.hasMinQuality;
  return compiled;
}

const count = (field: string, value: unknown): number | undefined => optionalNumber(field, value, 0, Number.MAX_VALUE);

/** Checks one candidate (once per candidate object; the selector caches what it reads). */
export function checkCandidate(value: unknown, index: number): Candidate {
  const field = `candidates[${index}]`;
  const candidate = plainObject(field, value) as unknown as Candidate;
  nonEmptyString(`${field}.modelId`, candidate.modelId);
  nonEmptyString(`${field}.version`, candidate.version);
  if (optionalStringArray(`${field}.tasks`, candidate.tasks) === undefined) throw invalidArgument(`${field}.tasks`, 'an array of non-empty strings', undefined);
  optionalStringArray(`${field}.tags`, candidate.tags);
  boolean(`${field}.local`, candidate.local);
  boolean(`${field}.loaded`, candidate.loaded);
  count(`${field}.contextLength`, candidate.contextLength);
  count(`${field}.memoryBytes`, candidate.memoryBytes);
  count(`${field}.parameterCount`, candidate.parameterCount);
  count(`${field}.estimatedCostUsd`, candidate.estimatedCostUsd);
  if (candidate.quantization !== undefined) nonEmptyString(`${field}.quantization`, candidate.quantization);
  if (candidate.predecessor !== undefined) nonEmptyString(`${field}.predecessor`, candidate.predecessor);
  if (candidate.stats !== undefined) {
    const stats = plainObject(`${field}.stats`, candidate.stats);
    finiteNumber(`${field}.stats.samples`, stats.samples, 0, Number.MAX_VALUE);
    optionalNumber(`${field}.stats.successRate`, stats.successRate, 0, 1);
    optionalNumber(`${field}.stats.quality`, stats.quality, 0, 1);
    for (const key of ['qualityWeight', 'p95LatencyMs', 'meanLatencyMs', 'ttftMs', 'tokensPerSecond', 'costUsd', 'memoryBytes']) {
      count(`${field}.stats.${key}`, stats[key]);
    }
  }
  return candidate;
}

export function checkOutcome(value: unknown): SelectOutcome {
  const outcome = plainObject('outcome', value) as unknown as SelectOutcome;
  nonEmptyString('outcome.modelId', outcome.modelId);
  nonEmptyString('outcome.version', outcome.version);
  nonEmptyString('outcome.task', outcome.task);
  boolean('outcome.success', outcome.success);
  optionalNumber('outcome.quality', outcome.quality, 0, 1);
  finiteNumber('outcome.latencyMs', outcome.latencyMs, 0, Number.MAX_VALUE);
  optionalNumber('outcome.costUsd', outcome.costUsd, 0, Number.MAX_VALUE);
  if (outcome.context !== undefined) {
    const context = plainObject('outcome.context', outcome.context);
    if (context.promptTokens !== undefined) integer('outcome.context.promptTokens', context.promptTokens, 0);
    optionalStringArray('outcome.context.tags', context.tags);
  }
  return outcome;
}
