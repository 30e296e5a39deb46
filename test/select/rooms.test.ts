// src/select sits below the runtime and beside the registry and the pool, knowing neither: it may import
// only the error and validation helpers, src/core/ and, as types only, src/telemetry/types.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const room = join(src, 'select');
const STATEMENT = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

describe('rooms: select', () => {
  it('imports only errors.ts, validate.ts, core/ and the types of telemetry', () => {
    const outside: string[] = [];
    for (const name of readdirSync(room, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.ts'))) {
      const file = join(room, name);
      for (const m of readFileSync(file, 'utf8').matchAll(STATEMENT)) {
        const specifier = m[3] ?? m[4] ?? m[5]!;
        if (specifier.startsWith('node:')) continue;
        if (!specifier.startsWith('.')) {
          outside.push(`select/${name} → ${specifier}`);
          continue;
        }
        const target = relative(src, resolve(dirname(file), specifier));
        const typeOnly = m[2] !== undefined;
        const ok =
          target.startsWith('select/') ||
          target.startsWith('core/') ||
          target === 'errors.js' ||
          target === 'validate.js' ||
          (typeOnly && target === 'telemetry/types.js');
        if (!ok) outside.push(`select/${name} → ${target}${typeOnly ? ' (type)' : ''}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it('is imported by no room below the runtime', () => {
    const below = ['core', 'model', 'gguf', 'template', 'telemetry', 'engine', 'registry', 'pool'];
    const users: string[] = [];
    for (const folder of below) {
      for (const name of readdirSync(join(src, folder), { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.ts'))) {
        if (/from\s*['"][^'"]*\/select\//.test(readFileSync(join(src, folder, name), 'utf8'))) users.push(`${folder}/${name}`);
      }
    }
    expect(users).toEqual([]);
  });
});
