/** Numeric grader: the first number in the output against `expected`, within an absolute or relative tolerance. */
import { finiteNumber, onlyKnownKeys, optionalNumber } from '../../validate.js';
import type { Grader, NumericGraderSpec } from '../types.js';
import { verdict } from './text.js';

/**
 * A decimal number: optional sign, digits with optional thousands separators ("1,234"), an optional
 * fraction and exponent; or a bare fraction (".5"). A trailing full stop ("is 3.") is not a fraction.
 */
const NUMBER = /[-+]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?/;

/** The first number in a text, or undefined. */
export function firstNumber(text: string): number | undefined {
  const match = NUMBER.exec(text);
  return match ? Number(match[0].replace(/,/g, '')) : undefined;
}

export function numericGrader(spec: Record<string, unknown>, field: string): Grader {
  onlyKnownKeys(field, spec, ['type', 'expected', 'tolerance', 'relativeTolerance']);
  const expected = finiteNumber(`${field}.expected`, spec.expected, -Number.MAX_VALUE, Number.MAX_VALUE);
  const tolerance = optionalNumber(`${field}.tolerance`, spec.tolerance, 0, Number.MAX_VALUE) ?? 0;
  const relative = optionalNumber(`${field}.relativeTolerance`, spec.relativeTolerance, 0, Number.MAX_VALUE) ?? 0;
  // Either tolerance suffices: the wider of the two applies.
  const allowed = Math.max(tolerance, relative * Math.abs(expected));
  return {
    spec: spec as unknown as NumericGraderSpec,
    grade: (output) => {
      const found = firstNumber(output);
      if (found === undefined) return { score: 0, pass: false, detail: 'no number in the output' };
      return verdict(Math.abs(found - expected) <= allowed, () => `expected ${expected} ± ${allowed}, got ${found}`);
    },
  };
}
