/**
 * Every arm of a selector by (model, version, task), and the rules that seed a new arm:
 *
 * 1. history: a candidate whose `stats` has samples starts from them (weight capped);
 * 2. predecessor: otherwise, a candidate naming a `predecessor` the selector has learned starts from
 *    that version's data, globally and per context, scaled down;
 * 3. a carried prior: otherwise `stats` without own samples (the history's prior) seed it;
 * 4. otherwise the cold-start prior alone.
 *
 * While an arm has observed nothing itself, a new candidate object with `stats` re-seeds it, so a
 * selector that is never told outcomes still follows the history.
 */
import { Arm, ChangeLog, type ArmPrior, type ArmSettings } from './arm.js';
import type { Prepared } from './prepared.js';

const SEP = '\u0000';

export class ArmTable {
  readonly #arms = new Map<string, Arm>();
  /** Every change of every arm, for the views. */
  readonly log = new ChangeLog();

  constructor(readonly settings: ArmSettings) {}

  values(): IterableIterator<Arm> {
    return this.#arms.values();
  }

  get(modelId: string, version: string, task: string): Arm | undefined {
    return this.#arms.get(`${modelId}${SEP}${version}${SEP}${task}`);
  }

  /** The arm of an outcome, created with the neutral prior when no candidate introduced it yet. */
  forOutcome(modelId: string, version: string, task: string): Arm {
    const key = `${modelId}${SEP}${version}${SEP}${task}`;
    let arm = this.#arms.get(key);
    if (arm === undefined) {
      arm = new Arm(modelId, version, task, this.settings, undefined, this.log);
      this.#arms.set(key, arm);
    }
    return arm;
  }

  /** A new arm for a snapshot being restored. */
  restore(modelId: string, version: string, task: string, prior: ArmPrior): Arm {
    const arm = new Arm(modelId, version, task, this.settings, prior, this.log);
    this.#arms.set(`${modelId}${SEP}${version}${SEP}${task}`, arm);
    return arm;
  }

  /** The arm of a prepared candidate for a task, created and seeded on first sight. */
  forCandidate(prepared: Prepared, task: string): Arm {
    const candidate = prepared.candidate;
    const key = `${candidate.modelId}${SEP}${candidate.version}${SEP}${task}`;
    let arm = this.#arms.get(key);
    const stats = candidate.stats;
    if (arm === undefined) {
      arm = new Arm(candidate.modelId, candidate.version, task, this.settings, prepared.prior, this.log);
      this.#arms.set(key, arm);
      const predecessor = candidate.predecessor === undefined ? undefined : this.get(candidate.modelId, candidate.predecessor, task);
      if (stats !== undefined && stats.samples > 0) arm.seedFromHistory(stats);
      else if (predecessor !== undefined && (predecessor.data.wQ > 0 || predecessor.data.wL > 0)) arm.seedFromPredecessor(predecessor);
      else if (stats !== undefined) arm.seedFromHistory(stats);
    } else {
      if (!arm.priorFromCandidate) arm.setPrior(prepared.prior);
      // Before its own outcomes, an arm follows the history the candidates carry — when it is new.
      if (arm.observed === 0 && stats !== undefined && stats.samples > 0 && arm.seededFrom !== stats) arm.seedFromHistory(stats);
    }
    return arm;
  }
}
