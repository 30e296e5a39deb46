// Python's semantics as jinja2 gives them to chat templates — str, dict and list methods, filters, tests,
// operators, formatting, strftime and the errors — against jinja2's own renderings in transformers'
// environment (EXPRESSIONS in scripts/template-fixtures.py, test/fixtures/templates/_expressions.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src/template/index.js';
import { ModelpoolError } from '../../src/errors.js';
import { repoRoot } from '../helpers/models.js';

interface Expressions {
  variables: Record<string, unknown>;
  cases: Array<{ template: string; output?: string; error?: { kind: string; type: string; message: string } }>;
}
const FIXTURES = join(repoRoot, 'test', 'fixtures', 'templates');
const expressions = JSON.parse(readFileSync(join(FIXTURES, '_expressions.json'), 'utf8')) as Expressions;
const now = new Date((JSON.parse(readFileSync(join(FIXTURES, '_conversations.json'), 'utf8')) as { now: string }).now);

describe('template expressions against jinja2', () => {
  for (const [i, c] of expressions.cases.entries()) {
    it(`${i}: ${c.template.slice(0, 70)}`, () => {
      let output: string | undefined;
      let error: ModelpoolError | undefined;
      try {
        output = new ChatTemplate(c.template, { now: () => now }).render({ messages: [], ...expressions.variables });
      } catch (e) {
        if (!(e instanceof ModelpoolError)) throw e;
        error = e;
      }
      if (c.output !== undefined) {
        expect(error?.message).toBeUndefined();
        expect(output).toBe(c.output);
      } else {
        expect(output, `jinja2 raised ${c.error!.type}: ${c.error!.message}`).toBeUndefined();
        expect(error!.code).toBe('TEMPLATE_ERROR');
        if (c.error!.kind === 'runtime') expect(error!.value).toBe(c.error!.message);
        if (c.error!.kind === 'raise_exception') expect(error!.details?.raised).toBe(true);
      }
    });
  }
});
