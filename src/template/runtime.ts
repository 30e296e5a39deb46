/**
 * The value classes of @huggingface/jinja's interpreter. The package exports only Template, Environment,
 * Interpreter, tokenize and parse; its value classes (StringValue, FunctionValue, ...) are reached here once,
 * through values its own Environment and Interpreter make, so that the rest of src/template/ builds values
 * the package's statements (set, if, macro, call) accept.
 */
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';

/**
 * A runtime value. Dicts (ObjectValue) hold a Map whose keys are the Python keys as JavaScript primitives
 * (a string, a number, a boolean or null), so that `{1: 'a'}` keeps its integer key.
 */
export interface Value {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  value: any;
  __bool__(): { value: boolean };
  /** Set on undefined values made here: why the value is undefined, for the error raised when it is used. */
  hint?: string;
  /** Set on undefined values made for an unsafe attribute: using the value raises a SecurityError. */
  unsafe?: boolean;
  /** Set on strings marked safe (jinja2's Markup): adding a plain string to one escapes that string. */
  markup?: boolean;
}

/** The environment as this room uses it (the package's class, with the members its declarations hide). */
export interface Scope extends Environment {
  variables: Map<string, Value>;
  parent?: Scope;
  lookupVariable(name: string): Value;
  setVariable(name: string, value: Value): Value;
}

type Ctor = new (value?: unknown) => Value;
export type Fn = (args: Value[], scope: Scope) => Value;

const convert = (value: unknown): Value => new Environment().set('v', value) as unknown as Value;
const ctor = (value: Value): Ctor => (value as unknown as { constructor: Ctor }).constructor;

export const StringValue = ctor(convert(''));
export const IntegerValue = ctor(convert(1));
export const FloatValue = ctor(convert(1.5));
export const BooleanValue = ctor(convert(true));
export const NullValue = ctor(convert(null));
export const UndefinedValue = ctor(convert(undefined));
export const ArrayValue = ctor(convert([]));
export const ObjectValue = ctor(convert({}));
export const FunctionValue = ctor(convert(() => undefined));

// Tuples, namespaces and keyword arguments only come out of a running template.
const captured: Value[] = [];
{
  const env = new Environment() as unknown as Scope;
  env.variables.set(
    'capture',
    new FunctionValue((args: Value[]) => {
      captured.push(...args);
      return new NullValue();
    }),
  );
  new Interpreter(env).run(parse(tokenize('{{ capture((1, 2), namespace(), k=1) }}')));
}
export const TupleValue = ctor(captured[0]!);
export const NamespaceValue = ctor(captured[1]!);
export const KeywordArgumentsValue = ctor(captured[2]!);

export const str = (value: string): Value => new StringValue(value);
export const int = (value: number): Value => new IntegerValue(value);
export const float = (value: number): Value => new FloatValue(value);
export const bool = (value: boolean): Value => new BooleanValue(value);
export const none = (): Value => new NullValue();
export const list = (items: Value[]): Value => new ArrayValue(items);
export const tuple = (items: Value[]): Value => new TupleValue(items);
export const dict = (entries: Map<Key, Value>): Value => new ObjectValue(entries);
export const fn = (f: Fn): Value => new FunctionValue(f);
/** A markup string (jinja2's Markup, what `| safe` gives). */
export function markup(value: string): Value {
  const v = str(value);
  v.markup = true;
  return v;
}
/**
 * A generator (what jinja2's map, select, reject, selectattr, rejectattr, unique and reverse filters give):
 * it iterates, but has no length, no items by index and no JSON form, and is always true.
 */
export function generator(items: Value[]): Value {
  const v = new ArrayValue(items);
  v.type = 'GeneratorValue';
  return v;
}
export function undefinedValue(hint?: string, unsafe = false): Value {
  const value = new UndefinedValue();
  if (hint !== undefined) value.hint = hint;
  if (unsafe) value.unsafe = true;
  return value;
}

/** A dict key: the Python key as a JavaScript primitive. */
export type Key = string | number | boolean | null;

export const isString = (v: Value): boolean => v.type === 'StringValue';
export const isInteger = (v: Value): boolean => v.type === 'IntegerValue';
export const isFloat = (v: Value): boolean => v.type === 'FloatValue';
export const isBoolean = (v: Value): boolean => v.type === 'BooleanValue';
export const isNumber = (v: Value): boolean => v.type === 'IntegerValue' || v.type === 'FloatValue' || v.type === 'BooleanValue';
export const isNone = (v: Value): boolean => v.type === 'NullValue';
export const isUndefined = (v: Value): boolean => v.type === 'UndefinedValue';
/** A list or a tuple. */
export const isList = (v: Value): boolean => v.type === 'ArrayValue' || v.type === 'TupleValue';
export const isTuple = (v: Value): boolean => v.type === 'TupleValue';
export const isDict = (v: Value): boolean => v.type === 'ObjectValue' || v.type === 'KeywordArgumentsValue';
export const isNamespace = (v: Value): boolean => v.type === 'NamespaceValue';
export const isFunction = (v: Value): boolean => v.type === 'FunctionValue';
export const isGenerator = (v: Value): boolean => v.type === 'GeneratorValue';
export const isKeywordArguments = (v: Value): boolean => v.type === 'KeywordArgumentsValue';

/** A JavaScript value (JSON-like: plain objects, arrays, primitives, functions) as a runtime value. */
export function toValue(input: unknown): Value {
  switch (typeof input) {
    case 'string':
      return str(input);
    case 'number':
      return Number.isInteger(input) ? int(input) : float(input);
    case 'boolean':
      return bool(input);
    case 'undefined':
      return undefinedValue();
    case 'bigint':
      return int(Number(input));
    case 'function': {
      const f = input as (...args: unknown[]) => unknown;
      return fn((args) => toValue(f(...args.map(fromValue))));
    }
    case 'object': {
      if (input === null) return none();
      if (Array.isArray(input)) return list(input.map(toValue));
      if (input instanceof Date) return str(input.toISOString());
      const map = new Map<Key, Value>();
      for (const [key, value] of Object.entries(input)) {
        if (value !== undefined) map.set(key, toValue(value));
      }
      return dict(map);
    }
    default:
      return str(String(input));
  }
}

/** A runtime value as a plain JavaScript value (tuples become arrays, dict keys strings). */
export function fromValue(value: Value): unknown {
  if (isList(value)) return (value.value as Value[]).map(fromValue);
  if (isDict(value) || isNamespace(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value.value as Map<Key, Value>) out[String(key)] = fromValue(item);
    return out;
  }
  if (isUndefined(value)) return undefined;
  if (isFunction(value)) return value.value;
  return value.value;
}

export { Environment, Interpreter, parse, tokenize };
