// The transformers environment beyond what the fixtures cover: raise_exception and failures as typed
// errors, strftime_now, tojson's options, Python's str()/repr(), jinja2's undefined values, the immutable
// sandbox, generators and Markup, loop scoping, and the compile cache.
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src/template/index.js';
import { expectCode } from '../helpers/expect.js';

const render = (source: string, context: Record<string, unknown> = {}): string =>
  new ChatTemplate(source, { now: () => new Date(2024, 6, 5, 9, 3, 7) }).render({ messages: [], ...context });

describe('ChatTemplate', () => {
  it('trims blocks and strips their leading whitespace, as transformers does', () => {
    expect(render('{% for m in messages %}\n  {% if m %}\n{{ m }}\n  {% endif %}\n{% endfor %}\n', { messages: ['a', 'b'] })).toBe('a\nb\n');
    expect(render('  {{- "x" -}}  \n y')).toBe('xy');
  });

  it('passes messages, tools, documents, add_generation_prompt, bos/eos and extra variables', () => {
    const source = '{{ bos_token }}{{ messages[0].content }}|{{ tools[0].function.name }}|{{ documents[0].title }}|{{ add_generation_prompt }}|{{ eos_token }}|{{ enable_thinking }}';
    expect(
      render(source, {
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'f' } }],
        documents: [{ title: 'T', text: 'x' }],
        add_generation_prompt: true,
        bos_token: '<s>',
        eos_token: '</s>',
        enable_thinking: false,
      }),
    ).toBe('<s>hi|f|T|True|</s>|False');
    // transformers passes tools=None and documents=None when there are none
    expect(render('{{ tools is none }} {{ documents is defined }} {{ add_generation_prompt }}')).toBe('True True False');
  });

  it('raise_exception and failures become TEMPLATE_ERROR naming the template and the message', async () => {
    const raised = await expectCode(
      () => new ChatTemplate("{{ raise_exception('Roles must alternate') }}", { name: 'tool_use' }).render({ messages: [] }),
      'TEMPLATE_ERROR',
      'tokenizer.chat_template.tool_use',
    );
    expect(raised.value).toBe('Roles must alternate');
    expect(raised.details).toMatchObject({ raised: true, template: 'tool_use' });
    const failed = await expectCode(() => render("{{ 'a' + 1 }}"), 'TEMPLATE_ERROR', 'tokenizer.chat_template');
    expect(failed.value).toBe('can only concatenate str (not "int") to str');
    expect(failed.details).toMatchObject({ raised: false });
    await expectCode(() => render('{{ x.y }}'), 'TEMPLATE_ERROR');
    await expectCode(() => new ChatTemplate('{% if %}'), 'TEMPLATE_ERROR', 'tokenizer.chat_template');
    await expectCode(() => new ChatTemplate(42 as never), 'INVALID_ARGUMENT', 'source');
  });

  it('strftime_now formats the clock as Python does on Linux', () => {
    expect(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %-d, %H:%M:%S %p %j %y %%') }}")).toBe('05 Jul 2024|Friday July 5, 09:03:07 AM 187 24 %');
    const now = new ChatTemplate("{{ strftime_now('%Y') }}").render({ messages: [] });
    expect(now).toBe(String(new Date().getFullYear()));
  });

  it("tojson is transformers' json.dumps: ensure_ascii off, indent, separators, sort_keys", () => {
    const x = { b: [1, 2.5, null, true], a: 'é<">' };
    expect(render('{{ x | tojson }}', { x })).toBe('{"b": [1, 2.5, null, true], "a": "é<\\">"}');
    expect(render('{{ x | tojson(indent=2) }}', { x: { a: [1], b: {} } })).toBe('{\n  "a": [\n    1\n  ],\n  "b": {}\n}');
    expect(render('{{ x | tojson(indent=0) }}', { x: [1] })).toBe('[\n1\n]');
    expect(render("{{ x | tojson(separators=(',', ':'), sort_keys=true) }}", { x })).toBe('{"a":"é<\\">","b":[1,2.5,null,true]}');
    expect(render('{{ x | tojson(ensure_ascii=true) }}', { x: 'é' })).toBe('"\\u00e9"');
    expect(render('{{ x | tojson }} {{ 1.0 | tojson }}', { x: [1e-7, 1e22, 0.5, 123456.75] })).toBe('[1e-07, 1e+22, 0.5, 123456.75] 1.0');
  });

  it("prints values with Python's str(): None, True, lists and dicts in repr", () => {
    expect(render("{{ none }}|{{ x }}|{{ [1, 'a', none, true] }}|{{ {'k': \"it's\"} }}|{{ 1.0 }}|{{ (1, 'b') }}|{{ 0.1 + 0.2 }}")).toBe(
      "None||[1, 'a', None, True]|{'k': \"it's\"}|1.0|(1, 'b')|0.30000000000000004",
    );
  });

  it('follows jinja2: undefined attributes, integer dict keys, per-turn loop scope, namespace, loop controls', () => {
    expect(render('{{ x.y }}', { x: {} })).toBe('');
    expect(render("{% set d = {1: 'a', 2: 'b'} %}{{ d[1] }}{% for k, v in d | dictsort(reverse=true) %}{{ k }}{% endfor %}")).toBe('a21');
    expect(render('{% set c = 0 %}{% for i in [1, 2] %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}')).toBe('110');
    expect(render('{% set ns = namespace(c=0) %}{% for i in [1, 2] %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}')).toBe('3');
    expect(render('{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}')).toBe('02');
    expect(render("{{ 'a,b,,c'.split(',') }} {{ '  x '.strip() }} {{ 'xxhixx'.strip('x') }} {{ 'Hi {0}, {name}!'.format('A', name='B') }}")).toBe(
      "['a', 'b', '', 'c'] x hi Hi A, B!",
    );
    expect(render("{{ '%s=%d' | format('n', 3) }} {{ 'abc'[::-1] }} {{ [3, 1, 2] | sort | join(',') }} {{ [1, 2] | map('string') | list }}")).toBe(
      "n=3 cba 1,2,3 ['1', '2']",
    );
  });

  it('refuses what the immutable sandbox refuses, and treats generators and Markup as jinja2 does', async () => {
    const unsafe = await expectCode(() => render('{% set l = [] %}{{ l.append(1) }}'), 'TEMPLATE_ERROR');
    expect(unsafe.message).toContain('SecurityError');
    await expectCode(() => render("{{ x | map(attribute='a') | tojson }}", { x: [{ a: 1 }] }), 'TEMPLATE_ERROR');
    expect(render("{{ x | map(attribute='a') | list | tojson }}", { x: [{ a: 1 }] })).toBe('[1]');
    expect(render('{{ "<b>"|safe + "<i>" }}|{{ "<i>" ~ "<b>"|safe }}')).toBe('<b>&lt;i&gt;|<i><b>');
  });

  it('compiles each template source once', () => {
    const source = '{{ messages | length }}';
    const a = new ChatTemplate(source);
    const b = new ChatTemplate(source);
    expect(a.render({ messages: [1, 2] })).toBe('2');
    expect(b.render({ messages: [] })).toBe('0');
  });
});
