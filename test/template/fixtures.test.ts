// Every chat template in llama.cpp's models/templates, rendered over the conversations of
// scripts/template-fixtures.py, against the renderings Python's jinja2 made in transformers' environment
// (test/fixtures/templates/*.json): the same string, or a raise in both (with the same message when the
// template called raise_exception). Regenerate the fixtures with `python3 scripts/template-fixtures.py`.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src/template/index.js';
import { ModelpoolError } from '../../src/errors.js';
import { repoRoot } from '../helpers/models.js';

const FIXTURES = join(repoRoot, 'test', 'fixtures', 'templates');
const TEMPLATES = join(repoRoot, 'deps', 'llama.cpp', 'models', 'templates');

interface Case {
  output?: string;
  error?: { kind: 'syntax' | 'raise_exception' | 'runtime'; type: string; message: string };
}
interface Fixture {
  template: string;
  sha256: string;
  source: string;
  cases: Record<string, Case>;
}
interface Inputs {
  now: string;
  bos_token: string;
  eos_token: string;
  conversations: Record<string, Record<string, unknown> & { messages: unknown[] }>;
}

const inputs = JSON.parse(readFileSync(join(FIXTURES, '_conversations.json'), 'utf8')) as Inputs;
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.json') && !name.startsWith('_'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Fixture);
// FIXED_NOW of the script, a naive local time
const now = new Date(inputs.now);

function render(template: ChatTemplate, conversation: string): { output?: string; error?: ModelpoolError } {
  const c = inputs.conversations[conversation]!;
  try {
    return { output: template.render({ bos_token: inputs.bos_token, eos_token: inputs.eos_token, ...c, messages: c.messages }) };
  } catch (error) {
    if (!(error instanceof ModelpoolError)) throw error;
    return { error };
  }
}

describe('chat templates against jinja2 (transformers) renderings', () => {
  it('has a fixture for every template of llama.cpp models/templates, made from the same text', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(60);
    if (!existsSync(TEMPLATES)) return; // a checkout without llama.cpp's source: the fixtures carry the text
    const files = readdirSync(TEMPLATES).filter((name) => name.endsWith('.jinja')).sort();
    expect(fixtures.map((f) => f.template)).toEqual(files);
    for (const fixture of fixtures) {
      const sha = createHash('sha256').update(readFileSync(join(TEMPLATES, fixture.template))).digest('hex');
      expect(sha, `${fixture.template} changed: run python3 scripts/template-fixtures.py`).toBe(fixture.sha256);
    }
  });

  for (const fixture of fixtures) {
    it(fixture.template, () => {
      const template = new ChatTemplate(fixture.source, { now: () => now });
      const mismatches: string[] = [];
      for (const [conversation, expected] of Object.entries(fixture.cases)) {
        const got = render(template, conversation);
        if (expected.output !== undefined) {
          if (got.error) mismatches.push(`${conversation}: raised ${got.error.message}`);
          else if (got.output !== expected.output) {
            expect(got.output, `${fixture.template} × ${conversation}`).toBe(expected.output);
          }
        } else if (!got.error) {
          mismatches.push(`${conversation}: rendered, but jinja2 raised ${expected.error!.type}: ${expected.error!.message}`);
        } else {
          expect(got.error.code).toBe('TEMPLATE_ERROR');
          expect(got.error.field).toBe('tokenizer.chat_template');
          if (expected.error!.kind === 'raise_exception') {
            expect(got.error.value, `${fixture.template} × ${conversation}`).toBe(expected.error!.message);
            expect(got.error.details?.raised).toBe(true);
          }
        }
      }
      expect(mismatches).toEqual([]);
    });
  }
});
