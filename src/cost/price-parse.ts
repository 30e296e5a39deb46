import { ModelpoolError, describeValue } from '../errors.js';
import { invalidData, jsonLines } from '../validate.js';
import type { PriceEntry } from './types.js';

/**
 * Reading price tables: a JSON array, or JSONL (one object per line; blank lines and lines starting
 * with '#' ignored). Every bad line is INVALID_DATA naming the field and the value, with
 * `details: { source, line }` (1-based).
 */

/** A parsed value and the 1-based line it starts on. */
interface Located {
  value: unknown;
  line: number;
}

const PRICE_FIELDS = ['inputPerMillion', 'outputPerMillion', 'cachedInputPerMillion'] as const;
const KNOWN_KEYS = new Set(['provider', 'model', 'note', ...PRICE_FIELDS]);


/** The entries of a price table's text, checked; duplicates (same provider and model) are refused. */
export function parsePriceEntries(text: string, source: string): PriceEntry[] {
  const located = text.trimStart().startsWith('[') ? parseJsonArray(text, source) : jsonLines(text, source);
  const entries: PriceEntry[] = [];
  const seen = new Map<string, number>();
  for (const { value, line } of located) {
    const entry = checkEntry(value, (field, expected, received) => invalidData(source, line, field, expected, received));
    const key = `${entry.provider}\u0000${entry.model}`;
    const first = seen.get(key);
    if (first !== undefined) throw invalidData(source, line, 'model', `a model not already priced for this provider (line ${first})`, entry.model);
    seen.set(key, line);
    entries.push(entry);
  }
  return entries;
}

/** Checks one entry; `fail(field, expected, value)` builds the error to throw. */
export function checkEntry(value: unknown, fail: (field: string, expected: string, value: unknown) => Error): PriceEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('entry', 'an object', value);
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!KNOWN_KEYS.has(key)) throw fail(key, `a known field (${[...KNOWN_KEYS].join(', ')})`, object[key]);
  }
  for (const key of ['provider', 'model'] as const) {
    if (typeof object[key] !== 'string' || object[key].length === 0) throw fail(key, 'a non-empty string', object[key]);
  }
  if (object.note !== undefined && typeof object.note !== 'string') throw fail('note', 'a string', object.note);
  for (const key of PRICE_FIELDS) {
    const price = object[key];
    if (price === undefined && key === 'cachedInputPerMillion') continue;
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) throw fail(key, 'a finite number ≥ 0 (dollars per million tokens)', price);
  }
  const entry: PriceEntry = {
    provider: object.provider as string,
    model: object.model as string,
    inputPerMillion: object.inputPerMillion as number,
    outputPerMillion: object.outputPerMillion as number,
  };
  if (object.cachedInputPerMillion !== undefined) entry.cachedInputPerMillion = object.cachedInputPerMillion as number;
  if (object.note !== undefined) entry.note = object.note as string;
  return entry;
}


function parseJsonArray(text: string, source: string): Located[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const line = syntaxErrorLine(text, message);
    throw new ModelpoolError('INVALID_DATA', `${source}:${line}: not valid JSON (${message})`, {
      field: 'line',
      value: text.split(/\r?\n/)[line - 1]?.trim() ?? '',
      details: { source, line },
      cause: error,
    });
  }
  // Text that starts with '[' and parses is an array.
  const spans = elementSpans(text);
  return (parsed as unknown[]).map((value, index) => ({ value, line: spans[index]?.line ?? 1 }));
}

/**
 * The line of a JSON.parse error: V8 reports "line N" (Node ≥ 22) or "position P"; otherwise the
 * first element that does not parse on its own, else the last line with text (a missing bracket).
 */
export function syntaxErrorLine(text: string, message: string): number {
  const located = /at position (\d+)(?: \(line (\d+) column \d+\))?$/.exec(message);
  if (located !== null) return located[2] !== undefined ? Number(located[2]) : lineAt(text, Number(located[1]));
  for (const span of elementSpans(text)) {
    try {
      JSON.parse(text.slice(span.start, span.end));
    } catch {
      return span.line;
    }
  }
  return text.trimEnd().split(/\r?\n/).length;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index++) if (text.charCodeAt(index) === 10) line++;
  return line;
}

/** Where an element of the top-level array lies: [start, end) offsets and its 1-based first line. */
interface Span {
  start: number;
  end: number;
  line: number;
}

/**
 * The elements of a top-level JSON array, found by a scan that tracks strings and nesting depth (exact
 * on valid JSON; on invalid JSON, good enough to find the element that fails to parse).
 */
function elementSpans(text: string): Span[] {
  const spans: Span[] = [];
  let open: Span | undefined;
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\n') line++;
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r' || char === '\n') continue;
    if (depth === 1 && (char === ',' || char === ']')) {
      if (open !== undefined) spans.push({ ...open, end: index });
      open = undefined;
      expectElement = char === ',';
      if (char === ']') depth--;
      continue;
    }
    if (depth === 1 && expectElement) {
      open = { start: index, end: index, line };
      expectElement = false;
    }
    if (char === '"') inString = true;
    else if (char === '[' || char === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (char === ']' || char === '}') depth--;
  }
  if (open !== undefined) spans.push({ ...open, end: text.length });
  return spans;
}
