// Chat inputs (messages, tools, documents) validated with errors naming the field and mapped to the
// template's variables; the GGUF's templates and BOS/EOS texts; the choice among named templates.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ChatTemplate,
  ModelChat,
  chatTemplatesFromHeader,
  chooseTemplate,
  readChatTemplates,
  reasoningField,
  templateMessages,
  validateChatMessages,
  validateDocuments,
  validateTools,
} from '../../src/template/index.js';
import { readGgufHeader } from '../../src/gguf/index.js';
import { expectCode } from '../helpers/expect.js';
import { repoRoot } from '../helpers/models.js';

const vocab = (name: string): string => join(repoRoot, 'deps', 'llama.cpp', 'models', `ggml-vocab-${name}.gguf`);

describe('chat messages, tools and documents', () => {
  it('names the field of a bad message, tool or document', async () => {
    const bad: Array<[unknown, string]> = [
      [[], 'messages'],
      [[{ role: 'user' }], 'messages[0].content'],
      [[{ role: '', content: 'x' }], 'messages[0].role'],
      [[{ role: 'user', content: 'a' }, { role: 'user', content: null }], 'messages[1].content'],
      [[{ role: 'user', content: [{ type: 'text' }] }], 'messages[0].content[0].text'],
      [[{ role: 'assistant', content: null, toolCalls: [{ function: { name: 'f', arguments: 3 } }] }], 'messages[0].toolCalls[0].function.arguments'],
      [[{ role: 'assistant', content: '', toolCalls: [{ function: {} }] }], 'messages[0].toolCalls[0].function.name'],
      [[{ role: 'tool', content: 'x', toolCallId: 7 }], 'messages[0].toolCallId'],
      [[{ role: 'user', content: 'x', reasoning: {} }], 'messages[0].reasoning'],
    ];
    for (const [messages, field] of bad) await expectCode(() => validateChatMessages(messages), 'INVALID_ARGUMENT', field);
    await expectCode(() => validateChatMessages([{ role: 'user', content: 1 }], 'request.messages'), 'INVALID_ARGUMENT', 'request.messages[0].content');
    await expectCode(() => validateTools({}, 'request.tools'), 'INVALID_ARGUMENT', 'request.tools');
    await expectCode(() => validateTools([{ type: 'function', function: { name: '' } }]), 'INVALID_ARGUMENT', 'tools[0].function.name');
    await expectCode(() => validateTools([{ type: 'function', function: { name: 'f', parameters: [] } }]), 'INVALID_ARGUMENT', 'tools[0].function.parameters');
    await expectCode(() => validateTools([{ type: 'function', function: { name: 'f', x: () => 1 } }]), 'INVALID_ARGUMENT', 'tools[0].function.x');
    await expectCode(() => validateDocuments([{ title: 'a' }, 'b']), 'INVALID_ARGUMENT', 'documents[1]');
    await expectCode(() => validateDocuments([{ n: Number.NaN }]), 'INVALID_ARGUMENT', 'documents[0].n');
  });

  it('maps the OpenAI shape to the names templates read', () => {
    const messages = validateChatMessages([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        reasoning: 'Call the tool.',
        toolCalls: [{ id: 'call12345', type: 'function', function: { name: 'get_weather', arguments: '{"location": "Paris"}' } }],
      },
      { role: 'tool', content: '18', toolCallId: 'call12345', name: 'get_weather' },
    ]);
    expect(templateMessages(messages)).toEqual([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'Call the tool.',
        tool_calls: [{ id: 'call12345', type: 'function', function: { name: 'get_weather', arguments: { location: 'Paris' } } }],
      },
      { role: 'tool', content: '18', tool_call_id: 'call12345', name: 'get_weather' },
    ]);
    expect(templateMessages(messages, { nullContent: 'empty', reasoningField: 'thinking' })[1]).toMatchObject({ content: '', thinking: 'Call the tool.' });
    expect(reasoningField("{{ message.reasoning_content }}")).toBe('reasoning_content');
    expect(reasoningField("{{ message.thinking }}")).toBe('thinking');
    expect(reasoningField("{{ message.get('reasoning') }}")).toBe('reasoning');
  });
});

describe("a GGUF's chat templates", () => {
  it('reads the default and named templates and the BOS/EOS texts from GGUF metadata', async () => {
    const commandR = await readChatTemplates(vocab('command-r'));
    expect(Object.keys(commandR.templates).sort()).toEqual(['default', 'rag', 'tool_use']);
    expect(commandR.bosToken).toBe('<BOS_TOKEN>');
    expect(commandR.eosToken).toBe('<|END_OF_TURN_TOKEN|>');
    const phi3 = chatTemplatesFromHeader(await readGgufHeader(vocab('phi-3')));
    expect(Object.keys(phi3.templates)).toEqual(['default']);
    expect([phi3.bosToken, phi3.eosToken]).toEqual(['<s>', '<|endoftext|>']);
    expect((await readChatTemplates(vocab('llama-spm'))).templates).toEqual({});
  });

  it("chooses as transformers: the named one, tool_use for tools, else the default", async () => {
    const set = { templates: { default: 'D', tool_use: 'T', rag: 'R' }, bosToken: null, eosToken: null };
    expect(chooseTemplate(set)?.name).toBe('default');
    expect(chooseTemplate(set, { tools: true })?.name).toBe('tool_use');
    expect(chooseTemplate(set, { name: 'rag', tools: true })?.name).toBe('rag');
    expect(chooseTemplate({ ...set, templates: { default: 'D' } }, { tools: true })?.name).toBe('default');
    expect(chooseTemplate({ ...set, templates: {} })).toBeUndefined();
    const unknown = await expectCode(() => chooseTemplate(set, { name: 'nope', field: 'request.chatTemplate' }), 'INVALID_ARGUMENT', 'request.chatTemplate');
    expect(unknown.message).toContain('"tool_use"');
    await expectCode(() => chooseTemplate({ ...set, templates: { a: 'A', b: 'B' } }), 'TEMPLATE_ERROR', 'chatTemplate');
  });

  it("renders Command R's named templates from its GGUF", async () => {
    const set = await readChatTemplates(vocab('command-r'));
    const chat = new ModelChat(set, () => 'native');
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    // Command R's tool_use template reads its own tool shape (name, description, parameter_definitions)
    const tools = [{ name: 'get_weather', description: 'Weather', parameter_definitions: { location: { type: 'str', description: 'City', required: true } } }];
    const withTools = chat.format(messages, { tools });
    expect(withTools).toBe(new ChatTemplate(set.templates.tool_use!).render({ messages, tools, add_generation_prompt: true, bos_token: '<BOS_TOKEN>', eos_token: '<|END_OF_TURN_TOKEN|>', documents: null }));
    expect(withTools.startsWith('<BOS_TOKEN>')).toBe(true);
    expect(withTools).toContain('get_weather');
    const rag = chat.format(messages, { chatTemplate: 'rag', documents: [{ title: 'Paris', text: 'Sunny.' }] });
    expect(rag).toContain('Sunny.');
    expect(chat.format(messages)).not.toContain('get_weather');
    await expectCode(() => chat.format(messages, { chatTemplate: 'nope' }), 'INVALID_ARGUMENT', 'chatTemplate');
    await expectCode(() => chat.format(messages, { templateVariables: { messages: [] } }), 'INVALID_ARGUMENT', 'templateVariables.messages');
  });

  it('gives a null content as empty text to a template that fails on None; falls back to the guesser without a template', async () => {
    const chat = new ModelChat({ templates: { default: "{% for m in messages %}{{ m.role + ':' + m.content }};{% endfor %}" }, bosToken: null, eosToken: null }, () => 'native');
    const messages = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, toolCalls: [{ function: { name: 'f', arguments: {} } }] },
    ];
    expect(chat.format(messages)).toBe('user:q;assistant:;');
    const raw = new ModelChat({ templates: { default: "{{ raise_exception('no') }}" }, bosToken: null, eosToken: null }, () => 'native');
    await expectCode(() => raw.format(messages), 'TEMPLATE_ERROR', 'tokenizer.chat_template');
    const guessed: unknown[] = [];
    const none = new ModelChat({ templates: {}, bosToken: null, eosToken: null }, (m, add) => {
      guessed.push(m, add);
      return 'guessed';
    });
    expect(none.hasTemplate).toBe(false);
    expect(none.format([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], { addGenerationPrompt: false })).toBe('guessed');
    expect(guessed).toEqual([[{ role: 'user', content: 'ab' }], false]);
    await expectCode(() => none.format([{ role: 'user', content: 'x' }], { tools: [] }, 'request.'), 'INVALID_ARGUMENT', 'request.tools');
  });
});
