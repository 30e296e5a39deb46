/**
 * The front door: one object over a registry, a pool and a selection policy. A request names a model
 * or a task with constraints; the front door admits it, selects a model (the selector, over the
 * registry's versions and their measured history), leases it from the pool, runs it, measures what
 * it cost (wall, queue, first token, tokens, CPU core-seconds, memory GB-seconds shared among the
 * requests the model served meanwhile, dollars), records that into the history, the cost ledger and
 * the selector, and answers with `{ model, version, cost, selection }` beside the model's result.
 * The server and the CLI use only this.
 */
import { ModelpoolError, isModelpoolError } from '../errors.js';
import { CostLedger, MemoryMeter, priceUsage, resolveLocalRates, type LocalRates, type PriceTable, type RequestCost, type TokenPrice } from '../cost/index.js';
import { ChunkChannel } from '../model/chunk-channel.js';
import { isLocalModel, type ModelHandle } from '../model/handle.js';
import type { GenerateRequest, GenerationChunk, GenerationResult } from '../model/types.js';
import { ModelPool, type Lease, type PoolOptions } from '../pool/index.js';
import type { ModelRegistry } from '../registry/index.js';
import { Selector, type Constraints, type Objective, type Selection } from '../select/index.js';
import type { Task } from '../telemetry/types.js';
import { optionalInteger, plainObject } from '../validate.js';
import type { JudgeRunner } from '../judge/index.js';
import { Breakers, HealthTracker, isCallerFault, summarizeError, type HealthStatus, type ProbeOptions, type ProbeResult } from '../health/index.js';
import { RateLimiter, type RateLimiterOptions } from '../security/index.js';
import { Admission, type AdmissionOptions } from './admission.js';
import { CandidateSource, type CandidateSourceOptions } from './candidates.js';
import { mirrorLifecycle, versionedResolver, type SpecDefaults } from './registry-bridge.js';
import { Recorder, type JudgedEvent, type JudgingOptions, type RequestEvent } from './recorder.js';
import { RatePlace } from './rate-place.js';
import { routeOf, type Route, type RouteOptions } from './route.js';
import { circuitOpen, failoverOf, withFailover, type FailoverInfo, type FailoverOptions, type ResolvedFailover } from './failover.js';
import { Picker, type Pick, type SelectionInfo } from './pick.js';
import { Watcher } from './watch.js';

export type { FailoverInfo, FailoverOptions } from './failover.js';
export type { SelectionInfo } from './pick.js';

export type { RouteOptions } from './route.js';

export type FrontDoorRequest = GenerateRequest & RouteOptions;

export interface EmbedRequest extends RouteOptions {
  input: string | string[];
  signal?: AbortSignal;
}

/** What the front door adds to a model's answer. */
export interface Routed {
  model: string;
  version: string | undefined;
  cost: RequestCost;
  selection: SelectionInfo;
  /**
   * The front door's own time on this request before it answered, ms: routing, selection, budget check,
   * cost and recording — not the admission wait, the pool's lease or the model. (Its history, selector
   * and event bookkeeping runs just after the answer.)
   */
  overheadMs: number;
  /** Present when the request failed over: the models tried before the one that answered, and why each was left. */
  failover?: FailoverInfo;
}

export type FrontDoorResult = GenerationResult & Routed;

export interface EmbedResult extends Routed {
  embeddings: Float32Array[];
}

export interface FrontDoorStream extends AsyncIterable<string> {
  readonly result: Promise<FrontDoorResult>;
  chunks(): AsyncIterable<GenerationChunk>;
}

export interface FrontDoorOptions {
  registry: ModelRegistry;
  /** The pool to run models in. Default: a pool over the registry that this front door owns and disposes. */
  pool?: ModelPool;
  /** Options of the pool created when `pool` is not given (`resolve` is set to the registry's). */
  poolOptions?: Omit<PoolOptions, 'resolve'>;
  /** Pool settings a registry does not hold (context size, parallel sequences, ...), for the pool created here. */
  specDefaults?: SpecDefaults;
  selector?: Selector;
  /** Dollar rates of local compute (per core-hour, GB-hour, GPU-hour, kWh). */
  rates?: LocalRates;
  /** Prices of remote models. */
  prices?: PriceTable;
  /** Where costs are aggregated and budgets checked. Default: a ledger of its own. */
  ledger?: CostLedger;
  admission?: AdmissionOptions;
  candidates?: CandidateSourceOptions;
  /** Judge answers as they are served; the verdicts are the quality the history and the selector learn from. */
  judging?: JudgingOptions;
  failover?: FailoverOptions;
  /**
   * Rate limits: token buckets per caller key, tenant and model, in requests and tokens per minute
   * (`RATE_LIMITED` beyond, with `details.retryAfterMs`). A request takes its estimated tokens (prompt,
   * roughly, plus maxTokens) when it starts; what it really used is settled when it ends.
   */
  rateLimits?: RateLimiter | RateLimiterOptions;
}


function defaultTask(request: { messages?: unknown } | null | undefined): Task {
  return typeof request === 'object' && request !== null && request.messages !== undefined ? 'chat' : 'completion';
}

const FREE = { inputPerMillion: 0, outputPerMillion: 0 };

/** Errors that say nothing about the model (the caller's input, its abort, a full queue). */
function modelsFault(error: unknown): boolean {
  if (!isModelpoolError(error)) return true;
  return !['INVALID_ARGUMENT', 'INVALID_SCHEMA', 'ABORTED', 'QUEUE_FULL', 'BUDGET_EXCEEDED', 'DISPOSED', 'CONTEXT_OVERFLOW'].includes(error.code);
}

export class FrontDoor {
  readonly registry: ModelRegistry;
  readonly pool: ModelPool;
  readonly selector: Selector;
  readonly ledger: CostLedger;
  readonly admission: Admission;
  /** A circuit breaker per pool model: what failover skips. */
  readonly breakers: Breakers;
  /** Passive health per pool model: error rate, latency, consecutive failures, from every request. */
  readonly health = new HealthTracker();
  readonly #watcher: Watcher;
  readonly #picker: Picker;
  /** The rate limiter, when `rateLimits` was given. */
  readonly rateLimiter: RateLimiter | undefined;
  readonly #failover: ResolvedFailover;
  readonly #rates: Required<LocalRates>;
  readonly #prices: PriceTable | undefined;
  readonly #ownsPool: boolean;
  readonly #candidates: CandidateSource;
  readonly #meters = new WeakMap<ModelHandle, MemoryMeter>();
  readonly #stopMirror: (() => void) & { flush(): Promise<void> };
  /** Requests admitted and not yet ended, and what dispose() waits on when some are. */
  #inFlight = 0;
  #drained: (() => void) | undefined;
  readonly #recorder: Recorder;
  #disposed = false;

  constructor(options: FrontDoorOptions) {
    plainObject('options', options);
    if (options.registry === undefined) throw new ModelpoolError('INVALID_ARGUMENT', 'Expected a ModelRegistry for options.registry', { field: 'options.registry' });
    // Every option is checked (INVALID_ARGUMENT naming it) before a pool is made.
    this.#rates = resolveLocalRates(options.rates, 'options.rates');
    this.registry = options.registry;
    this.selector = options.selector ?? new Selector();
    this.ledger = options.ledger ?? new CostLedger();
    this.admission = new Admission(options.admission);
    this.#failover = failoverOf(options.failover);
    this.breakers = new Breakers(options.failover?.breakers ?? {});
    this.rateLimiter = options.rateLimits === undefined || options.rateLimits instanceof RateLimiter ? options.rateLimits : new RateLimiter(options.rateLimits);
    this.#prices = options.prices;
    this.#recorder = new Recorder(this.registry, this.selector, this.ledger, options.judging, (model) => this.judgeRunner(model));
    this.#ownsPool = options.pool === undefined;
    this.pool = options.pool ?? new ModelPool({ ...options.poolOptions, resolve: versionedResolver(options.registry, options.specDefaults) });
    this.#candidates = new CandidateSource(this.registry, this.pool, options.candidates);
    this.#picker = new Picker(this.registry, this.selector, this.#candidates);
    this.#watcher = new Watcher(this.pool, this.breakers, this.health);
    this.#stopMirror = mirrorLifecycle(this.pool, this.registry);
  }

  /** A judge runner that leases `model` from this front door's pool for each verdict. */
  judgeRunner(model: string): JudgeRunner {
    return <T>(fn: (handle: ModelHandle) => Promise<T>, signal?: AbortSignal) => this.pool.use(model, (lease) => fn(lease.model), { signal });
  }

  /** Listens to finished requests or to verdicts; returns the function that stops listening. */
  on(type: 'request', listener: (event: RequestEvent) => void): () => void;
  on(type: 'judged', listener: (event: JudgedEvent) => void): () => void;
  on(type: 'request' | 'judged', listener: (event: never) => void): () => void {
    return this.#recorder.on(type, listener);
  }

  /** Resolves when the recording (ledger, history, selector, events) and judging of the requests finished so far have ended. */
  settled(): Promise<void> {
    return this.#recorder.settled();
  }

  /** Chooses a model for a task without running anything (what `generate` would pick now). */
  select(request: { task: Task; constraints?: Constraints; objective?: Objective; tags?: string[]; promptTokens?: number }): Selection {
    plainObject('request', request);
    const list = this.#candidates.forTask(request.task);
    const context: { promptTokens?: number; tags?: string[] } = {};
    if (request.promptTokens !== undefined) context.promptTokens = optionalInteger('request.promptTokens', request.promptTokens, 0);
    if (request.tags !== undefined) context.tags = request.tags;
    return this.selector.select({ task: request.task, constraints: request.constraints, objective: request.objective, context }, list.candidates);
  }

  /** Runs a request to the end. Rejects with the model's error, or UNSATISFIABLE, QUEUE_FULL, BUDGET_EXCEEDED, ... */
  complete(request: FrontDoorRequest): Promise<FrontDoorResult> {
    const entered = performance.now();
    let route: Route;
    try {
      route = routeOf(request, defaultTask(request));
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    // No stream to feed: the model's own complete() (route.request keeps the caller's signal). The
    // request's own promise is returned, not one wrapping it: the caller resumes as soon as it settles.
    return this.#run(entered, route, route.signal, (lease) => lease.model.complete(route.request));
  }

  /** Streams a request's text; `result` carries the model's result with model, version, cost and selection. */
  generate(request: FrontDoorRequest): FrontDoorStream {
    const entered = performance.now();
    const route = routeOf(request, defaultTask(request));
    this.#checkOpen();
    // One reader: breaking out of the iteration aborts the generation.
    const channel = new ChunkChannel(true);
    const controller = new AbortController();
    const signal = route.signal === undefined ? controller.signal : AbortSignal.any([route.signal, controller.signal]);
    // Once a chunk has reached the reader, a failure ends the stream (with the partial output) rather than failing over.
    let emitted = false;
    const result = this.#run(
      entered,
      route,
      signal,
      async (lease) => {
        const stream = lease.model.generate({ ...route.request, signal });
        for await (const chunk of stream.chunks()) {
          emitted = true;
          channel.push(chunk);
        }
        return stream.result;
      },
      () => emitted,
    );
    void result.then(
      () => channel.end(),
      (error) => channel.end(error),
    );
    const stop = () => controller.abort();
    return {
      result,
      chunks: () => channel.chunks(stop),
      [Symbol.asyncIterator]: () => channel.texts(stop),
    } as FrontDoorStream;
  }

  /** Embeddings of one text or many, by a named model or one selected for the 'embedding' task. */
  embed(request: EmbedRequest): Promise<EmbedResult> {
    const entered = performance.now();
    let route: Route;
    let texts: string[];
    try {
      route = routeOf(request, 'embedding');
      const input = request.input;
      texts = typeof input === 'string' ? [input] : input;
      if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) {
        throw new ModelpoolError('INVALID_ARGUMENT', 'Expected a string or a non-empty array of strings for request.input', { field: 'request.input', value: input });
      }
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run(entered, route, route.signal, (lease) => lease.model.embed(texts)) as unknown as Promise<EmbedResult>;
  }

  /**
   * Probes models actively through the real generation path: every `intervalMs` (default 30 s) a tiny
   * generation (one token; an embedding for a model that only embeds) through the pool, bounded by
   * `timeoutMs` (default 10 s). Results feed the same breakers and health figures as real requests, so a
   * probe's success can close a half-open breaker. A probe of a model that is not loaded loads it.
   * `names` are registry ids or aliases, or pool ids.
   */
  watch(names: string[], options: ProbeOptions = {}): void {
    this.#checkOpen();
    this.#watcher.watch(names.map((name) => this.#poolIdOf(name)), options);
  }

  /** Runs a model's probe now (after `watch`). */
  probe(name: string): Promise<ProbeResult> {
    return this.#watcher.probe(this.#poolIdOf(name), name);
  }

  /** Whether a watched model's last probe succeeded and its breaker is not open (false for one not watched). */
  ready(name: string): boolean {
    return this.#watcher.ready(this.#poolIdOf(name));
  }

  /** Health per pool model: breaker state, last probe (watched models), error rate and latency. */
  healthStatus(): { probes: HealthStatus[]; breakers: ReturnType<Breakers['snapshot']>; passive: ReturnType<HealthTracker['snapshot']> } {
    return { probes: this.#watcher.status(), breakers: this.breakers.snapshot(), passive: this.health.snapshot() };
  }

  /** Waits for requests in flight, stops mirroring into the registry and disposes the pool it created. */
  async dispose(options: { abort?: boolean } = {}): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!options.abort && this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.settled();
    await this.#watcher.close();
    this.#candidates.close();
    if (this.#ownsPool) await this.pool.dispose(options);
    await this.#stopMirror.flush();
    this.#stopMirror();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // ---------------------------------------------------------------------------------------------

  /** The pool id of a model as a request would name it. */
  #poolIdOf(name: string): string {
    return this.#picker.pick(routeOf({ model: name }, 'completion')).poolId;
  }

  #checkOpen(): void {
    if (this.#disposed) throw new ModelpoolError('DISPOSED', 'The front door is disposed');
  }

  /** A request ended (after its admission was released). */
  #ended(): void {
    if (--this.#inFlight === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  /**
   * Admits the request, then runs it on the picked model — or, when that fails before its first token
   * by no fault of the request, on the next of its fallbacks whose breaker admits it.
   * `emitted` says whether output already reached the caller (a stream), after which nothing fails over.
   */
  async #run(
    started: number,
    route: Route,
    signal: AbortSignal | undefined,
    work: (lease: Lease) => Promise<GenerationResult | Float32Array[]>,
    emitted?: () => boolean,
  ): Promise<FrontDoorResult> {
    const admitting = performance.now();
    this.#inFlight++;
    try {
      const entering = this.admission.enter(signal);
      if (entering !== undefined) await entering;
    } catch (error) {
      this.#ended();
      throw error;
    }
    const admittedAt = performance.now();
    let place: RatePlace | undefined;
    try {
      let pick = this.#picker.pick(route);
      if (this.rateLimiter !== undefined) place = RatePlace.take(this.rateLimiter, route, pick.model);
      // The front door's own time before the first lease: routing, selection (not the admission wait).
      let before = admitting - started + (performance.now() - admittedAt);
      let failover: FailoverInfo | undefined;
      let fallbacks: Pick[] | undefined;
      let lastError: unknown;
      for (let attempts = 0; ; ) {
        // A fallback of another model counts in that model's rate limits (the request's others counted once).
        const limitedFor = place !== undefined && pick.model !== place.model ? place.moveTo(pick.model) : undefined;
        const breaker = this.breakers.get(pick.poolId);
        const permit = limitedFor === undefined ? breaker.tryAcquire() : undefined;
        if (limitedFor !== undefined) {
          (failover ??= { attempts: [], skipped: [] }).skipped.push({ model: pick.model, version: pick.version, retryAfterMs: limitedFor, reason: 'rate-limited' });
        } else if (permit === undefined) {
          (failover ??= { attempts: [], skipped: [] }).skipped.push({ model: pick.model, version: pick.version, retryAfterMs: breaker.retryAfterMs(), reason: 'circuit-open' });
        } else {
          attempts++;
          try {
            const result = await this.#attempt(started, admittedAt, before, route, pick, signal, work);
            permit.success(result.cost.wallMs);
            this.health.success(pick.poolId, result.cost.wallMs);
            if (place !== undefined) {
              place.settle(result.cost.promptTokens + result.cost.generatedTokens);
              place = undefined;
            }
            if (failover !== undefined) result.failover = failover;
            return result;
          } catch (error) {
            permit.failure(error);
            if (modelsFault(error) && !isCallerFault(error)) this.health.failure(pick.poolId, error);
            if (!modelsFault(error) || isCallerFault(error) || signal?.aborted === true || emitted?.() === true || attempts >= this.#failover.maxAttempts) throw withFailover(error, failover);
            (failover ??= { attempts: [], skipped: [] }).attempts.push({ model: pick.model, version: pick.version, error: summarizeError(error) });
            lastError = error;
          }
        }
        fallbacks ??= this.#picker.fallbacks(route, pick, this.#failover.chains, this.#failover.selectedFallbacks);
        const next = fallbacks.shift();
        if (next === undefined) {
          if (lastError === undefined) throw circuitOpen(failover!);
          // The last error is the one thrown: the failover record keeps the models left before it.
          failover!.attempts.pop();
          throw withFailover(lastError, failover);
        }
        pick = next;
        before = 0;
      }
    } finally {
      // A request that failed used no tokens of its limits (it still counts as a request).
      place?.settle(0);
      this.admission.release();
      this.#ended();
    }
  }

  /** One model's try: the budget check, the lease, the work, its cost and its recording. */
  async #attempt(
    started: number,
    admittedAt: number,
    before: number,
    route: Route,
    chosen: Pick,
    signal: AbortSignal | undefined,
    work: (lease: Lease) => Promise<GenerationResult | Float32Array[]>,
  ): Promise<FrontDoorResult> {
    try {
      const checking = performance.now();
      if (this.ledger.budgetCount > 0) {
        this.#recorder.applyCosts();
        // Dollars known before spending: a priced remote model's tokens at most (the prompt, roughly, and maxTokens).
        const price = this.#priceOf(chosen);
        const usd = price === undefined ? 0 : (route.context.promptTokens * price.inputPerMillion + (route.estimatedTokens - route.context.promptTokens) * price.outputPerMillion) / 1e6;
        this.ledger.check({ tenant: route.tenant, model: chosen.model, provider: chosen.provider }, { tokens: route.estimatedTokens, usd });
      }
      before += performance.now() - checking;
      return await this.pool.use(
        chosen.poolId,
        async (lease) => {
          const grantedAt = performance.now();
          const meter = this.#meterOf(lease.model);
          const ticket = meter?.begin();
          let memoryGbSeconds = 0;
          let out: GenerationResult | Float32Array[];
          const working = performance.now();
          let worked = working;
          try {
            out = await work(lease);
            worked = performance.now();
          } finally {
            if (meter !== undefined && ticket !== undefined) memoryGbSeconds = meter.end(ticket);
            // Set while the lease is held: the model's clock starts with it when the lease is released.
            if (route.keepAliveMs !== undefined && !this.pool.disposed) this.pool.setKeepAlive(chosen.poolId, route.keepAliveMs === 'default' ? undefined : route.keepAliveMs);
          }
          // What really ran: the pool may still hold an earlier default version under the model id.
          const version = lease.version ?? chosen.version;
          const embeddings = Array.isArray(out) ? out : undefined;
          const r = embeddings === undefined ? (out as GenerationResult) : undefined;
          const endedAt = performance.now();
          // Figures measured here (finite, ≥ 0): priced without being checked again.
          const usage = {
            provider: lease.model.local ? ('local' as const) : ('remote' as const),
            wallMs: endedAt - started,
            queueMs: admittedAt - started + lease.waitedMs + (r?.queuedMs ?? 0),
            ttftMs: r === undefined ? undefined : grantedAt - started + r.timeToFirstTokenMs,
            promptTokens: r?.promptTokens ?? 0,
            cachedPromptTokens: r?.cachedPromptTokens ?? 0,
            generatedTokens: r?.generatedTokens ?? 0,
            cpuMs: r?.cpuMs ?? (endedAt - grantedAt) * (isLocalModel(lease.model) ? lease.model.threads : 0),
            memoryGbSeconds,
          };
          // A remote model without a price in the table is reported at $0 for its tokens (the price table is the user's).
          const cost = priceUsage(usage, this.#rates, usage.provider === 'local' ? undefined : (this.#priceOf(chosen) ?? FREE));
          this.#recorder.record(route, chosen, version, cost, true, r);
          const overheadMs = before + (working - grantedAt) + (performance.now() - worked);
          const routed: Routed = { model: chosen.model, version, cost, selection: chosen.selection, overheadMs };
          if (embeddings !== undefined) return { embeddings, ...routed } as unknown as FrontDoorResult;
          // The model's result object is this request's own: extended in place rather than copied.
          return Object.assign(r!, routed);
        },
        route.priority === undefined && route.timeoutMs === undefined && signal === undefined ? undefined : { priority: route.priority, timeoutMs: route.timeoutMs, signal },
      );
    } catch (error) {
      if (modelsFault(error)) this.#recorder.record(route, chosen, chosen.version, undefined, false, undefined, performance.now() - started, error);
      // The caller's own errors (an abort, a full queue, a budget) teach the history nothing, but listeners see them.
      else this.#recorder.notify(route, chosen, chosen.version, error);
      throw error;
    }
  }

  /** A remote model's token prices: by its provider and own name, else by 'remote' and its registry id. */
  #priceOf(pick: Pick): TokenPrice | undefined {
    if (this.#prices === undefined || pick.provider === 'local' || pick.provider === 'onnx') return undefined;
    return this.#prices.price(pick.provider, pick.remoteModel ?? pick.model) ?? this.#prices.price('remote', pick.model);
  }

  #meterOf(model: ModelHandle): MemoryMeter | undefined {
    if (!isLocalModel(model)) return undefined;
    let meter = this.#meters.get(model);
    if (meter === undefined) {
      meter = new MemoryMeter(model.memory.total);
      this.#meters.set(model, meter);
    }
    return meter;
  }
}

