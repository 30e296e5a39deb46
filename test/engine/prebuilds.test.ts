import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { candidateBinaryPaths, cpuFlags, prebuildPaths } from '../../src/engine/native.js';

// node-gyp-build's own rule for this machine's libc (Alpine is musl), and the other one.
const libc = process.platform === 'linux' ? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : undefined;
const otherLibc = libc === 'musl' ? 'glibc' : 'musl';
const target = `${process.platform}-${process.arch}`;
const avx2 = cpuFlags('processor : 0\nflags : fpu sse4_2 avx avx2 fma f16c bmi2\n');
const oldCpu = cpuFlags('flags : fpu sse2 sse4_2\n');

/** A package folder with the given files under prebuilds/<tuple>/. */
function packageWith(files: Record<string, string[]>): string {
  const root = mkdtempSync(join(tmpdir(), 'modelpool-prebuilds-'));
  for (const [tuple, names] of Object.entries(files)) {
    mkdirSync(join(root, 'prebuilds', tuple), { recursive: true });
    for (const name of names) writeFileSync(join(root, 'prebuilds', tuple, name), '');
  }
  return root;
}
// Named as prebuildify names a Node-API build (no ABI tag), plus the CPU variant.
const tagged = (variant?: string) => ['modelpool', libc, variant, 'node'].filter(Boolean).join('.');

describe('cpuFlags', () => {
  it('reads the flags line of /proc/cpuinfo text, and this machine\'s own', () => {
    expect([...avx2]).toEqual(['fpu', 'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'bmi2']);
    expect(cpuFlags('processor : 0\nFeatures : fp asimd crc32\n')).toEqual(new Set(['fp', 'asimd', 'crc32']));
    expect(cpuFlags('no flags here').size).toBe(0);
    // Every x86-64 CPU has SSE2 and every arm64 one Advanced SIMD ("asimd").
    const baseline = ({ x64: 'sse2', arm64: 'asimd' } as Record<string, string | undefined>)[process.arch];
    if (process.platform === 'linux' && baseline !== undefined) expect([...cpuFlags()]).toContain(baseline);
  });
});

describe('prebuildPaths', () => {
  it('ranks CPU variants best first and never offers one the CPU cannot run', () => {
    const root = packageWith({ [target]: [tagged('x64'), tagged(), tagged('haswell')] });
    const dir = join(root, 'prebuilds', target);
    expect(prebuildPaths(root, avx2)).toEqual([join(dir, tagged('haswell')), join(dir, tagged('x64')), join(dir, tagged())]);
    // Without AVX2 the haswell build would die with "illegal instruction".
    expect(prebuildPaths(root, oldCpu)).toEqual([join(dir, tagged('x64')), join(dir, tagged())]);
    expect(prebuildPaths(root, new Set())).toEqual([join(dir, tagged('x64')), join(dir, tagged())]);
  });

  it('follows node-gyp-build for runtime, ABI and libc, and skips what is not a binary', () => {
    const files = [
      tagged(),
      'modelpool.abi1.node', // a non-Node-API build for another Node: wrong ABI
      'electron.napi.node', // another runtime
      'modelpool.node.sha256',
      'README.md',
    ];
    if (libc) files.push(`modelpool.${otherLibc}.haswell.node`);
    const root = packageWith({ [target]: files });
    expect(prebuildPaths(root, avx2)).toEqual([join(root, 'prebuilds', target, tagged())]);
  });

  it('takes the folder of this platform and arch, preferring it to a multi-arch one', () => {
    const other = process.arch === 'arm64' ? 'x64' : 'arm64';
    const universal = `${process.platform}-${process.arch}+${other}`;
    const root = packageWith({ [`${process.platform}-${other}`]: [tagged()], [universal]: [tagged()], 'not-a-tuple-at-all': [tagged()] });
    expect(prebuildPaths(root, avx2)).toEqual([join(root, 'prebuilds', universal, tagged())]);
    mkdirSync(join(root, 'prebuilds', target));
    writeFileSync(join(root, 'prebuilds', target, tagged()), '');
    expect(prebuildPaths(root, avx2)).toEqual([join(root, 'prebuilds', target, tagged())]);
  });

  it('is empty without a prebuilds folder or a matching one', () => {
    expect(prebuildPaths(join(tmpdir(), 'modelpool-no-such-package'), avx2)).toEqual([]);
    expect(prebuildPaths(packageWith({ 'plan9-mips': [tagged()] }), avx2)).toEqual([]);
  });
});

describe('candidateBinaryPaths', () => {
  const saved = process.env.MODELPOOL_NATIVE_BINARY;
  afterEach(() => {
    if (saved === undefined) delete process.env.MODELPOOL_NATIVE_BINARY;
    else process.env.MODELPOOL_NATIVE_BINARY = saved;
  });

  it('tries MODELPOOL_NATIVE_BINARY, then a local build, then the prebuilds', () => {
    const root = packageWith({ [target]: [tagged('x64'), tagged('haswell')] });
    const dir = join(root, 'prebuilds', target);
    process.env.MODELPOOL_NATIVE_BINARY = 'custom/modelpool.node';
    expect(candidateBinaryPaths(root, avx2)).toEqual([
      join(process.cwd(), 'custom', 'modelpool.node'),
      join(root, 'build', 'Release', 'modelpool.node'),
      join(dir, tagged('haswell')),
      join(dir, tagged('x64')),
    ]);
    delete process.env.MODELPOOL_NATIVE_BINARY;
    expect(candidateBinaryPaths(root, oldCpu)).toEqual([join(root, 'build', 'Release', 'modelpool.node'), join(dir, tagged('x64'))]);
  });
});
