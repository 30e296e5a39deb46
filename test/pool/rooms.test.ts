// The pool's place among the rooms of src/: it builds on the rooms below it (core, engine, registry, ...)
// and nothing below reaches up into it, so there is no import cycle between folders. The runtime sits
// above the pool; src/swap/index.ts only keeps `modelpool/swap` working for users. Each check reads the
// relative import specifiers (static, type-only, re-exports and dynamic `import()`) of every file.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/models.js';

const src = join(repoRoot, 'src');
const SPECIFIER = /\bfrom\s*['"](\.[^'"]*)['"]|\bimport\s*\(\s*['"](\.[^'"]*)['"]\s*\)/g;
/** Rooms above the pool, and the package entry. */
const ABOVE_POOL = ['runtime', 'swap', 'server', 'cli', 'testing', 'index.ts'];

/** The room of a path relative to src/: its first folder, or the file itself at the top ('index.ts'). */
const roomOf = (path: string): string => path.split('/')[0]!.replace(/\.js$/, '.ts');

/** The TypeScript files of src/ in the rooms that `include` accepts. */
function files(include: (room: string) => boolean): string[] {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && include(roomOf(name)))
    .map((name) => join(src, name));
}

/** 'from → target' for each import of `from` (paths relative to src/) that `into` accepts. */
function edges(from: string[], into: (target: string) => boolean): string[] {
  return from.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(SPECIFIER)]
      .map((m) => relative(src, resolve(dirname(file), m[1] ?? m[2]!)))
      .filter(into)
      .map((target) => `${relative(src, file)} → ${target}`),
  );
}

const inRoom = (rooms: string[]) => (path: string) => rooms.includes(roomOf(path));
const notIn = (rooms: string[]) => (path: string) => !rooms.includes(roomOf(path));

describe('rooms: pool', () => {
  it('the pool imports nothing from the rooms above it', () => {
    expect(edges(files(inRoom(['pool'])), inRoom(ABOVE_POOL))).toEqual([]);
  });

  it('no room below the pool imports the pool or the runtime', () => {
    const below = files(notIn(['pool', ...ABOVE_POOL]));
    expect(below.some((file) => file.includes('/core/'))).toBe(true);
    expect(edges(below, inRoom(['pool', 'runtime', 'swap']))).toEqual([]);
  });

  it('no file of the pool or the runtime is over 500 lines', () => {
    const long = files(inRoom(['pool', 'runtime']))
      .map((file) => [relative(src, file), readFileSync(file, 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > 500);
    expect(long).toEqual([]);
  });

  it('the runtime is imported only by the package entry and the rooms above it', () => {
    expect(edges(files(notIn(['runtime', 'server', 'cli', 'index.ts'])), inRoom(['runtime']))).toEqual([]);
  });
});
