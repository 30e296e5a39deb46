import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PriceTable, globMatches, type PriceEntry } from '../../src/cost/index.js';
import { syntaxErrorLine } from '../../src/cost/price-parse.js';
import { expectCode } from '../helpers/expect.js';

const row = (provider: string, model: string, input: number, output: number, extra: object = {}) =>
  JSON.stringify({ provider, model, inputPerMillion: input, outputPerMillion: output, ...extra });

describe('PriceTable.parse', () => {
  it('reads JSONL, skipping blank lines and # comments', () => {
    const text = ['# prices as of the example', '', row('acme', 'fast-1', 0.5, 1.5, { note: 'example' }), '   ', row('acme', 'big-*', 5, 20, { cachedInputPerMillion: 0.5 }), ''].join('\n');
    const table = PriceTable.parse(text, 'prices.jsonl');
    expect(table.size).toBe(2);
    expect(table.price('acme', 'fast-1')).toEqual({ provider: 'acme', model: 'fast-1', inputPerMillion: 0.5, outputPerMillion: 1.5, note: 'example' });
    expect(table.price('acme', 'big-2')?.cachedInputPerMillion).toBe(0.5);
    // Windows line ends too.
    expect(PriceTable.parse(text.replaceAll('\n', '\r\n')).size).toBe(2);
  });

  it('reads a JSON array and round-trips through toJSON', () => {
    const entries: PriceEntry[] = [
      { provider: 'acme', model: 'a', inputPerMillion: 1, outputPerMillion: 2 },
      { provider: 'other', model: '*', inputPerMillion: 3, outputPerMillion: 4, cachedInputPerMillion: 1 },
    ];
    const table = PriceTable.parse(JSON.stringify(entries, null, 2));
    expect(table.entries).toEqual(entries);
    expect(PriceTable.parse(JSON.stringify(table)).entries).toEqual(entries);
    expect(PriceTable.parse('').size).toBe(0);
    expect(PriceTable.parse('[]').size).toBe(0);
  });

  it('names the line and field of a bad JSONL entry', async () => {
    const good = row('acme', 'm', 1, 2);
    const cases: [string, string, unknown][] = [
      [JSON.stringify({ provider: 'acme', model: 'x', inputPerMillion: 1 }), 'outputPerMillion', undefined],
      [row('acme', 'x', -1, 2), 'inputPerMillion', -1],
      [row('acme', 'x', 1, 2, { cachedInputPerMillion: '0.1' }), 'cachedInputPerMillion', '0.1'],
      [row('acme', 'x', 1, 2, { ouputPerMillion: 2 }), 'ouputPerMillion', 2],
      [row('', 'x', 1, 2), 'provider', ''],
      [JSON.stringify({ provider: 'acme', model: 7, inputPerMillion: 1, outputPerMillion: 2 }), 'model', 7],
      [row('acme', 'x', 1, 2, { note: 5 }), 'note', 5],
      ['42', 'entry', 42],
      ['[1, 2]x', 'line', '[1, 2]x'],
      ['{"provider": "acme", "model": "x",', 'line', '{"provider": "acme", "model": "x",'],
      [good, 'model', 'm'], // priced twice
    ];
    for (const [bad, field, value] of cases) {
      const text = `# header\n${good}\n\n${bad}\n`;
      const error = await expectCode(() => PriceTable.parse(text, 'prices.jsonl'), 'INVALID_DATA', field);
      expect(error.details).toEqual({ source: 'prices.jsonl', line: 4 });
      if (field !== 'line') expect(error.value).toEqual(value);
      expect(error.message).toContain('prices.jsonl:4');
    }
  });

  it('names the line of a bad element of a JSON array', async () => {
    const text = [
      '[',
      '  {"provider": "acme", "model": "a", "inputPerMillion": 1, "outputPerMillion": 2},',
      '  {',
      '    "provider": "acme", "model": "b, with \\"quotes\\" and [brackets]",',
      '    "inputPerMillion": 1, "outputPerMillion": 2',
      '  },',
      '  {',
      '    "provider": "acme",',
      '    "model": "c",',
      '    "inputPerMillion": -3, "outputPerMillion": 2',
      '  }',
      ']',
    ].join('\n');
    const error = await expectCode(() => PriceTable.parse(text, 'prices.json'), 'INVALID_DATA', 'inputPerMillion');
    expect(error.details).toEqual({ source: 'prices.json', line: 7 });
    expect(error.value).toBe(-3);
    const fixed = PriceTable.parse(text.replace('-3', '3'), 'prices.json');
    expect(fixed.price('acme', 'b, with "quotes" and [brackets]')?.inputPerMillion).toBe(1);
  });

  it('names the line of a JSON array that is not valid JSON', async () => {
    const element = (model: string) => `  {"provider": "acme", "model": "${model}", "inputPerMillion": 1, "outputPerMillion": 2}`;
    // Each message form V8 gives: with a position, and without one ("Unexpected token").
    const missingComma = ['[', `${element('a')},`, element('b'), element('c'), ']'].join('\n');
    expect((await expectCode(() => PriceTable.parse(missingComma, 't.json'), 'INVALID_DATA', 'line')).details).toEqual({ source: 't.json', line: 4 });
    const badValue = ['[', `${element('a')},`, '  {"provider": acme},', `${element('c')}`, ']'].join('\n');
    expect((await expectCode(() => PriceTable.parse(badValue, 't.json'), 'INVALID_DATA', 'line')).details).toEqual({ source: 't.json', line: 3 });
    const trailingComma = ['[', `${element('a')},`, `${element('b')},`, ']'].join('\n');
    expect((await expectCode(() => PriceTable.parse(trailingComma, 't.json'), 'INVALID_DATA', 'line')).details).toEqual({ source: 't.json', line: 4 });
    const unclosed = ['[', `${element('a')},`, element('b')].join('\n');
    expect((await expectCode(() => PriceTable.parse(unclosed, 't.json'), 'INVALID_DATA', 'line')).details?.line).toBe(3);
  });

  it('reads the line from either form of V8 message, and shortens a long bad line', async () => {
    const text = '[\n1,\n2,\n3 x]';
    expect(syntaxErrorLine(text, 'Unexpected token in JSON at position 9 (line 4 column 3)')).toBe(4); // Node 22
    expect(syntaxErrorLine(text, 'Unexpected token in JSON at position 9')).toBe(4); // Node 20
    expect(syntaxErrorLine(text, 'Unexpected token')).toBe(4); // no position: the element that fails alone
    const long = `{"provider": "${'p'.repeat(300)}"`;
    const error = await expectCode(() => PriceTable.parse(long, 'long.jsonl'), 'INVALID_DATA', 'line');
    expect((error.value as string).length).toBe(200);
    expect(error.details).toEqual({ source: 'long.jsonl', line: 1 });
  });

  it('refuses a duplicate in a JSON array, naming the second line', async () => {
    const text = `[\n${row('acme', 'a', 1, 2)},\n${row('acme', 'b', 1, 2)},\n${row('acme', 'a', 3, 4)}\n]`;
    const error = await expectCode(() => PriceTable.parse(text, 'dup.json'), 'INVALID_DATA', 'model');
    expect(error.details).toEqual({ source: 'dup.json', line: 4 });
    expect(error.message).toContain('line 2');
  });

  it('refuses arguments that are not text', async () => {
    await expectCode(() => PriceTable.parse(5 as unknown as string), 'INVALID_ARGUMENT', 'text');
    await expectCode(() => PriceTable.parse('', ''), 'INVALID_ARGUMENT', 'source');
  });
});

describe('PriceTable.price', () => {
  const table = new PriceTable([
    { provider: 'acme', model: '*', inputPerMillion: 9, outputPerMillion: 9 },
    { provider: 'acme', model: 'chat-*', inputPerMillion: 2, outputPerMillion: 8 },
    { provider: 'acme', model: 'chat-*-mini', inputPerMillion: 0.2, outputPerMillion: 0.8 },
    { provider: 'acme', model: 'chat-4*', inputPerMillion: 3, outputPerMillion: 12 },
    { provider: 'acme', model: 'chat-4-mini', inputPerMillion: 0.1, outputPerMillion: 0.4 },
    { provider: 'acme', model: 'x*y', inputPerMillion: 5, outputPerMillion: 5 },
    { provider: 'acme', model: 'x**y', inputPerMillion: 6, outputPerMillion: 6 },
    { provider: 'beta', model: 'chat-4-mini', inputPerMillion: 1, outputPerMillion: 1 },
  ]);

  it('takes the exact entry, else the most specific glob', () => {
    expect(table.price('acme', 'chat-4-mini')?.inputPerMillion).toBe(0.1); // exact beats all globs
    expect(table.price('acme', 'chat-5-mini')?.inputPerMillion).toBe(0.2); // 10 literals beat 5
    expect(table.price('acme', 'chat-4o')?.inputPerMillion).toBe(3); // 'chat-4*' (6) beats 'chat-*' (5)
    expect(table.price('acme', 'chat-x')?.inputPerMillion).toBe(2);
    expect(table.price('acme', 'anything')?.inputPerMillion).toBe(9);
    expect(table.price('acme', 'xy')?.inputPerMillion).toBe(5); // same literals: fewer stars wins
    expect(table.price('beta', 'chat-4-mini')?.inputPerMillion).toBe(1); // providers match exactly
    expect(table.price('beta', 'chat-4')).toBeUndefined();
    expect(table.price('gamma', 'chat-4')).toBeUndefined();
  });

  it('returns copies', () => {
    const price = table.price('acme', 'chat-4-mini')!;
    price.inputPerMillion = 1000;
    expect(table.price('acme', 'chat-4-mini')?.inputPerMillion).toBe(0.1);
    table.entries[0]!.inputPerMillion = 1000;
    expect(table.price('acme', 'zzz')?.inputPerMillion).toBe(9);
  });

  it('refuses bad arguments and entries', async () => {
    await expectCode(() => table.price('', 'a'), 'INVALID_ARGUMENT', 'provider');
    await expectCode(() => table.price('acme', 3 as unknown as string), 'INVALID_ARGUMENT', 'model');
    await expectCode(() => new PriceTable('x' as never), 'INVALID_ARGUMENT', 'entries');
    await expectCode(
      () => new PriceTable([{ provider: 'a', model: 'b', inputPerMillion: 1, outputPerMillion: 1 }, { provider: 'a', model: 'c', inputPerMillion: Number.NaN, outputPerMillion: 1 }]),
      'INVALID_ARGUMENT',
      'entries[1].inputPerMillion',
    );
    await expectCode(
      () => new PriceTable([{ provider: 'a', model: 'b', inputPerMillion: 1, outputPerMillion: 1 }, { provider: 'a', model: 'b', inputPerMillion: 2, outputPerMillion: 1 }]),
      'ALREADY_EXISTS',
      'entries[1].model',
    );
    expect(new PriceTable().size).toBe(0);
  });
});

describe('globMatches', () => {
  it('matches * against any run of characters', () => {
    const cases: [string, string, boolean][] = [
      ['*', '', true],
      ['*', 'abc', true],
      ['a*', 'a', true],
      ['a*c', 'abbbc', true],
      ['a*c', 'abbbd', false],
      ['*.gguf', 'model.q4.gguf', true],
      ['a.c', 'abc', false], // '.' is literal
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXcYb', false],
      ['ab', 'abc', false],
      ['abc', 'ab', false],
      ['**', 'x', true],
      ['a*ab', 'aaab', true],
    ];
    for (const [pattern, text, expected] of cases) expect(globMatches(pattern, text), `${pattern} ~ ${text}`).toBe(expected);
  });

  it('does not backtrack exponentially', () => {
    expect(globMatches(`${'*a'.repeat(30)}*b`, 'a'.repeat(5000))).toBe(false);
  });
});

describe('PriceTable.load', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('reads a file, naming it as the source of errors', async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelpool-prices-'));
    const good = join(dir, 'prices.jsonl');
    await writeFile(good, `${row('acme', 'a', 1, 2)}\n`);
    expect((await PriceTable.load(good)).price('acme', 'a')?.outputPerMillion).toBe(2);
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, `${row('acme', 'a', 1, 2)}\n${row('acme', 'b', 1, Number.NaN)}\n`);
    const error = await expectCode(PriceTable.load(bad), 'INVALID_DATA', 'outputPerMillion');
    expect(error.details).toEqual({ source: bad, line: 2 });
    await expectCode(PriceTable.load(join(dir, 'missing.jsonl')), 'INVALID_ARGUMENT', 'path');
    await expectCode(PriceTable.load(''), 'INVALID_ARGUMENT', 'path');
  });
});
