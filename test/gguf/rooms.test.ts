/** src/gguf is pure TypeScript: it imports only its own files, the shared error/validation modules and Node. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

describe('gguf room', () => {
  it('imports nothing of the engine, the addon or any room above it', () => {
    const dir = join(repoRoot, 'src', 'gguf');
    const outside: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)) {
        const spec = m[1]!;
        const ok = spec.startsWith('node:') || spec.startsWith('./') || ['../errors.js', '../validate.js'].includes(spec) || spec.startsWith('../core/');
        if (!ok) outside.push(`${file}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
