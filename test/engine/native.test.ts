import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { loadBinding, loadedBinaryPath, native } from '../../src/engine/native.js';

// Which binary is tried, in what order (prebuilds, CPU variants, cpuFlags): test/engine/prebuilds.test.ts.

describe('native binary loader', () => {
  it('names platform, arch, every path tried and the fix when nothing loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelpool-native-'));
    const bogus = join(dir, 'modelpool.node');
    writeFileSync(bogus, 'not a shared object');
    let error: unknown;
    try {
      loadBinding([join(dir, 'missing.node'), bogus]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelpoolError);
    const e = error as ModelpoolError;
    expect(e.code).toBe('NATIVE_BINARY_NOT_FOUND');
    expect(e.message).toContain(`${process.platform}-${process.arch}`);
    expect(e.message).toContain(`${join(dir, 'missing.node')} (missing)`);
    expect(e.message).toContain(bogus);
    expect(e.message).toContain('npm run build:native');
  });

  it('loads the built addon once and remembers where from', () => {
    const a = native();
    expect(native()).toBe(a);
    expect(loadedBinaryPath()).toMatch(/modelpool\.node$/);
    expect(a.llamaVersion).toMatch(/\d/);
  });
});
