/**
 * Posterior draws by table lookup. A selection draws for every eligible candidate, so a draw must cost
 * a few nanoseconds: one 32-bit hash of (the selection's seed, the candidate's index) supplies the
 * random bits; the top 12 index a shared table of 4096 standard-normal quantiles (the latency's draw),
 * the low 16 a position in the posterior's own table of 65 quality quantiles, interpolated linearly
 * (the quality's draw). Gamma-based Beta sampling (Marsaglia–Tsang) costs 60–150 ns a draw on a small
 * VM, past the whole budget of a candidate (50 ns); a table is made once per change of the posterior.
 *
 * The quality table holds the Beta(a, b) posterior's quantiles (beta.ts).
 */

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Bits of a draw's hash that index the latency table (the top 12), and its size. */
export const NORMAL_BITS = 12;
/** Standard-normal quantiles at (j + ½) / 4096: a latency draw is NORMAL_TABLE[hash >>> 20]. */
export const NORMAL_TABLE = new Float64Array(1 << NORMAL_BITS);
for (let j = 0; j < NORMAL_TABLE.length; j++) NORMAL_TABLE[j] = normalQuantile((j + 0.5) / NORMAL_TABLE.length);

/** Intervals of a quality table (65 nodes, at p = k / 64 but for the ends). */
export const TABLE_STEPS = 64;
const TAIL = 1 / 4096;

/**
 * The probability of table node k: k / 64, except that the end nodes stand at 1/4096 and 1 − 1/4096
 * rather than at 0 and 1, so that the first and last intervals follow the tails instead of stretching
 * to the bounds.
 */
export function nodeProbability(k: number): number {
  return k === 0 ? TAIL : k === TABLE_STEPS ? 1 - TAIL : k / TABLE_STEPS;
}

/** Normal quantiles at the table nodes. */
export const NODE_Z = new Float64Array(TABLE_STEPS + 1);
for (let k = 0; k <= TABLE_STEPS; k++) NODE_Z[k] = normalQuantile(nodeProbability(k));

/** The quality draw of `bits` (its low 16) from the quality table at `offset` of `tables`, interpolated between nodes. */
export function tableDraw(tables: Float32Array | Float64Array, offset: number, bits: number): number {
  const at = ((bits & 65535) + 0.5) * (TABLE_STEPS / 65536);
  const k = at | 0;
  const lower = tables[offset + k]!;
  return lower + (at - k) * (tables[offset + k + 1]! - lower);
}

/** The random bits of draw `index` of a selection with seed `seed` (a Weyl step through a short multiply-xorshift mix). */
export function drawBits(seed: number, index: number): number {
  let h = Math.imul(seed ^ Math.imul(index, 0x9e3779b9), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The standard-normal draw of `bits` for the latency (bits other than the quality's). */
export function normalDraw(bits: number): number {
  return NORMAL_TABLE[bits >>> (32 - NORMAL_BITS)]!;
}
