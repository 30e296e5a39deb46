/**
 * Labelled sets for calibrating a judge: JSON Lines of `{ id?, question?, answer, context?,
 * criterion, label }`, the label a 1..5 score or a pass/fail boolean (one kind per set). Blank lines
 * and lines starting with '#' are skipped. Every bad line is INVALID_DATA naming the line, the field
 * and the value.
 */
import { ModelpoolError, invalidArgument, isModelpoolError } from '../errors.js';
import { invalidData, jsonLines, nonEmptyString, onlyKnownKeys, optionalString, plainObject } from '../validate.js';
import type { LabelledItem } from './types.js';

const FIELDS = ['id', 'question', 'answer', 'context', 'criterion', 'label'];


/**
 * One labelled item: `answer`, `criterion` non-empty strings, `label` an integer 1..5 or a boolean, `id`,
 * `question`, `context` strings when given. INVALID_ARGUMENT naming `<prefix>field`.
 */
export function checkLabelledItem(value: unknown, prefix = ''): LabelledItem {
  const record = plainObject(prefix === '' ? 'record' : prefix.slice(0, -1), value);
  const label = record.label;
  if (typeof label !== 'boolean' && (typeof label !== 'number' || !Number.isInteger(label) || label < 1 || label > 5)) {
    throw invalidArgument(`${prefix}label`, 'an integer 1..5 or a boolean', label);
  }
  const item: LabelledItem = { answer: nonEmptyString(`${prefix}answer`, record.answer), criterion: nonEmptyString(`${prefix}criterion`, record.criterion), label };
  for (const field of ['id', 'question', 'context'] as const) {
    const text = optionalString(`${prefix}${field}`, record[field]);
    if (text !== undefined) item[field] = text;
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
    let item: LabelledItem;
    try {
      if (typeof record === 'object' && record !== null && !Array.isArray(record)) onlyKnownKeys('', record as Record<string, unknown>, FIELDS);
      item = checkLabelledItem(record);
    } catch (error) {
      if (!isModelpoolError(error, 'INVALID_ARGUMENT')) throw error;
      throw new ModelpoolError('INVALID_DATA', `${source}:${line}: ${error.message}`, { field: error.field, value: error.value, details: { source, line }, cause: error });
    }
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
