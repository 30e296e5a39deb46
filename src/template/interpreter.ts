/**
 * The interpreter chat templates run on: @huggingface/jinja's parser and statements (set, if, macro, call),
 * with the expression semantics of jinja2 in transformers' ImmutableSandboxedEnvironment: Python's values
 * (str() and repr(), `+` that raises on str + int, dicts with integer keys), jinja2's undefined values (printed
 * as nothing, an error when an attribute of one is read), its filters and tests, Python's str, dict and list
 * methods (the mutating ones refused as the immutable sandbox refuses them), and a fresh scope for each turn
 * of a for loop.
 */
import { type Fn, type Key, type Scope, type Value, Environment, Interpreter, KeywordArgumentsValue } from './runtime.js';
import {
  bool,
  dict,
  float,
  fn,
  generator,
  int,
  isBoolean,
  isDict,
  isFloat,
  isFunction,
  isInteger,
  isList,
  isNamespace,
  isNone,
  isNumber,
  isString,
  isTuple,
  isUndefined,
  list,
  markup,
  none,
  str,
  tuple,
  undefinedValue,
} from './runtime.js';
import {
  PythonError,
  bind,
  capitalize,
  codePointCompare,
  compare,
  contains,
  dictEntries,
  dumps,
  equals,
  integerArgument,
  iterate,
  keyOf,
  keyValue,
  length,
  numberOf,
  percentFormat,
  pyStr,
  repr,
  replace,
  rsplit,
  split,
  splitArguments,
  splitlines,
  strFormat,
  stringArgument,
  strip,
  title,
  truthy,
  typeError,
  typeName,
  undefinedError,
  valueError,
  isPythonSpace,
} from './python.js';

/** An AST node of @huggingface/jinja. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Node = { type: string } & Record<string, any>;

/** The members of the package's Interpreter this subclass calls or replaces (its declarations mark them private). */
interface InterpreterMembers {
  global: Scope;
  run(program: Node): Value;
  evaluate(node: Node | undefined, scope: Scope): Value;
  evaluateArguments(args: Node[], scope: Scope): [Value[], Map<string, Value>];
}
const BaseInterpreter = Interpreter as unknown as new (scope: Scope) => InterpreterMembers;

class BreakLoop {}
class ContinueLoop {}

/** Statements whose value is their output (not an expression printed with str()). */
const STATEMENTS = new Set(['Program', 'Set', 'If', 'For', 'Macro', 'Comment', 'CallStatement', 'FilterStatement', 'Break', 'Continue']);

export const newScope = (parent?: Scope): Scope => new Environment(parent) as unknown as Scope;

/** jinja2's name for an object in "has no attribute" messages. */
function objectName(value: Value): string {
  if (isNone(value)) return 'None';
  return `${typeName(value)} object`;
}

function keywordValue(map: Map<string, Value>): Value {
  return new KeywordArgumentsValue(map);
}

// ---------------------------------------------------------------------------------------------
// Attribute and item access, as jinja2's sandbox does it

const UNSAFE_METHODS: Record<string, Set<string>> = {
  list: new Set(['append', 'clear', 'extend', 'insert', 'pop', 'remove', 'reverse', 'sort']),
  dict: new Set(['clear', 'pop', 'popitem', 'setdefault', 'update']),
};

function unsafeAttribute(object: Value, name: string): Value {
  return undefinedValue(`access to attribute '${name}' of '${typeName(object)}' object is unsafe.`, true);
}

/** Python's getattr on a value: a method, or undefined when there is none. */
function method(object: Value, name: string): Value | undefined {
  if (name.startsWith('_')) return undefined;
  const kind = typeName(object);
  if (UNSAFE_METHODS[kind]?.has(name)) return unsafeAttribute(object, name);
  if (isString(object)) return stringMethod(object.value as string, name);
  if (isDict(object)) return dictMethod(object, name);
  if (isList(object)) return listMethod(object, name);
  if (isFloat(object) && name === 'is_integer') return fn(() => bool(Number.isInteger(object.value)));
  return undefined;
}

/** `object.name` (jinja2: the attribute first, then the item). */
export function getattr(object: Value, name: string): Value {
  if (isUndefined(object)) throw undefinedError(object);
  if (name.startsWith('__')) return unsafeAttribute(object, name);
  const m = method(object, name);
  if (m) return m;
  if (isDict(object) || isNamespace(object)) {
    const item = (object.value as Map<Key, Value>).get(name);
    if (item !== undefined) return item;
  }
  return undefinedValue(`'${objectName(object)}' has no attribute '${name}'`);
}

/** `object[key]` (jinja2: the item first, then the attribute for a string key). */
export function getitem(object: Value, key: Value): Value {
  if (isUndefined(object)) throw undefinedError(object);
  if (isDict(object)) {
    let k: Key | undefined;
    try {
      k = keyOf(key);
    } catch {
      k = undefined;
    }
    const item = k === undefined ? undefined : (object.value as Map<Key, Value>).get(k);
    if (item !== undefined) return item;
  } else if ((isList(object) || isString(object)) && (isInteger(key) || isBoolean(key))) {
    const items = isString(object) ? Array.from(object.value as string) : (object.value as Value[]);
    let index = numberOf(key);
    if (index < 0) index += items.length;
    const item = items[index];
    if (item !== undefined) return typeof item === 'string' ? str(item) : item;
    return undefinedValue(`${objectName(object)} has no element ${numberOf(key)}`);
  }
  if (isString(key)) return getattr(object, key.value as string);
  if (isNone(object)) return undefinedValue(`None has no element ${repr(key)}`);
  return undefinedValue(`'${objectName(object)}' has no attribute ${repr(key)}`);
}

/** `object[start:stop:step]`. */
function sliceOf(object: Value, start: Value, stop: Value, step: Value): Value {
  if (isUndefined(object)) throw undefinedError(object);
  const bound = (v: Value): number | undefined => {
    if (isNone(v) || isUndefined(v)) return undefined;
    if (!isInteger(v) && !isBoolean(v)) throw typeError('slice indices must be integers or None or have an __index__ method');
    return numberOf(v);
  };
  const items: unknown[] = isString(object) ? Array.from(object.value as string) : isList(object) ? (object.value as Value[]) : [];
  if (!isString(object) && !isList(object)) throw typeError(`'${typeName(object)}' object is not subscriptable`);
  const n = items.length;
  const s = bound(step) ?? 1;
  if (s === 0) throw valueError('slice step cannot be zero');
  const clamp = (v: number | undefined, fallback: number, low: number, high: number): number => {
    if (v === undefined) return fallback;
    const x = v < 0 ? v + n : v;
    return Math.min(Math.max(x, low), high);
  };
  const out: unknown[] = [];
  if (s > 0) {
    const a = clamp(bound(start), 0, 0, n);
    const b = clamp(bound(stop), n, 0, n);
    for (let i = a; i < b; i += s) out.push(items[i]);
  } else {
    const a = clamp(bound(start), n - 1, -1, n - 1);
    const b = clamp(bound(stop), -1, -1, n - 1);
    for (let i = a; i > b; i += s) out.push(items[i]);
  }
  if (isString(object)) return str(out.join(''));
  return isTuple(object) ? tuple(out as Value[]) : list(out as Value[]);
}

// ---------------------------------------------------------------------------------------------
// Methods of str, dict and list

function stringMethod(s: string, name: string): Value | undefined {
  const one = (parameters: string[], body: (args: Array<Value | undefined>) => Value): Value => fn((args) => body(bind(name, args, parameters)));
  const needString = (v: Value | undefined, what = 'argument'): string => {
    if (v === undefined || !isString(v)) throw typeError(`${name}() ${what} must be str, not ${v === undefined ? 'nothing' : typeName(v)}`);
    return v.value as string;
  };
  const affix = (args: Array<Value | undefined>, test: (text: string, affix: string) => boolean): Value => {
    const [prefix, startArg, endArg] = args;
    const begin = startArg === undefined || isNone(startArg) ? 0 : numberOf(startArg);
    const end = endArg === undefined || isNone(endArg) ? undefined : numberOf(endArg);
    const text = sliceOf(str(s), int(begin), end === undefined ? none() : int(end), none()).value as string;
    if (prefix !== undefined && isTuple(prefix)) return bool((prefix.value as Value[]).some((p) => test(text, needString(p))));
    return bool(test(text, needString(prefix)));
  };
  const find = (args: Array<Value | undefined>, last: boolean): number => {
    const sub = needString(args[0]);
    const begin = args[1] === undefined || isNone(args[1]) ? 0 : numberOf(args[1]);
    const end = args[2] === undefined || isNone(args[2]) ? undefined : numberOf(args[2]);
    const cs = Array.from(s);
    const text = (sliceOf(str(s), int(begin), end === undefined ? none() : int(end), none()).value as string);
    const offset = Math.min(Math.max(begin < 0 ? begin + cs.length : begin, 0), cs.length);
    const at = last ? text.lastIndexOf(sub) : text.indexOf(sub);
    return at < 0 ? -1 : offset + Array.from(text.slice(0, at)).length;
  };
  const pad = (args: Array<Value | undefined>, where: 'left' | 'right' | 'center'): Value => {
    const width = integerArgument(args[0], 0);
    const fill = args[1] === undefined ? ' ' : needString(args[1]);
    const n = Array.from(s).length;
    if (width <= n) return str(s);
    const total = width - n;
    if (where === 'left') return str(s + fill.repeat(total));
    if (where === 'right') return str(fill.repeat(total) + s);
    const left = Math.floor(total / 2) + (total & width & 1);
    return str(fill.repeat(left) + s + fill.repeat(total - left));
  };
  const every = (test: (c: string) => boolean): Value => fn(() => bool(s.length > 0 && Array.from(s).every(test)));
  switch (name) {
    case 'strip':
    case 'lstrip':
    case 'rstrip':
      return one(['chars'], ([chars]) => str(strip(s, stringArgument(name, chars), name !== 'rstrip', name !== 'lstrip')));
    case 'split':
    case 'rsplit':
      return one(['sep', 'maxsplit'], ([sep, maxsplit]) => {
        const parts = (name === 'split' ? split : rsplit)(s, stringArgument(name, sep), integerArgument(maxsplit, -1));
        return list(parts.map(str));
      });
    case 'splitlines':
      return one(['keepends'], ([keepends]) => list(splitlines(s, keepends !== undefined && truthy(keepends)).map(str)));
    case 'startswith':
      return one(['prefix', 'start', 'end'], (args) => affix(args, (text, p) => text.startsWith(p)));
    case 'endswith':
      return one(['suffix', 'start', 'end'], (args) => affix(args, (text, p) => text.endsWith(p)));
    case 'replace':
      return one(['old', 'new', 'count'], ([old, replacement, count]) => str(replace(s, needString(old), needString(replacement), integerArgument(count, -1))));
    case 'upper':
      return fn(() => str(s.toUpperCase()));
    case 'lower':
      return fn(() => str(s.toLowerCase()));
    case 'casefold':
      return fn(() => str(s.toLowerCase()));
    case 'swapcase':
      return fn(() => str(Array.from(s, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')));
    case 'title':
      return fn(() => str(title(s)));
    case 'capitalize':
      return fn(() => str(capitalize(s)));
    case 'find':
      return one(['sub', 'start', 'end'], (args) => int(find(args, false)));
    case 'rfind':
      return one(['sub', 'start', 'end'], (args) => int(find(args, true)));
    case 'index':
    case 'rindex':
      return one(['sub', 'start', 'end'], (args) => {
        const at = find(args, name === 'rindex');
        if (at < 0) throw valueError('substring not found');
        return int(at);
      });
    case 'count':
      return one(['sub'], ([sub]) => {
        const x = needString(sub);
        return int(x === '' ? Array.from(s).length + 1 : s.split(x).length - 1);
      });
    case 'isdigit':
    case 'isnumeric':
    case 'isdecimal':
      return every((c) => /\p{Nd}/u.test(c));
    case 'isalpha':
      return every((c) => /\p{L}/u.test(c));
    case 'isalnum':
      return every((c) => /[\p{L}\p{N}]/u.test(c));
    case 'isspace':
      return every(isPythonSpace);
    case 'isupper':
      return fn(() => bool(/\p{Lu}/u.test(s) && s === s.toUpperCase()));
    case 'islower':
      return fn(() => bool(/\p{Ll}/u.test(s) && s === s.toLowerCase()));
    case 'istitle':
      return fn(() => bool(/\p{L}/u.test(s) && title(s) === s));
    case 'join':
      return one(['iterable'], ([items]) => {
        if (items === undefined) throw typeError('join() takes exactly one argument (0 given)');
        return str(
          iterate(items)
            .map((item, i) => {
              if (!isString(item)) throw typeError(`sequence item ${i}: expected str instance, ${typeName(item)} found`);
              return item.value as string;
            })
            .join(s),
        );
      });
    case 'format':
      return fn((args) => str(strFormat(s, args, getattr, getitem)));
    case 'center':
      return one(['width', 'fillchar'], (args) => pad(args, 'center'));
    case 'ljust':
      return one(['width', 'fillchar'], (args) => pad(args, 'left'));
    case 'rjust':
      return one(['width', 'fillchar'], (args) => pad(args, 'right'));
    case 'zfill':
      return one(['width'], ([width]) => {
        const w = integerArgument(width, 0);
        const sign = /^[+-]/.test(s) ? s[0]! : '';
        const body = s.slice(sign.length);
        return str(sign + body.padStart(Math.max(0, w - sign.length), '0'));
      });
    case 'partition':
    case 'rpartition':
      return one(['sep'], ([sep]) => {
        const x = needString(sep);
        if (x === '') throw valueError('empty separator');
        const at = name === 'partition' ? s.indexOf(x) : s.lastIndexOf(x);
        if (at < 0) return name === 'partition' ? tuple([str(s), str(''), str('')]) : tuple([str(''), str(''), str(s)]);
        return tuple([str(s.slice(0, at)), str(x), str(s.slice(at + x.length))]);
      });
    case 'removeprefix':
      return one(['prefix'], ([p]) => {
        const x = needString(p);
        return str(x !== '' && s.startsWith(x) ? s.slice(x.length) : s);
      });
    case 'removesuffix':
      return one(['suffix'], ([p]) => {
        const x = needString(p);
        return str(x !== '' && s.endsWith(x) ? s.slice(0, -x.length) : s);
      });
    case 'expandtabs':
      return one(['tabsize'], ([size]) => {
        const width = integerArgument(size, 8);
        let column = 0;
        let out = '';
        for (const c of s) {
          if (c === '\t') {
            const spaces = width > 0 ? width - (column % width) : 0;
            out += ' '.repeat(spaces);
            column += spaces;
          } else {
            out += c;
            column = c === '\n' || c === '\r' ? 0 : column + 1;
          }
        }
        return str(out);
      });
    default:
      return undefined;
  }
}

function dictMethod(object: Value, name: string): Value | undefined {
  const map = object.value as Map<Key, Value>;
  switch (name) {
    case 'get':
      return fn((args) => {
        const [key, fallback] = bind('get', args, ['key', 'default']);
        if (key === undefined) throw typeError('get expected at least 1 argument, got 0');
        let k: Key;
        try {
          k = keyOf(key);
        } catch (error) {
          throw error;
        }
        return map.get(k) ?? fallback ?? none();
      });
    case 'items':
      return fn(() => list(dictEntries(object).map(([k, v]) => tuple([k, v]))));
    case 'keys':
      return fn(() => list([...map.keys()].map(keyValue)));
    case 'values':
      return fn(() => list([...map.values()]));
    case 'copy':
      return fn(() => dict(new Map(map)));
    default:
      return undefined;
  }
}

function listMethod(object: Value, name: string): Value | undefined {
  const items = object.value as Value[];
  switch (name) {
    case 'index':
      return fn((args) => {
        const [x] = bind('index', args, ['value']);
        const at = items.findIndex((item) => x !== undefined && equals(item, x));
        if (at < 0) throw valueError(`${x === undefined ? '' : repr(x)} is not in list`);
        return int(at);
      });
    case 'count':
      return fn((args) => {
        const [x] = bind('count', args, ['value']);
        return int(items.filter((item) => x !== undefined && equals(item, x)).length);
      });
    case 'copy':
      return isTuple(object) ? undefined : fn(() => list(items.slice()));
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Operators

/** markupsafe's escape: a markup string as it is, anything else as its str(), HTML-escaped. */
function escapeValue(value: Value): string {
  return value.markup ? (value.value as string) : htmlEscape(pyStr(value));
}

function add(a: Value, b: Value): Value {
  if (isNumber(a) && isNumber(b)) return arithmetic(a, b, numberOf(a) + numberOf(b));
  // Markup + str escapes the str (and str + Markup, through Markup.__radd__)
  if (isString(a) && isString(b) && (a.markup || b.markup)) return markup(escapeValue(a) + escapeValue(b));
  if (isString(a) && isString(b)) return str((a.value as string) + (b.value as string));
  if (isList(a) && isList(b) && isTuple(a) === isTuple(b)) {
    const items = [...(a.value as Value[]), ...(b.value as Value[])];
    return isTuple(a) ? tuple(items) : list(items);
  }
  if (isUndefined(a)) throw undefinedError(a);
  if (isUndefined(b)) throw undefinedError(b);
  if (isString(a) || isList(a)) throw typeError(`can only concatenate ${typeName(a)} (not "${typeName(b)}") to ${typeName(a)}`);
  throw typeError(`unsupported operand type(s) for +: '${typeName(a)}' and '${typeName(b)}'`);
}

function arithmetic(a: Value, b: Value, result: number): Value {
  return isFloat(a) || isFloat(b) ? float(result) : int(result);
}

function binary(operator: string, a: Value, b: Value): Value {
  switch (operator) {
    case '==':
      return bool(equals(a, b));
    case '!=':
      return bool(!equals(a, b));
    case 'in':
      return bool(contains(b, a));
    case 'not in':
      return bool(!contains(b, a));
    case '~':
      return str(pyStr(a) + pyStr(b));
    case '<':
      return bool(compare(a, b, operator) < 0);
    case '>':
      return bool(compare(a, b, operator) > 0);
    case '<=':
      return bool(compare(a, b, operator) <= 0);
    case '>=':
      return bool(compare(a, b, operator) >= 0);
    case '+':
      return add(a, b);
  }
  if (isUndefined(a)) throw undefinedError(a);
  if (isUndefined(b)) throw undefinedError(b);
  const unsupported = (): PythonError => typeError(`unsupported operand type(s) for ${operator}: '${typeName(a)}' and '${typeName(b)}'`);
  if (operator === '%' && isString(a)) return str(percentFormat(a.value as string, b));
  if (operator === '*') {
    const repeat = (sequence: Value, times: Value): Value => {
      const n = Math.max(0, numberOf(times));
      if (isString(sequence)) return str((sequence.value as string).repeat(n));
      const items: Value[] = [];
      for (let i = 0; i < n; i++) items.push(...(sequence.value as Value[]));
      return isTuple(sequence) ? tuple(items) : list(items);
    };
    if ((isString(a) || isList(a)) && (isInteger(b) || isBoolean(b))) return repeat(a, b);
    if ((isString(b) || isList(b)) && (isInteger(a) || isBoolean(a))) return repeat(b, a);
  }
  if (!isNumber(a) || !isNumber(b)) throw unsupported();
  const x = numberOf(a);
  const y = numberOf(b);
  switch (operator) {
    case '-':
      return arithmetic(a, b, x - y);
    case '*':
      return arithmetic(a, b, x * y);
    case '/':
      if (y === 0) throw new PythonError('ZeroDivisionError', 'division by zero');
      return float(x / y);
    case '//':
      if (y === 0) throw new PythonError('ZeroDivisionError', 'integer division or modulo by zero');
      return arithmetic(a, b, Math.floor(x / y));
    case '%':
      if (y === 0) throw new PythonError('ZeroDivisionError', 'integer modulo by zero');
      return arithmetic(a, b, x - y * Math.floor(x / y));
    case '**': {
      const result = x ** y;
      return isFloat(a) || isFloat(b) || y < 0 ? float(result) : int(result);
    }
    default:
      throw unsupported();
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

type Test = (value: Value, args: Value[]) => boolean;

export const TESTS: ReadonlyMap<string, Test> = new Map<string, Test>([
  ['defined', (v) => !isUndefined(v)],
  ['undefined', (v) => isUndefined(v)],
  ['none', (v) => isNone(v)],
  ['boolean', (v) => isBoolean(v)],
  ['true', (v) => isBoolean(v) && v.value === true],
  ['false', (v) => isBoolean(v) && v.value === false],
  ['integer', (v) => isInteger(v)],
  ['float', (v) => isFloat(v)],
  ['number', (v) => isNumber(v)],
  ['string', (v) => isString(v)],
  ['mapping', (v) => isDict(v)],
  ['sequence', (v) => isString(v) || isList(v) || isDict(v) || isUndefined(v)],
  ['iterable', (v) => isString(v) || isList(v) || isDict(v) || isUndefined(v)],
  ['callable', (v) => isFunction(v) || isUndefined(v)],
  ['odd', (v) => numberOf(v) % 2 !== 0],
  ['even', (v) => numberOf(v) % 2 === 0],
  ['divisibleby', (v, [n]) => n !== undefined && numberOf(v) % numberOf(n) === 0],
  ['lower', (v) => {
    const s = pyStr(v);
    return /\p{Ll}/u.test(s) && s === s.toLowerCase();
  }],
  ['upper', (v) => {
    const s = pyStr(v);
    return /\p{Lu}/u.test(s) && s === s.toUpperCase();
  }],
  ['escaped', () => false],
  ['in', (v, [seq]) => seq !== undefined && contains(seq, v)],
  ['sameas', (v, [other]) => other !== undefined && (v === other || (v.type === other.type && ['NullValue', 'BooleanValue'].includes(v.type) && v.value === other.value))],
  ...(['==', 'eq', 'equalto'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && equals(v, o)]),
  ...(['!=', 'ne'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && !equals(v, o)]),
  ...(['<', 'lt', 'lessthan'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && compare(v, o) < 0]),
  ...(['<=', 'le'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && compare(v, o) <= 0]),
  ...(['>', 'gt', 'greaterthan'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && compare(v, o) > 0]),
  ...(['>=', 'ge'] as const).map((name): [string, Test] => [name, (v, [o]) => o !== undefined && compare(v, o) >= 0]),
  ['filter', (v) => isString(v) && FILTER_NAMES.has(v.value as string)],
  ['test', (v) => isString(v) && TEST_NAMES.has(v.value as string)],
]);
const TEST_NAMES = new Set(TESTS.keys());

function runTest(name: string, value: Value, args: Value[]): boolean {
  const test = TESTS.get(name);
  if (!test) throw new PythonError('TemplateRuntimeError', `No test named '${name}' found.`);
  return test(value, args);
}

// ---------------------------------------------------------------------------------------------
// Filters

type Filter = (this: ChatInterpreter, value: Value, args: Value[], scope: Scope) => Value;

/** jinja2's make_attrgetter: "a.b.0" looked up part by part (digits as integer items). */
function attributeGetter(attribute: Value | undefined, fallback?: Value): (item: Value) => Value {
  if (attribute === undefined || isNone(attribute)) return (item) => item;
  const parts = isString(attribute) ? (attribute.value as string).split('.') : [String(numberOf(attribute))];
  return (item) => {
    let value = item;
    for (const part of parts) value = getitem(value, /^\d+$/.test(part) ? int(Number(part)) : str(part));
    if (isUndefined(value) && fallback !== undefined) return fallback;
    return value;
  };
}

/** The sort key of an item: case-folded when the comparison ignores case. */
function sortKey(value: Value, caseSensitive: boolean): Value {
  return !caseSensitive && isString(value) ? str((value.value as string).toLowerCase()) : value;
}

function stableSort(items: Value[], key: (item: Value) => Value, reverse: boolean): Value[] {
  const keyed = items.map((item, index) => ({ item, key: key(item), index }));
  keyed.sort((a, b) => {
    const c = compare(a.key, b.key);
    if (c !== 0) return reverse ? -c : c;
    return a.index - b.index;
  });
  return keyed.map((entry) => entry.item);
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

function doIndent(s: string, width: Value | undefined, first: boolean, blank: boolean): string {
  const indention = width === undefined ? '    ' : isString(width) ? (width.value as string) : ' '.repeat(numberOf(width));
  const text = `${s}\n`;
  const lines = splitlines(text);
  let out: string;
  if (blank) out = lines.join(`\n${indention}`);
  else {
    out = lines.shift() ?? '';
    if (lines.length > 0) out += `\n${lines.map((line) => (line ? indention + line : line)).join('\n')}`;
  }
  return first ? indention + out : out;
}

function toInt(value: Value, fallback: Value, base: number): Value {
  if (isInteger(value)) return value;
  if (isBoolean(value)) return int(numberOf(value));
  if (isFloat(value)) return Number.isFinite(value.value) ? int(Math.trunc(value.value as number)) : fallback;
  if (isString(value)) {
    const s = strip(value.value as string, undefined, true, true).replace(/_/g, '');
    const digits = base === 16 ? /^[+-]?(0x)?[0-9a-f]+$/i : base === 8 ? /^[+-]?(0o)?[0-7]+$/i : base === 2 ? /^[+-]?(0b)?[01]+$/i : /^[+-]?\d+$/;
    if (digits.test(s)) return int(parseInt(s.replace(/^([+-]?)0[xob]/i, '$1'), base));
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return int(Math.trunc(Number(s)));
  }
  return fallback;
}

function toFloat(value: Value, fallback: Value): Value {
  if (isNumber(value)) return float(numberOf(value));
  if (isString(value)) {
    const s = strip(value.value as string, undefined, true, true).toLowerCase();
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(s)) return float(Number(s));
    if (/^[+-]?(inf|infinity)$/.test(s)) return float(s.startsWith('-') ? -Infinity : Infinity);
    if (/^[+-]?nan$/.test(s)) return float(NaN);
  }
  return fallback;
}

const FILTERS = new Map<string, Filter>();
const filter = (names: string | string[], parameters: string[], body: (this: ChatInterpreter, value: Value, args: Array<Value | undefined>, scope: Scope) => Value): void => {
  for (const name of Array.isArray(names) ? names : [names]) {
    FILTERS.set(name, function run(this: ChatInterpreter, value, args, scope) {
      return body.call(this, value, bind(name, args, parameters), scope);
    });
  }
};
const flag = (value: Value | undefined, fallback = false): boolean => (value === undefined ? fallback : truthy(value));

filter(['length', 'count'], [], (v) => int(length(v)));
filter('string', [], (v) => str(pyStr(v)));
filter('safe', [], (v) => (v.markup ? v : markup(pyStr(v))));
filter(['e', 'escape'], [], (v) => markup(escapeValue(v)));
filter('forceescape', [], (v) => markup(htmlEscape(pyStr(v))));
filter('trim', ['chars'], (v, [chars]) => str(strip(pyStr(v), stringArgument('trim', chars), true, true)));
filter('upper', [], (v) => str(pyStr(v).toUpperCase()));
filter('lower', [], (v) => str(pyStr(v).toLowerCase()));
filter('title', [], (v) => str(title(pyStr(v))));
filter('capitalize', [], (v) => str(capitalize(pyStr(v))));
filter('replace', ['old', 'new', 'count'], (v, [old, replacement, count]) =>
  str(replace(pyStr(v), old === undefined ? '' : pyStr(old), replacement === undefined ? '' : pyStr(replacement), integerArgument(count, -1))),
);
filter('indent', ['width', 'first', 'blank'], (v, [width, first, blank]) => str(doIndent(pyStr(v), width, flag(first), flag(blank))));
filter('center', ['width'], (v, [width]) => {
  const s = pyStr(v);
  const w = integerArgument(width, 80);
  return stringMethod(s, 'center')!.value([int(w)]) as Value;
});
filter('wordcount', [], (v) => int((pyStr(v).match(/\w+/gu) ?? []).length));
filter(['d', 'default'], ['default_value', 'boolean'], (v, [fallback, boolean]) =>
  isUndefined(v) || (flag(boolean) && !truthy(v)) ? (fallback ?? str('')) : v,
);
filter('first', [], (v) => iterate(v)[0] ?? undefinedValue('No first item, sequence was empty.'));
filter('last', [], (v) => {
  if (!isString(v) && !isList(v) && !isDict(v)) throw typeError(`'${typeName(v)}' object is not reversible`);
  return iterate(v).at(-1) ?? undefinedValue('No last item, sequence was empty.');
});
filter('list', [], (v) => list(iterate(v)));
filter('reverse', [], (v) => {
  if (isString(v)) return str(Array.from(v.value as string).reverse().join(''));
  return generator(iterate(v).slice().reverse());
});
filter('join', ['d', 'attribute'], (v, [separator, attribute]) => {
  const get = attributeGetter(attribute);
  return str(iterate(v).map((item) => pyStr(get(item))).join(separator === undefined ? '' : pyStr(separator)));
});
filter('items', [], (v) => {
  if (isUndefined(v)) return generator([]);
  if (!isDict(v)) throw typeError('Can only get item pairs from a mapping.');
  return generator(dictEntries(v).map(([k, item]) => tuple([k, item])));
});
filter('dictsort', ['case_sensitive', 'by', 'reverse'], (v, [caseSensitive, by, reverse]) => {
  if (!isDict(v)) throw typeError('You can only sort by either "key" or "value"');
  const position = by === undefined || (isString(by) && by.value === 'key') ? 0 : isString(by) && by.value === 'value' ? 1 : -1;
  if (position < 0) throw new PythonError('FilterArgumentError', 'You can only sort by either "key" or "value"');
  const entries = dictEntries(v).map(([k, item]) => tuple([k, item]));
  return list(stableSort(entries, (entry) => sortKey((entry.value as Value[])[position]!, flag(caseSensitive)), flag(reverse)));
});
filter('sort', ['reverse', 'case_sensitive', 'attribute'], (v, [reverse, caseSensitive, attribute]) => {
  const get = attributeGetter(attribute);
  return list(stableSort(iterate(v), (item) => sortKey(get(item), flag(caseSensitive)), flag(reverse)));
});
filter('unique', ['case_sensitive', 'attribute'], (v, [caseSensitive, attribute]) => {
  const get = attributeGetter(attribute);
  const seen: Value[] = [];
  const out: Value[] = [];
  for (const item of iterate(v)) {
    const key = sortKey(get(item), flag(caseSensitive));
    if (!seen.some((s) => equals(s, key))) {
      seen.push(key);
      out.push(item);
    }
  }
  return generator(out);
});
for (const [name, sign] of [['min', 1], ['max', -1]] as const) {
  filter(name, ['case_sensitive', 'attribute'], (v, [caseSensitive, attribute]) => {
    const get = attributeGetter(attribute);
    const items = iterate(v);
    if (items.length === 0) return undefinedValue(`No aggregated item, sequence was empty.`);
    let best = items[0]!;
    for (const item of items.slice(1)) {
      if (sign * compare(sortKey(get(item), flag(caseSensitive)), sortKey(get(best), flag(caseSensitive))) < 0) best = item;
    }
    return best;
  });
}
filter('sum', ['attribute', 'start'], (v, [attribute, start]) => {
  const get = attributeGetter(attribute);
  return iterate(v).reduce((total, item) => add(total, get(item)), start ?? int(0));
});
filter('abs', [], (v) => {
  if (!isNumber(v)) throw typeError(`bad operand type for abs(): '${typeName(v)}'`);
  return isFloat(v) ? float(Math.abs(v.value as number)) : int(Math.abs(numberOf(v)));
});
filter('int', ['default', 'base'], (v, [fallback, base]) => toInt(v, fallback ?? int(0), integerArgument(base, 10)));
filter('float', ['default'], (v, [fallback]) => toFloat(v, fallback ?? float(0)));
filter('round', ['precision', 'method'], (v, [precision, methodName]) => {
  const p = integerArgument(precision, 0);
  const how = methodName === undefined ? 'common' : pyStr(methodName);
  const factor = 10 ** p;
  const x = numberOf(v) * factor;
  // Python's round(): halves to the even neighbour
  const halfEven = (y: number): number => {
    const floor = Math.floor(y);
    const diff = y - floor;
    if (Math.abs(diff - 0.5) < 1e-9) return floor % 2 === 0 ? floor : floor + 1;
    return Math.round(y);
  };
  const rounded = how === 'ceil' ? Math.ceil(x) : how === 'floor' ? Math.floor(x) : halfEven(x);
  return float(rounded / factor);
});
filter('tojson', ['ensure_ascii', 'indent', 'separators', 'sort_keys'], (v, [ensureAscii, indent, separators, sortKeys]) => {
  let seps: [string, string] | null = null;
  if (separators !== undefined && !isNone(separators)) {
    const items = iterate(separators);
    if (items.length !== 2) throw valueError('separators must be a pair of strings');
    seps = [pyStr(items[0]!), pyStr(items[1]!)];
  }
  const indentValue = indent === undefined || isNone(indent) ? null : isString(indent) ? (indent.value as string) : numberOf(indent);
  return str(dumps(v, { ensureAscii: flag(ensureAscii), indent: indentValue, separators: seps, sortKeys: flag(sortKeys) }));
});
FILTERS.set('format', (v, args) => {
  const { positional, keywords } = splitArguments(args);
  const operand = keywords.size > 0 ? dict(new Map(keywords)) : tuple(positional);
  return str(percentFormat(pyStr(v), operand));
});
FILTERS.set('attr', (v, args) => {
  // jinja2's attr looks up the attribute only, never the item
  const [name] = bind('attr', args, ['name']);
  const attribute = name === undefined ? '' : pyStr(name);
  if (isUndefined(v)) throw undefinedError(v);
  return (attribute.startsWith('__') ? unsafeAttribute(v, attribute) : method(v, attribute)) ?? undefinedValue(`'${objectName(v)}' has no attribute '${attribute}'`);
});
FILTERS.set('map', function map(v, args, scope) {
  const { positional, keywords } = splitArguments(args);
  // jinja2's map, select and reject are generators over `value` when it is true, and empty otherwise
  const items = truthy(v) ? iterate(v) : [];
  if (positional.length === 0 && keywords.has('attribute')) {
    const get = attributeGetter(keywords.get('attribute'), keywords.get('default'));
    return generator(items.map(get));
  }
  const name = positional[0];
  if (name === undefined) throw new PythonError('FilterArgumentError', 'map requires a filter argument');
  const rest = keywords.size > 0 ? [...positional.slice(1), keywordValue(keywords)] : positional.slice(1);
  return generator(items.map((item) => this.callFilter(pyStr(name), item, rest, scope)));
});
for (const [name, wanted, byAttribute] of [
  ['select', true, false],
  ['reject', false, false],
  ['selectattr', true, true],
  ['rejectattr', false, true],
] as const) {
  FILTERS.set(name, (v, args) => {
    const { positional } = splitArguments(args);
    const get = byAttribute ? attributeGetter(positional[0]) : (item: Value) => item;
    const testArgs = byAttribute ? positional.slice(1) : positional;
    const testName = testArgs[0];
    const check = testName === undefined ? (item: Value) => truthy(item) : (item: Value) => runTest(pyStr(testName), item, testArgs.slice(1));
    return generator((truthy(v) ? iterate(v) : []).filter((item) => check(get(item)) === wanted));
  });
}
const FILTER_NAMES = new Set(FILTERS.keys());

// ---------------------------------------------------------------------------------------------
// The interpreter

export class ChatInterpreter extends BaseInterpreter {
  /** Calls the filter `name` (as `value | name(args)`). */
  callFilter(name: string, value: Value, args: Value[], scope: Scope): Value {
    const f = FILTERS.get(name);
    if (!f) throw new PythonError('TemplateRuntimeError', `No filter named '${name}' found.`);
    return f.call(this, value, args, scope);
  }

  override evaluate(node: Node | undefined, scope: Scope): Value {
    if (!node) return undefinedValue();
    switch (node.type) {
      case 'Identifier': {
        const value = scope.lookupVariable(node.value as string);
        return isUndefined(value) && value.hint === undefined ? undefinedValue(`'${node.value}' is undefined`) : value;
      }
      case 'ObjectLiteral': {
        const map = new Map<Key, Value>();
        for (const [key, item] of node.value as Map<Node, Node>) map.set(keyOf(this.evaluate(key, scope)), this.evaluate(item, scope));
        return dict(map);
      }
      case 'MemberExpression':
        return this.member(node, scope);
      case 'CallExpression':
        return this.call(node, scope);
      case 'BinaryExpression':
        return this.binary(node, scope);
      case 'UnaryExpression':
        return this.unary(node, scope);
      case 'TestExpression': {
        const result = runTest(node.test.value as string, this.evaluate(node.operand, scope), []);
        return bool(node.negate ? !result : result);
      }
      case 'FilterExpression':
        return this.applyFilter(this.evaluate(node.operand, scope), node.filter, scope);
      case 'SelectExpression':
        return truthy(this.evaluate(node.test, scope)) ? this.evaluate(node.lhs, scope) : undefinedValue('the condition of an inline if was false');
      case 'Ternary':
        return truthy(this.evaluate(node.condition, scope)) ? this.evaluate(node.trueExpr, scope) : this.evaluate(node.falseExpr, scope);
      case 'If':
        return this.evaluateBlock(truthy(this.evaluate(node.test, scope)) ? node.body : node.alternate, scope);
      case 'For':
        return this.loop(node, scope);
      case 'Break':
        throw new BreakLoop();
      case 'Continue':
        throw new ContinueLoop();
      default:
        return super.evaluate(node, scope);
    }
  }

  /** The output of a block: statements give their output, expressions their str() (None prints "None"). */
  evaluateBlock(statements: Node[], scope: Scope): Value {
    let out = '';
    for (const statement of statements) {
      const value = this.evaluate(statement, scope);
      if (STATEMENTS.has(statement.type)) {
        if (isString(value)) out += value.value as string;
        else if (!isNone(value) && !isUndefined(value)) out += pyStr(value);
      } else {
        out += pyStr(value);
      }
    }
    return str(out);
  }

  applyFilter(value: Value, node: Node, scope: Scope): Value {
    if (node.type === 'Identifier') return this.callFilter(node.value as string, value, [], scope);
    if (node.type !== 'CallExpression' || node.callee.type !== 'Identifier') throw new PythonError('TemplateSyntaxError', 'a filter name was expected');
    const [positional, keywords] = this.evaluateArguments(node.args as Node[], scope);
    return this.callFilter(node.callee.value as string, value, keywords.size > 0 ? [...positional, keywordValue(keywords)] : positional, scope);
  }

  private member(node: Node, scope: Scope): Value {
    const object = this.evaluate(node.object, scope);
    const property = node.property as Node;
    if (node.computed && property.type === 'SliceExpression') {
      return sliceOf(object, this.evaluate(property.start, scope), this.evaluate(property.stop, scope), this.evaluate(property.step, scope));
    }
    if (node.computed) return getitem(object, this.evaluate(property, scope));
    if (property.type === 'IntegerLiteral') return getitem(object, int(property.value as number));
    return getattr(object, property.value as string);
  }

  private call(node: Node, scope: Scope): Value {
    const callee = this.evaluate(node.callee, scope);
    const [positional, keywords] = this.evaluateArguments(node.args as Node[], scope);
    if (isUndefined(callee)) throw undefinedError(callee);
    if (!isFunction(callee)) throw typeError(`'${typeName(callee)}' object is not callable`);
    const args = keywords.size > 0 ? [...positional, keywordValue(keywords)] : positional;
    return (callee.value as Fn)(args, scope);
  }

  private binary(node: Node, scope: Scope): Value {
    const operator = node.operator.value as string;
    const left = this.evaluate(node.left, scope);
    if (operator === 'and') return truthy(left) ? this.evaluate(node.right, scope) : left;
    if (operator === 'or') return truthy(left) ? left : this.evaluate(node.right, scope);
    return binary(operator, left, this.evaluate(node.right, scope));
  }

  private unary(node: Node, scope: Scope): Value {
    const value = this.evaluate(node.argument, scope);
    const operator = node.operator.value as string;
    if (operator === 'not') return bool(!truthy(value));
    if (isUndefined(value)) throw undefinedError(value);
    if (!isNumber(value)) throw typeError(`bad operand type for unary ${operator}: '${typeName(value)}'`);
    const x = operator === '-' ? -numberOf(value) : numberOf(value);
    return isFloat(value) ? float(x) : int(x);
  }

  private assign(target: Node, value: Value, scope: Scope): void {
    if (target.type === 'Identifier') {
      scope.setVariable(target.value as string, value);
      return;
    }
    if (target.type !== 'TupleLiteral') throw new PythonError('TemplateSyntaxError', `cannot assign to ${target.type}`);
    const names = target.value as Node[];
    const items = iterate(value);
    if (items.length > names.length) throw valueError(`too many values to unpack (expected ${names.length})`);
    if (items.length < names.length) throw valueError(`not enough values to unpack (expected ${names.length}, got ${items.length})`);
    names.forEach((name, i) => this.assign(name, items[i]!, scope));
  }

  private loop(node: Node, outer: Scope): Value {
    const scope = newScope(outer);
    let iterableNode = node.iterable as Node;
    let condition: Node | undefined;
    if (iterableNode.type === 'SelectExpression') {
      condition = iterableNode.test as Node;
      iterableNode = iterableNode.lhs as Node;
    }
    let items = iterate(this.evaluate(iterableNode, scope));
    if (condition) {
      const test = condition;
      items = items.filter((item) => {
        const testScope = newScope(scope);
        this.assign(node.loopvar as Node, item, testScope);
        return truthy(this.evaluate(test, testScope));
      });
    }
    let out = '';
    for (let i = 0; i < items.length; i++) {
      const turn = newScope(scope);
      const n = items.length;
      const loop = new Map<Key, Value>([
        ['index', int(i + 1)],
        ['index0', int(i)],
        ['revindex', int(n - i)],
        ['revindex0', int(n - i - 1)],
        ['first', bool(i === 0)],
        ['last', bool(i === n - 1)],
        ['length', int(n)],
        ['depth', int(1)],
        ['depth0', int(0)],
        ['previtem', i > 0 ? items[i - 1]! : undefinedValue('there is no previous item')],
        ['nextitem', i < n - 1 ? items[i + 1]! : undefinedValue('there is no next item')],
        [
          'cycle',
          fn((args) => {
            const { positional } = splitArguments(args);
            if (positional.length === 0) throw typeError('no items for cycling given');
            return positional[i % positional.length]!;
          }),
        ],
      ]);
      turn.setVariable('loop', dict(loop));
      this.assign(node.loopvar as Node, items[i]!, turn);
      try {
        out += this.evaluateBlock(node.body as Node[], turn).value as string;
      } catch (error) {
        if (error instanceof ContinueLoop) continue;
        if (error instanceof BreakLoop) break;
        throw error;
      }
    }
    if (items.length === 0) out += this.evaluateBlock(node.defaultBlock as Node[], scope).value as string;
    return str(out);
  }
}

// ---------------------------------------------------------------------------------------------
// Globals

/** jinja2's default globals: range, dict, namespace (the package's), cycler, joiner. */
export function addDefaultGlobals(scope: Scope): void {
  scope.setVariable(
    'range',
    fn((args) => {
      const { positional } = splitArguments(args);
      const n = positional.map((v) => integerArgument(v, 0));
      const [start, stop, step] = n.length === 1 ? [0, n[0]!, 1] : [n[0] ?? 0, n[1] ?? 0, n[2] ?? 1];
      if (step === 0) throw valueError('range() arg 3 must not be zero');
      const out: Value[] = [];
      for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
        out.push(int(i));
        if (out.length > 100_000) throw new PythonError('OverflowError', 'range too large');
      }
      return list(out);
    }),
  );
  scope.setVariable(
    'dict',
    fn((args) => {
      const { positional, keywords } = splitArguments(args);
      const map = new Map<Key, Value>();
      if (positional[0] !== undefined) {
        if (isDict(positional[0])) for (const [k, v] of positional[0].value as Map<Key, Value>) map.set(k, v);
        else for (const pair of iterate(positional[0])) {
          const [k, v] = iterate(pair);
          if (k === undefined || v === undefined) throw valueError('dictionary update sequence element has wrong length');
          map.set(keyOf(k), v);
        }
      }
      for (const [k, v] of keywords) map.set(k, v);
      return dict(map);
    }),
  );
  scope.setVariable(
    'joiner',
    fn((args) => {
      const [sep] = bind('joiner', args, ['sep']);
      let used = false;
      return fn(() => {
        if (!used) {
          used = true;
          return str('');
        }
        return str(sep === undefined ? ', ' : pyStr(sep));
      });
    }),
  );
  scope.setVariable(
    'cycler',
    fn((args) => {
      const { positional } = splitArguments(args);
      let position = 0;
      const map = new Map<Key, Value>();
      map.set('next', fn(() => {
        const item = positional[position % positional.length] ?? none();
        position++;
        return item;
      }));
      map.set('reset', fn(() => {
        position = 0;
        return none();
      }));
      return dict(map);
    }),
  );
  for (const [name, value] of [
    ['true', bool(true)],
    ['false', bool(false)],
    ['none', none()],
    ['True', bool(true)],
    ['False', bool(false)],
    ['None', none()],
  ] as const) {
    scope.setVariable(name, value);
  }
}

export { FILTER_NAMES, codePointCompare };
