// The evaluation room's place among the rooms of src/: it builds on the errors, the validators, core, the
// model contract, the engine (quantisation fidelity) and telemetry's types only — never the pool, the
// registry or the runtime (the lead wires it to the front door and the registry from above).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const evalRoom = join(src, 'eval');
const SPECIFIER = /\bfrom\s*['"](\.[^'"]*)['"]|\bimport\s*\(\s*['"](\.[^'"]*)['"]\s*\)/g;
const ALLOWED = ['eval', 'core', 'model', 'engine', 'errors.ts', 'validate.ts'];

const files = readdirSync(evalRoom, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts')).map((name) => join(evalRoom, name));
const imports = (file: string) => [...readFileSync(file, 'utf8').matchAll(SPECIFIER)].map((m) => relative(src, resolve(dirname(file), m[1] ?? m[2]!)));
const roomOf = (path: string) => path.split('/')[0]!.replace(/\.js$/, '.ts');

describe('rooms: eval', () => {
  it('imports only the rooms below it (telemetry: its types only)', () => {
    const wrong = files.flatMap((file) =>
      imports(file)
        .filter((target) => !ALLOWED.includes(roomOf(target)) && target !== 'telemetry/types.js')
        .map((target) => `${relative(src, file)} → ${target}`),
    );
    expect(files.length).toBeGreaterThan(5);
    expect(wrong).toEqual([]);
  });

  it('takes telemetry types as types only', () => {
    const valueImports = files.filter((file) => /^import (?!type )[^;]*from '\.\.\/telemetry\//m.test(readFileSync(file, 'utf8')));
    expect(valueImports).toEqual([]);
  });

  it('no file of the room is over 400 lines', () => {
    const long = files.map((file) => [relative(src, file), readFileSync(file, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
