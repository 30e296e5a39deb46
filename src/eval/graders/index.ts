/** Graders: one compiled checker per item, by the spec's type. */
import { invalidArgument } from '../../errors.js';
import { plainObject } from '../../validate.js';
import type { GradeResult, Grader, GraderSpec } from '../types.js';
import { jsonSchemaGrader, newSchemaCache, type SchemaCache } from './json-schema.js';
import { numericGrader } from './numeric.js';
import { overlapGrader } from './overlap.js';
import { exactGrader, regexGrader } from './text.js';

const TYPES = ['exact', 'regex', 'json-schema', 'numeric', 'overlap'] as const;

/** Context shared by the graders of one suite: one ajv instance, each distinct schema compiled once. */
export interface GraderContext {
  schemas?: SchemaCache;
}

/**
 * Checks a grader spec and compiles it (regular expression, JSON schema) once. Throws INVALID_ARGUMENT
 * naming the field under `field` (default 'grader': 'grader.pattern', 'grader.schema', ...).
 */
export function compileGrader(spec: GraderSpec, field = 'grader'): Grader {
  return compileGraderIn(spec, field, {});
}

/** compileGrader within a suite's context (its schemas compiled by one ajv, each once). */
export function compileGraderIn(spec: GraderSpec, field: string, context: GraderContext): Grader {
  const o = plainObject(field, spec);
  switch (o.type) {
    case 'exact':
      return exactGrader(o, field);
    case 'regex':
      return regexGrader(o, field);
    case 'json-schema':
      return jsonSchemaGrader(o, field, (context.schemas ??= newSchemaCache()));
    case 'numeric':
      return numericGrader(o, field);
    case 'overlap':
      return overlapGrader(o, field);
    default:
      throw invalidArgument(`${field}.type`, `one of ${TYPES.join(', ')}`, o.type);
  }
}

/** Grades one output against a spec (compiling it each call: a suite's graders are compiled once by parseSuite). */
export function grade(spec: GraderSpec, output: string): GradeResult {
  if (typeof output !== 'string') throw invalidArgument('output', 'a string', output);
  return compileGrader(spec, 'spec').grade(output);
}

export { firstNumber } from './numeric.js';
export { rougeL, tokenF1, words } from './overlap.js';
