// src/judge/ is the decision layer's judge: it may import the error and validation helpers,
// src/core/ and the model contract (src/model/), and no other room (not the pool, registry, runtime
// or engine: it reaches a model only through the runner it is given).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const room = join(src, 'judge');
const ALLOWED = (target: string): boolean =>
  target.startsWith('core/') || target.startsWith('model/') || target.startsWith('judge/') || target === 'errors.js' || target === 'validate.js';

describe('rooms: judge', () => {
  it('imports only src/core/, src/model/, src/errors.ts, src/validate.ts and ajv', () => {
    const outside: string[] = [];
    for (const name of readdirSync(room, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.ts'))) {
      const file = join(room, name);
      for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = m[1] ?? m[2]!;
        if (!specifier.startsWith('.')) {
          if (specifier !== 'ajv') outside.push(`judge/${name} → package ${specifier}`);
          continue;
        }
        const target = relative(src, resolve(dirname(file), specifier));
        if (!ALLOWED(target)) outside.push(`judge/${name} → ${target}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
