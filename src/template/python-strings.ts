/**
 * Python's str methods (strip, split, rsplit, splitlines, replace, title, capitalize), str.format and
 * %-formatting with their format specs, and strftime — as jinja2 templates call them.
 */
import { type Key, type Value, float, int, isBoolean, isDict, isFloat, isNumber, isString, isTuple, str, tuple } from './runtime.js';
import { PythonError, typeError, valueError, typeName, numberOf, isPythonSpace, numberStr, repr, pyStr, splitArguments } from './python.js';

// ---------------------------------------------------------------------------------------------
// str methods

export function strip(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  const strippable = chars === undefined ? isPythonSpace : (c: string) => chars.includes(c);
  const cs = Array.from(s);
  let start = 0;
  let end = cs.length;
  if (left) while (start < end && strippable(cs[start]!)) start++;
  if (right) while (end > start && strippable(cs[end - 1]!)) end--;
  return cs.slice(start, end).join('');
}

export function split(s: string, sep: string | undefined, maxsplit: number): string[] {
  if (sep === undefined) {
    const out: string[] = [];
    const cs = Array.from(s);
    let i = 0;
    while (i < cs.length) {
      while (i < cs.length && isPythonSpace(cs[i]!)) i++;
      if (i >= cs.length) break;
      if (maxsplit >= 0 && out.length >= maxsplit) {
        out.push(strip(cs.slice(i).join(''), undefined, false, true));
        break;
      }
      let j = i;
      while (j < cs.length && !isPythonSpace(cs[j]!)) j++;
      out.push(cs.slice(i, j).join(''));
      i = j;
    }
    return out;
  }
  if (sep === '') throw valueError('empty separator');
  const parts = s.split(sep);
  if (maxsplit >= 0 && parts.length > maxsplit + 1) return [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
  return parts;
}

export function rsplit(s: string, sep: string | undefined, maxsplit: number): string[] {
  if (maxsplit < 0) return split(s, sep, -1);
  if (sep === undefined) {
    const reversed = split(Array.from(s).reverse().join(''), undefined, maxsplit);
    return reversed.map((part) => Array.from(part).reverse().join('')).reverse();
  }
  if (sep === '') throw valueError('empty separator');
  const parts = s.split(sep);
  if (parts.length > maxsplit + 1) return [parts.slice(0, parts.length - maxsplit).join(sep), ...parts.slice(parts.length - maxsplit)];
  return parts;
}

const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

export function splitlines(s: string, keepends = false): string[] {
  const out: string[] = [];
  let last = 0;
  for (const match of s.matchAll(LINE_BREAK)) {
    const end = match.index + match[0].length;
    out.push(s.slice(last, keepends ? end : match.index));
    last = end;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

export function replace(s: string, old: string, replacement: string, count: number): string {
  if (count === 0) return s;
  if (old === '') {
    const cs = Array.from(s);
    let out = '';
    let done = 0;
    for (let i = 0; i <= cs.length; i++) {
      if (count < 0 || done < count) {
        out += replacement;
        done++;
      }
      if (i < cs.length) out += cs[i];
    }
    return out;
  }
  if (count < 0) return s.split(old).join(replacement);
  let out = '';
  let rest = s;
  for (let done = 0; done < count; done++) {
    const at = rest.indexOf(old);
    if (at < 0) break;
    out += rest.slice(0, at) + replacement;
    rest = rest.slice(at + old.length);
  }
  return out + rest;
}

const isCased = (c: string): boolean => c.toLowerCase() !== c.toUpperCase();

export function title(s: string): string {
  let previousCased = false;
  let out = '';
  for (const c of s) {
    out += previousCased ? c.toLowerCase() : c.toUpperCase();
    previousCased = isCased(c);
  }
  return out;
}

export function capitalize(s: string): string {
  const cs = Array.from(s);
  if (cs.length === 0) return s;
  return cs[0]!.toUpperCase() + cs.slice(1).join('').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Formatting: printf-style (`'%s' % x`, jinja2's format filter) and str.format

function formatSpec(value: Value, spec: string, conversion = ''): string {
  let v = value;
  if (conversion === 'r') v = str(repr(value));
  else if (conversion === 's') v = str(pyStr(value));
  const m = /^(?:(.)?([<>=^]))?([+\- ]?)(#?)(0?)(\d*)([,_]?)(?:\.(\d+))?([bcdeEfFgGnosxX%]?)$/s.exec(spec);
  if (!m) throw valueError(`Invalid format specifier '${spec}' for object of type '${typeName(v)}'`);
  const [, fillChar, align, sign, , zero, widthText, , precisionText, kind] = m;
  const precision = precisionText === undefined ? undefined : Number(precisionText);
  let body: string;
  const numeric = isNumber(v);
  if (kind === '' || kind === 's') {
    if (kind === 's' && !isString(v)) throw valueError(`Unknown format code 's' for object of type '${typeName(v)}'`);
    body = numeric && !isBoolean(v) ? numberStr(v) : pyStr(v);
    if (precision !== undefined && isString(v)) body = Array.from(body).slice(0, precision).join('');
    if (precision !== undefined && isFloat(v)) body = Number(v.value).toPrecision(precision);
  } else {
    if (!numeric) throw valueError(`Unknown format code '${kind}' for object of type '${typeName(v)}'`);
    const x = numberOf(v);
    switch (kind) {
      case 'd':
      case 'n':
        if (isFloat(v)) throw valueError(`Unknown format code 'd' for object of type 'float'`);
        body = String(Math.abs(x));
        break;
      case 'f':
      case 'F':
        body = Math.abs(x).toFixed(precision ?? 6);
        break;
      case 'e':
      case 'E':
        body = Math.abs(x)
          .toExponential(precision ?? 6)
          .replace(/e([+-])(\d)$/, 'e$10$2');
        if (kind === 'E') body = body.toUpperCase();
        break;
      case 'g':
      case 'G':
        body = String(Number(Math.abs(x).toPrecision(precision ?? 6)));
        break;
      case '%':
        body = `${(Math.abs(x) * 100).toFixed(precision ?? 6)}%`;
        break;
      case 'x':
        body = Math.abs(x).toString(16);
        break;
      case 'X':
        body = Math.abs(x).toString(16).toUpperCase();
        break;
      case 'o':
        body = Math.abs(x).toString(8);
        break;
      case 'b':
        body = Math.abs(x).toString(2);
        break;
      case 'c':
        body = String.fromCodePoint(x);
        break;
      default:
        body = String(Math.abs(x));
    }
    if (kind !== 'c') body = (x < 0 || Object.is(x, -0) ? '-' : sign === '+' ? '+' : sign === ' ' ? ' ' : '') + body;
  }
  const width = widthText ? Number(widthText) : 0;
  const fill = fillChar ?? (zero && !align ? '0' : ' ');
  const alignment = align ?? (zero ? '=' : numeric && kind !== 's' && !(kind === '' && isString(v)) ? '>' : '<');
  const n = Array.from(body).length;
  if (n >= width) return body;
  const pad = width - n;
  switch (alignment) {
    case '<':
      return body + fill.repeat(pad);
    case '>':
      return fill.repeat(pad) + body;
    case '^':
      return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(Math.ceil(pad / 2));
    default: {
      const signChar = /^[+\- ]/.test(body) ? body[0]! : '';
      return signChar + fill.repeat(pad) + body.slice(signChar.length);
    }
  }
}

/** Looks up `field` ("0", "name", "name.attr", "0[key]") in the arguments of str.format. */
function formatField(field: string, positional: Value[], keywords: Map<string, Value>, auto: { next: number }, getattr: (v: Value, name: string) => Value, getitem: (v: Value, key: Value) => Value): Value {
  const m = /^([^.[]*)(.*)$/s.exec(field)!;
  const head = m[1]!;
  let value: Value | undefined;
  if (head === '') {
    value = positional[auto.next++];
    if (value === undefined) throw new PythonError('IndexError', 'Replacement index out of range for positional args tuple');
  } else if (/^\d+$/.test(head)) {
    value = positional[Number(head)];
    if (value === undefined) throw new PythonError('IndexError', `Replacement index ${head} out of range for positional args tuple`);
  } else {
    value = keywords.get(head);
    if (value === undefined) throw new PythonError('KeyError', `'${head}'`);
  }
  for (const part of m[2]!.matchAll(/\.([^.[]+)|\[([^\]]*)\]/g)) {
    if (part[1] !== undefined) value = getattr(value, part[1]);
    else value = getitem(value, /^\d+$/.test(part[2]!) ? int(Number(part[2])) : str(part[2]!));
  }
  return value;
}

/** Python's str.format. */
export function strFormat(template: string, args: Value[], getattr: (v: Value, name: string) => Value, getitem: (v: Value, key: Value) => Value): string {
  const { positional, keywords } = splitArguments(args);
  const auto = { next: 0 };
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === '{') {
      if (template[i + 1] === '{') {
        out += '{';
        i += 2;
        continue;
      }
      let depth = 1;
      let j = i + 1;
      while (j < template.length && depth > 0) {
        if (template[j] === '{') depth++;
        else if (template[j] === '}') depth--;
        j++;
      }
      if (depth > 0) throw valueError("expected '}' before end of string");
      const inner = template.slice(i + 1, j - 1);
      const m = /^([^!:]*)(?:!([rsa]))?(?::(.*))?$/s.exec(inner);
      if (!m) throw valueError(`bad format field ${inner}`);
      const value = formatField(m[1]!, positional, keywords, auto, getattr, getitem);
      const spec = (m[3] ?? '').replace(/\{([^}]*)\}/g, (_, f: string) => pyStr(formatField(f, positional, keywords, auto, getattr, getitem)));
      out += spec === '' && !m[2] ? pyStr(value) : formatSpec(value, spec, m[2] ?? '');
      i = j;
    } else if (c === '}') {
      if (template[i + 1] !== '}') throw valueError("Single '}' encountered in format string");
      out += '}';
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Python's `template % args` (printf-style), as jinja2's format filter uses it. */
export function percentFormat(template: string, args: Value): string {
  const items = isTuple(args) ? (args.value as Value[]) : [args];
  let index = 0;
  const next = (): Value => {
    const v = items[index++];
    if (v === undefined) throw typeError('not enough arguments for format string');
    return v;
  };
  const out = template.replace(/%(?:\(([^)]*)\))?([#0\- +]*)(\d+|\*)?(?:\.(\d+))?([diouxXeEfFgGcrsa%])/g, (_, key: string | undefined, flags: string, width: string | undefined, precision: string | undefined, kind: string) => {
    if (kind === '%') return '%';
    let value: Value;
    if (key !== undefined) {
      if (!isDict(args)) throw typeError('format requires a mapping');
      const v = (args.value as Map<Key, Value>).get(key);
      if (v === undefined) throw new PythonError('KeyError', `'${key}'`);
      value = v;
    } else value = next();
    let body: string;
    switch (kind) {
      case 's':
        body = pyStr(value);
        if (precision !== undefined) body = body.slice(0, Number(precision));
        break;
      case 'r':
      case 'a':
        body = repr(value);
        break;
      case 'd':
      case 'i':
      case 'u':
        if (!isNumber(value)) throw typeError(`%${kind} format: a real number is required, not ${typeName(value)}`);
        body = String(Math.trunc(numberOf(value)));
        break;
      case 'c':
        body = isString(value) ? (value.value as string) : String.fromCodePoint(numberOf(value));
        break;
      default:
        if (!isNumber(value)) throw typeError(`must be real number, not ${typeName(value)}`);
        body = formatSpec(value, `${precision === undefined ? '' : `.${precision}`}${kind}`);
    }
    if (flags.includes('+') && /^\d/.test(body) && 'diufFeEgG'.includes(kind)) body = `+${body}`;
    const w = width === undefined ? 0 : Number(width);
    if (body.length < w) body = flags.includes('-') ? body.padEnd(w) : flags.includes('0') && kind !== 's' ? body.padStart(w, '0') : body.padStart(w);
    return body;
  });
  if (index < items.length && !isDict(args)) throw typeError('not all arguments converted during string formatting');
  return out;
}

// ---------------------------------------------------------------------------------------------
// strftime, as glibc (and so Python on Linux) formats in the C locale

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function strftime(date: Date, format: string): string {
  const dayOfYear = Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1;
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  return format.replace(/%([-_0^#]?)([a-zA-Z%])/g, (whole, flag: string, conversion: string) => {
    const number = (n: number, width: number, pad = '0'): string => {
      if (flag === '-') return String(n);
      if (flag === '_') return String(n).padStart(width, ' ');
      return String(n).padStart(width, flag === '0' ? '0' : pad);
    };
    let out: string;
    switch (conversion) {
      case 'a':
        out = DAYS[date.getDay()]!.slice(0, 3);
        break;
      case 'A':
        out = DAYS[date.getDay()]!;
        break;
      case 'b':
      case 'h':
        out = MONTHS[date.getMonth()]!.slice(0, 3);
        break;
      case 'B':
        out = MONTHS[date.getMonth()]!;
        break;
      case 'c':
        out = strftime(date, '%a %b %e %H:%M:%S %Y');
        break;
      case 'C':
        out = number(Math.floor(date.getFullYear() / 100), 2);
        break;
      case 'd':
        out = number(date.getDate(), 2);
        break;
      case 'D':
        out = strftime(date, '%m/%d/%y');
        break;
      case 'e':
        out = number(date.getDate(), 2, ' ');
        break;
      case 'F':
        out = strftime(date, '%Y-%m-%d');
        break;
      case 'H':
        out = number(date.getHours(), 2);
        break;
      case 'I':
        out = number(hour12, 2);
        break;
      case 'j':
        out = number(dayOfYear, 3);
        break;
      case 'k':
        out = number(date.getHours(), 2, ' ');
        break;
      case 'l':
        out = number(hour12, 2, ' ');
        break;
      case 'm':
        out = number(date.getMonth() + 1, 2);
        break;
      case 'M':
        out = number(date.getMinutes(), 2);
        break;
      case 'n':
        out = '\n';
        break;
      case 'p':
        out = date.getHours() < 12 ? 'AM' : 'PM';
        break;
      case 'P':
        out = date.getHours() < 12 ? 'am' : 'pm';
        break;
      case 'R':
        out = strftime(date, '%H:%M');
        break;
      case 'S':
        out = number(date.getSeconds(), 2);
        break;
      case 't':
        out = '\t';
        break;
      case 'T':
        out = strftime(date, '%H:%M:%S');
        break;
      case 'u':
        out = String(date.getDay() === 0 ? 7 : date.getDay());
        break;
      case 'w':
        out = String(date.getDay());
        break;
      case 'x':
        out = strftime(date, '%m/%d/%y');
        break;
      case 'X':
        out = strftime(date, '%H:%M:%S');
        break;
      case 'y':
        out = number(date.getFullYear() % 100, 2);
        break;
      case 'Y':
        out = String(date.getFullYear());
        break;
      case 'Z':
      case 'z':
        out = '';
        break;
      case '%':
        out = '%';
        break;
      default:
        return whole;
    }
    return flag === '^' ? out.toUpperCase() : out;
  });
}

