import { ModelpoolError, invalidArgument } from '../errors.js';
import { integer, plainObject } from '../validate.js';
import {
  RATE_FIELDS,
  validateLimit,
  validateRequest,
  type CheckedLimit,
  type RateLimiterOptions,
  type RateRequest,
  type RateScope,
} from './rate-limit-checks.js';

/** The limit a request ran into, as `check` returns it and RATE_LIMITED's details carry it. */
export interface RateLimitHit {
  /** The limit's name (given, or described from its scope and rates). */
  name: string;
  /** The limit's scope as declared (with its `'*'` fields). */
  scope: RateScope;
  /** The group the request counts in: the request's value for each field the scope names (`null` when the request had none). */
  bucket: Partial<Record<keyof RateScope, string | null>>;
  /** Which rate ran out. */
  unit: 'requests' | 'tokens';
  /** The rate: requests or tokens per minute. */
  perMinute: number;
  /** The bucket's size: what may come at once (`burst` or `tokenBurst`). */
  capacity: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number; limit: RateLimitHit };

/**
 * Which limits a call concerns: every matching one (`'all'`, the default), or only those whose scope names
 * `model` (`'model'`: a request already counted that moves to another model, as failover does).
 */
export type RateLimitPart = 'all' | 'model';

function checkPart(part: unknown): RateLimitPart {
  if (part !== 'all' && part !== 'model') throw invalidArgument('part', "'all' or 'model'", part);
  return part;
}

interface Bucket {
  /** The index of its limit. */
  limit: number;
  requests: number;
  tokens: number;
  /** When the levels were last brought up to date (epoch ms). */
  at: number;
}

interface Match {
  index: number;
  limit: CheckedLimit;
  id: string;
  bucket: Partial<Record<keyof RateScope, string | null>>;
}

const DEFAULT_MAX_BUCKETS = 10_000;
/** Full buckets are swept at most this often (clock ms). */
const SWEEP_EVERY_MS = 60_000;
/**
 * Floating-point slack, in ms of refill: a wait shorter than this counts as none, so that after
 * waiting `retryAfterMs` (whole ms, rounded up) on an exact clock the request is admitted.
 */
const EPSILON_MS = 1e-6;

/**
 * Token buckets per limit and per distinct (caller key, tenant, model) value the limit's scope
 * names with `'*'`. Each bucket refills continuously (rate / 60 000 per ms) up to its capacity
 * (`burst`, `tokenBurst`). A request is admitted when every matching bucket holds what it needs — one
 * request, and its tokens or the whole capacity when it asks for more (so a request larger than the
 * bucket goes through once the bucket is full, leaving it in debt) — and `take` then consumes from all
 * of them. Memory is bounded: at most `maxBuckets` buckets, the least recently used dropped first (it
 * starts full again), and full buckets — which hold nothing a new one would not — are swept each minute.
 */
export class RateLimiter {
  readonly #limits: CheckedLimit[];
  readonly #now: () => number;
  readonly #maxBuckets: number;
  /** Insertion order is recency: a bucket used is moved to the end. */
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt = -Infinity;

  /** Throws INVALID_ARGUMENT naming `options.limits[i].*`, `options.now` or `options.maxBuckets`. */
  constructor(options: RateLimiterOptions) {
    plainObject('options', options);
    if (!Array.isArray(options.limits)) throw invalidArgument('options.limits', 'an array of limits', options.limits);
    this.#limits = options.limits.map((limit, index) => validateLimit(limit, index));
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw invalidArgument('options.now', 'a function returning epoch milliseconds', now);
    this.#now = now;
    this.#maxBuckets = options.maxBuckets === undefined ? DEFAULT_MAX_BUCKETS : integer('options.maxBuckets', options.maxBuckets, 1, 10_000_000);
  }

  /** The limits, checked, with defaults filled in (copies). */
  get limits(): CheckedLimit[] {
    return this.#limits.map((limit) => ({ ...limit, scope: { ...limit.scope } }));
  }

  /** Buckets held now (each holds state a fresh one would not, or was used recently). */
  get bucketCount(): number {
    return this.#buckets.size;
  }

  /**
   * Whether `request` would be admitted now, consuming nothing. When not: the limit that holds it back
   * longest and how long until every matching limit would admit it. Throws INVALID_ARGUMENT naming
   * `request.*`.
   */
  check(request: RateRequest, part: RateLimitPart = 'all'): RateDecision {
    const checked = validateRequest(request);
    return this.#decide(checked, this.#time(), checkPart(part));
  }

  /**
   * Admits `request` and consumes one request and its tokens from every matching limit, or consumes
   * nothing and throws RATE_LIMITED (field `'limit'`, value the limit's name, details `{ retryAfterMs,
   * scope, limit }`: the group and the {@link RateLimitHit}). Throws INVALID_ARGUMENT naming `request.*`.
   */
  take(request: RateRequest, part: RateLimitPart = 'all'): void {
    const checked = validateRequest(request);
    const only = checkPart(part);
    const now = this.#time();
    const decision = this.#decide(checked, now, only);
    if (!decision.allowed) {
      const { limit, retryAfterMs } = decision;
      const group = Object.entries(limit.bucket).map(([name, value]) => (value === null ? `no ${name}` : `${name} "${value}"`));
      const per = limit.unit === 'requests' ? `${limit.perMinute} requests per minute` : `${limit.perMinute} tokens per minute`;
      throw new ModelpoolError(
        'RATE_LIMITED',
        `Rate limit "${limit.name}" exceeded${group.length === 0 ? '' : ` for ${group.join(', ')}`}: ${per}; retry in ${retryAfterMs} ms`,
        { field: 'limit', value: limit.name, details: { retryAfterMs, scope: limit.bucket, limit } },
      );
    }
    this.#sweep(now);
    for (const match of this.#matches(checked, only)) {
      const bucket = this.#bucket(match, now, true)!;
      if (match.limit.rpm !== undefined) bucket.requests -= 1;
      if (match.limit.tpm !== undefined) bucket.tokens -= checked.tokens;
    }
  }

  /** Gives `tokens` back to every matching token bucket (up to its capacity): a request used fewer than it took. Throws INVALID_ARGUMENT naming `request.*` or `tokens`. */
  refund(request: RateRequest, tokens: number, part: RateLimitPart = 'all'): void {
    const checked = validateRequest(request);
    this.#adjust(checked, -integer('tokens', tokens, 0), checkPart(part));
  }

  /**
   * Corrects the tokens `take` consumed for `request` from `estimated` to `actual`: takes the
   * difference (without refusing: the request has run, a bucket may go into debt) or gives it back.
   * Throws INVALID_ARGUMENT naming `request.*`, `estimated` or `actual`.
   */
  settle(request: RateRequest, estimated: number, actual: number, part: RateLimitPart = 'all'): void {
    const checked = validateRequest(request);
    this.#adjust(checked, integer('actual', actual, 0) - integer('estimated', estimated, 0), checkPart(part));
  }

  /** Forgets every bucket: every limit starts full. */
  reset(): void {
    this.#buckets.clear();
  }

  #adjust(request: RateRequest, tokens: number, part: RateLimitPart): void {
    if (tokens === 0) return;
    const now = this.#time();
    for (const match of this.#matches(request, part)) {
      if (match.limit.tpm === undefined) continue;
      // A refund to a bucket that is gone would only fill a full bucket: nothing to do.
      const bucket = this.#bucket(match, now, tokens > 0);
      if (bucket !== undefined) bucket.tokens = Math.min(match.limit.tokenBurst, bucket.tokens - tokens);
    }
  }

  #decide(request: RateRequest & { tokens: number }, now: number, part: RateLimitPart): RateDecision {
    let worst: { retryAfterMs: number; limit: RateLimitHit } | undefined;
    const consider = (match: Match, unit: 'requests' | 'tokens', level: number, need: number, perMinute: number, capacity: number): void => {
      // The wait in ms until the bucket holds what the request needs (all of it, when it asks for more).
      const waitMs = (Math.min(need, capacity) - level) / (perMinute / 60_000);
      if (waitMs <= EPSILON_MS) return;
      const retryAfterMs = Math.ceil(waitMs - EPSILON_MS);
      if (worst === undefined || retryAfterMs > worst.retryAfterMs) {
        worst = { retryAfterMs, limit: { name: match.limit.name, scope: { ...match.limit.scope }, bucket: match.bucket, unit, perMinute, capacity } };
      }
    };
    for (const match of this.#matches(request, part)) {
      const { limit } = match;
      const bucket = this.#bucket(match, now, false) ?? { limit: match.index, requests: limit.burst, tokens: limit.tokenBurst, at: now };
      if (limit.rpm !== undefined) consider(match, 'requests', bucket.requests, 1, limit.rpm, limit.burst);
      if (limit.tpm !== undefined) consider(match, 'tokens', bucket.tokens, request.tokens, limit.tpm, limit.tokenBurst);
    }
    return worst === undefined ? { allowed: true } : { allowed: false, ...worst };
  }

  /** The limits (of `part`) whose scope matches `request`, each with the id and the group of its bucket. */
  *#matches(request: RateRequest, part: RateLimitPart): Generator<Match> {
    for (let index = 0; index < this.#limits.length; index++) {
      const limit = this.#limits[index]!;
      if (part === 'model' && limit.scope.model === undefined) continue;
      const bucket: Match['bucket'] = {};
      let matches = true;
      for (const name of RATE_FIELDS) {
        const wanted = limit.scope[name];
        if (wanted === undefined) continue;
        const value = request[name];
        if (wanted === '*') bucket[name] = value ?? null;
        else if (value !== wanted) matches = false;
        else bucket[name] = value;
      }
      if (matches) yield { index, limit, id: JSON.stringify([index, bucket.key, bucket.tenant, bucket.model]), bucket };
    }
  }

  /** The bucket of `match` refilled to `now`; created (full) when `create`, else undefined when there is none. */
  #bucket(match: Match, now: number, create: boolean): Bucket | undefined {
    const { limit, id } = match;
    let bucket = this.#buckets.get(id);
    if (bucket === undefined) {
      if (!create) return undefined;
      while (this.#buckets.size >= this.#maxBuckets) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { limit: match.index, requests: limit.burst, tokens: limit.tokenBurst, at: now };
    } else if (create) {
      this.#buckets.delete(id); // moved to the end: most recently used
    }
    if (create) this.#buckets.set(id, bucket);
    refill(limit, bucket, now);
    return bucket;
  }

  /** Drops every full bucket, at most once per minute of the clock. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_EVERY_MS) return;
    this.#sweptAt = now;
    for (const [id, bucket] of this.#buckets) {
      const limit = this.#limits[bucket.limit]!;
      refill(limit, bucket, now);
      if (bucket.requests >= limit.burst && bucket.tokens >= limit.tokenBurst) this.#buckets.delete(id);
    }
  }

  #time(): number {
    const time = this.#now();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of epoch milliseconds', time);
    return time;
  }
}

/** Brings a bucket's levels up to `now` (a clock that went back refills nothing). */
function refill(limit: CheckedLimit, bucket: Bucket, now: number): void {
  const elapsed = Math.max(0, now - bucket.at);
  if (limit.rpm !== undefined) bucket.requests = Math.min(limit.burst, bucket.requests + (elapsed * limit.rpm) / 60_000);
  if (limit.tpm !== undefined) bucket.tokens = Math.min(limit.tokenBurst, bucket.tokens + (elapsed * limit.tpm) / 60_000);
  bucket.at = Math.max(bucket.at, now);
}
