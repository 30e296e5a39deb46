// docs/api.md documents every public export. The entry points come from package.json "exports"
// (./lib/X.js is built from src/X.ts), so the check follows files as they move. For each entry it
// collects the runtime exports (the module's keys) and the type-only ones (parsed from the entry's
// `export` statements, following `export *` and `export type *` into the files they name), and
// expects each name in the entry's own section of docs/api.md, as a heading or in backticks.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = join(root, 'docs', 'api.md');

interface Entry {
  /** What users import: "modelpool", "modelpool/engine", ... */
  specifier: string;
  /** The TypeScript source the entry is built from. */
  source: string;
}

type ExportTarget = string | { import?: ExportTarget; default?: ExportTarget; types?: ExportTarget; require?: ExportTarget };

/** The JavaScript file an "exports" value points to. */
function targetFile(value: ExportTarget): string | undefined {
  if (typeof value === 'string') return value;
  for (const key of ['import', 'default', 'require'] as const) {
    const found = value[key] === undefined ? undefined : targetFile(value[key]!);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Entry points from package.json "exports": ./lib/X.js ↔ src/X.ts. */
function entryPoints(): Entry[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, ExportTarget> };
  const entries: Entry[] = [];
  for (const [subpath, value] of Object.entries(pkg.exports)) {
    const file = targetFile(value);
    if (file === undefined || !file.endsWith('.js')) continue; // ./package.json and the like
    const match = /^\.\/lib\/(.+)\.js$/.exec(file);
    if (match === null) throw new Error(`package.json exports["${subpath}"] points to ${file}, not to a file under ./lib/`);
    entries.push({
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, '')}`,
      source: join(root, 'src', `${match[1]}.ts`),
    });
  }
  return entries;
}

/** The source file a relative module specifier names ("./types.js" → types.ts, "./x" → x/index.ts). */
function resolveModule(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.d.ts'), `${base}.ts`, join(base, 'index.ts')];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`${relative(root, from)}: cannot find the module "${specifier}"`);
  return found;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Names in an export list: "a, type b, c as d" → a, b, d. */
function listNames(list: string): string[] {
  return list
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '')
    .split(',')
    .map((item) => item.trim().replace(/^type\s+/, ''))
    .filter((item) => item.length > 0)
    .map((item) => item.split(/\s+as\s+/).pop()!.trim())
    .filter((name) => IDENTIFIER.test(name) && name !== 'default');
}

/**
 * Every name a module exports, types included, read from its top-level `export` statements (a
 * statement starts a line, so comments and strings that mention "export" are not read as one).
 */
function exportedNames(file: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(file)) return names;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  // export * from '...'; export type * from '...'; export * as ns from '...'
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\*\s*(?:as\s+([A-Za-z_$][\w$]*)\s+)?from\s*['"]([^'"]+)['"]/gm)) {
    if (m[1] !== undefined) names.add(m[1]);
    else if (m[2]!.startsWith('.')) for (const name of exportedNames(resolveModule(file, m[2]!), seen)) names.add(name);
  }
  // export { a, type b, c as d } [from '...']; export type { ... } [from '...']
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) for (const name of listNames(m[1]!)) names.add(name);
  // export [declare] [abstract] [async] interface|type|class|function|const|let|var|enum|namespace Name
  const declaration =
    /^export\s+(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:interface|type|class|function\s*\*?|const\s+enum|const|let|var|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of text.matchAll(declaration)) names.add(m[1]!);
  return names;
}

/** The section of docs/api.md for one entry point: from its level-2 heading to the next level-2 heading. */
function section(doc: string, specifier: string): string | undefined {
  const parts = doc.split(/^(?=## )/m);
  return parts.find((part) => part.startsWith('## ') && part.split('\n', 1)[0]!.includes(`\`${specifier}\``));
}

/** Identifiers written in headings or inside inline code spans (fenced examples do not count). */
function documentedNames(text: string): Set<string> {
  const prose = text.replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, '');
  const names = new Set<string>();
  const add = (snippet: string): void => {
    for (const m of snippet.matchAll(/[A-Za-z_$][\w$]*/g)) names.add(m[0]);
  };
  for (const m of prose.matchAll(/^#{1,6}\s+(.*)$/gm)) add(m[1]!);
  for (const m of prose.matchAll(/(`+)([^`\n]+?)\1/g)) add(m[2]!);
  return names;
}

const entries = entryPoints();
const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';

describe('docs/api.md', () => {
  it('exists and package.json names the entry points', () => {
    expect(existsSync(DOC), 'docs/api.md is missing').toBe(true);
    expect(entries.map((entry) => entry.specifier)).toContain('modelpool');
    expect(entries.length).toBeGreaterThanOrEqual(2);
  });

  for (const entry of entries) {
    it(`documents every export of ${entry.specifier}`, async () => {
      expect(existsSync(entry.source), `${entry.specifier} is built from ${relative(root, entry.source)}, which does not exist`).toBe(true);
      const runtime = Object.keys((await import(pathToFileURL(entry.source).href)) as Record<string, unknown>).filter((name) => name !== 'default');
      const typed = exportedNames(entry.source);
      const all = [...new Set([...runtime, ...typed])].sort();
      // The parser must at least see every runtime export; otherwise it is reading the files wrong.
      expect(runtime.filter((name) => !typed.has(name)), `${relative(root, entry.source)}: runtime exports the parser did not find`).toEqual([]);
      expect(all.length).toBeGreaterThan(0);

      const text = section(doc, entry.specifier);
      expect(text, `docs/api.md has no level-2 section whose heading names \`${entry.specifier}\``).toBeDefined();
      const documented = documentedNames(text!);
      const missing = all.filter((name) => !documented.has(name));
      if (missing.length > 0) console.log(`${entry.specifier}: not documented in its section of docs/api.md:\n  ${missing.join('\n  ')}`);
      expect(missing, `exports of ${entry.specifier} missing from docs/api.md`).toEqual([]);
    });
  }
});
