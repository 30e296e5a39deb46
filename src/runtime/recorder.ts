/**
 * What the front door does after a request: the cost into the ledger, an event to listeners, and — at
 * once, or after a judge's verdict on the answer — a sample into the registry's history and an
 * outcome into the selector, so what was measured and judged steers the next selection.
 */
import { isModelpoolError } from '../errors.js';
import type { CostKey, CostLedger, RequestCost } from '../cost/index.js';
import { Judge, type Criterion, type JudgeRunner, type Judging, type Verdict } from '../judge/index.js';
import type { GenerateRequest, GenerationResult } from '../model/types.js';
import type { ModelRegistry } from '../registry/index.js';
import type { SelectOutcome, Selector } from '../select/index.js';
import type { PerformanceSample, Task } from '../telemetry/types.js';
import { ModelpoolError } from '../errors.js';
import { nonEmptyString, optionalNumber, plainObject } from '../validate.js';
import type { Route } from './route.js';

/**
 * Judging served answers: a share of successful generations is judged on one criterion, in the
 * background, by a judge model leased from the same pool (or a judge you built); the request's history
 * sample and the selector's outcome then carry the verdict as its quality.
 */
export interface JudgingOptions {
  /** The judge model (registry or pool id), run through the pool. Not with `judge`. */
  model?: string;
  /** A judge of your own (an ensemble, other templates). Not with `model`. */
  judge?: Judging;
  /** Default 'relevance'. */
  criterion?: Criterion;
  /** Share of answers judged, 0..1. Default 1. */
  sampleRate?: number;
  /** Tasks whose answers are judged. Default every generation task. */
  tasks?: Task[];
}

/** Emitted after each request ends (successfully or not). */
export interface RequestEvent {
  model: string;
  version: string | undefined;
  task: string;
  tenant?: string;
  success: boolean;
  cost?: RequestCost;
  error?: { code: string; message: string };
}

/** Emitted when a served answer has been judged. */
export interface JudgedEvent {
  model: string;
  version: string | undefined;
  task: string;
  verdict?: Verdict;
  error?: { code: string; message: string };
}

/** The chosen model of a request, as the recorder needs it. */
export interface Picked {
  model: string;
  version: string | undefined;
  /** Registered in the registry (history is recorded). */
  registered: boolean;
  /** Who serves it ('local', 'onnx', 'openai', ...): the cost ledger's provider. */
  provider: string;
}

interface ActiveJudging {
  judge: Judging;
  criterion: Criterion;
  sampleRate: number;
  tasks: Set<string> | undefined;
}

/** A finished request waiting for its bookkeeping: one object per request, no closures. */
interface Finished {
  route: Route;
  pick: Picked;
  version: string | undefined;
  /** Undefined for a failure and for a caller's own error (`notifyOnly`). */
  cost: RequestCost | undefined;
  success: boolean;
  r: GenerationResult | undefined;
  totalMs: number;
  error: unknown;
  /** The caller's own error: a 'request' event only. */
  notifyOnly: boolean;
}

export class Recorder {
  readonly #registry: ModelRegistry;
  readonly #selector: Selector;
  readonly #ledger: CostLedger;
  readonly judging: ActiveJudging | undefined;
  readonly #background = new Set<Promise<unknown>>();
  /** Finished requests whose cost, event, judging and learning run at the next flush. */
  readonly #pending: Finished[] = [];
  /** How many of #pending already have their cost in the ledger (applyCosts before a flush). */
  #costed = 0;
  /** settled() calls waiting for the next flush. */
  readonly #flushed: Array<() => void> = [];
  readonly #listeners = { request: new Set<(event: RequestEvent) => void>(), judged: new Set<(event: JudgedEvent) => void>() };

  constructor(registry: ModelRegistry, selector: Selector, ledger: CostLedger, judging: JudgingOptions | undefined, runner: (model: string) => JudgeRunner) {
    this.#registry = registry;
    this.#selector = selector;
    this.#ledger = ledger;
    this.judging = judgingOf(judging, runner);
  }

  on(type: 'request' | 'judged', listener: (event: never) => void): () => void {
    const set = this.#listeners[type] as Set<(event: never) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves when the recording and judging of the requests finished so far have ended. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#background.size > 0) {
      if (this.#pending.length > 0) await new Promise<void>((resolve) => this.#flushed.push(resolve));
      else await Promise.allSettled([...this.#background]);
    }
  }

  /**
   * Records a finished request. The bookkeeping — the ledger record, the event, the judging, the
   * history sample and the selector's outcome — runs just after the answer is handed back, batched
   * once per event-loop turn, so it overlaps the next request's work instead of delaying this one.
   * `settled()` waits for it; `applyCosts()` brings the ledger up to date at once (before a budget check).
   */
  record(route: Route, pick: Picked, version: string | undefined, cost: RequestCost | undefined, success: boolean, r: GenerationResult | undefined, wallMs?: number, error?: unknown): void {
    this.#push({ route, pick, version, cost, success, r, totalMs: cost?.wallMs ?? wallMs ?? 0, error, notifyOnly: false });
  }

  /** A request that ended with the caller's own error: a 'request' event only (no cost, history or outcome). */
  notify(route: Route, pick: Picked, version: string | undefined, error: unknown): void {
    if (this.#listeners.request.size === 0) return;
    this.#push({ route, pick, version, cost: undefined, success: false, r: undefined, totalMs: 0, error, notifyOnly: true });
  }

  /** Records the costs not yet in the ledger. */
  applyCosts(): void {
    const pending = this.#pending;
    for (; this.#costed < pending.length; this.#costed++) {
      const { route, pick, version, cost } = pending[this.#costed]!;
      if (cost === undefined) continue;
      const key: CostKey = { model: pick.model, task: route.task, provider: pick.provider };
      if (version !== undefined) key.version = version;
      if (route.tenant !== undefined) key.tenant = route.tenant;
      this.#ledger.recordChecked(key, cost);
    }
  }

  #push(finished: Finished): void {
    this.#pending.push(finished);
    if (this.#pending.length === 1) setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    try {
      this.applyCosts();
    } catch (error) {
      process.emitWarning(`modelpool: recording a front-door cost failed: ${String(error)}`);
    }
    const finished = this.#pending.splice(0);
    this.#costed = 0;
    for (const f of finished) {
      try {
        if (f.notifyOnly) this.#notified(f);
        else this.#finish(f.route, f.pick, f.version, f.cost, f.success, f.r, f.totalMs, f.error);
      } catch (error) {
        process.emitWarning(`modelpool: recording a front-door request failed: ${String(error)}`);
      }
    }
    for (const resolve of this.#flushed.splice(0)) resolve();
  };

  #notified({ route, pick, version, error }: Finished): void {
    const event: RequestEvent = { model: pick.model, version, task: route.task, success: false, error: errorSummary(error) };
    if (route.tenant !== undefined) event.tenant = route.tenant;
    this.#emit('request', event);
  }

  #finish(route: Route, pick: Picked, version: string | undefined, cost: RequestCost | undefined, success: boolean, r: GenerationResult | undefined, totalMs: number, error?: unknown): void {
    if (this.#listeners.request.size > 0) {
      const event: RequestEvent = { model: pick.model, version, task: route.task, success };
      if (route.tenant !== undefined) event.tenant = route.tenant;
      if (cost !== undefined) event.cost = cost;
      if (error !== undefined) event.error = errorSummary(error);
      this.#emit('request', event);
    }
    const judging = this.judging;
    if (success && r !== undefined && r.text.length > 0 && judging !== undefined && (judging.tasks === undefined || judging.tasks.has(route.task)) && Math.random() < judging.sampleRate) {
      // The history sample and the selector's outcome wait for the verdict, which is their quality.
      const item = { question: questionOf(route.request), answer: r.text };
      const judged = judging.judge.judge(item, judging.criterion).then(
        (verdict) => {
          this.#emit('judged', { model: pick.model, version, task: route.task, verdict });
          this.learn(route, pick, version, cost, success, r, totalMs, verdict.normalized);
        },
        (failure: unknown) => {
          this.#emit('judged', { model: pick.model, version, task: route.task, error: errorSummary(failure) });
          this.learn(route, pick, version, cost, success, r, totalMs);
        },
      );
      this.#background.add(judged);
      void judged.finally(() => this.#background.delete(judged));
      return;
    }
    this.learn(route, pick, version, cost, success, r, totalMs);
  }

  /** Into the registry's history (registered versions) and the selector's posteriors. */
  learn(route: Route, pick: Picked, version: string | undefined, cost: RequestCost | undefined, success: boolean, r: GenerationResult | undefined, totalMs: number, quality?: number): void {
    if (version === undefined) return;
    if (pick.registered) {
      try {
        // Fields assigned one by one (not spread): this runs once per request.
        const sample: PerformanceSample & { version: string } = { model: pick.model, version, task: route.task, totalMs, success };
        if (route.tenant !== undefined) sample.tenant = route.tenant;
        if (quality !== undefined) sample.quality = quality;
        if (r !== undefined) {
          if (cost?.ttftMs !== undefined) sample.ttftMs = cost.ttftMs;
          if (r.generatedTokens > 1) sample.tokensPerSecond = r.decodeTokensPerSecond;
          sample.promptTokens = r.promptTokens;
          sample.generatedTokens = r.generatedTokens;
        }
        if (cost !== undefined) {
          sample.queueMs = cost.queueMs;
          sample.cpuMs = cost.cpuCoreSeconds * 1000;
          sample.memoryGbSeconds = cost.memoryGbSeconds;
          sample.costUsd = cost.usd;
        }
        // The engine's own figures are taken as measured; a verdict's score (from a judge, perhaps the
        // user's own) and a provider's token counts are checked like any caller's sample.
        if (quality === undefined && pick.provider === 'local') this.#registry.recordMeasured(sample);
        else this.#registry.recordSample(sample);
      } catch (error) {
        // A version removed meanwhile: its history goes with it.
        if (!isModelpoolError(error, 'MODEL_NOT_FOUND') && !isModelpoolError(error, 'VERSION_NOT_FOUND')) throw error;
      }
    }
    const outcome: SelectOutcome = { modelId: pick.model, version, task: route.task, context: route.context, success, latencyMs: totalMs };
    if (quality !== undefined) outcome.quality = quality;
    if (cost !== undefined) outcome.costUsd = cost.usd;
    if (quality === undefined) this.#selector.observeChecked(outcome);
    else this.#selector.observe(outcome);
  }

  #emit<K extends 'request' | 'judged'>(type: K, event: K extends 'request' ? RequestEvent : JudgedEvent): void {
    for (const listener of this.#listeners[type] as Set<(event: unknown) => void>) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(`modelpool: a front-door '${type}' listener threw: ${String(error)}`);
      }
    }
  }
}

function judgingOf(options: JudgingOptions | undefined, runner: (model: string) => JudgeRunner): ActiveJudging | undefined {
  if (options === undefined) return undefined;
  plainObject('options.judging', options);
  if ((options.model === undefined) === (options.judge === undefined)) {
    throw new ModelpoolError('INVALID_ARGUMENT', 'Expected exactly one of options.judging.model and options.judging.judge', { field: 'options.judging.model', value: options.model });
  }
  const sampleRate = optionalNumber('options.judging.sampleRate', options.sampleRate, 0, 1) ?? 1;
  const judge = options.judge ?? new Judge({ run: runner(nonEmptyString('options.judging.model', options.model, 256)), concurrency: 2 });
  return { judge, criterion: options.criterion ?? 'relevance', sampleRate, tasks: options.tasks === undefined ? undefined : new Set(options.tasks) };
}

function errorSummary(error: unknown): { code: string; message: string } {
  return isModelpoolError(error) ? { code: error.code, message: error.message } : { code: 'ERROR', message: String(error) };
}

/** What the answer answers: the prompt, or the last user message of a chat. */
function questionOf(request: GenerateRequest): string {
  if (typeof request.prompt === 'string') return request.prompt;
  const messages = request.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const content = messages[i]!.content;
    if (messages[i]!.role === 'user') return typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join('');
  }
  return '';
}
