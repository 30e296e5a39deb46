/** JSON-schema grader: the output is JSON and valid against the schema (ajv, compiled once). */
import { Ajv, type ValidateFunction } from 'ajv';
import { invalidArgument } from '../../errors.js';
import { onlyKnownKeys, plainObject } from '../../validate.js';
import type { JsonSchemaGraderSpec, Grader } from '../types.js';
import { verdict } from './text.js';

/**
 * One ajv per suite. Strict about the schema itself (an unknown keyword is an error, so a typo never
 * passes everything), silent otherwise (ajv's strict-types warnings would go to the console).
 */
function newAjv(): Ajv {
  return new Ajv({ logger: false, allErrors: false });
}

/** The JSON in an output: the whole text trimmed, or the inside of one fenced block (```json ... ```) that is the whole text. */
function jsonText(output: string): string {
  const trimmed = output.trim();
  const fenced = /^```[\w-]*\s*\n([\s\S]*?)\n?```$/.exec(trimmed);
  return fenced ? fenced[1]!.trim() : trimmed;
}

/** What the json-schema graders of one suite share: one ajv, and each distinct schema compiled once. */
export interface SchemaCache {
  ajv: Ajv;
  /** Compiled validators by the schema's JSON text: items repeating a schema (even one with an $id) share it. */
  validators: Map<string, ValidateFunction>;
}

export const newSchemaCache = (): SchemaCache => ({ ajv: newAjv(), validators: new Map() });

export function jsonSchemaGrader(spec: Record<string, unknown>, field: string, cache: SchemaCache = newSchemaCache()): Grader {
  onlyKnownKeys(field, spec, ['type', 'schema']);
  const schema = plainObject(`${field}.schema`, spec.schema);
  const key = JSON.stringify(schema);
  const { ajv } = cache;
  let validate = cache.validators.get(key);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw invalidArgument(`${field}.schema`, `a valid JSON schema (${(error as Error).message})`, schema);
    }
    cache.validators.set(key, validate);
  }
  const check = validate;
  return {
    spec: spec as unknown as JsonSchemaGraderSpec,
    grade: (output) => {
      let value: unknown;
      try {
        value = JSON.parse(jsonText(output));
      } catch (error) {
        return { score: 0, pass: false, detail: `not JSON: ${(error as Error).message}` };
      }
      return verdict(check(value), () => `not valid against the schema: ${ajv.errorsText(check.errors)}`);
    },
  };
}
