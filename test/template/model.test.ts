// Chat requests through a real loaded model render the GGUF's own Jinja template: a generated llama model
// with Phi-3's vocabulary (whose GGUF carries tokenizer.chat_template) and a named tool_use template added
// to its metadata. The prompt a request evaluates is the rendering, tokenized once with the BOS token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/engine/load.js';
import { type Model } from '../../src/engine/model.js';
import { ModelSlot } from '../../src/engine/model-slot.js';
import { cachedTestModel } from '../../src/testing/model-generator.js';
import { ChatTemplate, readChatTemplates } from '../../src/template/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES, repoRoot } from '../helpers/models.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PHI3 = join(repoRoot, 'deps', 'llama.cpp', 'models', 'ggml-vocab-phi-3.gguf');
const TOOL_USE =
  "{{ bos_token }}{% if tools %}{% for t in tools %}<tool>{{ t.function.name }}</tool>{% endfor %}{% endif %}{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
const QWEN3 = readFileSync(join(repoRoot, 'deps', 'llama.cpp', 'models', 'templates', 'Qwen-Qwen3-0.6B.jinja'), 'utf8');
const RAISES = "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user message') }}{% endif %}";
const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } } }];
const MESSAGES = [
  { role: 'user', content: 'Hello there' },
  { role: 'assistant', content: 'Hi! How can I help?' },
  { role: 'user', content: 'Tell me a story.' },
];

let model: Model;
let phi3Template: string;

beforeAll(async () => {
  const path = await cachedTestModel({
    vocabPath: PHI3,
    metadata: [
      { key: 'tokenizer.chat_template.tool_use', type: 'string', value: TOOL_USE },
      { key: 'tokenizer.chat_template.strict', type: 'string', value: RAISES },
      { key: 'tokenizer.chat_template.qwen3', type: 'string', value: QWEN3 },
    ],
  });
  model = await loadModel(path, { contextSize: 512, threads: 1 });
  phi3Template = (await readChatTemplates(PHI3)).templates.default!;
});
afterAll(async () => {
  await model?.dispose();
});

describe('chat through a loaded model', () => {
  it("applyChatTemplate renders the GGUF's template exactly as transformers does", () => {
    const expected = new ChatTemplate(phi3Template).render({ messages: MESSAGES, add_generation_prompt: true, bos_token: '<s>', eos_token: '<|endoftext|>' });
    expect(model.applyChatTemplate(MESSAGES)).toBe(expected);
    expect(expected).toBe('<s><|user|>\nHello there<|end|>\n<|assistant|>\nHi! How can I help?<|end|>\n<|user|>\nTell me a story.<|end|>\n<|assistant|>\n');
    expect(model.applyChatTemplate(MESSAGES, false)).toBe(expected);
    expect(model.applyChatTemplate(MESSAGES, { tools: TOOLS })).toContain('<tool>get_weather</tool>');
    expect(model.applyChatTemplate(MESSAGES, { chatTemplate: 'tool_use', addGenerationPrompt: false }).endsWith('<|end|>\n')).toBe(true);
  });

  it('a chat request evaluates the rendered prompt, with one BOS token', async () => {
    const rendered = model.applyChatTemplate(MESSAGES);
    const once = model.tokenize(rendered.slice('<s>'.length), { addSpecial: true, parseSpecial: true });
    expect(model.tokenize(rendered, { addSpecial: true, parseSpecial: true })).toEqual([once[0]!, ...once]);
    const r = await model.complete({ messages: MESSAGES, temperature: 0, maxTokens: 3, cachePrompt: false });
    expect(r.promptTokens).toBe(once.length);
    expect(r.generatedTokens).toBeGreaterThan(0);
  });

  it("takes the model's tool_use template for a request with tools, or the template it names", async () => {
    const withTools = model.applyChatTemplate(MESSAGES, { tools: TOOLS });
    const r = await model.complete({ messages: MESSAGES, tools: TOOLS, temperature: 0, maxTokens: 2, cachePrompt: false });
    expect(r.promptTokens).toBe(model.tokenize(withTools.slice('<s>'.length), { addSpecial: true, parseSpecial: true }).length);
    const slot = new ModelSlot(model);
    const named = await slot.complete({ messages: MESSAGES, chatTemplate: 'tool_use', temperature: 0, maxTokens: 2, cachePrompt: false });
    const tokens = model.tokenize(model.applyChatTemplate(MESSAGES, { chatTemplate: 'tool_use' }).slice('<s>'.length), { addSpecial: true, parseSpecial: true });
    expect(named.promptTokens).toBe(tokens.length);
  });

  it('bad chat input and a template that raises are typed errors naming the field', async () => {
    await expectCode(() => model.generate({ messages: [{ role: 'user', content: 5 }] } as never), 'INVALID_ARGUMENT', 'messages[0].content');
    await expectCode(() => model.generate({ messages: MESSAGES, tools: [{ type: 'function', function: {} }] } as never), 'INVALID_ARGUMENT', 'request.tools[0].function.name');
    await expectCode(() => model.generate({ messages: MESSAGES, documents: 'x' } as never), 'INVALID_ARGUMENT', 'request.documents');
    await expectCode(() => model.generate({ messages: MESSAGES, chatTemplate: 'rag' }), 'INVALID_ARGUMENT', 'request.chatTemplate');
    const strict = [{ role: 'system', content: 'Be brief.' }, ...MESSAGES];
    const raised = await expectCode(() => model.generate({ messages: strict, chatTemplate: 'strict' }), 'TEMPLATE_ERROR', 'tokenizer.chat_template.strict');
    expect(raised.value).toBe('Conversations must start with a user message');
    await expectCode(model.complete({ messages: strict, chatTemplate: 'strict' }), 'TEMPLATE_ERROR', 'tokenizer.chat_template.strict');
    await expectCode(() => model.applyChatTemplate(strict, { chatTemplate: 'strict' }), 'TEMPLATE_ERROR', 'tokenizer.chat_template.strict');
  });

  it("a chat result takes the reasoning and tool calls out of the text, in the template's syntax", async () => {
    // A grammar makes the random-weight model write what a Qwen 3 model writes: reasoning, then a call.
    const answer = '<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    const grammar = `root ::= ${JSON.stringify(answer)}`;
    const request = { messages: MESSAGES, chatTemplate: 'qwen3', tools: TOOLS, temperature: 0, maxTokens: 400, grammar };
    const streamed: string[] = [];
    const stream = model.generate(request);
    for await (const text of stream) streamed.push(text);
    const r = await stream.result;
    expect(streamed.join('')).toBe(answer);
    expect(r.reasoning).toBe('The user wants weather.');
    expect(r.toolCalls).toEqual([{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    expect(r.text).toBe('');
    const plain = await model.complete({ ...request, grammar: 'root ::= "Sunny, " [a-z]+' , tools: undefined });
    expect(plain.reasoning).toBeUndefined();
    expect(plain.toolCalls).toBeUndefined();
    expect(plain.text).toMatch(/^Sunny, [a-z]+$/);
    const prompt = await model.complete({ prompt: answer, temperature: 0, maxTokens: 1, grammar: 'root ::= "x"' });
    expect(prompt.reasoning).toBeUndefined();
  });

  it("a GGUF without a template keeps llama.cpp's guesser, and refuses tools", async () => {
    const stories = await loadModel(STORIES, { contextSize: 256, threads: 1 });
    try {
      expect(stories.chat.hasTemplate).toBe(false);
      expect(stories.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
      await expectCode(() => stories.generate({ messages: [{ role: 'user', content: 'Hi' }], tools: TOOLS }), 'INVALID_ARGUMENT', 'request.tools');
    } finally {
      await stories.dispose();
    }
  });
});
