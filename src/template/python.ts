/**
 * Python semantics the templates rely on, as jinja2 gives them: truthiness, str() and repr(), equality and
 * ordering, json.dumps (transformers' tojson), argument binding. Its str methods and formatting are in
 * python-strings.ts.
 */
import {
  type Key,
  type Value,
  bool,
  float,
  int,
  isBoolean,
  isDict,
  isFloat,
  isGenerator,
  isInteger,
  isKeywordArguments,
  isList,
  isNone,
  isNumber,
  isString,
  isTuple,
  isUndefined,
  list,
  none,
  str,
  tuple,
} from './runtime.js';

/** An error jinja2 would raise as a Python exception (TypeError, ValueError, UndefinedError, SecurityError...). */
export class PythonError extends Error {
  constructor(
    readonly pythonType: string,
    message: string,
  ) {
    super(message);
    this.name = pythonType;
  }
}

export const typeError = (message: string): PythonError => new PythonError('TypeError', message);
export const valueError = (message: string): PythonError => new PythonError('ValueError', message);

/** Raised when an undefined value is used (jinja2's UndefinedError, or SecurityError for an unsafe attribute). */
export function undefinedError(value: Value): PythonError {
  if (value.unsafe) return new PythonError('SecurityError', value.hint ?? 'unsafe attribute');
  return new PythonError('UndefinedError', value.hint ?? 'value is undefined');
}

/** The Python type name of a value, as messages say it. */
export function typeName(value: Value): string {
  switch (value.type) {
    case 'StringValue':
      return 'str';
    case 'IntegerValue':
      return 'int';
    case 'FloatValue':
      return 'float';
    case 'BooleanValue':
      return 'bool';
    case 'NullValue':
      return 'NoneType';
    case 'UndefinedValue':
      return 'Undefined';
    case 'ArrayValue':
      return 'list';
    case 'TupleValue':
      return 'tuple';
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return 'dict';
    case 'NamespaceValue':
      return 'Namespace';
    case 'FunctionValue':
      return 'function';
    case 'GeneratorValue':
      return 'generator';
    default:
      return value.type;
  }
}

export function truthy(value: Value): boolean {
  switch (value.type) {
    case 'UndefinedValue':
    case 'NullValue':
      return false;
    case 'StringValue':
      return (value.value as string).length > 0;
    case 'IntegerValue':
    case 'FloatValue':
    case 'BooleanValue':
      return Number(value.value) !== 0;
    case 'ArrayValue':
    case 'TupleValue':
      return (value.value as Value[]).length > 0;
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return (value.value as Map<Key, Value>).size > 0;
    default:
      return true;
  }
}

/** A number's value (booleans count as 0 and 1, as in Python). */
export const numberOf = (value: Value): number => Number(value.value);

// ---------------------------------------------------------------------------------------------
// Dict keys

/** The dict key of a value; lists and dicts cannot be keys. */
export function keyOf(value: Value): Key {
  if (isString(value)) return value.value as string;
  if (isBoolean(value)) return (value.value as boolean) ? 1 : 0;
  if (isNumber(value)) return value.value as number;
  if (isNone(value)) return null;
  if (isTuple(value)) return `\u0000tuple:${repr(value)}`;
  throw typeError(`unhashable type: '${typeName(value)}'`);
}

/** The value of a dict key. */
export function keyValue(key: Key): Value {
  if (typeof key === 'string') return str(key);
  if (typeof key === 'number') return Number.isInteger(key) ? int(key) : float(key);
  if (typeof key === 'boolean') return bool(key);
  return none();
}

export function dictEntries(value: Value): Array<[Value, Value]> {
  return [...(value.value as Map<Key, Value>)].map(([key, item]) => [keyValue(key), item]);
}

/** The elements `for x in value` visits, or a TypeError (undefined values iterate as empty, as in jinja2). */
export function iterate(value: Value): Value[] {
  if (isList(value) || isGenerator(value)) return value.value as Value[];
  if (isDict(value)) return [...(value.value as Map<Key, Value>).keys()].map(keyValue);
  if (isString(value)) return Array.from(value.value as string, (c) => str(c));
  if (isUndefined(value)) return [];
  throw typeError(`'${typeName(value)}' object is not iterable`);
}

export function length(value: Value): number {
  if (isString(value)) return Array.from(value.value as string).length;
  if (isList(value)) return (value.value as Value[]).length;
  if (isDict(value)) return (value.value as Map<Key, Value>).size;
  if (isUndefined(value)) return 0;
  throw typeError(`object of type '${typeName(value)}' has no len()`);
}

// ---------------------------------------------------------------------------------------------
// str() and repr()

const PYTHON_WHITESPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
export const isPythonSpace = (c: string): boolean => PYTHON_WHITESPACE.includes(c);

/** Python's repr() of a float. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent >= -4 && exponent < 16) {
    let text: string;
    if (exponent < 0) text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
    else if (digits.length <= exponent + 1) text = `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
    else text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
    return sign + text;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exponent).toString().padStart(2, '0');
  return `${sign}${m}e${exponent < 0 ? '-' : '+'}${e}`;
}

export function numberStr(value: Value): string {
  if (isBoolean(value)) return value.value ? 'True' : 'False';
  if (isFloat(value)) return floatRepr(value.value as number);
  return String(value.value);
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr() of a string. */
export function stringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (c === quote || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c !== ' ' && NON_PRINTABLE.test(c)) {
      if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
      else out += `\\U${code.toString(16).padStart(8, '0')}`;
    } else out += c;
  }
  return out + quote;
}

/** Python's repr(). */
export function repr(value: Value): string {
  switch (value.type) {
    case 'StringValue':
      return stringRepr(value.value as string);
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return 'Undefined';
    case 'ArrayValue':
      return `[${(value.value as Value[]).map(repr).join(', ')}]`;
    case 'TupleValue': {
      const items = (value.value as Value[]).map(repr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return `{${dictEntries(value)
        .map(([k, v]) => `${repr(k)}: ${repr(v)}`)
        .join(', ')}}`;
    case 'NamespaceValue':
      return `<Namespace {${[...(value.value as Map<Key, Value>)].map(([k, v]) => `${repr(keyValue(k))}: ${repr(v)}`).join(', ')}}>`;
    case 'FunctionValue':
      return '<function>';
    case 'GeneratorValue':
      return '<generator object>';
    default:
      return numberStr(value);
  }
}

/** Python's str() as jinja2 prints a value (an undefined value prints as nothing). */
export function pyStr(value: Value): string {
  if (isString(value)) return value.value as string;
  if (isUndefined(value)) return '';
  return repr(value);
}

// ---------------------------------------------------------------------------------------------
// Equality and ordering

export function equals(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) return numberOf(a) === numberOf(b);
  if (isString(a) && isString(b)) return a.value === b.value;
  if (isNone(a) || isNone(b)) return isNone(a) && isNone(b);
  if (isUndefined(a) || isUndefined(b)) return isUndefined(a) && isUndefined(b);
  if (isList(a) && isList(b)) {
    if (isTuple(a) !== isTuple(b)) return false;
    const x = a.value as Value[];
    const y = b.value as Value[];
    return x.length === y.length && x.every((item, i) => equals(item, y[i]!));
  }
  if (isDict(a) && isDict(b)) {
    const x = a.value as Map<Key, Value>;
    const y = b.value as Map<Key, Value>;
    if (x.size !== y.size) return false;
    for (const [key, item] of x) {
      const other = y.get(key);
      if (other === undefined || !equals(item, other)) return false;
    }
    return true;
  }
  return a === b || (a.type === b.type && a.value === b.value);
}

/** Python's ordering (<): numbers, strings, and lists or tuples element by element. */
export function compare(a: Value, b: Value, operator = '<'): number {
  if (isNumber(a) && isNumber(b)) return numberOf(a) - numberOf(b);
  if (isString(a) && isString(b)) return codePointCompare(a.value as string, b.value as string);
  if (isList(a) && isList(b) && isTuple(a) === isTuple(b)) {
    const x = a.value as Value[];
    const y = b.value as Value[];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (!equals(x[i]!, y[i]!)) return compare(x[i]!, y[i]!, operator);
    }
    return x.length - y.length;
  }
  if (isUndefined(a)) throw undefinedError(a);
  if (isUndefined(b)) throw undefinedError(b);
  throw typeError(`'${operator}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

export function codePointCompare(a: string, b: string): number {
  if (a === b) return 0;
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

/** `needle in haystack`. */
export function contains(haystack: Value, needle: Value): boolean {
  if (isString(haystack)) {
    if (!isString(needle)) throw typeError(`'in <string>' requires string as left operand, not ${typeName(needle)}`);
    return (haystack.value as string).includes(needle.value as string);
  }
  if (isDict(haystack)) return (haystack.value as Map<Key, Value>).has(keyOf(needle));
  if (isList(haystack) || isGenerator(haystack)) return (haystack.value as Value[]).some((item) => equals(item, needle));
  if (isUndefined(haystack)) return false;
  throw typeError(`argument of type '${typeName(haystack)}' is not iterable`);
}

// ---------------------------------------------------------------------------------------------
// json.dumps, as transformers' tojson calls it

export interface DumpOptions {
  indent: number | string | null;
  separators: [string, string] | null;
  sortKeys: boolean;
  ensureAscii: boolean;
}

function jsonString(s: string, ensureAscii: boolean): string {
  let out = JSON.stringify(s);
  if (ensureAscii) out = out.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return out;
}

function jsonNumber(value: Value): string {
  if (isBoolean(value)) return value.value ? 'true' : 'false';
  const x = value.value as number;
  if (isFloat(value)) {
    if (Number.isNaN(x)) return 'NaN';
    if (x === Infinity) return 'Infinity';
    if (x === -Infinity) return '-Infinity';
    return floatRepr(x);
  }
  return String(x);
}

function jsonKey(key: Key, ensureAscii: boolean): string {
  if (typeof key === 'string') return jsonString(key, ensureAscii);
  if (typeof key === 'boolean') return key ? '"true"' : '"false"';
  if (key === null) return '"null"';
  return `"${Number.isInteger(key) ? String(key) : floatRepr(key)}"`;
}

/** Python's json.dumps(value, ensure_ascii, indent, separators, sort_keys). */
export function dumps(value: Value, options: DumpOptions): string {
  const indent = options.indent === null ? null : typeof options.indent === 'number' ? ' '.repeat(Math.max(0, options.indent)) : options.indent;
  const [itemSeparator, keySeparator] = options.separators ?? (indent === null ? [', ', ': '] : [',', ': ']);
  const walk = (v: Value, depth: number): string => {
    switch (v.type) {
      case 'StringValue':
        return jsonString(v.value as string, options.ensureAscii);
      case 'NullValue':
        return 'null';
      case 'IntegerValue':
      case 'FloatValue':
      case 'BooleanValue':
        return jsonNumber(v);
      case 'ArrayValue':
      case 'TupleValue': {
        const items = v.value as Value[];
        if (items.length === 0) return '[]';
        const parts = items.map((item) => walk(item, depth + 1));
        if (indent === null) return `[${parts.join(itemSeparator)}]`;
        const inner = `\n${indent.repeat(depth + 1)}`;
        return `[${inner}${parts.join(itemSeparator + inner)}\n${indent.repeat(depth)}]`;
      }
      case 'ObjectValue':
      case 'KeywordArgumentsValue': {
        let entries = [...(v.value as Map<Key, Value>)];
        if (entries.length === 0) return '{}';
        if (options.sortKeys) {
          entries = entries.slice().sort(([a], [b]) => {
            if (typeof a !== typeof b) throw typeError(`'<' not supported between instances of '${typeof a}' and '${typeof b}'`);
            return typeof a === 'string' ? codePointCompare(a, b as string) : (a as number) - (b as number);
          });
        }
        const parts = entries.map(([key, item]) => `${jsonKey(key, options.ensureAscii)}${keySeparator}${walk(item, depth + 1)}`);
        if (indent === null) return `{${parts.join(itemSeparator)}}`;
        const inner = `\n${indent.repeat(depth + 1)}`;
        return `{${inner}${parts.join(itemSeparator + inner)}\n${indent.repeat(depth)}}`;
      }
      default:
        throw typeError(`Object of type ${typeName(v)} is not JSON serializable`);
    }
  };
  return walk(value, 0);
}

// ---------------------------------------------------------------------------------------------
// Arguments of Python functions

/** Positional and keyword arguments of a call (the interpreter passes keywords as a trailing value). */
export function splitArguments(args: Value[]): { positional: Value[]; keywords: Map<string, Value> } {
  const last = args.at(-1);
  if (last && isKeywordArguments(last)) {
    return { positional: args.slice(0, -1), keywords: new Map([...(last.value as Map<Key, Value>)].map(([k, v]) => [String(k), v])) };
  }
  return { positional: args, keywords: new Map() };
}

/** Binds a call's arguments to named parameters, as Python does; missing ones are undefined. */
export function bind(name: string, args: Value[], parameters: readonly string[]): Array<Value | undefined> {
  const { positional, keywords } = splitArguments(args);
  if (positional.length > parameters.length) {
    throw typeError(`${name}() takes at most ${parameters.length} arguments (${positional.length} given)`);
  }
  const bound: Array<Value | undefined> = parameters.map((_, i) => positional[i]);
  for (const [key, value] of keywords) {
    const index = parameters.indexOf(key);
    if (index < 0) throw typeError(`${name}() got an unexpected keyword argument '${key}'`);
    if (bound[index] !== undefined) throw typeError(`${name}() got multiple values for argument '${key}'`);
    bound[index] = value;
  }
  return bound;
}

/** An argument that must be a string (or absent). */
export function stringArgument(name: string, value: Value | undefined): string | undefined {
  if (value === undefined || isNone(value)) return undefined;
  if (!isString(value)) throw typeError(`${name} arg must be None or str`);
  return value.value as string;
}

export function integerArgument(value: Value | undefined, fallback: number): number {
  if (value === undefined || isNone(value)) return fallback;
  if (!isInteger(value) && !isBoolean(value)) throw typeError(`'${typeName(value)}' object cannot be interpreted as an integer`);
  return numberOf(value);
}
