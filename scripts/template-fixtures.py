#!/usr/bin/env python3
"""Reference renderings of llama.cpp's chat templates, made the way Hugging Face transformers renders them.

    python3 scripts/template-fixtures.py [TEMPLATES_DIR] [OUT_DIR]

Defaults: deps/llama.cpp/models/templates and test/fixtures/templates. Needs only python3 and jinja2 (Debian's
python3-jinja2). The environment is transformers' (`_compile_jinja_template` in
transformers/utils/chat_template_utils.py): an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks,
loop controls and the `{% generation %}` tag, `tojson` replaced by json.dumps (ensure_ascii=False, indent,
separators, sort_keys), the globals raise_exception and strftime_now (fixed here to FIXED_NOW so the output does
not depend on the day), and the variables transformers passes: messages, tools (None without tools), documents
(None without documents), add_generation_prompt and the special tokens.

It writes one JSON file per template (the template's text and SHA-256, and for each conversation of
CONVERSATIONS the rendering or the exception) and _conversations.json, the inputs. test/template/ renders the
same templates over the same inputs with modelpool's renderer and compares.
"""
import datetime
import hashlib
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "deps", "llama.cpp", "models", "templates")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "templates")

# strftime_now's clock in the fixtures (test/template/ renders with the same instant).
FIXED_NOW = datetime.datetime(2025, 3, 14, 15, 9, 26)
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What raise_exception throws (transformers throws a plain TemplateError; a subclass tells them apart here)."""


def raise_exception(message):
    raise RaisedByTemplate(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


class AssistantTracker(jinja2.ext.Extension):
    """transformers' `{% generation %}...{% endgeneration %}`: outside assistant-mask rendering, the body as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# ---------------------------------------------------------------------------------------------------------------
# Inputs. Messages use the shape transformers documents: tool calls as {"type": "function", "function": {"name",
# "arguments": {...}}} with the arguments as a mapping, tool results as role "tool" with tool_call_id and name,
# reasoning as reasoning_content. Tool call ids are 9 alphanumerics (Mistral's templates require that).

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for"},
                "limit": {"type": "integer", "description": "Most results", "default": 5},
            },
            "required": ["query"],
        },
    },
}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Hello, who are you?"}
ASSISTANT = {"role": "assistant", "content": "I am an assistant. How can I help?"}
USER2 = {"role": "user", "content": "What is 2 + 2?"}
ASSISTANT2 = {"role": "assistant", "content": "2 + 2 = 4."}
USER3 = {"role": "user", "content": "Thanks! And 3 + 3?"}
WEATHER_QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
TOOL_CALL = {
    "id": "call12345",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}},
}
CALL = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": '{"temperature": 18, "sky": "cloudy"}'}
ANSWER = {"role": "assistant", "content": "It is 18 °C and cloudy in Paris."}

CONVERSATIONS = {
    "user": {"messages": [USER], "add_generation_prompt": True},
    "system-user": {"messages": [SYSTEM, USER], "add_generation_prompt": True},
    "system-user-assistant": {"messages": [SYSTEM, USER, ASSISTANT], "add_generation_prompt": False},
    "multi-turn": {"messages": [SYSTEM, USER, ASSISTANT, USER2, ASSISTANT2, USER3], "add_generation_prompt": True},
    "multi-turn-closed": {"messages": [USER, ASSISTANT, USER2, ASSISTANT2], "add_generation_prompt": False},
    "tools": {"messages": [SYSTEM, WEATHER_QUESTION], "tools": TOOLS, "add_generation_prompt": True},
    "tool-call": {"messages": [WEATHER_QUESTION, CALL], "tools": TOOLS, "add_generation_prompt": False},
    "tool-result": {"messages": [SYSTEM, WEATHER_QUESTION, CALL, RESULT], "tools": TOOLS, "add_generation_prompt": True},
    "tool-result-empty-content": {
        "messages": [SYSTEM, WEATHER_QUESTION, {**CALL, "content": ""}, RESULT],
        "tools": TOOLS,
        "add_generation_prompt": True,
    },
    "tool-round-trip": {
        "messages": [
            WEATHER_QUESTION,
            {"role": "assistant", "content": "Let me check.", "tool_calls": [TOOL_CALL]},
            RESULT,
            ANSWER,
            {"role": "user", "content": "Search for umbrellas."},
        ],
        "tools": TOOLS,
        "add_generation_prompt": True,
    },
    "tool-call-string-arguments": {
        "messages": [
            WEATHER_QUESTION,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call12345",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                    }
                ],
            },
            RESULT,
        ],
        "tools": TOOLS,
        "add_generation_prompt": True,
    },
    "documents": {
        "messages": [{"role": "user", "content": "When was the tower built?"}],
        "documents": [
            {"title": "Eiffel Tower", "text": "The Eiffel Tower was built from 1887 to 1889."},
            {"title": "Paris", "text": "Paris is the capital of France."},
        ],
        "add_generation_prompt": True,
    },
    "reasoning": {
        "messages": [
            USER2,
            {"role": "assistant", "content": "2 + 2 = 4.", "reasoning_content": "Two plus two is four."},
            USER3,
        ],
        "add_generation_prompt": True,
    },
    "parallel-tool-calls": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    TOOL_CALL,
                    {
                        "id": "call67890",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"location": "Rome", "unit": "celsius"}},
                    },
                ],
            },
            RESULT,
            {"role": "tool", "tool_call_id": "call67890", "name": "get_weather", "content": '{"temperature": 24, "sky": "sunny"}'},
        ],
        "tools": [WEATHER_TOOL],
        "add_generation_prompt": True,
    },
    "content-parts": {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
            {"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "Paris."}]},
        ],
        "add_generation_prompt": True,
    },
    "whitespace": {
        "messages": [
            {"role": "system", "content": "  Line one.\n\nLine two.\t\n"},
            {"role": "user", "content": "\n  Indented question?  \n"},
            {"role": "assistant", "content": "<think>\nhidden\n</think>\n\n  Answer.  "},
            {"role": "user", "content": "Next."},
        ],
        "add_generation_prompt": True,
    },
    "thinking-off": {"messages": [SYSTEM, USER], "add_generation_prompt": True, "enable_thinking": False},
    "thinking-on": {
        "messages": [SYSTEM, USER],
        "add_generation_prompt": True,
        "enable_thinking": True,
        "reasoning_effort": "high",
    },
    "unicode": {
        "messages": [
            {"role": "user", "content": "Grüße aus Köln — 東京 <b>&amp;</b> \"quoted\" 'single'"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call54321",
                        "type": "function",
                        "function": {"name": "search", "arguments": {"query": "Köln <café> & \"bar\"", "limit": 2}},
                    }
                ],
            },
        ],
        "tools": TOOLS,
        "add_generation_prompt": False,
    },
}


# Small templates over the Python semantics the chat templates lean on (str, dict and list methods, filters,
# tests, operators, formatting, strftime), each rendered with EXPRESSION_VARIABLES: _expressions.json.
EXPRESSION_VARIABLES = {
    "s": "  Hello, World!  ",
    "t": "a,b,,c",
    "u": "Grüße 東京",
    "n": 7,
    "f": 2.5,
    "l": [3, 1, 2],
    "d": {"b": 2, "a": 1, "C": 3},
    "people": [{"name": "Ann", "age": 31}, {"name": "bob", "age": 25}, {"name": "Cy", "age": 31}],
    "nested": {"x": {"y": [10, 20, {"z": "deep"}]}},
    "none_value": None,
    "yes": True,
    "empty": "",
    "big": 12345678901234,
    "tiny": 0.000012,
    "huge": 1.5e300,
}
EXPRESSIONS = [
    # str methods
    "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ '--a--'.lstrip('-') }}|{{ '--a--'.rstrip('-') }}",
    "{{ t.split(',') }}|{{ t.split(',', 1) }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(none, 1) }}|{{ t.rsplit(',', 1) }}|{{ ' a b '.rsplit() }}",
    "{{ 'l1\nl2\r\nl3'.splitlines() }}|{{ 'x\ny\n'.splitlines(true) }}",
    "{{ s.startswith('  He') }}|{{ s.endswith(('x', '!  ')) }}|{{ 'abc'.startswith('b', 1) }}|{{ 'abc'.endswith('b', 0, 2) }}",
    "{{ 'aaa'.replace('a', 'b') }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab'.replace('', '-') }}",
    "{{ u.upper() }}|{{ u.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'AbC'.swapcase() }}|{{ 'they are 1st-rate'.title() }}",
    "{{ 'banana'.find('an') }}|{{ 'banana'.rfind('an') }}|{{ 'banana'.find('x') }}|{{ 'banana'.index('na') }}|{{ 'banana'.count('a') }}|{{ 'banana'.find('a', 2) }}",
    "{{ '123'.isdigit() }}|{{ 'abc'.isalpha() }}|{{ 'a1'.isalnum() }}|{{ ' \t'.isspace() }}|{{ 'ABC'.isupper() }}|{{ 'abc'.islower() }}|{{ ''.isdigit() }}|{{ 'Ab Cd'.istitle() }}",
    "{{ ', '.join(['a', 'b']) }}|{{ '-'.join('xyz') }}",
    "{{ 'x'.center(5, '*') }}|{{ 'x'.ljust(3, '.') }}|{{ 'x'.rjust(3) }}|{{ '42'.zfill(5) }}|{{ '-42'.zfill(5) }}",
    "{{ 'a=b=c'.partition('=') }}|{{ 'a=b=c'.rpartition('=') }}|{{ 'abc'.partition('x') }}",
    "{{ 'prefix_x'.removeprefix('prefix_') }}|{{ 'x.json'.removesuffix('.json') }}|{{ 'a\tb'.expandtabs(4) }}",
    "{{ '{} and {}'.format(1, 'two') }}|{{ '{1}{0}'.format('a', 'b') }}|{{ '{x[0]} {y.a}'.format(x=[5], y={'a': 6}) }}|{{ '{:>5}|{:<4}|{:^6}|{:05.1f}|{:+d}|{:x}'.format('r', 'l', 'c', 3.14159, 5, 255) }}|{{ '{{}}{!r}'.format('q') }}",
    "{{ s[2] }}|{{ s[-3] }}|{{ s[2:7] }}|{{ s[::3] }}|{{ s[-4:] }}|{{ l[::-1] }}|{{ l[1:] }}|{{ u[1] }}",
    # dict and list methods
    "{{ d.get('a') }}|{{ d.get('x') }}|{{ d.get('x', 9) }}|{{ d.keys() | list }}|{{ d.values() | list }}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{{ d['a'] }}|{{ d.a }}|{{ d['zz'] is defined }}|{{ nested.x.y[2].z }}|{{ nested['x']['y'][-1]['z'] }}|{{ nested.x.y.1 }}",
    "{{ l.index(2) }}|{{ l.count(3) }}|{{ l | length }}|{{ d | length }}|{{ s | length }}|{{ l | count }}",
    # filters
    "{{ l | sort }}|{{ l | sort(reverse=true) }}|{{ people | sort(attribute='name') | map(attribute='name') | list }}|{{ people | sort(attribute='name', case_sensitive=true) | map(attribute='name') | join(',') }}",
    "{{ d | dictsort }}|{{ d | dictsort(true) }}|{{ d | dictsort(by='value', reverse=true) }}|{{ d | items | list }}",
    "{{ l | first }}|{{ l | last }}|{{ l | min }}|{{ l | max }}|{{ l | sum }}|{{ people | sum(attribute='age') }}|{{ people | max(attribute='age') }}|{{ ['b', 'A', 'c'] | min }}",
    "{{ [1, 1, 2, 'a', 'A'] | unique | list }}|{{ ['a', 'A', 'b'] | unique(case_sensitive=true) | list }}|{{ l | reverse | list }}|{{ 'abc' | reverse }}|{{ 'ab' | list }}",
    "{{ people | selectattr('age', 'equalto', 31) | map(attribute='name') | join('/') }}|{{ people | rejectattr('age', '>', 30) | map(attribute='name') | first }}|{{ [0, 1, '', 'x', none] | select | list }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('even') | list }}|{{ people | map(attribute='nick', default='?') | list }}",
    "{{ [1, 2] | map('string') | join('+') }}|{{ ['a', 'b'] | map('upper') | list }}|{{ [1.5, 2.5] | map('int') | list }}|{{ people | map(attribute='name') | map('lower') | join(' ') }}",
    "{{ '3' | int + 1 }}|{{ '3.9' | int }}|{{ 'x' | int(7) }}|{{ '0x1f' | int(0, 16) }}|{{ 3.7 | int }}|{{ '2.5' | float }}|{{ 'nope' | float }}|{{ true | int }}|{{ -3 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 2.1 | round(0, 'ceil') }}|{{ 2.9 | round(method='floor') }}",
    "{{ none_value | default('d') }}|{{ missing | default('d') }}|{{ empty | default('d', true) }}|{{ missing | d('x') }}|{{ none_value | string }}|{{ yes | string }}|{{ l | string }}|{{ missing | string }}|",
    "{{ s | trim }}|{{ '..x..' | trim('.') }}|{{ s | upper }}|{{ s | lower }}|{{ 'ab cd' | title }}|{{ 'aB' | capitalize }}|{{ 'aXa' | replace('a', 'b') }}|{{ 'aaa' | replace('a', 'b', 1) }}|{{ 'one two  three' | wordcount }}|{{ 'x' | center(5) }}|",
    "{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}|{{ 'a\nb' | indent('> ') }}",
    "{{ '<a href=x>&</a>' | e }}|{{ '<b>' | escape }}|{{ '%s is %d years, %.2f%%' | format('Ann', 31, 99.5) }}|{{ '%(a)s-%(b)s' | format(a=1, b=2) }}|{{ '%5s|%-5s|%03d|%x|%r' | format('r', 'l', 7, 255, 'q') }}",
    "{{ d | tojson }}|{{ d | tojson(sort_keys=true) }}|{{ l | tojson(indent=1) }}|{{ u | tojson }}|{{ u | tojson(ensure_ascii=true) }}|{{ none_value | tojson }}|{{ f | tojson }}|{{ big | tojson }}|{{ tiny | tojson }}|{{ huge | tojson }}|{{ nested | tojson(separators=(',', ':')) }}",
    "{{ people[0] | attr('name') }}|{{ l | join }}|{{ people | join(', ', attribute='name') }}",
    # tests
    "{{ n is number }}|{{ f is float }}|{{ n is integer }}|{{ yes is boolean }}|{{ yes is true }}|{{ none_value is false }}|{{ s is string }}|{{ d is mapping }}|{{ l is sequence }}|{{ s is sequence }}|{{ n is iterable }}|{{ l is iterable }}|{{ none_value is none }}",
    "{{ missing is defined }}|{{ missing is undefined }}|{{ n is odd }}|{{ n is even }}|{{ 'abc' is lower }}|{{ 'ABC' is upper }}|{{ range is callable }}|{{ n is callable }}|{{ 'upper' is filter }}|{{ 'odd' is test }}|{{ 'nope' is filter }}",
    # operators
    "{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 1 + 2.0 }}|{{ 'ab' * 3 }}|{{ [0] * 3 }}|{{ 3 * 'x' }}|{{ yes + 1 }}|{{ 10 - 2.5 }}|{{ 1.0 * 3 }}",
    "{{ 'a' ~ 1 ~ none ~ missing ~ [1] }}|{{ [1] + [2] }}|{{ 'a' in 'cat' }}|{{ 2 in l }}|{{ 'a' in d }}|{{ 'z' not in d }}|{{ 1 in missing }}|{{ l == [3, 1, 2] }}|{{ d == {'b': 2, 'a': 1, 'C': 3} }}|{{ 1 == 1.0 }}|{{ '1' == 1 }}|{{ none_value == none }}|{{ [1, 2] < [1, 3] }}|{{ 'a' < 'b' }}",
    "{{ n > 3 and 'big' or 'small' }}|{{ none_value or 'fallback' }}|{{ not empty }}|{{ 'yes' if n > 3 else 'no' }}|{{ ('x' if false) is defined }}|{{ -n }}|{{ -f }}|{{ +n }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set x %}captured {{ n }}{% endset %}{{ x }}|{% for k in d %}{{ k }}{% else %}none{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}|{% for c in 'ab' %}{{ c }}{% endfor %}|{% for i in missing %}x{% endfor %}",
    "{% for p in people if p.age > 30 %}{{ loop.index }}/{{ loop.length }}:{{ p.name }}{{ ',' if not loop.last }}{% endfor %}|{% for i in range(3) %}{{ loop.revindex }}{{ loop.cycle('a', 'b') }}{{ loop.first }}{% endfor %}|{% for i in range(1, 10, 3) %}{{ i }}{{ loop.previtem }}{% endfor %}|{{ range(5, 0, -2) | list }}",
    "{% macro greet(name, greeting='Hi') %}{{ greeting }} {{ name }}{{ kwargs.get('p', '') }}{% endmacro %}{{ greet('A') }}|{{ greet('B', 'Yo') }}|{{ greet(name='C', greeting='Hey') }}|{{ greet('D', p='!') }}",
    "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}|{% filter upper %}shout {{ n }}{% endfilter %}",
    "{% set ns = namespace(total=0, seen=[]) %}{% for i in l %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}|{{ dict(a=1, b='x') }}|{{ dict([['k', 'v']]) }}|{% set j = joiner('/') %}{% for i in l %}{{ j() }}{{ i }}{% endfor %}|{% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}",
    "{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%a %A %b %B %d %-d %e %j %I %p %y %w %u %D %F %T %R %%') }}|{{ strftime_now('%c') }}",
    "{{ none_value }}|{{ yes }}|{{ f }}|{{ big }}|{{ tiny }}|{{ huge }}|{{ 0.0001 }}|{{ 0.1 + 0.2 }}|{{ d }}|{{ people[0] }}|{{ (1, 'a') }}|{{ {'q': \"it's\", 'r': 'a\\b\nc'} }}|{{ ['x\ty'] }}",
    # errors
    "{{ 'a' + 1 }}",
    "{{ 1 + 'a' }}",
    "{{ [1] + 'a' }}",
    "{{ missing.attr }}",
    "{{ missing[0] }}",
    "{{ missing + 1 }}",
    "{{ none_value + 1 }}",
    "{{ n < 'a' }}",
    "{{ 'a' in 5 }}",
    "{{ 5 in 'abc' }}",
    "{{ l.append(4) }}",
    "{{ d.update({'x': 1}) }}",
    "{{ d.pop('a') }}",
    "{{ none_value | length }}",
    "{{ 1 / 0 }}",
    "{{ n(1) }}",
    "{{ l | nosuchfilter }}",
    "{{ d | items | length }}",
    "{{ l | map(attribute='x') | tojson }}",
    "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
    "{{ t.split('') }}",
    "{{ ''.join([1, 2]) }}",
    "{{ '{x}'.format(y=1) }}",
    "{{ '%d' | format('x') }}",
    "{{ {[1]: 2} }}",
    "{{ raise_exception('custom ' ~ n) }}",
    "{% for x in none_value %}{% endfor %}",
    "{{ s.__class__ }}",
    "{{ 'abc'.index('z') }}",
    "{{ l | last | missing_filter_after }}",
]


def render_expressions(env):
    out = []
    for source in EXPRESSIONS:
        case = render(env, source, {"messages": [], "add_generation_prompt": False, **EXPRESSION_VARIABLES})
        out.append({"template": source, **case})
    return {"variables": EXPRESSION_VARIABLES, "cases": out}


def variables(conversation):
    """The variables transformers renders with (apply_chat_template → render_jinja_template)."""
    extra = {k: v for k, v in conversation.items() if k not in ("messages", "tools", "documents", "add_generation_prompt")}
    return {
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        **extra,
        "messages": conversation["messages"],
        "tools": conversation.get("tools"),
        "documents": conversation.get("documents"),
        "add_generation_prompt": conversation["add_generation_prompt"],
    }


def render(env, source, conversation):
    try:
        template = env.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": {"kind": "syntax", "type": type(e).__name__, "message": str(e)}}
    try:
        return {"output": template.render(**variables(conversation))}
    except RaisedByTemplate as e:
        return {"error": {"kind": "raise_exception", "type": "TemplateError", "message": str(e)}}
    except Exception as e:  # noqa: BLE001 - any failure is the expected outcome to record
        return {"error": {"kind": "runtime", "type": type(e).__name__, "message": str(e)}}


def main():
    os.makedirs(OUT, exist_ok=True)
    env = environment()
    names = sorted(f for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    with open(os.path.join(OUT, "_conversations.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "jinja2": jinja2.__version__,
                "now": FIXED_NOW.isoformat(),
                "bos_token": BOS_TOKEN,
                "eos_token": EOS_TOKEN,
                "conversations": CONVERSATIONS,
            },
            f,
            ensure_ascii=False,
            indent=1,
        )
        f.write("\n")
    with open(os.path.join(OUT, "_expressions.json"), "w", encoding="utf-8") as f:
        json.dump(render_expressions(env), f, ensure_ascii=False, indent=1)
        f.write("\n")
    rendered = failed = 0
    for name in names:
        with open(os.path.join(TEMPLATES, name), "rb") as f:
            raw = f.read()
        source = raw.decode("utf-8")
        cases = {key: render(env, source, conversation) for key, conversation in CONVERSATIONS.items()}
        if any("output" in case for case in cases.values()):
            rendered += 1
        else:
            failed += 1
        fixture = {"template": name, "sha256": hashlib.sha256(raw).hexdigest(), "source": source, "cases": cases}
        with open(os.path.join(OUT, name[: -len(".jinja")] + ".json"), "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"{len(names)} templates: {rendered} render at least one conversation, {failed} render none ({OUT})")


if __name__ == "__main__":
    main()
