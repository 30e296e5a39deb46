import { describe, expect, it } from 'vitest';
import { compileGrader, firstNumber, grade, rougeL, tokenF1, words } from '../../src/eval/index.js';
import type { GraderSpec } from '../../src/eval/index.js';
import { expectCode } from '../helpers/expect.js';

describe('grade: exact', () => {
  it('passes on the expected text, trimmed and case-sensitive by default', () => {
    expect(grade({ type: 'exact', expected: 'Paris' }, '  Paris\n')).toEqual({ score: 1, pass: true });
    const miss = grade({ type: 'exact', expected: 'Paris' }, 'paris');
    expect(miss).toMatchObject({ score: 0, pass: false });
    expect(miss.detail).toContain('"paris"');
  });

  it('honours caseSensitive: false and trim: false', () => {
    expect(grade({ type: 'exact', expected: 'Paris', caseSensitive: false }, 'PARIS').pass).toBe(true);
    expect(grade({ type: 'exact', expected: 'Paris', trim: false }, ' Paris').pass).toBe(false);
    expect(grade({ type: 'exact', expected: ' Paris', trim: false }, ' Paris').pass).toBe(true);
  });
});

describe('grade: regex', () => {
  it('passes when the output contains a match, with flags', () => {
    expect(grade({ type: 'regex', pattern: '\\b4\\b' }, 'The answer is 4.').pass).toBe(true);
    expect(grade({ type: 'regex', pattern: '^yes$', flags: 'im' }, 'Well\nYES\n').pass).toBe(true);
    const miss = grade({ type: 'regex', pattern: '^yes$' }, 'no');
    expect(miss).toMatchObject({ score: 0, pass: false, detail: 'no match of /^yes$/' });
  });

  it('is stateless under the g flag: the same output grades the same every time', () => {
    const grader = compileGrader({ type: 'regex', pattern: 'cat', flags: 'g' });
    expect([1, 2, 3].map(() => grader.grade('a cat').pass)).toEqual([true, true, true]);
  });

  it('rejects a bad pattern or bad flags, naming the field', async () => {
    await expectCode(() => compileGrader({ type: 'regex', pattern: '(' }), 'INVALID_ARGUMENT', 'grader.pattern');
    await expectCode(() => compileGrader({ type: 'regex', pattern: 'a', flags: 'q' }), 'INVALID_ARGUMENT', 'grader.flags');
    await expectCode(() => compileGrader({ type: 'regex', pattern: 'a', flags: 'gg' }), 'INVALID_ARGUMENT', 'grader.flags');
    await expectCode(() => compileGrader({ type: 'regex', pattern: '' }), 'INVALID_ARGUMENT', 'grader.pattern');
  });
});

describe('grade: json-schema', () => {
  const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } }, required: ['name', 'age'] };

  it('passes valid JSON that the schema accepts, also inside one fenced block', () => {
    expect(grade({ type: 'json-schema', schema }, '{"name":"Ann","age":3}')).toEqual({ score: 1, pass: true });
    expect(grade({ type: 'json-schema', schema }, '```json\n{"name":"Ann","age":3}\n```').pass).toBe(true);
  });

  it('fails output that is not JSON, or JSON the schema rejects, saying why', () => {
    const notJson = grade({ type: 'json-schema', schema }, '{"name": "Ann",');
    expect(notJson).toMatchObject({ score: 0, pass: false });
    expect(notJson.detail).toMatch(/^not JSON/);
    const invalid = grade({ type: 'json-schema', schema }, '{"name":"Ann","age":-1}');
    expect(invalid).toMatchObject({ score: 0, pass: false });
    expect(invalid.detail).toContain('age');
    expect(grade({ type: 'json-schema', schema }, '{"name":"Ann"}').detail).toContain('age');
  });

  it('rejects a schema ajv cannot compile (unknown keyword, bad type), naming grader.schema', async () => {
    const e = await expectCode(() => compileGrader({ type: 'json-schema', schema: { type: 'object', requried: ['x'] } }), 'INVALID_ARGUMENT', 'grader.schema');
    expect(e.message).toContain('requried');
    await expectCode(() => compileGrader({ type: 'json-schema', schema: { type: 'nothing' } }), 'INVALID_ARGUMENT', 'grader.schema');
    await expectCode(() => compileGrader({ type: 'json-schema', schema: [] as unknown as Record<string, unknown> }), 'INVALID_ARGUMENT', 'grader.schema');
  });
});

describe('grade: numeric', () => {
  it('reads the first number of the output: sign, separators, fraction, exponent', () => {
    expect(firstNumber('The answer is 42.')).toBe(42);
    expect(firstNumber('about -3.5 degrees, or 7')).toBe(-3.5);
    expect(firstNumber('1,234,567 people')).toBe(1234567);
    expect(firstNumber('.5 of it')).toBe(0.5);
    expect(firstNumber('6.02e23 atoms')).toBe(6.02e23);
    expect(firstNumber('none')).toBeUndefined();
  });

  it('passes within the absolute or the relative tolerance, and only then', () => {
    expect(grade({ type: 'numeric', expected: 42 }, 'It is 42.').pass).toBe(true);
    expect(grade({ type: 'numeric', expected: 42 }, 'It is 43.')).toMatchObject({ score: 0, pass: false, detail: 'expected 42 ± 0, got 43' });
    expect(grade({ type: 'numeric', expected: 3.14, tolerance: 0.01 }, 'pi is 3.141').pass).toBe(true);
    expect(grade({ type: 'numeric', expected: 3.14, tolerance: 0.0001 }, 'pi is 3.141').pass).toBe(false);
    expect(grade({ type: 'numeric', expected: 1000, relativeTolerance: 0.05 }, '1,040').pass).toBe(true);
    expect(grade({ type: 'numeric', expected: 1000, relativeTolerance: 0.05 }, '1,060').pass).toBe(false);
    expect(grade({ type: 'numeric', expected: 1 }, 'no digits here')).toEqual({ score: 0, pass: false, detail: 'no number in the output' });
  });

  it('rejects a non-number expected and negative tolerances', async () => {
    await expectCode(() => compileGrader({ type: 'numeric', expected: '4' as unknown as number }), 'INVALID_ARGUMENT', 'grader.expected');
    await expectCode(() => compileGrader({ type: 'numeric', expected: 4, tolerance: -1 }), 'INVALID_ARGUMENT', 'grader.tolerance');
    await expectCode(() => compileGrader({ type: 'numeric', expected: 4, relativeTolerance: Number.NaN }), 'INVALID_ARGUMENT', 'grader.relativeTolerance');
  });
});

describe('grade: overlap', () => {
  it('token F1 counts shared words with multiplicity, ignoring case and punctuation', () => {
    expect(words('The cat, the HAT!')).toEqual(['the', 'cat', 'the', 'hat']);
    expect(tokenF1(words('the cat sat'), words('The cat sat.'))).toBe(1);
    // 2 shared of 3 candidate words and 4 reference words: P = 2/3, R = 1/2.
    expect(tokenF1(['a', 'b', 'x'], ['a', 'b', 'c', 'd'])).toBeCloseTo((2 * (2 / 3) * 0.5) / (2 / 3 + 0.5), 12);
    expect(tokenF1(['a', 'a'], ['a'])).toBeCloseTo(2 / 3, 12);
    expect(tokenF1([], [])).toBe(1);
    expect(tokenF1(['a'], [])).toBe(0);
  });

  it('ROUGE-L uses the longest common subsequence, so word order matters', () => {
    expect(rougeL(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'])).toBe(1);
    // LCS of "d c b a" and "a b c d" is 1 word; token F1 would say 1.
    expect(rougeL(['d', 'c', 'b', 'a'], ['a', 'b', 'c', 'd'])).toBeCloseTo(0.25, 12);
    expect(tokenF1(['d', 'c', 'b', 'a'], ['a', 'b', 'c', 'd'])).toBe(1);
    // LCS "a c d" (3) of 4 and 5 words.
    expect(rougeL(['a', 'x', 'c', 'd'], ['a', 'b', 'c', 'y', 'd'])).toBeCloseTo((2 * 0.75 * 0.6) / 1.35, 12);
  });

  it('the score is the metric and pass is score >= threshold (default 0.5)', () => {
    const reference = 'the quick brown fox jumps';
    const good = grade({ type: 'overlap', reference }, 'The quick brown fox jumped');
    expect(good.score).toBeCloseTo(0.8, 12);
    expect(good.pass).toBe(true);
    const poor = grade({ type: 'overlap', reference, metric: 'rouge-l' }, 'a fox');
    expect(poor.score).toBeCloseTo((2 * 0.5 * 0.2) / 0.7, 12);
    expect(poor.pass).toBe(false);
    expect(grade({ type: 'overlap', reference, threshold: 0.9 }, 'The quick brown fox jumped').pass).toBe(false);
    expect(poor.detail).toContain('rouge-l');
  });

  it('rejects an unknown metric and a threshold outside [0, 1]', async () => {
    await expectCode(() => compileGrader({ type: 'overlap', reference: 'x', metric: 'bleu' as 'f1' }), 'INVALID_ARGUMENT', 'grader.metric');
    await expectCode(() => compileGrader({ type: 'overlap', reference: 'x', threshold: 2 }), 'INVALID_ARGUMENT', 'grader.threshold');
    await expectCode(() => compileGrader({ type: 'overlap', reference: 3 as unknown as string }), 'INVALID_ARGUMENT', 'grader.reference');
  });
});

describe('compileGrader / grade', () => {
  it('rejects an unknown type, an unknown field and a non-object, naming the field', async () => {
    await expectCode(() => compileGrader({ type: 'fuzzy' } as unknown as GraderSpec), 'INVALID_ARGUMENT', 'grader.type');
    await expectCode(() => compileGrader({ type: 'exact', expected: 'a', caseSensitve: false } as unknown as GraderSpec), 'INVALID_ARGUMENT', 'grader.caseSensitve');
    await expectCode(() => compileGrader(null as unknown as GraderSpec), 'INVALID_ARGUMENT', 'grader');
    await expectCode(() => compileGrader({ type: 'exact' } as unknown as GraderSpec, 'item.grader'), 'INVALID_ARGUMENT', 'item.grader.expected');
    await expectCode(() => grade({ type: 'exact', expected: 'a' }, 3 as unknown as string), 'INVALID_ARGUMENT', 'output');
    await expectCode(() => grade({ type: 'exact', expected: 'a', trim: 'yes' } as unknown as GraderSpec, 'a'), 'INVALID_ARGUMENT', 'spec.trim');
  });

  it('keeps the spec on the compiled grader', () => {
    const spec: GraderSpec = { type: 'numeric', expected: 2 };
    expect(compileGrader(spec).spec).toBe(spec);
  });
});
