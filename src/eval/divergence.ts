/**
 * Divergences between two models' next-token distributions given as top-k lists (evaluate()'s `top`).
 *
 * KL(P || Q) over a truncated distribution: the tokens in both lists count one by one, and everything
 * else — the tokens outside either list — is one "rest" bucket holding the remaining mass of each side.
 * That is KL between coarse-grainings of P and Q, which by the data-processing inequality never exceeds
 * the true KL: a lower bound, with no guessed probabilities. When both lists hold the whole vocabulary it
 * is the exact KL (there is no rest).
 */
import type { TopLogprob } from '../model/types.js';

/** One position's distribution: token ids and natural-log probabilities, most likely first. */
export interface PositionDistribution {
  ids: Int32Array;
  logprobs: Float64Array;
}

/** A compact copy of a position's top list (evaluate() gives one object per token). */
export function toDistribution(top: readonly TopLogprob[]): PositionDistribution {
  const ids = new Int32Array(top.length);
  const logprobs = new Float64Array(top.length);
  top.forEach((t, i) => {
    ids[i] = t.id;
    logprobs[i] = t.logprob;
  });
  return { ids, logprobs };
}

/** Mass below this is rounding (float32 log probabilities summed over a vocabulary), not a rest bucket. */
const MIN_MASS = 1e-12;

/**
 * KL(P || Q) in nats, P and Q given as top-k lists of the same position (see the file's comment). With
 * `whole` (both lists are the whole vocabulary) no rest bucket is added: the sum is exact.
 */
export function klDivergence(p: PositionDistribution, q: PositionDistribution, whole = false): number {
  const qLogprob = new Map<number, number>();
  for (let i = 0; i < q.ids.length; i++) qLogprob.set(q.ids[i]!, q.logprobs[i]!);
  let kl = 0;
  let pShared = 0;
  let qShared = 0;
  for (let i = 0; i < p.ids.length; i++) {
    const lq = qLogprob.get(p.ids[i]!);
    if (lq === undefined) continue;
    const lp = p.logprobs[i]!;
    const pp = Math.exp(lp);
    kl += pp * (lp - lq);
    pShared += pp;
    qShared += Math.exp(lq);
  }
  if (!whole) {
    const pRest = 1 - pShared;
    if (pRest > MIN_MASS) kl += pRest * Math.log(pRest / Math.max(1 - qShared, MIN_MASS));
  }
  // KL is never negative; a tiny negative sum is rounding.
  return Math.max(0, kl);
}

/**
 * KL(P || Q) in nats between two top-k lists of one position (evaluate() with topLogprobs): exact when both
 * lists hold `vocabularySize` tokens, else a lower bound (the tokens outside both lists as one bucket).
 */
export function topKlDivergence(p: readonly TopLogprob[], q: readonly TopLogprob[], vocabularySize?: number): number {
  const whole = vocabularySize !== undefined && p.length >= vocabularySize && q.length >= vocabularySize;
  return klDivergence(toDistribution(p), toDistribution(q), whole);
}

/** The q-quantile of values (linear interpolation between order statistics); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}
