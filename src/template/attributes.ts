/**
 * Attribute and item access of chat-template values as jinja2's sandbox does it: getattr and getitem
 * (slices included), and Python's str, dict and list methods (the mutating ones refused, as the immutable
 * sandbox refuses them).
 */
import { type Key, type Value, KeywordArgumentsValue, bool, dict, fn, int, isBoolean, isDict, isFloat, isInteger, isList, isNamespace, isNone, isString, isTuple, isUndefined, list, none, str, tuple, undefinedValue } from './runtime.js';
import { bind, dictEntries, equals, integerArgument, iterate, keyOf, keyValue, numberOf, stringArgument, truthy, typeError, typeName, undefinedError, valueError, isPythonSpace, repr } from './python.js';
import { capitalize, replace, rsplit, split, splitlines, strFormat, strip, title } from './python-strings.js';

/** jinja2's name for an object in "has no attribute" messages. */
export function objectName(value: Value): string {
  if (isNone(value)) return 'None';
  return `${typeName(value)} object`;
}

export function keywordValue(map: Map<string, Value>): Value {
  return new KeywordArgumentsValue(map);
}

// ---------------------------------------------------------------------------------------------
// Attribute and item access, as jinja2's sandbox does it

const UNSAFE_METHODS: Record<string, Set<string>> = {
  list: new Set(['append', 'clear', 'extend', 'insert', 'pop', 'remove', 'reverse', 'sort']),
  dict: new Set(['clear', 'pop', 'popitem', 'setdefault', 'update']),
};

export function unsafeAttribute(object: Value, name: string): Value {
  return undefinedValue(`access to attribute '${name}' of '${typeName(object)}' object is unsafe.`, true);
}

/** Python's getattr on a value: a method, or undefined when there is none. */
export function method(object: Value, name: string): Value | undefined {
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
export function sliceOf(object: Value, start: Value, stop: Value, step: Value): Value {
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

export function stringMethod(s: string, name: string): Value | undefined {
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
