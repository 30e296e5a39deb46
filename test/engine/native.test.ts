import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelpoolError } from '../../src/errors.js';
import { candidateBinaryPaths, cpuFlags, loadBinding, loadedBinaryPath, native } from '../../src/engine/native.js';

describe('native binary loader', () => {
  it('looks in prebuilds/<platform>-<arch> before the local build, best CPU variant first', () => {
    const target = `${process.platform}-${process.arch}`;
    const avx2 = cpuFlags('processor : 0\nflags : fpu sse4_2 avx avx2 fma f16c bmi2\n');
    const paths = candidateBinaryPaths('/pkg', avx2);
    expect(paths.indexOf(`/pkg/prebuilds/${target}/haswell/modelpool.node`)).toBeLessThan(
      paths.indexOf(`/pkg/prebuilds/${target}/x64/modelpool.node`),
    );
    expect(paths.at(-1)).toBe('/pkg/build/Release/modelpool.node');
    // An old CPU without AVX2 never gets the haswell build (it would die with "illegal instruction").
    const old = candidateBinaryPaths('/pkg', cpuFlags('flags : fpu sse4_2\n'));
    expect(old.some((p) => p.includes('haswell'))).toBe(false);
    expect(old).toContain(`/pkg/prebuilds/${target}/x64/modelpool.node`);
    expect(cpuFlags('no flags here').size).toBe(0);
    // This machine's own flags: every x86-64 CPU has SSE2 and every arm64 one Advanced SIMD ("asimd").
    const baseline = ({ x64: 'sse2', arm64: 'asimd' } as Record<string, string | undefined>)[process.arch];
    if (process.platform === 'linux' && baseline !== undefined) expect([...cpuFlags()]).toContain(baseline);
  });

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
