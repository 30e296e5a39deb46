/** src/cost is pure TypeScript: its own files, the shared error/validation modules, core, telemetry's types and Node. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

describe('cost room', () => {
  it('imports nothing of the engine, the pool, the registry, runtime or any room above it', () => {
    const dir = join(repoRoot, 'src', 'cost');
    const outside: string[] = [];
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from '([^']+)'/gm)) {
        const typeOnly = m[2] !== undefined;
        const spec = m[3]!;
        const ok =
          spec.startsWith('node:') ||
          spec.startsWith('./') ||
          ['../errors.js', '../validate.js'].includes(spec) ||
          spec.startsWith('../core/') ||
          (typeOnly && spec === '../telemetry/types.js');
        if (!ok) outside.push(`${file}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
