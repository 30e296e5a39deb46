/**
 * A GGUF's chat templates — `tokenizer.chat_template` (the default) and the named ones,
 * `tokenizer.chat_template.<name>` listed in `tokenizer.chat_templates` — with the vocabulary's BOS and EOS
 * texts they render, and the choice among them that transformers makes (`get_chat_template`).
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { isGgufArray, readGgufHeader, type GgufHeader, type GgufValue } from '../gguf/index.js';

/** What a model's chat formatting needs from its GGUF. */
export interface ChatTemplateSet {
  /** Templates by name; 'default' is `tokenizer.chat_template`. Empty: the GGUF has none. */
  templates: Record<string, string>;
  /** The text of the vocabulary's BOS token (`bos_token`), or null when it has none. */
  bosToken: string | null;
  /** The text of the vocabulary's EOS token (`eos_token`), or null when it has none. */
  eosToken: string | null;
}

export const DEFAULT_TEMPLATE = 'default';
const KEY = 'tokenizer.chat_template';

/** The GGUF key a template is stored under. */
export function templateKey(name: string): string {
  return name === DEFAULT_TEMPLATE ? KEY : `${KEY}.${name}`;
}

function tokenText(header: GgufHeader, idKey: string): string | null {
  const id = header.metadata.get(idKey)?.value;
  const tokens = header.metadata.get('tokenizer.ggml.tokens')?.value;
  if (id === undefined || !isGgufArray(tokens)) return null;
  const text = tokens.items[Number(id)];
  return typeof text === 'string' ? text : null;
}

const asString = (value: GgufValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

/** The chat templates and BOS/EOS texts of a GGUF header. */
export function chatTemplatesFromHeader(header: GgufHeader): ChatTemplateSet {
  const templates: Record<string, string> = {};
  const main = asString(header.metadata.get(KEY)?.value);
  if (main !== undefined) templates[DEFAULT_TEMPLATE] = main;
  for (const [key, entry] of header.metadata) {
    if (!key.startsWith(`${KEY}.`)) continue;
    const source = asString(entry.value);
    const name = key.slice(KEY.length + 1);
    if (source !== undefined && name.length > 0) templates[name] = source;
  }
  return { templates, bosToken: tokenText(header, 'tokenizer.ggml.bos_token_id'), eosToken: tokenText(header, 'tokenizer.ggml.eos_token_id') };
}

/** The chat templates and BOS/EOS texts of the GGUF file at `path` (its header only). */
export async function readChatTemplates(path: string): Promise<ChatTemplateSet> {
  return chatTemplatesFromHeader(await readGgufHeader(path));
}

/**
 * The template to render with, as transformers chooses: the one named (INVALID_ARGUMENT naming `field`
 * when the model has no template of that name), else 'tool_use' when there are tools and the model has
 * it, else the default. Returns undefined when the model has no template at all.
 */
export function chooseTemplate(
  set: ChatTemplateSet,
  options: { name?: string | undefined; tools?: boolean; field?: string } = {},
): { name: string; source: string } | undefined {
  const names = Object.keys(set.templates);
  const field = options.field ?? 'chatTemplate';
  if (options.name !== undefined) {
    if (typeof options.name !== 'string' || !Object.hasOwn(set.templates, options.name)) {
      const known = names.length === 0 ? 'none (the model has no chat template)' : names.map((n) => JSON.stringify(n)).join(', ');
      throw invalidArgument(field, `the name of one of the model's chat templates: ${known}`, options.name);
    }
    return { name: options.name, source: set.templates[options.name]! };
  }
  if (names.length === 0) return undefined;
  if (options.tools && Object.hasOwn(set.templates, 'tool_use')) return { name: 'tool_use', source: set.templates.tool_use! };
  if (Object.hasOwn(set.templates, DEFAULT_TEMPLATE)) return { name: DEFAULT_TEMPLATE, source: set.templates[DEFAULT_TEMPLATE]! };
  throw new ModelpoolError('TEMPLATE_ERROR', `The model has several chat templates (${names.join(', ')}) and no default: name one with ${field}`, {
    field,
    details: { templates: names },
  });
}
