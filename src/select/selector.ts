/**
 * The selector: picks one candidate for a request under hard constraints and a weighted objective,
 * learning from outcomes with Thompson sampling (or greedily from posterior means).
 *
 * Per eligible candidate, one selection draws a quality from its Beta posterior and a typical latency
 * from its log-normal posterior, and scores them:
 *
 *   score = wq · quality − wl · log10(1 + latency ms) − wc · log10(cost $ + 1e-6) − wm · log10(bytes + 1e6)
 *
 * The loop allocates nothing and calls nothing per candidate in the common case: figures are cached per
 * candidate list (view.ts) and posterior numbers per list and context (lane.ts), refreshed only for arms
 * that changed; a candidate's draws are a hash of the selection's seed and its index, so the explanation
 * recomputes them instead of storing them.
 */
import { invalidArgument } from '../errors.js';
import type { Arm } from './arm.js';
import { ArmTable } from './arms.js';
import { rejectionAt, unsatisfiable } from './constraints.js';
import { ContextKeys } from './context.js';
import { checkOutcome, compileRequest, resolveOptions, type ResolvedOptions } from './input.js';
import { restoreSelector, selectorJson } from './persist.js';
import type { Posterior } from './posterior.js';
import { Prepared } from './prepared.js';
import { NORMAL_BITS, NORMAL_TABLE, TABLE_STEPS } from './quantiles.js';
import { Random } from './random.js';
import { SelectionResult, explain, type SelectionState } from './selection.js';
import type { Candidate, SelectOutcome, SelectRequest, Selection, SelectorJson, SelectorOptions } from './types.js';
import { Lane } from './lane.js';
import { ListView } from './view.js';

const INV_LN10 = 1 / Math.LN10;
const TABLE_NODES = TABLE_STEPS + 1;
const TABLE_SCALE = TABLE_STEPS / 65536;
const NORMAL_SHIFT = 32 - NORMAL_BITS;

/** Picks a model version per request and learns from outcomes (see the file comment and docs/api.md). */
export class Selector {
  readonly #options: ResolvedOptions;
  readonly #random: Random;
  readonly #contexts = new ContextKeys();
  readonly #prepared = new WeakMap<Candidate, Prepared>();
  readonly #views = new WeakMap<readonly Candidate[], ListView>();
  #lastView: ListView | undefined;
  /** @internal Every learned arm (persistence). */
  readonly arms: ArmTable;

  constructor(options?: SelectorOptions) {
    this.#options = resolveOptions(options);
    this.#random = new Random(this.#options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.arms = new ArmTable(this.#options);
  }

  /** The resolved options (defaults filled in). */
  get options(): Readonly<ResolvedOptions> {
    return this.#options;
  }

  /** @internal The context registry (persistence). */
  get contexts(): ContextKeys {
    return this.#contexts;
  }

  /** @internal The random generator (persistence). */
  get random(): Random {
    return this.#random;
  }

  /**
   * Picks a candidate for the request. Throws INVALID_ARGUMENT for a bad request or candidate (naming
   * the field), UNSATISFIABLE when no candidate passes the constraints. Pass the same array object
   * while the candidates are unchanged: what was read from it is reused (a new array of the same
   * objects costs a comparison; new objects are read and checked again). `loaded` and `local` are read
   * on every call, the other fields once per object.
   */
  select(request: SelectRequest, candidates: readonly Candidate[]): Selection {
    const compiled = compileRequest(request, this.#options.objective);
    const view = this.#view(candidates);
    const task = compiled.task;
    const contextId = this.#contexts.of(task, compiled.promptTokens, compiled.contextTags);
    const key = this.#contexts.key(contextId);
    const contextual = this.#options.contextual;
    const laneKey = contextual ? key : task;
    let lane = view.laneOf(laneKey);
    if (lane === undefined) {
      const resolve = contextual ? (arm: Arm): Posterior => arm.contextPosterior(contextId) : (arm: Arm): Posterior => arm.globalPosterior();
      lane = view.addLane(laneKey, new Lane(view, task, this.arms, resolve));
    } else {
      lane.sync();
    }
    const thompson = this.#options.thompson;
    const seed = thompson ? this.#random.int32() : 0;
    const constrained = compiled.constrained;
    const { quality: wq, cost: wc, memory: wm } = compiled.objective;
    const wl = compiled.objective.latency * INV_LN10;
    const { eligible, qualityMean, quantiles, mu, muSd, logCost } = lane;
    const normal = NORMAL_TABLE;
    const { logMemory, contextLength, memory } = view;
    const { costFigure, p95Figure, qualityFigure } = lane;
    const { objectChecks, contextFloor, explicitContext, hasMaxMemory, hasMaxCost, hasMaxLatency, hasMinQuality } = compiled;
    const { maxMemoryBytes: maxMemory, maxCostUsd: maxCost, maxP95LatencyMs: maxLatency, minQuality } = compiled;
    const count = eligible.length;
    let best = -1;
    let bestScore = -Infinity;
    let bestQuality = 0;
    let bestX = 0;
    let bestMean = -1;
    let bestMeanScore = -Infinity;
    for (let index = 0; index < count; index++) {
      if (eligible[index] === 0) continue;
      if (constrained) {
        if (objectChecks) {
          if (rejectionAt(compiled, lane, index) !== 0) continue;
        } else {
          // rejectionAt's numeric checks, inlined with the limits in locals (the common case).
          const length = contextLength[index]!;
          if (
            length < contextFloor ||
            (explicitContext && length !== length) ||
            (hasMaxMemory && !(memory[index]! <= maxMemory)) ||
            (hasMaxCost && !(costFigure[index]! <= maxCost)) ||
            (hasMaxLatency && !(p95Figure[index]! <= maxLatency)) ||
            (hasMinQuality && !(qualityFigure[index]! >= minQuality))
          ) {
            continue;
          }
        }
      }
      const fixed = wm * logMemory[index]! + wc * logCost[index]!;
      let quality = qualityMean[index]!;
      let x = mu[index]!;
      const mean = wq * quality - wl * x - fixed;
      if (mean > bestMeanScore) {
        bestMeanScore = mean;
        bestMean = index;
      }
      let score = mean;
      if (thompson) {
        // drawBits, tableDraw and normalDraw of quantiles.ts, inlined: this loop is the hot path, and
        // calls through module bindings are not always inlined (test runners rewrite imports).
        let bits = Math.imul(seed ^ Math.imul(index, 0x9e3779b9), 0x85ebca6b);
        bits = Math.imul(bits ^ (bits >>> 15), 0xc2b2ae35);
        bits = (bits ^ (bits >>> 16)) >>> 0;
        const at = ((bits & 65535) + 0.5) * TABLE_SCALE;
        const k = at | 0;
        const offset = index * TABLE_NODES + k;
        const lower = quantiles[offset]!;
        quality = lower + (at - k) * (quantiles[offset + 1]! - lower);
        x += muSd[index]! * normal[bits >>> NORMAL_SHIFT]!;
        score = wq * quality - wl * x - fixed;
      }
      if (score > bestScore) {
        bestScore = score;
        best = index;
        bestQuality = quality;
        bestX = x;
      }
    }
    const state: SelectionState = { request: compiled, lane, contextId, thompson, seed };
    if (best < 0) throw unsatisfiable(compiled, explain(state));
    return new SelectionResult(bestScore, best !== bestMean, key, state, best, bestQuality, bestX);
  }

  /**
   * Learns from a served request: quality (a failure counts 0, an ungraded success 1) and latency
   * update the (model, version, task) posterior and that of the request's context. Throws
   * INVALID_ARGUMENT for a bad outcome.
   */
  observe(outcome: SelectOutcome): void {
    this.observeChecked(checkOutcome(outcome));
  }

  /**
   * @internal observe() of an outcome already known to be valid (the front door's, built from what it
   * measured: non-empty names, a finite latency ≥ 0, a quality and a cost from checked sources).
   */
  observeChecked(outcome: SelectOutcome): void {
    const arm = this.arms.forOutcome(outcome.modelId, outcome.version, outcome.task);
    const reward = outcome.success ? (outcome.quality ?? 1) : 0;
    const context = outcome.context;
    // Context posteriors are read only by a contextual selector.
    const id = this.#options.contextual ? this.#contexts.of(outcome.task, context?.promptTokens, context?.tags) : undefined;
    arm.observe(reward, Math.log1p(outcome.latencyMs), outcome.costUsd, id);
  }

  /** The view of a candidate list: cached per array, taken over by a new array of the same objects. */
  #view(candidates: readonly Candidate[]): ListView {
    let view = this.#views.get(candidates);
    if (view === undefined) {
      if (!Array.isArray(candidates)) throw invalidArgument('candidates', 'an array of candidates', candidates);
      const last = this.#lastView;
      if (last !== undefined && last.sameAs(candidates)) {
        view = last;
        view.list = candidates;
      } else {
        const cache = this.#prepared;
        view = new ListView(
          candidates,
          candidates.map((candidate, index) => {
            let prepared = cache.get(candidate);
            if (prepared === undefined) {
              prepared = Prepared.check(candidate, index);
              cache.set(candidate, prepared);
            }
            return prepared;
          }),
        );
      }
      this.#views.set(candidates, view);
    }
    this.#lastView = view;
    return view;
  }

  /** Options, random state and every learned posterior, as plain JSON. */
  toJSON(): SelectorJson {
    return selectorJson(this);
  }

  /** A selector restored from `toJSON()`; throws INVALID_ARGUMENT naming the bad field ('json.arms[2].data'). */
  static fromJSON(json: unknown): Selector {
    return restoreSelector(json, (options) => new Selector(options));
  }
}
