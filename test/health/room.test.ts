/** src/health depends on no pool, provider, registry or runtime: its own files, errors, validation, core and Node. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

describe('health room', () => {
  it('imports nothing of the engine, the pool, providers, the registry, runtime or any room above it', () => {
    const dir = join(repoRoot, 'src', 'health');
    const outside: string[] = [];
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text.split('\n').length, `${file} is over 400 lines`).toBeLessThan(400);
      for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from '([^']+)'/gm)) {
        const spec = m[3]!;
        const ok = spec.startsWith('node:') || spec.startsWith('./') || ['../errors.js', '../validate.js'].includes(spec) || spec.startsWith('../core/');
        if (!ok) outside.push(`${file}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
