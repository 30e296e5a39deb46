/**
 * Reading the fields of a vendor request body. Each reader throws a {@link WireInputError} that names
 * the parameter and what was wrong; each dialect renders it in its vendor's words (OpenAI's "Missing
 * required parameter: 'messages'.", Anthropic's "max_tokens: Field required", ...). Handlers throw
 * {@link WireHttpError} for everything else that should become a vendor error response.
 */

/** What was wrong with a request parameter. */
export type InputProblem = 'missing' | 'type' | 'value';

/** A request parameter that is missing, of the wrong type, or out of range. */
export class WireInputError extends Error {
  constructor(
    readonly param: string,
    readonly problem: InputProblem,
    /** What the parameter should be: "a number between 0 and 2", "a string". */
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${param}: expected ${expected}`);
    this.name = 'WireInputError';
  }
}

/** A failure to answer with the vendor's error response of this status. */
export class WireHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Vendor details: OpenAI's `param` and `code`, a vendor error `type` that overrides the status's. */
    readonly details: { param?: string | null; code?: string | null; type?: string } = {},
  ) {
    super(message);
    this.name = 'WireHttpError';
  }
}

export type Body = Record<string, unknown>;

/** JSON's name for a value's type ("string", "number", "array", "null", "object"). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The request body as an object (a JSON body that is not an object is a type error). */
export function objectBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WireInputError('body', 'type', 'a JSON object', body);
  return body as Body;
}

export function optionalNumber(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new WireInputError(name, 'type', 'a number', value);
  if (value < min || value > max) throw new WireInputError(name, 'value', `a number between ${min} and ${max}`, value);
  return value;
}

export function optionalInteger(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new WireInputError(name, 'type', 'an integer', value);
  if (value < min || value > max) throw new WireInputError(name, 'value', `an integer between ${min} and ${max}`, value);
  return value;
}

export function requiredInteger(body: Body, name: string, min: number, max: number): number {
  const value = optionalInteger(body, name, min, max);
  if (value === undefined) throw new WireInputError(name, 'missing', 'an integer', undefined);
  return value;
}

export function optionalString(body: Body, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new WireInputError(name, 'type', 'a string', value);
  return value;
}

export function requiredString(body: Body, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined || value === '') throw new WireInputError(name, 'missing', 'a string', body[name]);
  return value;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new WireInputError(name, 'type', 'a boolean', value);
  return value;
}

export function optionalObject(body: Body, name: string): Body | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new WireInputError(name, 'type', 'an object', value);
  return value as Body;
}

/** A string or an array of strings (OpenAI's `stop`, `input`), as an array; `undefined` when absent. */
export function optionalStrings(body: Body, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new WireInputError(name, 'type', 'a string or an array of strings', value);
  }
  return value as string[];
}

/** Text of a message content: a string, or text blocks (`{ type: 'text', text }`) joined; `param` names it in errors. */
export function contentText(value: unknown, param: string): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (!Array.isArray(value)) throw new WireInputError(param, 'type', 'a string or an array of content blocks', value);
  return value
    .map((block, index) => {
      const part = block as { type?: unknown; text?: unknown } | null;
      if (typeof part !== 'object' || part === null || part.type !== 'text' || typeof part.text !== 'string') {
        throw new WireInputError(`${param}.${index}`, 'value', 'a text block ({ type: "text", text }): this test server takes text only', block);
      }
      return part.text;
    })
    .join('');
}
