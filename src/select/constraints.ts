/**
 * Hard constraints, checked in a fixed order (cheapest first); a candidate is reported with the first
 * one it fails. Each is checked against the candidate's figure:
 *
 * | constraint | figure |
 * | --- | --- |
 * | minContextLength | `contextLength` (a prompt's `promptTokens` also sets a floor, which an unknown length passes) |
 * | maxMemoryBytes | measured `stats.memoryBytes`, else `memoryBytes`, else parameters × bits / 8; 0 for a remote candidate |
 * | maxCostUsd | mean of observed and history costs, else `estimatedCostUsd`; 0 for a local candidate |
 * | maxP95LatencyMs | the history's p95 while nothing is observed, else the posterior predictive p95 (prior from size) |
 * | minQuality | the history's mean while nothing is observed, else the posterior mean (prior from size) |
 *
 * A candidate with no figure for a constraint passes it only when the figure can be estimated from its
 * prior (as in the right column); otherwise it fails, with value null.
 */
import { ModelpoolError } from '../errors.js';
import type { CompiledRequest } from './input.js';
import type { Lane } from './lane.js';
import type { Candidate, CandidateExplanation, ConstraintName, Rejection } from './types.js';

/** Constraint names by code − 1. */
const CONSTRAINTS: readonly ConstraintName[] = [
  'task',
  'models',
  'localOnly',
  'loadedOnly',
  'tags',
  'minContextLength',
  'maxMemoryBytes',
  'maxCostUsd',
  'maxP95LatencyMs',
  'minQuality',
];
const TASK = 1;
const MODELS = 2;
const LOCAL_ONLY = 3;
const LOADED_ONLY = 4;
const TAGS = 5;
const CONTEXT = 6;
const MEMORY = 7;
const COST = 8;
const LATENCY = 9;
const QUALITY = 10;

function hasTags(have: readonly string[] | undefined, want: readonly string[]): boolean {
  for (const tag of want) if (have === undefined || !have.includes(tag)) return false;
  return true;
}

/**
 * The code of the first constraint candidate `index` of a lane fails (the task included), or 0. The one
 * definition of eligibility: the selection loop and the explanation both call it.
 */
export function rejectionAt(request: CompiledRequest, lane: Lane, index: number): number {
  if (lane.eligible[index] === 0) return TASK;
  if (!request.constrained) return 0;
  const view = lane.view;
  if (request.objectChecks) {
    const candidate = view.prepared[index]!.candidate;
    if (request.models !== undefined && !request.models.has(candidate.modelId)) return MODELS;
    if (request.localOnly && !candidate.local) return LOCAL_ONLY;
    if (request.loadedOnly && !candidate.loaded) return LOADED_ONLY;
    if (request.tags !== undefined && !hasTags(candidate.tags, request.tags)) return TAGS;
  }
  const length = view.contextLength[index]!;
  if (length < request.contextFloor || (request.explicitContext && length !== length)) return CONTEXT;
  if (request.hasMaxMemory && !(view.memory[index]! <= request.maxMemoryBytes)) return MEMORY;
  if (request.hasMaxCost && !(lane.costFigure[index]! <= request.maxCostUsd)) return COST;
  if (request.hasMaxLatency && !(lane.p95Figure[index]! <= request.maxP95LatencyMs)) return LATENCY;
  if (request.hasMinQuality && !(lane.qualityFigure[index]! >= request.minQuality)) return QUALITY;
  return 0;
}

/** The candidate's figure behind a numeric constraint (NaN when unknown or not numeric). */
export function rejectionFigure(code: number, lane: Lane, index: number): number {
  if (code === CONTEXT) return lane.view.contextLength[index]!;
  if (code === MEMORY) return lane.view.memory[index]!;
  if (code === COST) return lane.costFigure[index]!;
  if (code === LATENCY) return lane.p95Figure[index]!;
  if (code === QUALITY) return lane.qualityFigure[index]!;
  return Number.NaN;
}

/** The rejection of constraint `code`, with the candidate's value (`figure` for numeric ones) and the limit. */
export function describeRejection(code: number, request: CompiledRequest, candidate: Candidate, figure: number): Rejection {
  const constraint = CONSTRAINTS[code - 1]!;
  const numeric = Number.isNaN(figure) ? null : figure;
  switch (code) {
    case TASK:
      return { constraint, value: [...candidate.tasks], limit: request.task };
    case MODELS:
      return { constraint, value: candidate.modelId, limit: [...request.modelList!] };
    case LOCAL_ONLY:
      return { constraint, value: candidate.local, limit: true };
    case LOADED_ONLY:
      return { constraint, value: candidate.loaded, limit: true };
    case TAGS:
      return { constraint, value: [...(candidate.tags ?? [])], limit: [...request.tags!] };
    case CONTEXT:
      return { constraint, value: numeric, limit: request.contextFloor };
    case MEMORY:
      return { constraint, value: numeric, limit: request.maxMemoryBytes };
    case COST:
      return { constraint, value: numeric, limit: request.maxCostUsd };
    case LATENCY:
      return { constraint, value: numeric, limit: request.maxP95LatencyMs };
    default:
      return { constraint, value: numeric, limit: request.minQuality };
  }
}

/**
 * UNSATISFIABLE: `field` names the constraint that eliminated the most candidates ('request.task' or
 * 'request.constraints.<name>'; 'candidates' when there were none), `details.rejected` lists every
 * candidate with the first constraint it failed.
 */
export function unsatisfiable(request: CompiledRequest, explanations: readonly CandidateExplanation[]): ModelpoolError {
  const counts = new Map<ConstraintName, number>();
  const rejected = explanations.map(({ modelId, version, rejected }) => {
    const { constraint, value, limit } = rejected!;
    counts.set(constraint, (counts.get(constraint) ?? 0) + 1);
    return { model: modelId, version, constraint, value, limit };
  });
  let most: ConstraintName | undefined;
  for (const name of CONSTRAINTS) if ((counts.get(name) ?? 0) > (most === undefined ? 0 : counts.get(most)!)) most = name;
  const field = most === undefined ? 'candidates' : most === 'task' ? 'request.task' : `request.constraints.${most}`;
  const what = most === undefined ? 'there are no candidates' : `${counts.get(most)} of ${explanations.length} fail ${most}`;
  return new ModelpoolError('UNSATISFIABLE', `No candidate for task ${JSON.stringify(request.task)} satisfies the constraints: ${what}`, {
    field,
    details: { task: request.task, rejected },
  });
}
