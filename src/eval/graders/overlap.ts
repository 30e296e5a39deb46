/** Overlap grader: word-level F1 (SQuAD's, without its English article removal) or ROUGE-L F1 against a reference. */
import { invalidArgument } from '../../errors.js';
import { onlyKnownKeys, optionalNumber, optionalString, string } from '../../validate.js';
import type { Grader, OverlapGraderSpec } from '../types.js';

/** Lower-cased runs of letters and digits (any script): punctuation and spacing never count. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The harmonic mean of precision and recall; both texts empty count as a perfect match. */
function f1(common: number, candidate: number, reference: number): number {
  if (candidate === 0 && reference === 0) return 1;
  if (common === 0) return 0;
  const precision = common / candidate;
  const recall = common / reference;
  return (2 * precision * recall) / (precision + recall);
}

/** Token F1: the words both texts share, counted with multiplicity. */
export function tokenF1(candidate: readonly string[], reference: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const w of reference) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of candidate) {
    const left = counts.get(w) ?? 0;
    if (left > 0) {
      common++;
      counts.set(w, left - 1);
    }
  }
  return f1(common, candidate.length, reference.length);
}

/** Length of the longest common subsequence (one row of the dynamic programme at a time). */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Uint32Array(b.length + 1);
  let current = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** ROUGE-L F1 (as Google's rouge-score computes it: LCS precision and recall, beta 1). */
export function rougeL(candidate: readonly string[], reference: readonly string[]): number {
  return f1(lcsLength(candidate, reference), candidate.length, reference.length);
}

export function overlapGrader(spec: Record<string, unknown>, field: string): Grader {
  onlyKnownKeys(field, spec, ['type', 'reference', 'metric', 'threshold']);
  const reference = words(string(`${field}.reference`, spec.reference));
  const metric = optionalString(`${field}.metric`, spec.metric) ?? 'f1';
  if (metric !== 'f1' && metric !== 'rouge-l') throw invalidArgument(`${field}.metric`, "'f1' or 'rouge-l'", metric);
  const threshold = optionalNumber(`${field}.threshold`, spec.threshold, 0, 1) ?? 0.5;
  const measure = metric === 'f1' ? tokenF1 : rougeL;
  return {
    spec: spec as unknown as OverlapGraderSpec,
    grade: (output) => {
      const score = measure(words(output), reference);
      return { score, pass: score >= threshold, detail: `${metric} ${score.toFixed(3)} (threshold ${threshold})` };
    },
  };
}
