// src/template is pure TypeScript below the engine: it imports its own files, the error and validation
// helpers, the model contract's types, the GGUF reader and @huggingface/jinja — never the engine or the addon.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const ALLOWED = (spec: string): boolean =>
  spec.startsWith('./') || ['../errors.js', '../validate.js', '../model/types.js', '../gguf/index.js', '@huggingface/jinja'].includes(spec);

describe('rooms: template', () => {
  it('imports nothing of the engine, the addon or any room above it', () => {
    const dir = join(repoRoot, 'src', 'template');
    const outside: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/\bfrom\s*'([^']+)'|\bimport\s*\(\s*'([^']+)'\s*\)/g)) {
        const spec = m[1] ?? m[2]!;
        if (!ALLOWED(spec)) outside.push(`${file}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
