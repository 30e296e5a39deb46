/**
 * Labelled sets for calibrating a judge: JSON Lines of `{ id?, question?, answer, context?,
 * criterion, label }`, the label a 1..5 score or a pass/fail boolean (one kind per set). Blank lines
 * and lines starting with '#' are skipped. Every bad line is INVALID_DATA naming the line, the field
 * and the value.
 */
import { ModelpoolError, describeValue, invalidArgument } from '../errors.js';
import { invalidData, jsonLines } from '../validate.js';
import type { LabelledItem } from './types.js';

const FIELDS = new Set(['id', 'question', 'answer', 'context', 'criterion', 'label']);


function text(source: string, line: number, record: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = record[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || (required && value === '')) throw invalidData(source, line, field, required ? 'a non-empty string' : 'a string', value);
  return value;
}

/** One line's record as a labelled item. */
function readRecord(source: string, line: number, record: Record<string, unknown>): LabelledItem {
  for (const key of Object.keys(record)) {
    if (!FIELDS.has(key)) throw invalidData(source, line, key, `one of the fields ${[...FIELDS].join(', ')}`, key);
  }
  const label = record.label;
  if (typeof label !== 'boolean' && (typeof label !== 'number' || !Number.isInteger(label) || label < 1 || label > 5)) {
    throw invalidData(source, line, 'label', 'an integer 1..5 or a boolean', label);
  }
  const item: LabelledItem = {
    answer: text(source, line, record, 'answer', true)!,
    criterion: text(source, line, record, 'criterion', true)!,
    label,
  };
  for (const field of ['id', 'question', 'context'] as const) {
    const value = text(source, line, record, field, false);
    if (value !== undefined) item[field] = value;
  }
  return item;
}

/**
 * Reads a labelled set (JSON Lines). INVALID_DATA with `field`, `value` and details `{ source, line }`
 * (1-based; line 0 for an empty set) for a line that is not a JSON object, a missing or mistyped
 * field, an unknown field, a label of the other kind than the first line's, or an id used twice.
 */
export function parseLabels(text: string, source = 'labels'): LabelledItem[] {
  if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
  if (typeof source !== 'string') throw invalidArgument('source', 'a string', source);
  const items: LabelledItem[] = [];
  const ids = new Map<string, number>();
  let kind: 'number' | 'boolean' | undefined;
  for (const { value: record, line } of jsonLines(text, source)) {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw invalidData(source, line, 'record', 'a JSON object', record);
    const item = readRecord(source, line, record as Record<string, unknown>);
    const itemKind = typeof item.label === 'boolean' ? 'boolean' : 'number';
    if (kind !== undefined && itemKind !== kind) {
      throw invalidData(source, line, 'label', kind === 'number' ? 'an integer 1..5 like the lines before' : 'a boolean like the lines before', item.label);
    }
    kind = itemKind;
    if (item.id !== undefined) {
      const seen = ids.get(item.id);
      if (seen !== undefined) throw invalidData(source, line, 'id', `an id not used before (line ${seen} has it)`, item.id);
      ids.set(item.id, line);
    }
    items.push(item);
  }
  if (items.length === 0) throw new ModelpoolError('INVALID_DATA', `${source}: no labelled items`, { details: { source, line: 0 } });
  return items;
}
