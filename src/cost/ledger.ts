import { ModelpoolError, invalidArgument } from '../errors.js';
import { finiteNumber, nonEmptyString, plainObject } from '../validate.js';
import { BucketSeries, emptyTotals } from './buckets.js';
import {
  filterMatches,
  scopeMatches,
  validateBudget,
  validateCostKey,
  validateFilter,
  validateRequestCost,
  validateRequested,
  validateScope,
} from './ledger-checks.js';
import type {
  Budget,
  BudgetScope,
  BudgetStatus,
  CostKey,
  CostLedgerOptions,
  CostRecord,
  CostTotals,
  RequestCost,
  RequestedSpend,
} from './types.js';

const DEFAULT_BUCKET_MS = 60_000;
const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Buckets a ledger may keep per series, whatever the options: bounds memory. */
const MAX_BUCKETS = 100_000;

interface Series {
  key: CostKey;
  buckets: BucketSeries;
}

interface BudgetState {
  budget: Budget;
  /** The records its scope matches, bucketed like the ledger. */
  buckets: BucketSeries;
}

type CostListener = (record: CostRecord) => void;

const NUL = '\u0000';

/** Whether two keys name the same series. */
function sameKey(a: CostKey, b: CostKey): boolean {
  return a.model === b.model && a.task === b.task && a.version === b.version && a.tenant === b.tenant && a.provider === b.provider;
}

/**
 * The id of a key's series: its fields joined by NUL (built once per record, so not JSON), or — when a
 * field holds a NUL itself, which would make the joined form ambiguous — their JSON.
 */
function seriesId(key: CostKey): string {
  const { model, version, task, tenant, provider } = key;
  if (model.includes(NUL) || task.includes(NUL) || version?.includes(NUL) === true || tenant?.includes(NUL) === true || provider?.includes(NUL) === true) {
    return JSON.stringify([model, version ?? null, task, tenant ?? null, provider ?? null]);
  }
  // A field left out is '' (fields are non-empty); the JSON form starts with '[', this one with NUL.
  return NUL + model + NUL + (version ?? '') + NUL + task + NUL + (tenant ?? '') + NUL + (provider ?? '');
}

/**
 * Costs of requests over time, by (model, version, task, tenant, provider): windowed totals and token
 * or dollar budgets. Records are summed into time buckets (default one minute) kept for the retention
 * (default 24 h), so memory is bounded by keys × buckets, never by the number of requests. A window is
 * counted in whole buckets: it covers at least `windowMs` and at most `windowMs + bucketMs`.
 */
export class CostLedger {
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly #now: () => number;
  readonly #series = new Map<string, Series>();
  readonly #budgets = new Map<string, BudgetState>();
  readonly #listeners = new Set<CostListener>();
  /** The series recorded into last (forgotten when series are pruned). */
  #last: Series | undefined;
  /** Buckets below this index are gone. */
  #keptFrom = -Infinity;

  /** Throws INVALID_ARGUMENT naming `options.bucketMs`, `options.retentionMs` or `options.now`. */
  constructor(options: CostLedgerOptions = {}) {
    plainObject('options', options);
    this.bucketMs = finiteNumber('options.bucketMs', options.bucketMs ?? DEFAULT_BUCKET_MS, 1, Number.MAX_SAFE_INTEGER);
    this.retentionMs = finiteNumber(
      'options.retentionMs',
      options.retentionMs ?? DEFAULT_RETENTION_MS,
      this.bucketMs,
      this.bucketMs * MAX_BUCKETS,
    );
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw invalidArgument('options.now', 'a function returning epoch milliseconds', now);
    this.#now = now;
  }

  /**
   * Records one request's cost under `key` at `at` (epoch ms, default now, never later than now); a
   * record older than the retention counts in no window. Calls the `'cost'` listeners. Throws INVALID_ARGUMENT naming `key.*`,
   * `cost.*` or `at`.
   */
  record(key: CostKey, cost: RequestCost, at?: number): void {
    const checkedKey = validateCostKey(key);
    validateRequestCost(cost);
    const now = this.#time();
    // A record in the future would count in every window from now on.
    this.#add(checkedKey, cost, at === undefined ? now : finiteNumber('at', at, 0, now), now);
  }

  /**
   * record() now, of a key and a cost already checked (a key of non-empty strings; a cost as costOf or
   * priceUsage computes it): for a caller recording what it measured itself, once per request.
   */
  recordChecked(key: CostKey, cost: RequestCost): void {
    const now = this.#time();
    this.#add(key, cost, now, now);
  }

  /** Adds a record at `time`, the clock reading `now`. */
  #add(checkedKey: CostKey, cost: RequestCost, time: number, now: number): void {
    this.#pruneAt(now);
    const bucket = Math.floor(time / this.bucketMs);
    if (bucket >= this.#keptFrom) {
      // The series used last: records of one key in a row build no id.
      let series = this.#last;
      if (series === undefined || !sameKey(series.key, checkedKey)) {
        const id = seriesId(checkedKey);
        series = this.#series.get(id);
        if (series === undefined) this.#series.set(id, (series = { key: { ...checkedKey }, buckets: new BucketSeries() }));
        this.#last = series;
      }
      series.buckets.add(bucket, cost);
      if (this.#budgets.size > 0) {
        for (const state of this.#budgets.values()) {
          if (scopeMatches(state.budget.scope, checkedKey)) state.buckets.add(bucket, cost);
        }
      }
    }
    if (this.#listeners.size > 0) this.#emit({ key: { ...checkedKey }, cost, at: time });
  }

  /**
   * Sums of the records matching `filter` (every field it names must equal the key's) over the last
   * `windowMs` (default: the retention; at most the retention). Throws INVALID_ARGUMENT naming
   * `filter.*` or `windowMs`.
   */
  totals(filter: Partial<CostKey> = {}, windowMs?: number): CostTotals {
    const checked = validateFilter(filter);
    const window = windowMs === undefined ? this.retentionMs : finiteNumber('windowMs', windowMs, 0, this.retentionMs);
    this.#prune();
    const totals = emptyTotals();
    const from = this.#windowStart(window);
    for (const series of this.#series.values()) {
      if (filterMatches(checked, series.key)) series.buckets.sumInto(totals, from);
    }
    return totals;
  }

  /**
   * Adds a budget: at most `maxTokens` (prompt + generated) and/or `maxUsd` over `windowMs` for the
   * requests its scope matches. Records already in the ledger count. Throws INVALID_ARGUMENT naming
   * `budget.*` (windowMs must lie between bucketMs and the retention), ALREADY_EXISTS naming
   * `budget.name` for a name in use.
   */
  addBudget(budget: Budget): void {
    const checked = validateBudget(budget, this.retentionMs, this.bucketMs);
    if (this.#budgets.has(checked.name)) {
      throw new ModelpoolError('ALREADY_EXISTS', `A budget named "${checked.name}" already exists`, { field: 'budget.name', value: checked.name });
    }
    this.#prune();
    const buckets = new BucketSeries();
    for (const series of this.#series.values()) if (scopeMatches(checked.scope, series.key)) buckets.merge(series.buckets);
    this.#budgets.set(checked.name, { budget: checked, buckets });
  }

  /** Removes a budget; false when there is none of that name. */
  removeBudget(name: string): boolean {
    return this.#budgets.delete(nonEmptyString('name', name));
  }

  /** How many budgets there are (a caller may skip `check` when there are none). */
  get budgetCount(): number {
    return this.#budgets.size;
  }

  /** Budgets in the order they were added, with what their windows hold now. */
  budgets(): BudgetStatus[] {
    this.#prune();
    return [...this.#budgets.values()].map(({ budget, buckets }) => {
      const used = emptyTotals();
      buckets.sumInto(used, this.#windowStart(budget.windowMs));
      return { ...budget, scope: { ...budget.scope }, usedTokens: used.promptTokens + used.generatedTokens, usedUsd: used.usd };
    });
  }

  /**
   * Throws BUDGET_EXCEEDED (field `'budget'`, value the budget's name, details `{ budget, window, limit,
   * used, requested, unit }`) when a budget whose scope matches `scope` would go over its limit with
   * `requested` added — the first such budget, in the order they were added. A budget matches when
   * every field its scope names equals the same field of `scope`. Throws INVALID_ARGUMENT naming
   * `scope.*` or `requested.*`.
   */
  check(scope: BudgetScope, requested: RequestedSpend): void {
    const checkedScope = validateScope(scope, 'scope');
    const spend = validateRequested(requested);
    this.#prune();
    for (const { budget, buckets } of this.#budgets.values()) {
      if (!scopeMatches(budget.scope, checkedScope)) continue;
      const used = emptyTotals();
      buckets.sumInto(used, this.#windowStart(budget.windowMs));
      const tokens = used.promptTokens + used.generatedTokens;
      if (budget.maxTokens !== undefined && exceeds(tokens + spend.tokens, budget.maxTokens)) {
        throw exceeded(budget, 'tokens', budget.maxTokens, tokens, spend.tokens);
      }
      if (budget.maxUsd !== undefined && exceeds(used.usd + spend.usd, budget.maxUsd)) {
        throw exceeded(budget, 'usd', budget.maxUsd, used.usd, spend.usd);
      }
    }
  }

  /** Calls `listener` with each record (synchronously; a listener that throws is reported as a process warning). Returns the function that removes it. */
  on(event: 'cost', listener: (record: CostRecord) => void): () => void {
    if (event !== 'cost') throw invalidArgument('event', "'cost'", event);
    if (typeof listener !== 'function') throw invalidArgument('listener', 'a function', listener);
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(record: CostRecord): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(record);
      } catch (error) {
        process.emitWarning(`modelpool: a cost listener threw: ${String(error)}`);
      }
    }
  }

  #time(): number {
    const time = this.#now();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of epoch milliseconds', time);
    return time;
  }

  /** The first bucket of a window ending now. */
  #windowStart(windowMs: number): number {
    return Math.floor((this.#time() - windowMs) / this.bucketMs);
  }

  /** Drops buckets past the retention, at most once per bucket of time. */
  #prune(): void {
    this.#pruneAt(this.#time());
  }

  /** Drops the buckets older than the retention at `now`. */
  #pruneAt(now: number): void {
    const keepFrom = Math.floor((now - this.retentionMs) / this.bucketMs);
    if (keepFrom <= this.#keptFrom) return;
    this.#keptFrom = keepFrom;
    for (const [id, series] of this.#series) {
      series.buckets.prune(keepFrom);
      if (series.buckets.size === 0) this.#series.delete(id);
    }
    this.#last = undefined;
    for (const state of this.#budgets.values()) state.buckets.prune(keepFrom);
  }
}

/** Over the limit, allowing for the rounding of sums of floating-point dollars. */
function exceeds(total: number, limit: number): boolean {
  return total > limit + Math.abs(limit) * 1e-12;
}

function exceeded(budget: Budget, unit: 'tokens' | 'usd', limit: number, used: number, requested: number): ModelpoolError {
  const figure = (value: number) => (unit === 'usd' ? `$${value}` : `${value} tokens`);
  return new ModelpoolError(
    'BUDGET_EXCEEDED',
    `Budget "${budget.name}" would be exceeded: ${figure(used)} used + ${figure(requested)} requested > ${figure(limit)} per ${budget.windowMs} ms`,
    { field: 'budget', value: budget.name, details: { budget: budget.name, window: budget.windowMs, limit, used, requested, unit } },
  );
}
