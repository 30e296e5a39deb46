/** Text graders: exact match and regular expression. */
import { invalidArgument } from '../../errors.js';
import { nonEmptyString, onlyKnownKeys, optionalBoolean, optionalString, string } from '../../validate.js';
import type { ExactGraderSpec, GradeResult, Grader, RegexGraderSpec } from '../types.js';

/** A pass/fail verdict; the failure's detail is only worked out on failure. */
export const verdict = (pass: boolean, detail: () => string): GradeResult => (pass ? { score: 1, pass } : { score: 0, pass, detail: detail() });

const quote = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);

/** Exact match: whole output against `expected`, trimmed (default) and case-sensitive (default). */
export function exactGrader(spec: Record<string, unknown>, field: string): Grader {
  onlyKnownKeys(field, spec, ['type', 'expected', 'caseSensitive', 'trim']);
  const expected = string(`${field}.expected`, spec.expected);
  const caseSensitive = optionalBoolean(`${field}.caseSensitive`, spec.caseSensitive) ?? true;
  const trim = optionalBoolean(`${field}.trim`, spec.trim) ?? true;
  const normalize = (text: string): string => {
    const t = trim ? text.trim() : text;
    return caseSensitive ? t : t.toLowerCase();
  };
  const target = normalize(expected);
  return {
    spec: spec as unknown as ExactGraderSpec,
    grade: (output) => verdict(normalize(output) === target, () => `expected ${quote(target)}, got ${quote(normalize(output))}`),
  };
}

/** Regular expression: pass when the output contains a match. Compiled once; `search` keeps it stateless under 'g'. */
export function regexGrader(spec: Record<string, unknown>, field: string): Grader {
  onlyKnownKeys(field, spec, ['type', 'pattern', 'flags']);
  const pattern = nonEmptyString(`${field}.pattern`, spec.pattern);
  const flags = optionalString(`${field}.flags`, spec.flags);
  if (flags !== undefined && !/^[dgimsuvy]*$/.test(flags)) throw invalidArgument(`${field}.flags`, 'RegExp flags (d, g, i, m, s, u, v, y)', flags);
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, flags);
  } catch (error) {
    const reason = (error as Error).message;
    throw invalidArgument(flags !== undefined && /flag/i.test(reason) ? `${field}.flags` : `${field}.pattern`, `a valid regular expression (${reason})`, flags !== undefined && /flag/i.test(reason) ? flags : pattern);
  }
  return {
    spec: spec as unknown as RegexGraderSpec,
    grade: (output) => verdict(output.search(regex) >= 0, () => `no match of /${pattern}/${flags ?? ''}`),
  };
}
