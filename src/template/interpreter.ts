/**
 * The interpreter chat templates run on: @huggingface/jinja's parser and statements (set, if, macro, call),
 * with the expression semantics of jinja2 in transformers' ImmutableSandboxedEnvironment: Python's values
 * (str() and repr(), `+` that raises on str + int, dicts with integer keys), jinja2's undefined values (printed
 * as nothing, an error when an attribute of one is read), its filters and tests, Python's str, dict and list
 * methods (the mutating ones refused as the immutable sandbox refuses them), and a fresh scope for each turn
 * of a for loop. Attribute access and methods are in attributes.ts, operators in operators.ts, tests and
 * filters in filters.ts.
 */
import { type Fn, type Key, type Scope, type Value, Environment, Interpreter, bool, dict, float, fn, int, isDict, isFloat, isFunction, isNone, isNumber, isString, isUndefined, list, none, str, undefinedValue } from './runtime.js';
import { PythonError, bind, codePointCompare, integerArgument, iterate, keyOf, numberOf, pyStr, splitArguments, truthy, typeError, undefinedError, valueError, typeName } from './python.js';
import { keywordValue, getattr, getitem, sliceOf } from './attributes.js';
import { binary } from './operators.js';
import { runTest, FILTERS } from './filters.js';

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

export { FILTER_NAMES } from './filters.js';
export { codePointCompare } from './python.js';
