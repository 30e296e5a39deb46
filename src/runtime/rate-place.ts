/**
 * A front-door request's place in the rate limiter's buckets, from its admission to its settlement:
 * taken for the first model with its estimated tokens, moved when the request fails over to another
 * model, settled to the tokens it used (none when it failed).
 */
import type { RateLimiter, RateRequest } from '../security/index.js';
import type { Route } from './route.js';

export class RatePlace {
  private constructor(
    readonly limiter: RateLimiter,
    /** Where the request counts now (its model changes with failover). */
    public request: RateRequest,
    readonly tokens: number,
  ) {}

  /** Takes the request's place in its caller's, tenant's and model's buckets (RATE_LIMITED when full). */
  static take(limiter: RateLimiter, route: Route, model: string): RatePlace {
    const request: RateRequest = { model, tokens: route.estimatedTokens };
    if (route.caller !== undefined) request.key = route.caller;
    if (route.tenant !== undefined) request.tenant = route.tenant;
    limiter.take(request);
    return new RatePlace(limiter, request, route.estimatedTokens);
  }

  get model(): string | undefined {
    return this.request.model;
  }

  /**
   * Moves the request to `model` in the limits that name a model: takes its place in the new model's
   * buckets and gives the tokens back to the old one's (the request did not run there; it still counts
   * as a request). The ms until the new model's limits admit it when they refuse (it stays where it was).
   */
  moveTo(model: string): number | undefined {
    const moved: RateRequest = { ...this.request, model };
    const decision = this.limiter.check(moved, 'model');
    if (!decision.allowed) return decision.retryAfterMs;
    this.limiter.take(moved, 'model');
    this.limiter.settle(this.request, this.tokens, 0, 'model');
    this.request = moved;
    return undefined;
  }

  /** Corrects the estimate to the tokens the request used (0 for one that failed). */
  settle(used: number): void {
    this.limiter.settle(this.request, this.tokens, used);
  }
}
