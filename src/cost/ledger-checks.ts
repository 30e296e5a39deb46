import { ModelpoolError, invalidArgument } from '../errors.js';
import { finiteNumber, integer, nonEmptyString, optionalNumber, plainObject } from '../validate.js';
import type { Budget, BudgetScope, CostKey, RequestCost, RequestedSpend } from './types.js';

/** Longest tenant or budget name (characters), as telemetry's tenants. */
export const NAME_MAX_LENGTH = 200;
const MAX = Number.MAX_VALUE;

const KEY_FIELDS = ['model', 'version', 'task', 'tenant', 'provider'] as const;
const SCOPE_FIELDS = ['tenant', 'model', 'provider'] as const;
/** Figures of a cost the ledger sums; each must be a finite number ≥ 0. */
const COST_FIGURES = ['cpuCoreSeconds', 'memoryGbSeconds', 'gpuSeconds', 'energyKwh', 'usd'] as const;
const COST_COUNTS = ['promptTokens', 'cachedPromptTokens', 'generatedTokens'] as const;

/** Checks a ledger key: model and task non-empty; version, tenant and provider optional, non-empty. */
export function validateCostKey(value: unknown, field = 'key'): CostKey {
  const key = plainObject(field, value);
  const checked: CostKey = {
    model: nonEmptyString(`${field}.model`, key.model),
    task: nonEmptyString(`${field}.task`, key.task),
  };
  if (key.version !== undefined) checked.version = nonEmptyString(`${field}.version`, key.version);
  if (key.tenant !== undefined) checked.tenant = nonEmptyString(`${field}.tenant`, key.tenant, NAME_MAX_LENGTH);
  if (key.provider !== undefined) checked.provider = nonEmptyString(`${field}.provider`, key.provider);
  return checked;
}

/** Checks a totals filter: any of the key's fields, each a non-empty string; other fields are refused. */
export function validateFilter(value: unknown, field = 'filter'): Partial<CostKey> {
  const filter = plainObject(field, value);
  for (const name of Object.keys(filter)) {
    if (!(KEY_FIELDS as readonly string[]).includes(name)) throw invalidArgument(`${field}.${name}`, `one of ${KEY_FIELDS.join(', ')}`, name);
  }
  const checked: Partial<CostKey> = {};
  for (const name of KEY_FIELDS) {
    if (filter[name] !== undefined) checked[name] = nonEmptyString(`${field}.${name}`, filter[name]);
  }
  return checked;
}

/** Checks the figures of a request cost the ledger sums (token counts integers ≥ 0, the rest finite ≥ 0). */
export function validateRequestCost(value: unknown, field = 'cost'): RequestCost {
  const cost = plainObject(field, value);
  for (const name of COST_COUNTS) integer(`${field}.${name}`, cost[name], 0);
  for (const name of COST_FIGURES) finiteNumber(`${field}.${name}`, cost[name], 0, MAX);
  return value as RequestCost;
}

/** Checks a budget scope: `tenant`, `model`, `provider`, each optional and non-empty. */
export function validateScope(value: unknown, field: string): BudgetScope {
  const scope = plainObject(field, value);
  const checked: BudgetScope = {};
  for (const name of Object.keys(scope)) {
    if (!(SCOPE_FIELDS as readonly string[]).includes(name)) {
      throw new ModelpoolError('INVALID_ARGUMENT', `Unknown scope field ${field}.${name} (known: ${SCOPE_FIELDS.join(', ')})`, {
        field: `${field}.${name}`,
        value: scope[name],
      });
    }
  }
  for (const name of SCOPE_FIELDS) {
    if (scope[name] !== undefined) checked[name] = nonEmptyString(`${field}.${name}`, scope[name], NAME_MAX_LENGTH);
  }
  return checked;
}

/** Checks a budget: a name, a scope, a window within the retention, and at least one limit. */
export function validateBudget(value: unknown, retentionMs: number, bucketMs: number): Budget {
  const budget = plainObject('budget', value);
  const checked: Budget = {
    name: nonEmptyString('budget.name', budget.name, NAME_MAX_LENGTH),
    scope: validateScope(budget.scope ?? {}, 'budget.scope'),
    windowMs: finiteNumber('budget.windowMs', budget.windowMs, bucketMs, retentionMs),
  };
  const maxTokens = optionalNumber('budget.maxTokens', budget.maxTokens, 0, MAX);
  const maxUsd = optionalNumber('budget.maxUsd', budget.maxUsd, 0, MAX);
  if (maxTokens === undefined && maxUsd === undefined) throw invalidArgument('budget.maxTokens', 'a limit (maxTokens or maxUsd, or both)', undefined);
  if (maxTokens !== undefined) checked.maxTokens = maxTokens;
  if (maxUsd !== undefined) checked.maxUsd = maxUsd;
  return checked;
}

/** Checks what a request is about to spend: `tokens` and `usd`, finite numbers ≥ 0 (default 0). */
export function validateRequested(value: unknown, field = 'requested'): Required<RequestedSpend> {
  const requested = plainObject(field, value);
  return {
    tokens: optionalNumber(`${field}.tokens`, requested.tokens, 0, MAX) ?? 0,
    usd: optionalNumber(`${field}.usd`, requested.usd, 0, MAX) ?? 0,
  };
}

/** Whether every field `scope` names equals the same field of `of`. */
export function scopeMatches(scope: BudgetScope, of: BudgetScope): boolean {
  for (const name of SCOPE_FIELDS) if (scope[name] !== undefined && scope[name] !== of[name]) return false;
  return true;
}

/** Whether every field `filter` names equals the same field of `key`. */
export function filterMatches(filter: Partial<CostKey>, key: CostKey): boolean {
  for (const name of KEY_FIELDS) if (filter[name] !== undefined && filter[name] !== key[name]) return false;
  return true;
}
