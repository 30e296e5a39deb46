/** Binary operators of chat-template expressions with Python's semantics (`+` that raises on str + int, floor
 * division and modulo), and markupsafe's escaping. */
import { type Value, bool, float, int, isBoolean, isFloat, isInteger, isList, isNumber, isString, isTuple, isUndefined, list, markup, str, tuple } from './runtime.js';
import { PythonError, compare, contains, equals, numberOf, pyStr, typeError, undefinedError, typeName } from './python.js';
import { percentFormat } from './python-strings.js';

// ---------------------------------------------------------------------------------------------
// Operators

/** markupsafe's escape: a markup string as it is, anything else as its str(), HTML-escaped. */
export function escapeValue(value: Value): string {
  return value.markup ? (value.value as string) : htmlEscape(pyStr(value));
}

export function add(a: Value, b: Value): Value {
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

export function binary(operator: string, a: Value, b: Value): Value {
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

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}
