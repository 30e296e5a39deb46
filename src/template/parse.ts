/**
 * A model's output split into its answer, its reasoning and its tool calls, in the syntax its chat template
 * defines: the reasoning markers (`<think>…</think>` and the variants of llama.cpp's templates) and the
 * tool-call syntaxes (Hermes/Qwen `<tool_call>{json}</tool_call>`, Llama 3.x JSON, Mistral `[TOOL_CALLS]`,
 * Qwen3-Coder XML, GLM `<arg_key>`, MiniMax and DeepSeek `invoke`, DeepSeek, Kimi, gpt-oss, Command R,
 * Granite, Gemma 4, LFM2 pythonic calls, ...). The format comes from the template's text ({@link outputFormat}).
 */
import type { ToolCall } from './messages.js';

/** What a template's output looks like. */
export interface OutputFormat {
  /** Reasoning markers, opening and closing. */
  reasoning: Array<[string, string]>;
  /** gpt-oss's harmony channels (analysis, commentary, final). */
  harmony: boolean;
  /** Tool-call syntaxes the template writes, most specific first. */
  toolCalls: ToolSyntax[];
}

export type ToolSyntax =
  | 'json-tags'
  | 'xml-function'
  | 'arg-key'
  | 'invoke'
  | 'mistral-args'
  | 'deepseek'
  | 'kimi'
  | 'harmony'
  | 'gemma'
  | 'pythonic'
  | 'solar'
  | 'functionary'
  | 'llama-json';

/** The output of a chat request, taken apart. */
export interface ParsedOutput {
  /** The answer, without reasoning or tool-call markup. */
  content: string;
  reasoning?: string;
  toolCalls?: ToolCall[];
}

const REASONING_MARKERS: Array<[string, string]> = [
  ['<seed:think>', '</seed:think>'],
  ['<think:opensource>', '</think:opensource>'],
  ['<mm:think>', '</mm:think>'],
  ['<|START_THINKING|>', '<|END_THINKING|>'],
  ['[THINK]', '[/THINK]'],
  ['<think>', '</think>'],
];

/** Openings and closings of JSON tool calls, by the templates that write them. */
const JSON_TAGS: Array<[string, string]> = [
  ['<tool_call>', '</tool_call>'],
  ['<TOOLCALL>', '</TOOLCALL>'],
  ['<tool_calls>', '</tool_calls>'],
  ['<|tool_call|>', '<|/tool_call|>'],
  ['<|tools_prefix|>', '<|tools_suffix|>'],
  ['[TOOL_CALLS]', '</s>'],
  ['<|function_call|>', '<|message_sep|>'],
  ['function call<|role_sep|>', '<|message_sep|>'],
  ['<|START_ACTION|>', '<|END_ACTION|>'],
  ['Action:\n```json', '```'],
  [' functools[', ']'],
  ['<|python_tag|>', '<|eom_id|>'],
];

/** The output format of a template, from its text. */
export function outputFormat(source: string): OutputFormat {
  const has = (s: string): boolean => source.includes(s);
  const reasoning = REASONING_MARKERS.filter(([open, close]) => has(close) || (has(open) && open === '<think>'));
  const toolCalls: ToolSyntax[] = [];
  if (has('<|channel|>')) toolCalls.push('harmony');
  if (has('tool▁call▁begin')) toolCalls.push('deepseek');
  if (has('tool_call_begin|>')) toolCalls.push('kimi');
  if (has('<|tool_call:begin|>')) toolCalls.push('solar');
  if (has('[ARGS]')) toolCalls.push('mistral-args');
  if (has('<arg_key')) toolCalls.push('arg-key');
  if (/invoke name|<function name=/.test(source)) toolCalls.push('invoke');
  if (has('<parameter=')) toolCalls.push('xml-function');
  if (has('<|tool_call>')) toolCalls.push('gemma');
  if (has('<|tool_call_start|>')) toolCalls.push('pythonic');
  if (has('<function=') || has('>>>')) toolCalls.push('functionary');
  if (JSON_TAGS.some(([open]) => has(open.trim()))) toolCalls.push('json-tags');
  if (has('"parameters": ') && has('<|eot_id|>')) toolCalls.push('llama-json');
  return { reasoning, harmony: has('<|channel|>'), toolCalls };
}

// ---------------------------------------------------------------------------------------------

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A JSON value at the start of `text` (after whitespace): the value and where it ends, or undefined. */
function leadingJson(text: string, from = 0): { value: unknown; end: number } | undefined {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  const open = text[i];
  if (open !== '{' && open !== '[') return undefined;
  let depth = 0;
  let inString = false;
  for (let j = i; j < text.length; j++) {
    const c = text[j]!;
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        const value = tryJson(text.slice(i, j + 1));
        return value === undefined ? undefined : { value, end: j + 1 };
      }
    }
  }
  return undefined;
}

/** A parameter's value: JSON when the tool's schema (or the text) says it is not a string. */
function parameterValue(raw: string, type: string | undefined): unknown {
  const text = raw.replace(/^\n/, '').replace(/\n$/, '');
  if (type === 'string') return text;
  const parsed = tryJson(text.trim());
  if (parsed !== undefined && (type !== undefined || typeof parsed !== 'string')) return parsed;
  return text;
}

type Tools = ReadonlyArray<Record<string, unknown>> | undefined;

function parameterType(tools: Tools, name: string, parameter: string): string | undefined {
  for (const tool of tools ?? []) {
    const f = isObject(tool.function) ? tool.function : tool;
    if (f.name !== name || !isObject(f.parameters) || !isObject(f.parameters.properties)) continue;
    const schema = f.parameters.properties[parameter];
    if (isObject(schema) && typeof schema.type === 'string') return schema.type;
  }
  return undefined;
}

function call(name: string, args: unknown, id?: string): ToolCall {
  const out: ToolCall = { type: 'function', function: { name, arguments: isObject(args) ? args : typeof args === 'string' ? args : {} } };
  if (id !== undefined) out.id = id;
  return out;
}

/** A tool call from the JSON shapes templates write: {name, arguments|parameters}, {tool_name, parameters}, {function: {...}}, {NAME: {args}}. */
function jsonCall(value: unknown): ToolCall | undefined {
  if (!isObject(value)) return undefined;
  const id = typeof value.id === 'string' ? value.id : typeof value.tool_call_id === 'string' ? value.tool_call_id : undefined;
  if (isObject(value.function) && typeof value.function.name === 'string') {
    const args = value.function.arguments;
    return call(value.function.name, typeof args === 'string' ? (tryJson(args) ?? args) : args, id);
  }
  const name = typeof value.name === 'string' ? value.name : typeof value.tool_name === 'string' ? value.tool_name : undefined;
  if (name !== undefined) {
    const args = value.arguments ?? value.parameters ?? value.args ?? {};
    return call(name, typeof args === 'string' ? (tryJson(args) ?? args) : args, id);
  }
  const keys = Object.keys(value);
  if (keys.length === 1 && isObject(value[keys[0]!])) return call(keys[0]!, value[keys[0]!]);
  return undefined;
}

function jsonCalls(value: unknown): ToolCall[] | undefined {
  const items = Array.isArray(value) ? value : [value];
  const calls = items.map(jsonCall);
  return calls.length > 0 && calls.every((c) => c !== undefined) ? (calls as ToolCall[]) : undefined;
}

interface Extracted {
  calls: ToolCall[];
  /** The text with the calls' markup taken out. */
  rest: string;
}

/** Takes every match of `pattern` out of `text`, as calls `toCalls` makes of it (a match it returns undefined for stays). */
function extract(text: string, pattern: RegExp, toCalls: (m: RegExpMatchArray) => ToolCall[] | undefined): Extracted {
  const calls: ToolCall[] = [];
  const rest = text.replace(pattern, (...args) => {
    const match = args.slice(0, -2) as unknown as RegExpMatchArray;
    const found = toCalls(match);
    if (!found) return match[0];
    calls.push(...found);
    return '';
  });
  return { calls, rest };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function parameters(body: string, pattern: RegExp, name: string, tools: Tools, typed?: (m: RegExpMatchArray) => string | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const m of body.matchAll(pattern)) args[m[1]!] = parameterValue(m[2]!, typed?.(m) ?? parameterType(tools, name, m[1]!));
  return args;
}

const EXTRACTORS: Record<ToolSyntax, (text: string, tools: Tools) => Extracted> = {
  'json-tags': (text) => {
    let calls: ToolCall[] = [];
    let rest = text;
    for (const [open, close] of JSON_TAGS) {
      const pattern = new RegExp(`${escape(open)}([\\s\\S]*?)(?:${escape(close)}|$)`, 'g');
      const found = extract(rest, pattern, (m) => {
        const body = open === ' functools[' ? `[${m[1]}]` : m[1]!;
        const json = leadingJson(body);
        if (!json || body.slice(json.end).trim() !== '') return undefined;
        return jsonCalls(json.value);
      });
      calls = calls.concat(found.calls);
      rest = found.rest;
    }
    return { calls, rest };
  },
  'xml-function': (text, tools) =>
    extract(text, /(?:<(seed:)?tool_call>\s*)?<function=([^>\n]+)>([\s\S]*?)<\/function>(?:\s*<\/(?:seed:)?tool_call>)?/g, (m) => {
      if (m[3]!.trim().startsWith('{')) return undefined;
      return [call(m[2]!, parameters(m[3]!, /<parameter=([^>\n]+)>([\s\S]*?)<\/parameter>/g, m[2]!, tools))];
    }),
  'arg-key': (text, tools) =>
    extract(text, /<tool_call(:opensource)?>([^<\n]+?)\s*(?:<tool_sep:opensource>)?\s*((?:<arg_key[\s\S]*?)?)<\/tool_call(?:\1)?>/g, (m) => {
      const name = m[2]!.trim();
      const suffix = m[1] ?? '';
      const pattern = new RegExp(`<arg_key${suffix}>([\\s\\S]*?)</arg_key${suffix}>\\s*<arg_value${suffix}>([\\s\\S]*?)</arg_value${suffix}>`, 'g');
      return [call(name, parameters(m[3]!, pattern, name, tools))];
    }),
  invoke: (text, tools) =>
    extract(text, /<([^<>\s]*?)(invoke|function) name="([^"]+)"[^>]*>([\s\S]*?)<\/\1\2>/g, (m) => {
      const prefix = escape(m[1]!);
      const pattern = new RegExp(`<${prefix}(?:parameter|param) name="([^"]+)"(?:\\s+string="(true|false)")?[^>]*>([\\s\\S]*?)</${prefix}(?:parameter|param)>`, 'g');
      const args: Record<string, unknown> = {};
      for (const p of m[4]!.matchAll(pattern)) {
        args[p[1]!] = parameterValue(p[3]!, p[2] === 'true' ? 'string' : p[2] === 'false' ? 'json' : parameterType(tools, m[3]!, p[1]!));
      }
      return [call(m[3]!, args)];
    }),
  'mistral-args': (text) => mistralArgs(text),
  deepseek: (text) => {
    const found = extract(text, /<｜tool▁call▁begin｜>(?:function<｜tool▁sep｜>([^\n]+)\n```json\n([\s\S]*?)\n```|([^<｜]+)<｜tool▁sep｜>([\s\S]*?))<｜tool▁call▁end｜>/g, (m) => {
        const name = (m[1] ?? m[3])!.trim();
        const args = tryJson((m[2] ?? m[4])!);
        return args === undefined ? undefined : [call(name, args)];
      });
    return { calls: found.calls, rest: found.rest.replace(/<｜tool▁calls▁begin｜>|<｜tool▁calls▁end｜>/g, '') };
  },
  kimi: (text) => {
    const found = extract(text, /<\|tool_call_begin\|>\s*(?:functions\.)?([^:<\s]+)(?::(\d+))?\s*<\|tool_call_argument_begin\|>([\s\S]*?)<\|tool_call_end\|>/g, (m) => {
        const args = tryJson(m[3]!);
        return args === undefined ? undefined : [call(m[1]!, args, `functions.${m[1]}:${m[2] ?? 0}`)];
      });
    return { calls: found.calls, rest: found.rest.replace(/<\|tool_calls_section_begin\|>|<\|tool_calls_section_end\|>/g, '') };
  },
  solar: (text) =>
    extract(text, /<\|tool_call:begin\|>([^<]*)<\|tool_call:name\|>([^<]+)<\|tool_call:args\|>([\s\S]*?)<\|tool_call:end\|>/g, (m) => {
      const args = tryJson(m[3]!);
      return args === undefined ? undefined : [call(m[2]!.trim(), args, m[1]!.trim() || undefined)];
    }),
  harmony: (text) =>
    extract(text, /(?:<\|start\|>assistant)?\s*(?:to=functions\.([\w.-]+)\s*)?<\|channel\|>commentary(?:\s+to=functions\.([\w.-]+))?[^<]*(?:<\|constrain\|>\w+)?<\|message\|>([\s\S]*?)(?:<\|call\|>|$)/g, (m) => {
      const name = m[1] ?? m[2];
      const args = tryJson(m[3]!);
      return name === undefined || args === undefined ? undefined : [call(name, args)];
    }),
  gemma: (text) =>
    extract(text, /<\|tool_call>call:([\w.-]+)(\{[\s\S]*?\})<tool_call\|>/g, (m) => {
      const args = tryJson(m[2]!.replace(/<\|"\|>/g, '"').replace(/([{,]\s*)([A-Za-z_][\w-]*)\s*:/g, '$1"$2":'));
      return args === undefined ? undefined : [call(m[1]!, args)];
    }),
  pythonic: (text) =>
    extract(text, /<\|tool_call_start\|>\s*\[([\s\S]*?)\]\s*<\|tool_call_end\|>/g, (m) => pythonCalls(m[1]!)),
  functionary: (text) => {
    const tagged = extract(text, /<function=([^>\n]+)>(\{[\s\S]*?\})<\/function>/g, (m) => {
      const args = tryJson(m[2]!);
      return args === undefined ? undefined : [call(m[1]!, args)];
    });
    const arrowed = extract(tagged.rest, />>>([\w.-]+)\n(\{[\s\S]*?\})(?=>>>|$)/g, (m) => {
      if (m[1] === 'all') return undefined;
      const args = tryJson(m[2]!.trim());
      return args === undefined ? undefined : [call(m[1]!, args)];
    });
    return { calls: [...tagged.calls, ...arrowed.calls], rest: arrowed.rest.replace(/^>>>all\n/, '') };
  },
  'llama-json': (text) => {
    const trimmed = text.trim();
    const json = leadingJson(trimmed);
    if (!json || trimmed.slice(json.end).trim() !== '' || !isObject(json.value) || !('parameters' in json.value || 'arguments' in json.value)) return { calls: [], rest: text };
    const found = jsonCall(json.value);
    return found ? { calls: [found], rest: '' } : { calls: [], rest: text };
  },
};

/** Mistral's `[TOOL_CALLS]name[CALL_ID]id[ARGS]{json}`, repeated. */
function mistralArgs(text: string): Extracted {
  const calls: ToolCall[] = [];
  let rest = '';
  let at = 0;
  const pattern = /\[TOOL_CALLS\]([^[\s]+)(?:\[CALL_ID\]([^[\s]+))?\[ARGS\]/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const json = leadingJson(text, m.index + m[0].length);
    if (!json) continue;
    calls.push(call(m[1]!, json.value, m[2]));
    rest += text.slice(at, m.index);
    at = json.end;
    pattern.lastIndex = json.end;
  }
  return { calls, rest: rest + text.slice(at) };
}

/** LFM2's pythonic calls: `name(key='value', n=1), other(...)`. */
function pythonCalls(body: string): ToolCall[] | undefined {
  const calls: ToolCall[] = [];
  let i = 0;
  const skip = (): void => {
    while (i < body.length && /[\s,]/.test(body[i]!)) i++;
  };
  const literal = (): unknown => {
    skip();
    const c = body[i];
    if (c === "'" || c === '"') {
      let out = '';
      i++;
      while (i < body.length && body[i] !== c) {
        if (body[i] === '\\') {
          const next = body[i + 1]!;
          out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          i += 2;
        } else out += body[i++];
      }
      i++;
      return out;
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const items: unknown[] = [];
      for (skip(); i < body.length && body[i] !== close; skip()) items.push(literal());
      i++;
      return items;
    }
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      for (skip(); i < body.length && body[i] !== '}'; skip()) {
        const key = String(literal());
        skip();
        if (body[i] === ':') i++;
        out[key] = literal();
      }
      i++;
      return out;
    }
    const m = /^[^,)\]}\s]+/.exec(body.slice(i));
    if (!m) throw new Error('bad literal');
    i += m[0].length;
    const word = m[0];
    if (word === 'True' || word === 'true') return true;
    if (word === 'False' || word === 'false') return false;
    if (word === 'None' || word === 'null') return null;
    const n = Number(word);
    return Number.isNaN(n) ? word : n;
  };
  try {
    for (skip(); i < body.length; skip()) {
      const name = /^[\w.-]+/.exec(body.slice(i));
      if (!name || body[i + name[0].length] !== '(') return undefined;
      i += name[0].length + 1;
      const args: Record<string, unknown> = {};
      for (skip(); i < body.length && body[i] !== ')'; skip()) {
        const key = /^(\w+)\s*=/.exec(body.slice(i));
        if (!key) return undefined;
        i += key[0].length;
        args[key[1]!] = literal();
      }
      i++;
      calls.push(call(name[0], args));
    }
  } catch {
    return undefined;
  }
  return calls;
}

function harmonyReasoning(text: string): { reasoning?: string; rest: string } {
  let reasoning: string | undefined;
  let rest = text.replace(/(?:<\|start\|>assistant)?<\|channel\|>analysis<\|message\|>([\s\S]*?)(?:<\|end\|>|$)/g, (_, r: string) => {
    reasoning = reasoning === undefined ? r : `${reasoning}\n${r}`;
    return '';
  });
  const final = /(?:<\|start\|>assistant)?<\|channel\|>final<\|message\|>([\s\S]*?)(?:<\|end\|>|<\|return\|>|$)/.exec(rest);
  if (final) rest = rest.slice(0, final.index) + final[1]! + rest.slice(final.index + final[0].length);
  return reasoning === undefined ? { rest } : { reasoning, rest };
}

/**
 * Splits a model's output as its template's format says: the reasoning (a closing marker with no opening
 * one means the prompt opened it, as templates do that start the assistant's turn inside `<think>`), the
 * tool calls, and the rest as the content. `tools` (the request's) types the parameters of XML-style calls.
 */
export function parseOutput(text: string, format: OutputFormat, options: { tools?: ReadonlyArray<Record<string, unknown>> } = {}): ParsedOutput {
  let rest = text;
  let reasoning: string | undefined;
  if (format.harmony) {
    const h = harmonyReasoning(rest);
    rest = h.rest;
    reasoning = h.reasoning;
  }
  for (const [open, close] of format.reasoning) {
    const end = rest.indexOf(close);
    if (end < 0) {
      // reasoning cut off before its end (no answer yet)
      const start = rest.indexOf(open);
      if (start >= 0 && rest.slice(0, start).trim() === '') {
        reasoning = rest.slice(start + open.length).trim();
        rest = '';
      }
      continue;
    }
    const start = rest.lastIndexOf(open, end);
    const from = start >= 0 && rest.slice(0, start).trim() === '' ? start + open.length : start >= 0 ? -1 : 0;
    if (from < 0) continue;
    const found = rest.slice(from, end).trim();
    reasoning = reasoning === undefined ? found : `${reasoning}\n${found}`;
    rest = (start >= 0 ? rest.slice(0, start) : '') + rest.slice(end + close.length).replace(/^\s+/, '');
    break;
  }
  const calls: ToolCall[] = [];
  for (const syntax of format.toolCalls) {
    const found = EXTRACTORS[syntax](rest, options.tools);
    if (found.calls.length === 0) continue;
    calls.push(...found.calls);
    rest = found.rest;
  }
  const out: ParsedOutput = { content: calls.length > 0 ? rest.trim() : rest };
  if (reasoning !== undefined && reasoning !== '') out.reasoning = reasoning;
  if (calls.length > 0) out.toolCalls = calls;
  return out;
}
