// The registry's and telemetry's place among the rooms of src/: telemetry never reaches the registry
// (the registry builds on it), and neither reaches the native engine: GGUF files are read by the
// pure TypeScript reader, so a registry never loads the addon. The check follows every relative
// import (static, type-only and dynamic `import()`) from each file of the two rooms.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

/** What a registry may reach: its own rooms, the lower shared rooms, and the pure TypeScript GGUF reader. */
const ALLOWED = [/^registry\//, /^telemetry\//, /^gguf\//, /^core\//, /^errors\.ts$/, /^validate\.ts$/, /^engine\/types\.ts$/];
/** Signs of a file that loads a native addon. */
const LOADS_ADDON = /node-gyp-build|process\.dlopen|\.node['"]/;

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The source files `file` imports (relative specifiers only; `./x.js` is `./x.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    if (!specifier.startsWith('.')) continue;
    const base = resolve(dirname(file), specifier);
    const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
    const target = candidates.find((candidate) => existsSync(candidate));
    if (target === undefined) throw new Error(`${relative(repoRoot, file)}: cannot resolve ${specifier}`);
    found.push(target);
  }
  return found;
}

/** Every file reachable from `roots`, each with the chain of imports that reached it. */
function reachable(roots: string[]): Map<string, string[]> {
  const paths = new Map<string, string[]>(roots.map((root) => [root, [root]]));
  const queue = [...roots];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const target of importsOf(file)) {
      if (paths.has(target)) continue;
      paths.set(target, [...paths.get(file)!, target]);
      queue.push(target);
    }
  }
  return paths;
}

const show = (chain: string[]): string => chain.map((file) => relative(src, file)).join(' → ');

describe('rooms: registry and telemetry', () => {
  it('telemetry imports nothing from the registry', () => {
    const reached = reachable(filesUnder(join(src, 'telemetry')));
    const intoRegistry = [...reached].filter(([file]) => relative(src, file).startsWith('registry/')).map(([, chain]) => show(chain));
    expect(intoRegistry).toEqual([]);
    expect(reached.size).toBeGreaterThan(4);
  });

  it('the registry reaches only its own rooms, the shared ones and the pure TypeScript GGUF reader', () => {
    const reached = reachable(filesUnder(join(src, 'registry')));
    const outside = [...reached].filter(([file]) => !ALLOWED.some((pattern) => pattern.test(relative(src, file)))).map(([, chain]) => show(chain));
    expect(outside).toEqual([]);
    const loaders = [...reached].filter(([file]) => LOADS_ADDON.test(readFileSync(file, 'utf8'))).map(([, chain]) => show(chain));
    expect(loaders).toEqual([]);
    // The GGUF reader is reached (through the inspector's dynamic import), so the walk follows it.
    expect([...reached.keys()].some((file) => /(^|\/)inspect\.ts$/.test(relative(src, file)) && !relative(src, file).startsWith('registry/'))).toBe(true);
  });

  it('the check would see the addon loader: some file of src/ loads it', () => {
    expect(filesUnder(src).filter((file) => LOADS_ADDON.test(readFileSync(file, 'utf8'))).length).toBeGreaterThan(0);
  });
});
