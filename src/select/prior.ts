/**
 * Cold-start priors: what the selector believes of a candidate it has no measurement of, from its size
 * and weight type alone. Deliberately rough and weakly held (the prior counts for `priorStrength`
 * pseudo-observations, 2 by default) so that every new model gets a fair trial and the data take over
 * after a handful of requests.
 */
import type { Candidate } from './types.js';

/** Quality mean with no figures at all: neutral. */
export const NEUTRAL_QUALITY = 0.5;
/** Typical latency with no figures at all (a remote model of unknown size). */
export const NEUTRAL_LATENCY_MS = 1000;
/** Spread of log latency assumed before any measurement: a factor of e either way is one sigma. */
export const PRIOR_LOG_SIGMA = 1;

/**
 * Bits per weight of a weight type: 'F32' → 32, 'F16'/'BF16' → 16, 'Q8_0' → 8, 'Q4_K_M' → 4,
 * 'IQ2_XXS' → 2, 'TQ1_0' → 1, 'MXFP4' → 4 (a 'MOSTLY_' prefix is ignored). Unknown names → undefined.
 */
export function quantizationBits(name: string | undefined): number | undefined {
  if (name === undefined) return undefined;
  const type = name.toUpperCase().replace(/^MOSTLY_/, '');
  if (type === 'F64') return 64;
  if (type === 'F32') return 32;
  if (type === 'F16' || type === 'BF16') return 16;
  const match = /^(?:I?Q|TQ|MXFP|NVFP)(\d)/.exec(type);
  return match === null ? undefined : Number(match[1]);
}

/** Weight bytes: the candidate's memory figure, else parameters × bits / 8 (bits default 16). */
export function estimatedBytes(candidate: Candidate): number | undefined {
  if (candidate.memoryBytes !== undefined) return candidate.memoryBytes;
  if (candidate.parameterCount === undefined) return undefined;
  return (candidate.parameterCount * (quantizationBits(candidate.quantization) ?? 16)) / 8;
}

/**
 * Prior quality mean, in (0.1, 0.9):
 *
 *   s = 0.35 · ln(P / 1e9) − 0.02 · max(0, 8 − bits)²      q = 0.1 + 0.8 / (1 + e^(−s))
 *
 * P is the parameter count (or memoryBytes · 8 / bits when only the memory is known), bits the weight
 * type's bits (16 when unknown). So 1B at F16 → 0.50, 7B at F16 → 0.63, 7B at Q4 → 0.57, 70B → 0.75,
 * a 260K toy → 0.14: bigger and less quantised is better, 8 bits and up cost nothing, 4 bits cost a
 * little, 2 bits a lot. Undefined when neither count nor memory is known.
 */
export function priorQuality(candidate: Candidate): number | undefined {
  const bits = quantizationBits(candidate.quantization) ?? 16;
  const parameters = candidate.parameterCount ?? (candidate.memoryBytes === undefined ? undefined : (candidate.memoryBytes * 8) / bits);
  if (parameters === undefined || parameters <= 0) return undefined;
  const penalty = 0.02 * Math.max(0, 8 - bits) ** 2;
  const s = 0.35 * Math.log(parameters / 1e9) - penalty;
  return 0.1 + 0.8 / (1 + Math.exp(-s));
}

/**
 * Prior typical (median) latency of one request in ms: 100 + 2000 · GB of weights. Decoding is bound
 * by memory bandwidth, so time grows with the bytes read per token: a 260K toy → 100 ms, 1B at F16 →
 * 4.1 s, 7B at Q4 → 7.9 s on a CPU. Undefined when neither memory nor parameter count is known.
 */
export function priorLatencyMs(candidate: Candidate): number | undefined {
  const bytes = estimatedBytes(candidate);
  return bytes === undefined ? undefined : 100 + (2000 * bytes) / 1e9;
}
