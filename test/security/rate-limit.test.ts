import { describe, expect, it } from 'vitest';
import { RateLimiter, type RateLimit } from '../../src/security/index.js';
import { expectCode, seededRandom } from '../helpers/expect.js';

function setup(limits: RateLimit[], maxBuckets?: number) {
  let time = 1_700_000_000_000;
  const limiter = new RateLimiter({ limits, now: () => time, ...(maxBuckets === undefined ? {} : { maxBuckets }) });
  return { limiter, advance: (ms: number) => void (time += ms) };
}

describe('RateLimiter requests per minute', () => {
  it('admits a burst of rpm, then refills continuously', async () => {
    const { limiter, advance } = setup([{ rpm: 60 }]);
    for (let i = 0; i < 60; i++) limiter.take({});
    const decision = limiter.check({});
    expect(decision).toEqual({
      allowed: false,
      retryAfterMs: 1000,
      limit: { name: 'all 60 rpm', scope: {}, bucket: {}, unit: 'requests', perMinute: 60, capacity: 60 },
    });
    const error = await expectCode(() => limiter.take({}), 'RATE_LIMITED', 'limit');
    expect(error.message).toBe('Rate limit "all 60 rpm" exceeded: 60 requests per minute; retry in 1000 ms');
    expect(error.details).toMatchObject({ retryAfterMs: 1000, scope: {}, limit: { name: 'all 60 rpm', unit: 'requests' } });
    advance(999);
    expect(limiter.check({}).allowed).toBe(false);
    expect(limiter.check({})).toMatchObject({ retryAfterMs: 1 });
    advance(1);
    expect(limiter.check({}).allowed).toBe(true);
    limiter.take({});
    expect(limiter.check({}).allowed).toBe(false);
    // Half a minute refills half the bucket: 30 requests.
    advance(30_000);
    for (let i = 0; i < 30; i++) limiter.take({});
    expect(limiter.check({}).allowed).toBe(false);
  });

  it('check consumes nothing', () => {
    const { limiter } = setup([{ rpm: 2 }]);
    for (let i = 0; i < 10; i++) expect(limiter.check({}).allowed).toBe(true);
    expect(limiter.bucketCount).toBe(0);
    limiter.take({});
    limiter.take({});
    expect(limiter.check({}).allowed).toBe(false);
  });

  it('uses burst as the bucket size', () => {
    const { limiter, advance } = setup([{ rpm: 60, burst: 5 }]);
    for (let i = 0; i < 5; i++) limiter.take({});
    expect(limiter.check({})).toMatchObject({ allowed: false, retryAfterMs: 1000, limit: { capacity: 5 } });
    advance(3_600_000); // an hour of quiet still refills only to the burst
    for (let i = 0; i < 5; i++) limiter.take({});
    expect(limiter.check({}).allowed).toBe(false);
  });
});

describe('RateLimiter tokens per minute', () => {
  it('counts tokens and tells when enough will have refilled', () => {
    const { limiter, advance } = setup([{ tpm: 6000 }]);
    limiter.take({ tokens: 5000 });
    expect(limiter.check({ tokens: 1000 }).allowed).toBe(true);
    expect(limiter.check({ tokens: 2000 })).toMatchObject({ allowed: false, retryAfterMs: 10_000, limit: { unit: 'tokens', perMinute: 6000 } });
    advance(10_000);
    limiter.take({ tokens: 2000 });
    expect(limiter.check({ tokens: 1 }).allowed).toBe(false);
    expect(limiter.check({ tokens: 0 }).allowed).toBe(true);
  });

  it('admits a request larger than the bucket once it is full, leaving a debt', () => {
    const { limiter, advance } = setup([{ tpm: 1000 }]);
    limiter.take({ tokens: 5000 }); // full bucket: admitted, level −4000
    expect(limiter.check({ tokens: 1 })).toMatchObject({ allowed: false, retryAfterMs: 240_060 });
    advance(240_060);
    expect(limiter.check({ tokens: 1 }).allowed).toBe(true);
    expect(limiter.check({ tokens: 5000 })).toMatchObject({ allowed: false }); // needs the whole bucket
    advance(60_000);
    expect(limiter.check({ tokens: 5000 }).allowed).toBe(true);
  });

  it('refund and settle correct an estimate', () => {
    const { limiter } = setup([{ tpm: 1000, rpm: 100 }]);
    limiter.take({ tokens: 800 });
    expect(limiter.check({ tokens: 300 }).allowed).toBe(false);
    limiter.settle({}, 800, 500); // used 300 fewer
    expect(limiter.check({ tokens: 500 }).allowed).toBe(true);
    limiter.settle({}, 500, 900); // used 400 more: taken without refusal
    expect(limiter.check({ tokens: 200 }).allowed).toBe(false);
    limiter.refund({}, 5000); // capped at the bucket size
    expect(limiter.check({ tokens: 1000 }).allowed).toBe(true);
    expect(limiter.check({ tokens: 1001 }).allowed).toBe(true); // more than the bucket: needs it full, it is
    limiter.settle({}, 10, 10); // nothing to do
    limiter.refund({}, 0);
  });

  it('a refund to a bucket that is gone does nothing; a settle creates one', () => {
    const { limiter } = setup([{ tpm: 1000 }]);
    limiter.refund({}, 10);
    expect(limiter.bucketCount).toBe(0);
    limiter.settle({}, 0, 900);
    expect(limiter.bucketCount).toBe(1);
    expect(limiter.check({ tokens: 200 }).allowed).toBe(false);
  });

  it('enforces rpm and tpm of one limit together, reporting the longer wait', () => {
    const { limiter } = setup([{ name: 'both', rpm: 1, tpm: 600 }]);
    limiter.take({ tokens: 600 });
    // Requests: 1 per minute → 60 s; tokens: 600 per minute → 60 s for 600, 1 s for 10.
    expect(limiter.check({ tokens: 10 })).toMatchObject({ allowed: false, retryAfterMs: 60_000, limit: { name: 'both', unit: 'requests' } });
  });
});

describe('RateLimiter retryAfterMs', () => {
  it('is exact: refused 1 ms before it, admitted at it (random rates, sizes and waits)', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const rpm = 1 + Math.floor(random() * 600);
      const tpm = 100 + Math.floor(random() * 100_000);
      const { limiter, advance } = setup([{ rpm, tpm, burst: 1 + Math.floor(random() * 5) }]);
      for (let step = 0; step < 20; step++) {
        const request = { tokens: Math.floor(random() * tpm * 0.5) };
        const decision = limiter.check(request);
        if (decision.allowed) {
          limiter.take(request);
          advance(Math.floor(random() * 500));
          continue;
        }
        expect(decision.retryAfterMs).toBeGreaterThanOrEqual(1);
        advance(decision.retryAfterMs - 1);
        expect(limiter.check(request).allowed).toBe(false);
        advance(1);
        expect(limiter.check(request).allowed).toBe(true);
        limiter.take(request);
      }
    }
  });
});

describe('RateLimiter scopes', () => {
  it("gives each tenant its own bucket with '*', and requests without a tenant one more", async () => {
    const { limiter } = setup([{ scope: { tenant: '*' }, rpm: 2 }]);
    limiter.take({ tenant: 'alice' });
    limiter.take({ tenant: 'alice' });
    const error = await expectCode(() => limiter.take({ tenant: 'alice', model: 'm' }), 'RATE_LIMITED');
    expect(error.message).toContain('for tenant "alice"');
    expect(error.details).toMatchObject({ scope: { tenant: 'alice' }, limit: { name: 'tenant=* 2 rpm', scope: { tenant: '*' } } });
    limiter.take({ tenant: 'bob' });
    limiter.take({ tenant: 'bob' });
    limiter.take({});
    limiter.take({ model: 'x' });
    const anonymous = await expectCode(() => limiter.take({}), 'RATE_LIMITED');
    expect(anonymous.message).toContain('for no tenant');
    expect(anonymous.details?.scope).toEqual({ tenant: null });
  });

  it('an absent field counts every value together; a named value counts only itself', () => {
    const { limiter } = setup([
      { name: 'global', rpm: 5 },
      { name: 'alice on chat', scope: { tenant: 'alice', model: 'chat' }, rpm: 1 },
    ]);
    limiter.take({ tenant: 'alice', model: 'chat' });
    expect(limiter.check({ tenant: 'alice', model: 'chat' })).toMatchObject({ allowed: false, limit: { name: 'alice on chat', bucket: { tenant: 'alice', model: 'chat' } } });
    limiter.take({ tenant: 'alice', model: 'embed' });
    limiter.take({ tenant: 'bob', model: 'chat' });
    limiter.take({ key: 'ci' });
    limiter.take({});
    expect(limiter.check({ tenant: 'carol' })).toMatchObject({ allowed: false, limit: { name: 'global' } });
  });

  it('combines wildcards: per key and model', () => {
    const { limiter } = setup([{ scope: { key: '*', model: '*' }, tpm: 100 }]);
    limiter.take({ key: 'k1', model: 'a', tokens: 100 });
    expect(limiter.check({ key: 'k1', model: 'a', tokens: 1 }).allowed).toBe(false);
    expect(limiter.check({ key: 'k1', model: 'b', tokens: 100 }).allowed).toBe(true);
    expect(limiter.check({ key: 'k2', model: 'a', tokens: 100 }).allowed).toBe(true);
    expect(limiter.check({ key: 'k1', model: 'a', tokens: 1 })).toMatchObject({ limit: { bucket: { key: 'k1', model: 'a' } } });
  });

  it("part 'model' concerns only the limits whose scope names a model (a request moving to another model)", () => {
    const { limiter } = setup([
      { name: 'per tenant', scope: { tenant: '*' }, rpm: 10, tpm: 100 },
      { name: 'per model', scope: { model: '*' }, rpm: 1, tpm: 50 },
      { name: 'per tenant and model', scope: { tenant: '*', model: '*' }, tpm: 40 },
    ]);
    limiter.take({ tenant: 't', model: 'a', tokens: 30 });
    // Moving to b: b's model buckets are full, the tenant's (spent 30 of 100) is not touched.
    expect(limiter.check({ tenant: 't', model: 'b', tokens: 30 }, 'model')).toEqual({ allowed: true });
    limiter.take({ tenant: 't', model: 'b', tokens: 30 }, 'model');
    limiter.settle({ tenant: 't', model: 'a', tokens: 30 }, 30, 0, 'model');
    // a's token buckets have their 30 back; its request stays counted (1 rpm: refused).
    expect(limiter.check({ tenant: 't', model: 'a', tokens: 40 }, 'model')).toMatchObject({ allowed: false, limit: { name: 'per model', unit: 'requests' } });
    // b took one request: a second move to b is refused by b's rpm, the tenant's limit is not the reason.
    expect(limiter.check({ tenant: 't', model: 'b' }, 'model')).toMatchObject({ allowed: false, limit: { name: 'per model', bucket: { model: 'b' } } });
    // The tenant was counted once (30 of 100 tokens, 1 of 10 requests): 70 tokens still pass its limit.
    expect(limiter.check({ tenant: 't', tokens: 70 })).toEqual({ allowed: true });
    expect(limiter.check({ tenant: 't', tokens: 71 })).toMatchObject({ allowed: false, limit: { name: 'per tenant' } });
    // Settled over 'all' on the model it ran on: the tenant's and b's buckets.
    limiter.settle({ tenant: 't', model: 'b' }, 30, 10);
    expect(limiter.check({ tenant: 't', tokens: 90 })).toEqual({ allowed: true });
    expect(limiter.check({ tenant: 't', model: 'b', tokens: 40 }, 'model')).toMatchObject({ allowed: false, limit: { name: 'per model', unit: 'requests' } });
    limiter.refund({ tenant: 't', model: 'b' }, 10, 'model');
  });

  it('take is all or nothing across limits', () => {
    const { limiter } = setup([
      { name: 'loose', rpm: 100 },
      { name: 'tight', scope: { tenant: 'alice' }, rpm: 1 },
    ]);
    limiter.take({ tenant: 'alice' });
    expect(() => limiter.take({ tenant: 'alice' })).toThrow(/tight/);
    // The refused request did not consume from "loose": 99 more fit.
    for (let i = 0; i < 99; i++) limiter.take({ tenant: 'bob' });
    expect(limiter.check({ tenant: 'bob' }).allowed).toBe(false);
  });

  it('with no limits everything is admitted', () => {
    const { limiter } = setup([]);
    limiter.take({ tokens: 1e9 });
    expect(limiter.check({}).allowed).toBe(true);
    expect(limiter.limits).toEqual([]);
  });
});

describe('RateLimiter memory', () => {
  it('holds at most maxBuckets, dropping the least recently used', () => {
    const { limiter } = setup([{ scope: { tenant: '*' }, rpm: 1 }], 100);
    for (let i = 0; i < 10_000; i++) limiter.take({ tenant: `tenant-${i}` });
    expect(limiter.bucketCount).toBe(100);
    // The most recent tenants are still limited; the oldest was forgotten (it starts full again).
    expect(limiter.check({ tenant: 'tenant-9999' }).allowed).toBe(false);
    expect(limiter.check({ tenant: 'tenant-0' }).allowed).toBe(true);
  });

  it('sweeps full buckets once they have refilled', () => {
    const { limiter, advance } = setup([{ scope: { tenant: '*' }, rpm: 60, tpm: 6000 }]);
    for (let i = 0; i < 50; i++) limiter.take({ tenant: `t${i}`, tokens: 10 });
    expect(limiter.bucketCount).toBe(50);
    advance(30_000);
    limiter.take({ tenant: 'late', tokens: 6000 });
    advance(59_000);
    limiter.take({ tenant: 'next' }); // sweeps: the 50 refilled, "late" has not
    expect(limiter.bucketCount).toBe(2);
    limiter.reset();
    expect(limiter.bucketCount).toBe(0);
  });

  it('a clock that goes back refills nothing', () => {
    let time = 1_000_000;
    const limiter = new RateLimiter({ limits: [{ rpm: 1 }], now: () => time });
    limiter.take({});
    time -= 500_000;
    expect(limiter.check({}).allowed).toBe(false);
    time += 500_000 + 60_000;
    expect(limiter.check({}).allowed).toBe(true);
  });
});

describe('RateLimiter validation', () => {
  it('refuses bad options naming the field', async () => {
    await expectCode(() => new RateLimiter(null as never), 'INVALID_ARGUMENT', 'options');
    await expectCode(() => new RateLimiter({} as never), 'INVALID_ARGUMENT', 'options.limits');
    await expectCode(() => new RateLimiter({ limits: [5 as never] }), 'INVALID_ARGUMENT', 'options.limits[0]');
    await expectCode(() => new RateLimiter({ limits: [{}] }), 'INVALID_ARGUMENT', 'options.limits[0].rpm');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 0 }] }), 'INVALID_ARGUMENT', 'options.limits[0].rpm');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1 }, { tpm: Number.POSITIVE_INFINITY }] }), 'INVALID_ARGUMENT', 'options.limits[1].tpm');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, burst: 0.5 }] }), 'INVALID_ARGUMENT', 'options.limits[0].burst');
    await expectCode(() => new RateLimiter({ limits: [{ tpm: 1, burst: 2 }] }), 'INVALID_ARGUMENT', 'options.limits[0].burst');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, tokenBurst: 2 }] }), 'INVALID_ARGUMENT', 'options.limits[0].tokenBurst');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, rpd: 5 } as never] }), 'INVALID_ARGUMENT', 'options.limits[0].rpd');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, scope: { user: 'x' } as never }] }), 'INVALID_ARGUMENT', 'options.limits[0].scope.user');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, scope: { tenant: '' } }] }), 'INVALID_ARGUMENT', 'options.limits[0].scope.tenant');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, scope: 'all' as never }] }), 'INVALID_ARGUMENT', 'options.limits[0].scope');
    await expectCode(() => new RateLimiter({ limits: [{ rpm: 1, name: '' }] }), 'INVALID_ARGUMENT', 'options.limits[0].name');
    await expectCode(() => new RateLimiter({ limits: [], now: 3 as never }), 'INVALID_ARGUMENT', 'options.now');
    await expectCode(() => new RateLimiter({ limits: [], maxBuckets: 0 }), 'INVALID_ARGUMENT', 'options.maxBuckets');
  });

  it('refuses bad requests naming the field', async () => {
    const { limiter } = setup([{ rpm: 1, tpm: 10, burst: 1, tokenBurst: 10 }]);
    expect(limiter.limits[0]).toEqual({ name: 'all 1 rpm 10 tpm', scope: {}, rpm: 1, tpm: 10, burst: 1, tokenBurst: 10 });
    await expectCode(() => limiter.check(null as never), 'INVALID_ARGUMENT', 'request');
    await expectCode(() => limiter.check({ tokens: -1 }), 'INVALID_ARGUMENT', 'request.tokens');
    await expectCode(() => limiter.take({ tokens: 1.5 }), 'INVALID_ARGUMENT', 'request.tokens');
    await expectCode(() => limiter.take({ tenant: '' }), 'INVALID_ARGUMENT', 'request.tenant');
    await expectCode(() => limiter.take({ tennant: 'alice' } as never), 'INVALID_ARGUMENT', 'request.tennant');
    await expectCode(() => limiter.refund({}, -5), 'INVALID_ARGUMENT', 'tokens');
    await expectCode(() => limiter.settle({}, 1, -1), 'INVALID_ARGUMENT', 'actual');
    await expectCode(() => limiter.settle({}, Number.NaN, 1), 'INVALID_ARGUMENT', 'estimated');
    await expectCode(() => limiter.check({}, 'models' as never), 'INVALID_ARGUMENT', 'part');
    await expectCode(() => limiter.take({}, null as never), 'INVALID_ARGUMENT', 'part');
    await expectCode(() => limiter.settle({}, 1, 1, 'tenant' as never), 'INVALID_ARGUMENT', 'part');
    await expectCode(() => limiter.refund({}, 1, 'x' as never), 'INVALID_ARGUMENT', 'part');
    const broken = new RateLimiter({ limits: [{ rpm: 1 }], now: () => Number.NaN });
    await expectCode(() => broken.check({}), 'INVALID_ARGUMENT', 'now()');
  });
});
