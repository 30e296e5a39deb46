/**
 * ChatTemplate: a model's Jinja chat template, compiled once, rendered the way Hugging Face transformers
 * renders it (`apply_chat_template`): trim_blocks and lstrip_blocks, loop controls, raise_exception,
 * strftime_now, transformers' tojson, and the variables messages, tools, documents, add_generation_prompt,
 * bos_token, eos_token and any extra ones.
 */
import { ModelpoolError } from '../errors.js';
import { type Scope, type Value, fn, parse, str, toValue, tokenize } from './runtime.js';
import { PythonError, pyStr, splitArguments } from './python.js';
import { strftime } from './python-strings.js';
import { ChatInterpreter, addDefaultGlobals, newScope, type Node } from './interpreter.js';

/** What a template raised: with `raise_exception(message)` or by failing (a Python exception in jinja2). */
export class TemplateRaise extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface ChatTemplateOptions {
  /** The template's name, for errors: 'default' (tokenizer.chat_template) or a named one ('tool_use', 'rag'). */
  name?: string;
  /** The GGUF key the template was read from, named by errors. Default `tokenizer.chat_template` (+ `.name`). */
  field?: string;
  /** strftime_now's clock. Default: the current time. */
  now?: () => Date;
}

/** The variables a template is rendered with (transformers' names). */
export interface ChatTemplateContext {
  /** The conversation, as the template reads it (role, content, tool_calls, tool_call_id, name, reasoning_content...). */
  messages: readonly unknown[];
  /** Tool definitions (JSON schemas, OpenAI shape); null or absent: no tools (transformers passes None). */
  tools?: readonly unknown[] | null;
  /** Documents for retrieval-augmented generation; null or absent: none. */
  documents?: readonly unknown[] | null;
  /** Open the assistant's turn at the end. Default false, as in transformers. */
  add_generation_prompt?: boolean;
  /** The vocabulary's BOS and EOS token texts. */
  bos_token?: string | null;
  eos_token?: string | null;
  /** Any other variable the template reads (enable_thinking, reasoning_effort, ...). */
  [name: string]: unknown;
}

const MAX_CACHED = 64;
const compiled = new Map<string, Node>();

/** The parsed program of a template source, compiled once and kept (least recently used dropped). */
function compile(source: string, field: string): Node {
  let program = compiled.get(source);
  if (program) {
    compiled.delete(source);
    compiled.set(source, program);
    return program;
  }
  try {
    program = parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true })) as unknown as Node;
  } catch (error) {
    throw new ModelpoolError('TEMPLATE_ERROR', `The chat template ${field} does not parse: ${(error as Error).message}`, {
      field,
      value: (error as Error).message,
      cause: error,
      details: { phase: 'parse' },
    });
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, program);
  return program;
}

export class ChatTemplate {
  readonly source: string;
  readonly name: string;
  /** The GGUF key (or other field) the template came from, named by its errors. */
  readonly field: string;
  readonly #program: Node;
  readonly #now: () => Date;

  /** Compiles `source`; a template that does not parse throws TEMPLATE_ERROR. */
  constructor(source: string, options: ChatTemplateOptions = {}) {
    if (typeof source !== 'string') {
      throw new ModelpoolError('INVALID_ARGUMENT', `Expected a template string for source but received ${typeof source}`, { field: 'source', value: source });
    }
    this.source = source;
    this.name = options.name ?? 'default';
    this.field = options.field ?? (this.name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${this.name}`);
    this.#now = options.now ?? (() => new Date());
    this.#program = compile(source, this.field);
  }

  /**
   * Renders the template. Whatever the template raises — `raise_exception(...)` or a failure such as a
   * missing attribute — becomes TEMPLATE_ERROR naming the template's field, with the message as the value
   * and `details.raised` true for raise_exception.
   */
  render(context: ChatTemplateContext): string {
    const globals = newScope();
    addDefaultGlobals(globals);
    globals.setVariable(
      'raise_exception',
      fn((args) => {
        throw new TemplateRaise(args[0] === undefined ? '' : pyStr(args[0]));
      }),
    );
    globals.setVariable(
      'strftime_now',
      fn((args) => {
        const { positional } = splitArguments(args);
        return str(strftime(this.#now(), positional[0] === undefined ? '' : pyStr(positional[0])));
      }),
    );
    const scope: Scope = newScope(globals);
    const variables: Record<string, unknown> = {
      ...context,
      tools: context.tools ?? null,
      documents: context.documents ?? null,
      add_generation_prompt: context.add_generation_prompt ?? false,
    };
    for (const [name, value] of Object.entries(variables)) {
      if (value !== undefined) scope.setVariable(name, toValue(value) as Value);
    }
    try {
      return runIn(this.#program, scope);
    } catch (error) {
      throw this.#error(error);
    }
  }

  #error(error: unknown): ModelpoolError {
    if (error instanceof ModelpoolError) return error;
    const raised = error instanceof TemplateRaise;
    const message = error instanceof Error ? error.message : String(error);
    const kind = raised ? 'raised' : error instanceof PythonError ? `failed (${error.pythonType})` : 'failed';
    return new ModelpoolError('TEMPLATE_ERROR', `The chat template ${this.field} ${kind}: ${message}`, {
      field: this.field,
      value: message,
      cause: error,
      details: { template: this.name, raised },
    });
  }
}

function runIn(program: Node, scope: Scope): string {
  const interpreter = new ChatInterpreter(scope);
  return interpreter.evaluateBlock(program.body as Node[], scope).value as string;
}

/** The parsed template, compiled and cached (for tests and tools). @internal */
export function compileTemplate(source: string): Node {
  return compile(source, 'source');
}
