import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSuite, parseSuite } from '../../src/eval/index.js';
import { expectCode } from '../helpers/expect.js';

const line = (value: unknown): string => JSON.stringify(value);
const exact = { type: 'exact', expected: 'x' };

/** The INVALID_DATA error of parsing `text`, checked for its field and line. */
async function dataError(text: string, field: string | undefined, lineNumber: number) {
  const e = await expectCode(() => parseSuite(text, 'suite.jsonl'), 'INVALID_DATA');
  expect(e.field).toBe(field);
  expect(e.details).toEqual({ source: 'suite.jsonl', line: lineNumber });
  expect(e.message).toContain(lineNumber > 0 ? `suite.jsonl:${lineNumber}:` : 'suite.jsonl:');
  return e;
}

describe('parseSuite', () => {
  it('reads one item a line, skipping blank and # lines, with defaults filled in', () => {
    const text = [
      '# arithmetic',
      line({ id: 'add', prompt: '2+2=', grader: { type: 'numeric', expected: 4 }, tags: ['math'] }),
      '',
      '   ',
      line({ id: 'chat', task: 'chat', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 8, grader: { type: 'regex', pattern: 'hello', flags: 'i' } }),
      '  # an indented comment',
    ].join('\r\n');
    const suite = parseSuite(text, 'mine');
    expect(suite.source).toBe('mine');
    expect(suite.items).toEqual([
      { id: 'add', task: 'completion', prompt: '2+2=', grader: { type: 'numeric', expected: 4 }, tags: ['math'] },
      { id: 'chat', task: 'chat', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 8, grader: { type: 'regex', pattern: 'hello', flags: 'i' }, tags: [] },
    ]);
    expect(suite.graders.get('add')!.grade('it is 4').pass).toBe(true);
    expect(suite.graders.get('chat')!.grade('HELLO there').pass).toBe(true);
  });

  it('compiles each distinct schema of a suite once: items may repeat a schema with an $id, not reuse the $id for another', async () => {
    const schema = { $id: 'https://example.com/person', type: 'object', required: ['a'] };
    const suite = parseSuite([1, 2, 3].map((n) => line({ id: String(n), prompt: 'p', grader: { type: 'json-schema', schema } })).join('\n'));
    expect(suite.graders.get('1')!.grade('{"a":1}').pass).toBe(true);
    expect(suite.graders.get('3')!.grade('{"b":1}').pass).toBe(false);
    const other = { $id: 'https://example.com/person', type: 'array' };
    const e = await dataError([line({ id: '1', prompt: 'p', grader: { type: 'json-schema', schema } }), line({ id: '2', prompt: 'p', grader: { type: 'json-schema', schema: other } })].join('\n'), 'grader.schema', 2);
    expect(e.message).toContain('already exists');
  });

  it('names the line of bad JSON', async () => {
    const e = await dataError([line({ id: 'a', prompt: 'p', grader: exact }), '{"id": "b",'].join('\n'), 'line', 2);
    expect(e.message).toContain('not valid JSON');
    expect(e.value).toBe('{"id": "b",');
  });

  it('names the line and field of an unknown grader type, a bad regex and an invalid schema', async () => {
    const ok = line({ id: 'ok', prompt: 'p', grader: exact });
    await dataError([ok, line({ id: 'b', prompt: 'p', grader: { type: 'fuzzy' } })].join('\n'), 'grader.type', 2);
    const regex = await dataError([ok, '# c', line({ id: 'b', prompt: 'p', grader: { type: 'regex', pattern: '([a-z' } })].join('\n'), 'grader.pattern', 3);
    expect(regex.value).toBe('([a-z');
    await dataError(line({ id: 'b', prompt: 'p', grader: { type: 'json-schema', schema: { type: 'obj' } } }), 'grader.schema', 1);
    await dataError(line({ id: 'b', prompt: 'p', grader: { type: 'numeric', expected: 1, tolerance: -2 } }), 'grader.tolerance', 1);
  });

  it('names a duplicate id with the line of its first use', async () => {
    const e = await dataError([line({ id: 'a', prompt: 'p', grader: exact }), line({ id: 'b', prompt: 'p', grader: exact }), line({ id: 'a', prompt: 'q', grader: exact })].join('\n'), 'id', 3);
    expect(e.value).toBe('a');
    expect(e.message).toContain('already on line 1');
  });

  it('names missing and invalid fields', async () => {
    await dataError(line({ prompt: 'p', grader: exact }), 'id', 1);
    await dataError(line({ id: '', prompt: 'p', grader: exact }), 'id', 1);
    await dataError(line({ id: 'a', grader: exact }), 'prompt', 1);
    const both = await dataError(line({ id: 'a', prompt: 'p', messages: [{ role: 'user', content: 'x' }], grader: exact }), 'prompt', 1);
    expect(both.value).toBe('both');
    await dataError(line({ id: 'a', prompt: 7, grader: exact }), 'prompt', 1);
    await dataError(line({ id: 'a', messages: [], grader: exact }), 'messages', 1);
    await dataError(line({ id: 'a', messages: [{ content: 'x' }], grader: exact }), 'messages[0].role', 1);
    await dataError(line({ id: 'a', messages: [{ role: 'user', content: 5 }], grader: exact }), 'messages[0].content', 1);
    await dataError(line({ id: 'a', prompt: 'p' }), 'grader', 1);
    await dataError(line({ id: 'a', prompt: 'p', grader: exact, maxTokens: 0 }), 'maxTokens', 1);
    await dataError(line({ id: 'a', prompt: 'p', grader: exact, tags: ['ok', ''] }), 'tags[1]', 1);
    await dataError(line({ id: 'a', prompt: 'p', grader: exact, tags: 'math' }), 'tags', 1);
    await dataError(line({ id: 'a', task: '', prompt: 'p', grader: exact }), 'task', 1);
    const unknown = await dataError(line({ id: 'a', prompt: 'p', grader: exact, expected: 'x' }), 'expected', 1);
    expect(unknown.message).toContain('no such field');
    await dataError('[1, 2]', 'item', 1);
  });

  it('refuses a suite with no item (line 0: the text as a whole) and non-string input', async () => {
    await dataError('# only a comment\n\n', 'items', 0);
    await expectCode(() => parseSuite(42 as unknown as string), 'INVALID_ARGUMENT', 'text');
    await expectCode(() => parseSuite('', ''), 'INVALID_ARGUMENT', 'source');
  });
});

describe('loadSuite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelpool-suite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, naming it as the source of errors', async () => {
    const path = join(dir, 'good.jsonl');
    writeFileSync(path, `${line({ id: 'a', prompt: 'p', grader: exact })}\n`);
    const suite = await loadSuite(path);
    expect(suite.source).toBe(path);
    expect(suite.items.map((i) => i.id)).toEqual(['a']);

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${line({ id: 'a', prompt: 'p', grader: exact })}\n${line({ id: 'b', prompt: 'p', grader: { type: 'regex', pattern: '+' } })}\n`);
    const e = await expectCode(loadSuite(bad), 'INVALID_DATA', 'grader.pattern');
    expect(e.details).toEqual({ source: bad, line: 2 });
  });

  it('names the path of a file it cannot read', async () => {
    const missing = join(dir, 'missing.jsonl');
    const e = await expectCode(loadSuite(missing), 'INVALID_ARGUMENT', 'path');
    expect(e.message).toContain('ENOENT');
    await expectCode(loadSuite(''), 'INVALID_ARGUMENT', 'path');
  });
});
