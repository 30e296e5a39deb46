/**
 * The selector's random numbers: a seeded xoshiro128** generator (32-bit state words, so plain
 * JavaScript integer arithmetic). Each selection takes one 32-bit seed from it; the draws of its
 * candidates are hashes of that seed and their index (quantiles.ts), so any candidate's draw can be
 * recomputed later for the explanation without storing it.
 */

/** splitmix32: spreads one seed over the four state words (a bijection of distinct states: never all zero). */
function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
}

/** A seeded generator of 32-bit words. Its whole state is four 32-bit words. */
export class Random {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;

  constructor(seed: number) {
    this.reseed(seed);
  }

  /** Restarts the sequence from a seed (any number; its low 32 bits after truncation are used). */
  reseed(seed: number): void {
    const next = splitmix32(Math.trunc(seed));
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** The four state words, to persist the sequence. */
  get state(): [number, number, number, number] {
    return [this.#s0, this.#s1, this.#s2, this.#s3];
  }

  set state(words: readonly number[]) {
    this.#s0 = words[0]! | 0;
    this.#s1 = words[1]! | 0;
    this.#s2 = words[2]! | 0;
    this.#s3 = words[3]! | 0;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The next 32 random bits as a signed integer (xoshiro128**). */
  int32(): number {
    const s1 = this.#s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result | 0;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
