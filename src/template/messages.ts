/**
 * Requests' chat inputs — messages (OpenAI's shape), tools and documents — validated with errors naming the
 * field, and mapped to the variables chat templates read (transformers' names): tool_calls with their
 * arguments as a mapping, tool_call_id, name, reasoning_content.
 */
import { invalidArgument } from '../errors.js';
import type { ChatMessage } from '../model/types.js';

/** A tool call, as a ChatMessage's `toolCalls` and a parsed result carry it. */
export type ToolCall = NonNullable<ChatMessage['toolCalls']>[number];

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function object(field: string, value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw invalidArgument(field, 'an object', value);
  return value;
}

function text(field: string, value: unknown, allowEmpty = true): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) throw invalidArgument(field, allowEmpty ? 'a string' : 'a non-empty string', value);
  return value;
}

/** A value JSON can carry (what a template may read): no functions, symbols, bigints, cycles or non-finite numbers. */
function jsonValue(field: string, value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidArgument(field, 'a finite number', value);
    return;
  }
  if (typeof value !== 'object') throw invalidArgument(field, 'a JSON value', value);
  if (seen.has(value)) throw invalidArgument(field, 'a JSON value without cycles', value);
  seen.add(value);
  if (Array.isArray(value)) value.forEach((item, i) => jsonValue(`${field}[${i}]`, item, seen));
  else for (const [key, item] of Object.entries(value)) if (item !== undefined) jsonValue(`${field}.${key}`, item, seen);
  seen.delete(value);
}

function validateToolCall(field: string, value: unknown): ToolCall {
  const o = object(field, value);
  const f = object(`${field}.function`, o.function);
  const call: ToolCall = { function: { name: text(`${field}.function.name`, f.name, false), arguments: {} } };
  if (typeof f.arguments === 'string') call.function.arguments = f.arguments;
  else if (isObject(f.arguments)) {
    jsonValue(`${field}.function.arguments`, f.arguments);
    call.function.arguments = f.arguments;
  } else throw invalidArgument(`${field}.function.arguments`, 'a JSON string or an object', f.arguments);
  if (o.id !== undefined) call.id = text(`${field}.id`, o.id);
  if (o.type !== undefined && o.type !== 'function') throw invalidArgument(`${field}.type`, "'function'", o.type);
  call.type = 'function';
  return call;
}

/**
 * Checks chat messages: each an object with a non-empty `role` and a `content` that is a string, an array of
 * content parts (objects with a string `type`; a 'text' part has a string `text`) or null (an assistant
 * message that only calls tools), and optional toolCalls, toolCallId, name and reasoning. `field` prefixes
 * the names in errors ('messages' gives 'messages[2].role').
 */
export function validateChatMessages(value: unknown, field = 'messages'): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw invalidArgument(field, 'a non-empty array', value);
  return value.map((m, i) => {
    const at = `${field}[${i}]`;
    const o = object(at, m);
    const role = text(`${at}.role`, o.role, false);
    let content: ChatMessage['content'];
    if (o.content === null) {
      if (role !== 'assistant' || o.toolCalls === undefined) throw invalidArgument(`${at}.content`, 'a string (null only for an assistant message with toolCalls)', o.content);
      content = null;
    } else if (Array.isArray(o.content)) {
      content = o.content.map((part, j) => {
        const p = object(`${at}.content[${j}]`, part);
        const type = text(`${at}.content[${j}].type`, p.type, false);
        if (type === 'text') text(`${at}.content[${j}].text`, p.text);
        jsonValue(`${at}.content[${j}]`, p);
        return p as { type: string; text?: string };
      });
    } else {
      content = text(`${at}.content`, o.content);
    }
    const message: ChatMessage = { role, content };
    if (o.toolCalls !== undefined) {
      if (!Array.isArray(o.toolCalls)) throw invalidArgument(`${at}.toolCalls`, 'an array of tool calls', o.toolCalls);
      message.toolCalls = o.toolCalls.map((call, j) => validateToolCall(`${at}.toolCalls[${j}]`, call));
    }
    if (o.toolCallId !== undefined) message.toolCallId = text(`${at}.toolCallId`, o.toolCallId);
    if (o.name !== undefined) message.name = text(`${at}.name`, o.name);
    if (o.reasoning !== undefined) message.reasoning = text(`${at}.reasoning`, o.reasoning);
    return message;
  });
}

/** A tool definition: `{ type: 'function', function: { name, description?, parameters? } }`, or any JSON object naming itself. */
export function validateTools(value: unknown, field = 'tools'): Array<Record<string, unknown>> {
  if (!Array.isArray(value)) throw invalidArgument(field, 'an array of tool definitions', value);
  return value.map((tool, i) => {
    const at = `${field}[${i}]`;
    const o = object(at, tool);
    if (o.type === 'function' || o.function !== undefined) {
      const f = object(`${at}.function`, o.function);
      text(`${at}.function.name`, f.name, false);
      if (f.description !== undefined) text(`${at}.function.description`, f.description);
      if (f.parameters !== undefined) object(`${at}.function.parameters`, f.parameters);
    } else if (typeof o.type !== 'string' && typeof o.name !== 'string') {
      throw invalidArgument(`${at}.type`, "'function' (or a tool object with a name)", o.type);
    }
    jsonValue(at, o);
    return o;
  });
}

/** Documents for retrieval-augmented generation: JSON objects (transformers expects `title` and `text`). */
export function validateDocuments(value: unknown, field = 'documents'): Array<Record<string, unknown>> {
  if (!Array.isArray(value)) throw invalidArgument(field, 'an array of documents', value);
  return value.map((document, i) => {
    const o = object(`${field}[${i}]`, document);
    jsonValue(`${field}[${i}]`, o);
    return o;
  });
}

/** Which message field the template reads reasoning from: most use reasoning_content, some reasoning or thinking. */
export function reasoningField(source: string): string {
  if (source.includes('reasoning_content')) return 'reasoning_content';
  if (/\.reasoning\b|\[['"]reasoning['"]\]|get\(['"]reasoning['"]/.test(source)) return 'reasoning';
  if (/\.thinking\b|\[['"]thinking['"]\]|get\(['"]thinking['"]/.test(source)) return 'thinking';
  return 'reasoning_content';
}

/**
 * A tool call's arguments as templates expect them (transformers' convention: a mapping). A string holding a
 * JSON object is parsed; any other string is passed on as it is.
 */
function templateArguments(value: string | Record<string, unknown>): unknown {
  if (typeof value !== 'string') return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return isObject(parsed) ? parsed : value;
  } catch {
    return value;
  }
}

/** Messages as templates read them (transformers' names). */
export function templateMessages(messages: readonly ChatMessage[], options: { reasoningField?: string; nullContent?: 'null' | 'empty' } = {}): Array<Record<string, unknown>> {
  const reasoning = options.reasoningField ?? 'reasoning_content';
  return messages.map((m) => {
    const out: Record<string, unknown> = { role: m.role, content: m.content === null && options.nullContent === 'empty' ? '' : m.content };
    if (m.toolCalls !== undefined) {
      out.tool_calls = m.toolCalls.map((call) => ({
        ...(call.id === undefined ? {} : { id: call.id }),
        type: 'function',
        function: { name: call.function.name, arguments: templateArguments(call.function.arguments) },
      }));
    }
    if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
    if (m.name !== undefined) out.name = m.name;
    if (m.reasoning !== undefined) out[reasoning] = m.reasoning;
    return out;
  });
}
