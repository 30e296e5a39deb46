/**
 * Chat templates (src/template): a model's own Jinja chat template rendered as Hugging Face transformers
 * renders it, the choice among a GGUF's named templates, and the parsing of a model's output into text,
 * reasoning and tool calls.
 */
export { ChatTemplate, TemplateRaise, type ChatTemplateContext, type ChatTemplateOptions } from './render.js';
export { ModelChat, type ChatOptions, type NativeChatTemplate, type Tokenize } from './chat.js';
export { chooseTemplate, chatTemplatesFromHeader, readChatTemplates, templateKey, DEFAULT_TEMPLATE, type ChatTemplateSet } from './choose.js';
export { validateChatMessages, validateTools, validateDocuments, templateMessages, reasoningField, type ToolCall } from './messages.js';
export { outputFormat, parseOutput, type OutputFormat, type ParsedOutput, type ToolSyntax } from './parse.js';
