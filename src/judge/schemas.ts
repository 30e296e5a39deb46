/**
 * The verdict schemas a judge forces on the model (by the engine's JSON-schema grammar), and the
 * check of what came back: a grammar keeps the model inside the schema, but a token limit can cut
 * the JSON short, so the text is validated again here.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ModelpoolError } from '../errors.js';
import type { GenerationResult } from '../model/types.js';

/** Longest rationale the schemas allow, in characters. */
export const RATIONALE_MAX_LENGTH = 200;

/** `{ score: integer 1..5, rationale: string }`: a single-answer verdict. */
export const VERDICT_SCHEMA: Readonly<Record<string, unknown>> = Object.freeze({
  type: 'object',
  properties: {
    score: { type: 'integer', minimum: 1, maximum: 5 },
    rationale: { type: 'string', maxLength: RATIONALE_MAX_LENGTH },
  },
  required: ['score', 'rationale'],
  additionalProperties: false,
});

/** `{ winner: 'A' | 'B' | 'tie', rationale: string }`: a pairwise verdict. */
export const PAIRWISE_SCHEMA: Readonly<Record<string, unknown>> = Object.freeze({
  type: 'object',
  properties: {
    winner: { type: 'string', enum: ['A', 'B', 'tie'] },
    rationale: { type: 'string', maxLength: RATIONALE_MAX_LENGTH },
  },
  required: ['winner', 'rationale'],
  additionalProperties: false,
});

/** The raw verdict the model writes. */
export interface RawVerdict {
  score: number;
  rationale: string;
}

/** The raw pairwise verdict the model writes. */
export interface RawPairwiseVerdict {
  winner: 'A' | 'B' | 'tie';
  rationale: string;
}

// Compiled on first use: importing modelpool should not pay for schema compilation.
let validators: { verdict: ValidateFunction<RawVerdict>; pairwise: ValidateFunction<RawPairwiseVerdict> } | undefined;
function compiled(): NonNullable<typeof validators> {
  if (validators === undefined) {
    const ajv = new Ajv({ allErrors: false, strict: true });
    validators = { verdict: ajv.compile<RawVerdict>(VERDICT_SCHEMA), pairwise: ajv.compile<RawPairwiseVerdict>(PAIRWISE_SCHEMA) };
  }
  return validators;
}

function check<T>(validate: ValidateFunction<T>, result: GenerationResult, what: string): T {
  const text = result.text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ModelpoolError(
      'GENERATION_FAILED',
      `The judge's ${what} is not valid JSON (finish reason '${result.finishReason}', ${result.generatedTokens} tokens): ${(error as Error).message}`,
      { details: { text, finishReason: result.finishReason } },
    );
  }
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const where = first === undefined ? '' : `${first.instancePath || '/'} ${first.message ?? ''}`;
    throw new ModelpoolError('GENERATION_FAILED', `The judge's ${what} does not match its schema: ${where.trim()}`, {
      details: { text, finishReason: result.finishReason },
    });
  }
  return value;
}

/** The verdict in a generation's text; GENERATION_FAILED (details `{ text, finishReason }`) when it is not one. */
export function readVerdict(result: GenerationResult): RawVerdict {
  return check(compiled().verdict, result, 'verdict');
}

/** The pairwise verdict in a generation's text; GENERATION_FAILED when it is not one. */
export function readPairwiseVerdict(result: GenerationResult): RawPairwiseVerdict {
  return check(compiled().pairwise, result, 'pairwise verdict');
}
