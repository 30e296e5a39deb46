/** Types and validation of the rate limiter's limits and requests. */
import { invalidArgument } from '../errors.js';
import { integer, nonEmptyString, onlyKnownKeys, plainObject } from '../validate.js';

/** The fields a limit's scope and a request may name. */
export const RATE_FIELDS = ['key', 'tenant', 'model'] as const;
export type RateField = (typeof RATE_FIELDS)[number];

/** The longest name of a caller, tenant or model (characters). */
const NAME_MAX_LENGTH = 200;

/**
 * Which requests a limit counts. Per field: absent — any value, all counted together; `'*'` — any
 * value, each distinct value counted apart (requests without the field form one more group);
 * any other string — only requests with exactly that value.
 */
export interface RateScope {
  /** A caller key's name (from `CallerKeys.verify`), never the key itself. */
  key?: string;
  tenant?: string;
  model?: string;
}

/** One limit: requests and/or tokens per minute for the requests its scope matches. */
export interface RateLimit {
  /** Shown in errors; default a description of the scope and rates (`"tenant=* 60 rpm"`). */
  name?: string;
  /** Default `{}`: every request, counted together. */
  scope?: RateScope;
  /** Requests per minute (> 0). */
  rpm?: number;
  /** Tokens per minute (> 0); a request's `tokens` count against it. */
  tpm?: number;
  /** Requests that may come at once after a quiet spell (≥ 1; default `rpm`). */
  burst?: number;
  /** Tokens that may come at once after a quiet spell (≥ 1; default `tpm`). */
  tokenBurst?: number;
}

/** A limit with every default filled in. */
export interface CheckedLimit {
  name: string;
  scope: RateScope;
  rpm?: number;
  tpm?: number;
  burst: number;
  tokenBurst: number;
}

/** What a request is, for the limiter: who asks, for which tenant and model, and how many tokens it will use. */
export interface RateRequest {
  /** The caller key's name (never the plaintext key: it shows in errors). */
  key?: string;
  tenant?: string;
  model?: string;
  /** Tokens it will use (an estimate: correct it later with `settle`); default 0. */
  tokens?: number;
}

export interface RateLimiterOptions {
  limits: RateLimit[];
  /** Epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** The most buckets (limit × distinct values) kept; the least recently used goes first (default 10 000). */
  maxBuckets?: number;
}

function positive(field: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value <= 0) {
    throw invalidArgument(field, min > 0 ? `a finite number of at least ${min}` : 'a finite number above 0', value);
  }
  return value;
}

/** Checks limit `index`: known fields only, a scope of non-empty strings, rpm and/or tpm > 0, bursts ≥ 1. */
export function validateLimit(value: unknown, index: number): CheckedLimit {
  const field = `options.limits[${index}]`;
  const limit = plainObject(field, value);
  onlyKnownKeys(field, limit, ['name', 'scope', 'rpm', 'tpm', 'burst', 'tokenBurst']);
  const scope: RateScope = {};
  if (limit.scope !== undefined) {
    const given = plainObject(`${field}.scope`, limit.scope);
    onlyKnownKeys(`${field}.scope`, given, RATE_FIELDS);
    for (const name of RATE_FIELDS) {
      if (given[name] !== undefined) scope[name] = nonEmptyString(`${field}.scope.${name}`, given[name], NAME_MAX_LENGTH);
    }
  }
  const rpm = positive(`${field}.rpm`, limit.rpm, 0);
  const tpm = positive(`${field}.tpm`, limit.tpm, 0);
  if (rpm === undefined && tpm === undefined) throw invalidArgument(`${field}.rpm`, 'a rate (rpm or tpm, or both)', undefined);
  const burst = positive(`${field}.burst`, limit.burst, 1);
  const tokenBurst = positive(`${field}.tokenBurst`, limit.tokenBurst, 1);
  if (burst !== undefined && rpm === undefined) throw invalidArgument(`${field}.burst`, 'no burst without rpm', burst);
  if (tokenBurst !== undefined && tpm === undefined) throw invalidArgument(`${field}.tokenBurst`, 'no tokenBurst without tpm', tokenBurst);
  const checked: CheckedLimit = {
    name: limit.name === undefined ? describeLimit(scope, rpm, tpm) : nonEmptyString(`${field}.name`, limit.name, NAME_MAX_LENGTH),
    scope,
    burst: burst ?? rpm ?? 1,
    tokenBurst: tokenBurst ?? tpm ?? 1,
  };
  if (rpm !== undefined) checked.rpm = rpm;
  if (tpm !== undefined) checked.tpm = tpm;
  return checked;
}

/** "tenant=* model=chat 60 rpm 10000 tpm"; "all 60 rpm" for an empty scope. */
function describeLimit(scope: RateScope, rpm: number | undefined, tpm: number | undefined): string {
  const fields = RATE_FIELDS.filter((name) => scope[name] !== undefined).map((name) => `${name}=${scope[name]!}`);
  const rates = [rpm === undefined ? '' : `${rpm} rpm`, tpm === undefined ? '' : `${tpm} tpm`].filter((part) => part !== '');
  return [fields.length === 0 ? 'all' : fields.join(' '), ...rates].join(' ');
}

/** Checks a request: known fields only, names non-empty, tokens an integer ≥ 0 (default 0). */
export function validateRequest(value: unknown, field = 'request'): Required<Pick<RateRequest, 'tokens'>> & RateRequest {
  const request = plainObject(field, value);
  onlyKnownKeys(field, request, [...RATE_FIELDS, 'tokens']);
  const checked: RateRequest & { tokens: number } = { tokens: request.tokens === undefined ? 0 : integer(`${field}.tokens`, request.tokens, 0) };
  for (const name of RATE_FIELDS) {
    if (request[name] !== undefined) checked[name] = nonEmptyString(`${field}.${name}`, request[name], NAME_MAX_LENGTH);
  }
  return checked;
}
