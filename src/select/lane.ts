/**
 * One lane of a candidate list: the candidates of one task (or one context key, when contextual),
 * each with its arm and a copy of the posterior numbers the selection loop reads, as typed arrays. A
 * lane follows its arms' change log: before a selection it refreshes only the candidates whose arm
 * changed since the last one, so a selection costs a pass over arrays and no pointer chasing.
 */
import { ChangeLog, type Arm } from './arm.js';
import type { ArmTable } from './arms.js';
import type { Posterior } from './posterior.js';
import { TABLE_STEPS } from './quantiles.js';
import { logCost } from './prepared.js';

const NODES = TABLE_STEPS + 1;
import type { ListView } from './view.js';

export class Lane {
  /** Undefined where the candidate does not do the task. */
  readonly arms: Array<Arm | undefined>;
  /** 1 where the candidate does the task. */
  readonly eligible: Uint8Array;
  readonly revisions: Float64Array;
  /** Posterior numbers (posterior.ts): quality mean, and the quality tables back to back (65 per candidate). */
  readonly qualityMean: Float64Array;
  readonly quantiles: Float32Array;
  /** Mean of ln(1 + ms) and the sd of that mean. */
  readonly mu: Float64Array;
  readonly muSd: Float64Array;
  /** Constraint figures (NaN: unknown): expected quality, p95 latency ms, cost $ per request. */
  readonly qualityFigure: Float64Array;
  readonly p95Figure: Float64Array;
  readonly costFigure: Float64Array;
  /** log10(cost + $1e-6) of the cost figure; unknown counts as nothing. */
  readonly logCost: Float64Array;
  /** Indices of each arm (an arm appears once unless the list repeats a version). */
  readonly #indices = new Map<Arm, number[]>();
  /** Changes of the log already applied. */
  #seen: number;
  readonly #log: ChangeLog;

  constructor(
    readonly view: ListView,
    task: string,
    table: ArmTable,
    readonly resolve: (arm: Arm) => Posterior,
  ) {
    this.#log = table.log;
    const count = view.prepared.length;
    this.arms = new Array<Arm | undefined>(count).fill(undefined);
    this.eligible = new Uint8Array(count);
    this.revisions = new Float64Array(count);
    this.qualityMean = new Float64Array(count);
    this.quantiles = new Float32Array(count * NODES);
    this.mu = new Float64Array(count);
    this.muSd = new Float64Array(count);
    this.qualityFigure = new Float64Array(count);
    this.p95Figure = new Float64Array(count);
    this.costFigure = new Float64Array(count);
    this.logCost = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      const prepared = view.prepared[index]!;
      if (!prepared.candidate.tasks.includes(task)) continue;
      const arm = table.forCandidate(prepared, task);
      this.arms[index] = arm;
      this.eligible[index] = 1;
      const indices = this.#indices.get(arm);
      if (indices === undefined) this.#indices.set(arm, [index]);
      else indices.push(index);
    }
    // Seeding arms above may have logged changes: start after them, with every entry fresh.
    this.#seen = table.log.count;
    for (let index = 0; index < count; index++) if (this.eligible[index] === 1) this.refresh(index);
  }

  /** Brings every candidate whose arm changed since the last call up to date. */
  sync(): void {
    const log = this.#log;
    const count = log.count;
    if (count === this.#seen) return;
    if (count - this.#seen > ChangeLog.SIZE) {
      for (let index = 0; index < this.arms.length; index++) {
        const arm = this.arms[index];
        if (arm !== undefined && this.revisions[index] !== arm.revision) this.refresh(index);
      }
    } else {
      for (let change = this.#seen; change < count; change++) {
        const arm = log.ring[change & (ChangeLog.SIZE - 1)]!;
        const indices = this.#indices.get(arm);
        if (indices === undefined) continue;
        for (const index of indices) if (this.revisions[index] !== arm.revision) this.refresh(index);
      }
    }
    this.#seen = count;
  }

  /** Copies candidate `index`'s posterior numbers. */
  refresh(index: number): void {
    const arm = this.arms[index]!;
    const posterior = this.resolve(arm);
    const prepared = this.view.prepared[index]!;
    this.revisions[index] = arm.revision;
    this.qualityMean[index] = posterior.qualityMean;
    this.quantiles.set(posterior.table, index * NODES);
    this.mu[index] = posterior.mu;
    this.muSd[index] = posterior.muSd;
    this.qualityFigure[index] = posterior.qualityFigure;
    this.p95Figure[index] = posterior.p95Figure;
    const measured = arm.costWeight > 0;
    this.costFigure[index] = measured ? arm.costMean : prepared.estimatedCost;
    this.logCost[index] = measured ? logCost(arm.costMean) : prepared.logEstimatedCost;
  }
}
