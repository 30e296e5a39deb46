/** Task suites: JSONL, one item a line, each checked and its grader compiled when the suite is read. */
import { readFile } from 'node:fs/promises';
import { ModelpoolError, describeValue, invalidArgument, isModelpoolError } from '../errors.js';
import { jsonLines, nonEmptyString, onlyKnownKeys, optionalInteger, optionalStringArray, plainObject } from '../validate.js';
import type { ChatMessage } from '../model/types.js';
import { compileGraderIn, type GraderContext } from './graders/index.js';
import type { Grader, GraderSpec, Suite, SuiteItem } from './types.js';

const ITEM_KEYS = ['id', 'task', 'prompt', 'messages', 'maxTokens', 'grader', 'tags'] as const;

function messages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidArgument('messages', 'a non-empty array of chat messages', value);
  return value.map((m, i) => {
    const o = plainObject(`messages[${i}]`, m);
    nonEmptyString(`messages[${i}].role`, o.role);
    const content = o.content;
    if (typeof content !== 'string' && content !== null && !Array.isArray(content)) {
      throw invalidArgument(`messages[${i}].content`, 'a string, an array of content parts or null', content);
    }
    return o as unknown as ChatMessage;
  });
}

function tags(value: unknown): string[] {
  return optionalStringArray('tags', value) ?? [];
}

/** One line's item (INVALID_ARGUMENT naming the field; the caller adds the line). */
function item(value: unknown, context: GraderContext): { item: SuiteItem; grader: Grader } {
  const o = plainObject('item', value);
  onlyKnownKeys('', o, ITEM_KEYS);
  const id = nonEmptyString('id', o.id);
  const task = o.task === undefined ? 'completion' : nonEmptyString('task', o.task);
  if ((o.prompt === undefined) === (o.messages === undefined)) {
    throw invalidArgument('prompt', 'exactly one of prompt or messages', o.prompt === undefined ? undefined : 'both');
  }
  const result: SuiteItem = { id, task, grader: o.grader as GraderSpec, tags: [] };
  if (o.prompt !== undefined) {
    if (typeof o.prompt !== 'string') throw invalidArgument('prompt', 'a string', o.prompt);
    result.prompt = o.prompt;
  } else {
    result.messages = messages(o.messages);
  }
  const maxTokens = optionalInteger('maxTokens', o.maxTokens, 1, 1_000_000);
  if (maxTokens !== undefined) result.maxTokens = maxTokens;
  if (o.grader === undefined) throw invalidArgument('grader', 'a grader ({ type, ... })', undefined);
  const grader = compileGraderIn(o.grader as GraderSpec, 'grader', context);
  result.tags = tags(o.tags);
  return { item: result, grader };
}

/** INVALID_DATA at a line of a source, keeping the field and value of the underlying complaint. */
function dataError(source: string, line: number, message: string, options: { field?: string; value?: unknown; cause?: unknown } = {}): ModelpoolError {
  return new ModelpoolError('INVALID_DATA', `${source}${line > 0 ? `:${line}` : ''}: ${message}`, { ...options, details: { source, line } });
}

/**
 * Reads a task suite from JSONL text: one item a line; blank lines and lines starting with '#' are
 * skipped. Throws INVALID_DATA with `field` (as 'grader.pattern'), `value` and details `{ source, line }`
 * (1-based; line 0: the text as a whole, when it holds no item).
 */
export function parseSuite(text: string, source = 'suite'): Suite {
  if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
  nonEmptyString('source', source);
  const items: SuiteItem[] = [];
  const graders = new Map<string, Grader>();
  const lineOf = new Map<string, number>();
  const context: GraderContext = {};
  for (const { value, line } of jsonLines(text, source)) {
    let parsed: { item: SuiteItem; grader: Grader };
    try {
      parsed = item(value, context);
    } catch (error) {
      if (!isModelpoolError(error, 'INVALID_ARGUMENT')) throw error;
      throw dataError(source, line, error.message, { field: error.field, value: error.value, cause: error });
    }
    const id = parsed.item.id;
    const first = lineOf.get(id);
    if (first !== undefined) throw dataError(source, line, `Expected a unique id for id but received ${describeValue(id)} (already on line ${first})`, { field: 'id', value: id });
    lineOf.set(id, line);
    items.push(parsed.item);
    graders.set(id, parsed.grader);
  }
  if (items.length === 0) throw dataError(source, 0, 'Expected at least one item but the suite has none', { field: 'items' });
  return { source, items, graders };
}

/** Reads and parses a suite file (see parseSuite); INVALID_ARGUMENT naming `path` when it cannot be read. */
export async function loadSuite(path: string): Promise<Suite> {
  nonEmptyString('path', path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelpoolError('INVALID_ARGUMENT', `Expected a readable suite file for path but received ${describeValue(path)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      field: 'path',
      value: path,
      cause: error,
    });
  }
  return parseSuite(text, path);
}
