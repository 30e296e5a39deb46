// Model output taken apart as each template family writes it: reasoning and tool calls. The samples are
// the assistant turns llama.cpp's templates render for one tool call (test/fixtures/templates), so each
// syntax is checked against what its own template writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputFormat, parseOutput } from '../../src/template/index.js';
import { repoRoot } from '../helpers/models.js';

const source = (template: string): string =>
  (JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'templates', `${template}.json`), 'utf8')) as { source: string }).source;
const WEATHER = { location: 'Paris', unit: 'celsius' };
const TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } } } } }];

/** [template, model output, expected tool-call names, arguments, id] */
const SAMPLES: Array<[string, string, string, Record<string, unknown>, string?]> = [
  ['Qwen-Qwen2.5-7B-Instruct', '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>', 'get_weather', WEATHER],
  ['NousResearch-Hermes-3-Llama-3.1-8B-tool_use', 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>', 'get_weather', WEATHER],
  ['meta-llama-Llama-3.1-8B-Instruct', '{"name": "get_weather", "parameters": {"location": "Paris", "unit": "celsius"}}', 'get_weather', WEATHER],
  ['mistralai-Mistral-Nemo-Instruct-2407', '[TOOL_CALLS][{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}, "id": "call12345"}]', 'get_weather', WEATHER, 'call12345'],
  ['Mistral-Small-3.2-24B-Instruct-2506', '[TOOL_CALLS]get_weather[CALL_ID]call12345[ARGS]{"location": "Paris", "unit": "celsius"}', 'get_weather', WEATHER, 'call12345'],
  ['unsloth-mistral-Devstral-Small-2507', '[TOOL_CALLS]get_weather[ARGS]{"location": "Paris", "unit": "celsius"}', 'get_weather', WEATHER],
  ['Qwen3-Coder', '<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>', 'get_weather', WEATHER],
  ['ByteDance-Seed-OSS', '<seed:tool_call>\n<function=get_weather>\n<parameter=location>Paris</parameter>\n<parameter=unit>celsius</parameter>\n</function>\n</seed:tool_call>', 'get_weather', WEATHER],
  ['GLM-4.6', '<tool_call>get_weather\n<arg_key>location</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>unit</arg_key>\n<arg_value>celsius</arg_value>\n</tool_call>', 'get_weather', WEATHER],
  ['tencent-Hy3', '<tool_calls:opensource>\n<tool_call:opensource>get_weather<tool_sep:opensource>\n<arg_key:opensource>location</arg_key:opensource>\n<arg_value:opensource>Paris</arg_value:opensource>\n<arg_key:opensource>unit</arg_key:opensource>\n<arg_value:opensource>celsius</arg_value:opensource>\n</tool_call:opensource>', 'get_weather', WEATHER],
  ['MiniMax-M2', '<minimax:tool_call>\n<invoke name="get_weather">\n<parameter name="location">Paris</parameter>\n<parameter name="unit">celsius</parameter>\n</invoke>\n</minimax:tool_call>', 'get_weather', WEATHER],
  ['deepseek-ai-DeepSeek-V3.2', '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>', 'get_weather', WEATHER],
  ['openbmb-MiniCPM5-1B', '<function name="get_weather"><param name="location">Paris</param><param name="unit">celsius</param></function>', 'get_weather', WEATHER],
  ['deepseek-ai-DeepSeek-R1-Distill-Qwen-32B', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": "Paris", "unit": "celsius"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>', 'get_weather', WEATHER],
  ['deepseek-ai-DeepSeek-V3.1', '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"location": "Paris", "unit": "celsius"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>', 'get_weather', WEATHER],
  ['moonshotai-Kimi-K2', '<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"location": "Paris", "unit": "celsius"}<|tool_call_end|><|tool_calls_section_end|>', 'get_weather', WEATHER, 'functions.get_weather:0'],
  ['openai-gpt-oss-120b', '<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"location": "Paris", "unit": "celsius"}<|call|>', 'get_weather', WEATHER],
  ['CohereForAI-c4ai-command-r7b-12-2024-tool_use', '<|START_THINKING|>Look it up.<|END_THINKING|><|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"location": "Paris", "unit": "celsius"}}\n]<|END_ACTION|>', 'get_weather', WEATHER, '0'],
  ['NVIDIA-Nemotron-Nano-v2', '<TOOLCALL>[{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}]</TOOLCALL>', 'get_weather', WEATHER],
  ['ibm-granite-granite-4.0', '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>', 'get_weather', WEATHER],
  ['Apertus-8B-Instruct', '<|tools_prefix|>[{"get_weather": {"location": "Paris", "unit": "celsius"}}]<|tools_suffix|>', 'get_weather', WEATHER],
  ['unsloth-Apriel-1.5', '<tool_calls>[{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}, "id": "call12345"}]</tool_calls>', 'get_weather', WEATHER, 'call12345'],
  ['google-gemma-4-31B-it', '<|tool_call>call:get_weather{location:<|"|>Paris<|"|>,unit:<|"|>celsius<|"|>}<tool_call|>', 'get_weather', WEATHER],
  ['LFM2.5-8B-A1B', "<|tool_call_start|>[get_weather(location='Paris', unit='celsius')]<|tool_call_end|>", 'get_weather', WEATHER],
  ['upstage-Solar-Open-100B', '<|tool_calls|><|tool_call:begin|>call12345<|tool_call:name|>get_weather<|tool_call:args|>{"location": "Paris", "unit": "celsius"}<|tool_call:end|><|calls|>', 'get_weather', WEATHER, 'call12345'],
  ['meetkai-functionary-medium-v3.1', '<function=get_weather>{"location": "Paris", "unit": "celsius"}</function>', 'get_weather', WEATHER],
  ['GigaChat3.1-10B-A1.8B', '<|function_call|>{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}', 'get_weather', WEATHER],
];

describe('parseOutput', () => {
  for (const [template, output, name, args, id] of SAMPLES) {
    it(`${template}: a tool call`, () => {
      const parsed = parseOutput(output, outputFormat(source(template)), { tools: TOOLS });
      expect(parsed.toolCalls?.map((c) => c.function.name), JSON.stringify(parsed)).toEqual([name]);
      expect(parsed.toolCalls![0]!.function.arguments).toEqual(args);
      if (id !== undefined) expect(parsed.toolCalls![0]!.id).toBe(id);
      expect(parsed.content.includes('get_weather')).toBe(false);
    });
  }

  it('splits reasoning from the answer, also when the prompt opened the thinking block', () => {
    const qwen3 = outputFormat(source('Qwen-Qwen3-0.6B'));
    expect(parseOutput('<think>\nLet me think.\n</think>\n\nFour.', qwen3)).toEqual({ content: 'Four.', reasoning: 'Let me think.' });
    expect(parseOutput('Let me think.\n</think>\n\nFour.', qwen3)).toEqual({ content: 'Four.', reasoning: 'Let me think.' });
    expect(parseOutput('<think>\nStill thinking', qwen3)).toEqual({ content: '', reasoning: 'Still thinking' });
    expect(parseOutput('Four.', qwen3)).toEqual({ content: 'Four.' });
    const both = parseOutput('<think>Use the tool.</think>\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>', qwen3);
    expect(both.reasoning).toBe('Use the tool.');
    expect(both.toolCalls?.[0]?.function).toEqual({ name: 'get_weather', arguments: { location: 'Paris' } });
    expect(both.content).toBe('');
    expect(parseOutput('<seed:think>hm</seed:think>Yes.', outputFormat(source('ByteDance-Seed-OSS')))).toEqual({ content: 'Yes.', reasoning: 'hm' });
    expect(parseOutput('[THINK]hm[/THINK]Yes.', outputFormat(source('mistralai-Ministral-3-14B-Reasoning-2512')))).toEqual({ content: 'Yes.', reasoning: 'hm' });
    expect(parseOutput('<|START_THINKING|>hm<|END_THINKING|><|START_RESPONSE|>Yes.', outputFormat(source('Cohere2MoE'))).reasoning).toBe('hm');
    expect(parseOutput('<|channel|>analysis<|message|>hm<|end|><|start|>assistant<|channel|>final<|message|>Yes.', outputFormat(source('openai-gpt-oss-120b')))).toEqual({ content: 'Yes.', reasoning: 'hm' });
  });

  it('leaves text alone that is not a call in the template\'s syntax', () => {
    const hermes = outputFormat(source('NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use'));
    expect(parseOutput('<tool_call>not json</tool_call>', hermes)).toEqual({ content: '<tool_call>not json</tool_call>' });
    expect(parseOutput('{"name": "x"}', outputFormat(source('Qwen-Qwen2.5-7B-Instruct')))).toEqual({ content: '{"name": "x"}' });
    expect(outputFormat('{{ messages }}')).toEqual({ reasoning: [], harmony: false, toolCalls: [] });
  });
});
