/**
 * The result of one `select` and its explanation. Nothing per candidate is stored: a candidate's draws
 * are a function of the selection's seed and its index (quantiles.ts), so `candidates()` recomputes
 * them, with each rejection, from the posteriors. The explanation is therefore exact until outcomes
 * for the candidates arrive (`observe`); after that it shows the same random draws through the updated
 * posteriors. The pick's own score and draws are kept and always shown as they were.
 */
import { describeRejection, rejectionAt, rejectionFigure } from './constraints.js';
import type { CompiledRequest } from './input.js';
import type { Lane } from './lane.js';
import { TABLE_STEPS, drawBits, normalDraw, tableDraw } from './quantiles.js';

const TABLE_NODES = TABLE_STEPS + 1;
import type { CandidateExplanation, Selection } from './types.js';

/** Everything a selection's explanation is recomputed from. */
export interface SelectionState {
  readonly request: CompiledRequest;
  readonly lane: Lane;
  readonly contextId: number;
  readonly thompson: boolean;
  /** Seed of the draws. */
  readonly seed: number;
}

/** The score of quality `quality` and x = ln(1 + latency ms) of candidate `index` (see selector.ts). */
function scoreOf(request: CompiledRequest, lane: Lane, index: number, quality: number, x: number): number {
  const { objective } = request;
  return (
    objective.quality * quality -
    (objective.latency / Math.LN10) * x -
    objective.cost * lane.logCost[index]! -
    objective.memory * lane.view.logMemory[index]!
  );
}

/** Every candidate's explanation, in the order given; `chosen` keeps the pick as it was. */
export function explain(state: SelectionState, chosen?: { index: number; score: number; quality: number; x: number }): CandidateExplanation[] {
  const { request, lane, contextId, thompson, seed } = state;
  lane.sync();
  return lane.view.prepared.map((prepared, index): CandidateExplanation => {
    const candidate = prepared.candidate;
    const base = { modelId: candidate.modelId, version: candidate.version };
    const code = rejectionAt(request, lane, index);
    if (code !== 0) {
      return { ...base, eligible: false, chosen: false, rejected: describeRejection(code, request, candidate, rejectionFigure(code, lane, index)) };
    }
    const arm = lane.arms[index]!;
    let quality = lane.qualityMean[index]!;
    let x = lane.mu[index]!;
    let score: number;
    if (chosen !== undefined && chosen.index === index) {
      ({ quality, x, score } = chosen);
    } else {
      if (thompson) {
        const bits = drawBits(seed, index);
        quality = tableDraw(lane.quantiles, index * TABLE_NODES, bits);
        x += lane.muSd[index]! * normalDraw(bits);
      }
      score = scoreOf(request, lane, index, quality, x);
    }
    const explanation: CandidateExplanation = {
      ...base,
      eligible: true,
      chosen: chosen?.index === index,
      score,
      sampledQuality: quality,
      sampledLatencyMs: Math.expm1(x),
      meanQuality: lane.qualityMean[index]!,
      medianLatencyMs: Math.expm1(lane.mu[index]!),
      observed: arm.observed,
      contextObserved: arm.contexts.get(contextId)?.data.wL ?? 0,
    };
    const p95 = lane.p95Figure[index]!;
    if (!Number.isNaN(p95)) explanation.p95LatencyMs = p95;
    const cost = lane.costFigure[index]!;
    if (!Number.isNaN(cost)) explanation.costUsd = cost;
    const memory = lane.view.memory[index]!;
    if (!Number.isNaN(memory)) explanation.memoryBytes = memory;
    return explanation;
  });
}

export class SelectionResult implements Selection {
  readonly modelId: string;
  readonly version: string;
  readonly index: number;

  constructor(
    readonly score: number,
    readonly explored: boolean,
    readonly contextKey: string,
    readonly state: SelectionState,
    readonly chosenIndex: number,
    readonly chosenQuality: number,
    readonly chosenX: number,
  ) {
    const chosen = state.lane.view.prepared[chosenIndex]!.candidate;
    this.modelId = chosen.modelId;
    this.version = chosen.version;
    this.index = chosenIndex;
  }

  /** Every candidate in the order given: its rejection, or its score, draws, means and figures. */
  candidates(): CandidateExplanation[] {
    return explain(this.state, { index: this.chosenIndex, score: this.score, quality: this.chosenQuality, x: this.chosenX });
  }
}
