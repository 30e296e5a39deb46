/**
 * ModelChat: how a loaded model formats chat requests. With the GGUF's own Jinja templates it renders as
 * transformers does; a GGUF without any template falls back to llama.cpp's built-in guesser (ChatML for a
 * model it does not recognise), which takes only roles and text.
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import type { ChatMessage, GenerateRequest } from '../model/types.js';
import { ChatTemplate } from './render.js';
import { type ChatTemplateSet, chooseTemplate, templateKey } from './choose.js';
import { reasoningField, templateMessages, validateChatMessages, validateDocuments, validateTools } from './messages.js';
import { type OutputFormat, outputFormat } from './parse.js';

/** What a chat rendering takes besides the messages (the chat fields of a GenerateRequest). */
export interface ChatOptions {
  /** Open the assistant's turn (add_generation_prompt). Default true. */
  addGenerationPrompt?: boolean;
  tools?: Array<Record<string, unknown>>;
  documents?: Array<Record<string, unknown>>;
  /** A named template of the model ('tool_use', 'rag', ...). */
  chatTemplate?: string;
  templateVariables?: Record<string, unknown>;
}

/** llama.cpp's guesser: roles and text, the assistant's turn opened or not. */
export type NativeChatTemplate = (messages: Array<{ role: string; content: string }>, addAssistant: boolean) => string;
/** The model's tokenizer (to learn whether tokenizing adds the BOS token). */
export type Tokenize = (text: string, addSpecial: boolean, parseSpecial: boolean) => ArrayLike<number>;

/** Variables a request may not set through templateVariables (they have fields of their own). */
const RESERVED = new Set(['messages', 'tools', 'documents', 'add_generation_prompt']);

function plainText(content: ChatMessage['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : '')).join('');
}

export class ModelChat {
  readonly templates: ChatTemplateSet;
  readonly #native: NativeChatTemplate;
  readonly #tokenize: Tokenize | undefined;
  readonly #compiled = new Map<string, ChatTemplate>();
  readonly #now: (() => Date) | undefined;
  #addsBos: boolean | undefined;

  constructor(templates: ChatTemplateSet, native: NativeChatTemplate, options: { tokenize?: Tokenize; now?: () => Date } = {}) {
    this.templates = templates;
    this.#native = native;
    this.#tokenize = options.tokenize;
    this.#now = options.now;
  }

  /** Whether tokenizing with addSpecial puts the BOS token first (the vocabulary's add_bos). */
  get addsBos(): boolean {
    if (this.#addsBos === undefined) {
      const bos = this.templates.bosToken;
      if (!bos || !this.#tokenize) this.#addsBos = false;
      else {
        const id = this.#tokenize(bos, false, true);
        const added = this.#tokenize('', true, false);
        this.#addsBos = id.length === 1 && added.length > 0 && added[0] === id[0];
      }
    }
    return this.#addsBos;
  }

  /** Whether the GGUF has a Jinja chat template (else messages go through llama.cpp's guesser). */
  get hasTemplate(): boolean {
    return Object.keys(this.templates.templates).length > 0;
  }

  /** The compiled template a request renders with, or undefined when the model has none. */
  template(name: string | undefined, hasTools: boolean, field = 'chatTemplate'): ChatTemplate | undefined {
    const chosen = chooseTemplate(this.templates, { name, tools: hasTools, field });
    if (!chosen) return undefined;
    let template = this.#compiled.get(chosen.name);
    if (!template) {
      template = new ChatTemplate(chosen.source, { name: chosen.name, field: templateKey(chosen.name), ...(this.#now ? { now: this.#now } : {}) });
      this.#compiled.set(chosen.name, template);
    }
    return template;
  }

  /**
   * Formats `messages` as the model's template does (transformers' output, BOS text included). `prefix`
   * names the fields in errors: '' for applyChatTemplate's arguments, 'request.' for a request's.
   */
  format(messages: unknown, options: ChatOptions = {}, prefix = ''): string {
    const valid = validateChatMessages(messages, prefix === 'request.' ? 'messages' : `${prefix}messages`);
    const tools = options.tools === undefined ? undefined : validateTools(options.tools, `${prefix}tools`);
    const documents = options.documents === undefined ? undefined : validateDocuments(options.documents, `${prefix}documents`);
    const addGenerationPrompt = options.addGenerationPrompt ?? true;
    if (typeof addGenerationPrompt !== 'boolean') throw invalidArgument(`${prefix}addGenerationPrompt`, 'a boolean', addGenerationPrompt);
    const variables = options.templateVariables ?? {};
    if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
      throw invalidArgument(`${prefix}templateVariables`, 'an object', variables);
    }
    for (const name of Object.keys(variables)) {
      if (RESERVED.has(name)) throw invalidArgument(`${prefix}templateVariables.${name}`, `no ${name} (it has a field of its own)`, variables[name]);
    }
    if (options.chatTemplate !== undefined && typeof options.chatTemplate !== 'string') {
      throw invalidArgument(`${prefix}chatTemplate`, 'a template name', options.chatTemplate);
    }
    const template = this.template(options.chatTemplate, tools !== undefined && tools.length > 0, `${prefix}chatTemplate`);
    if (!template) {
      if (tools !== undefined) throw invalidArgument(`${prefix}tools`, 'no tools: the model has no chat template to render them with', tools);
      if (documents !== undefined) throw invalidArgument(`${prefix}documents`, 'no documents: the model has no chat template to render them with', documents);
      return this.#fallback(valid, addGenerationPrompt);
    }
    const context = {
      bos_token: this.templates.bosToken,
      eos_token: this.templates.eosToken,
      ...variables,
      tools: tools ?? null,
      documents: documents ?? null,
      add_generation_prompt: addGenerationPrompt,
    };
    const field = reasoningField(template.source);
    try {
      return template.render({ ...context, messages: templateMessages(valid, { reasoningField: field }) });
    } catch (error) {
      // Many templates concatenate content without checking for None: like llama.cpp, give them '' for the
      // null content of a tool-calling assistant message when None makes them fail.
      const retry = error instanceof ModelpoolError && error.details?.raised === false && valid.some((m) => m.content === null);
      if (!retry) throw error;
      return template.render({ ...context, messages: templateMessages(valid, { reasoningField: field, nullContent: 'empty' }) });
    }
  }

  /**
   * The prompt of a chat request: the rendering without the BOS text at its start when tokenizing will add
   * the BOS token anyway (as llama.cpp's server does, so the prompt does not begin with two).
   */
  prompt(request: GenerateRequest): string {
    const options: ChatOptions = {};
    if (request.tools !== undefined) options.tools = request.tools;
    if (request.documents !== undefined) options.documents = request.documents;
    if (request.chatTemplate !== undefined) options.chatTemplate = request.chatTemplate;
    if (request.templateVariables !== undefined) options.templateVariables = request.templateVariables;
    const text = this.format(request.messages, options, 'request.');
    const bos = this.templates.bosToken;
    if (this.hasTemplate && bos && request.addSpecial !== false && text.startsWith(bos) && this.addsBos) return text.slice(bos.length);
    return text;
  }

  /** How the output of a request is parsed into text, reasoning and tool calls (from the template it used). */
  outputFormat(request: Pick<GenerateRequest, 'chatTemplate' | 'tools'> = {}): OutputFormat {
    const template = this.template(request.chatTemplate, request.tools !== undefined && request.tools.length > 0);
    return outputFormat(template?.source ?? '');
  }

  #fallback(messages: ChatMessage[], addAssistant: boolean): string {
    const plain = messages.map((m) => ({ role: m.role, content: plainText(m.content) }));
    return this.#native(plain, addAssistant);
  }
}
