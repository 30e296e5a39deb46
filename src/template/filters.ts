/** jinja2's tests (`is defined`, `is string`, ...) and filters (`| tojson`, `| map`, `| selectattr`, ...) for
 * chat templates, with Python's semantics. */
import { type Scope, type Value, dict, float, generator, int, isBoolean, isDict, isFloat, isFunction, isInteger, isList, isNone, isNumber, isString, isUndefined, list, markup, str, tuple, undefinedValue } from './runtime.js';
import { PythonError, bind, compare, contains, dictEntries, dumps, equals, integerArgument, iterate, length, numberOf, pyStr, splitArguments, stringArgument, truthy, typeError, undefinedError, valueError, typeName } from './python.js';
import { capitalize, percentFormat, replace, splitlines, strip, title } from './python-strings.js';
import { keywordValue, unsafeAttribute, method, getitem, stringMethod, objectName } from './attributes.js';
import { escapeValue, add, htmlEscape } from './operators.js';
import type { ChatInterpreter } from './interpreter.js';

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

export function runTest(name: string, value: Value, args: Value[]): boolean {
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

export const FILTERS = new Map<string, Filter>();
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
export const FILTER_NAMES = new Set(FILTERS.keys());
