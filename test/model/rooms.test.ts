// src/model/ is the contract every provider implements, so it sits below the engine, the providers and the
// pool: it may import only src/core/ and the error and validation helpers.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const room = join(src, 'model');
const ALLOWED = (target: string): boolean => target.startsWith('core/') || target.startsWith('model/') || target === 'errors.js' || target === 'validate.js';

describe('rooms: model', () => {
  it('imports only src/core/, src/errors.ts and src/validate.ts', () => {
    const outside: string[] = [];
    for (const name of readdirSync(room, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.ts'))) {
      const file = join(room, name);
      for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = m[1] ?? m[2]!;
        if (!specifier.startsWith('.')) continue;
        const target = relative(src, resolve(dirname(file), specifier));
        if (!ALLOWED(target)) outside.push(`model/${name} → ${target}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
