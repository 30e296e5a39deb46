// Produces prebuilt binaries for the current platform, for publishing:
//   prebuilds/<platform>-<arch>/<variant>/modelpool.node
// A shipped binary must not die with "illegal instruction" on an older CPU, so none is built with
// -march=native. On x86-64 two variants are built — `haswell` (AVX2/FMA/F16C/BMI2) and `x64` (no SIMD
// extensions beyond the x86-64 baseline) — and src/engine/native.ts picks the best one the CPU supports
// at run time. Extra CMake options pass through, e.g. `npm run build:prebuild -- --CDGGML_CUDA=ON`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cmakeJsEnv, ensureLlamaSource, root } from './llama-source.mjs';

const X86_FEATURES = ['SSE42', 'AVX', 'AVX2', 'FMA', 'F16C', 'BMI2', 'AVX512', 'AVX_VNNI'];
const variants =
  process.arch === 'x64'
    ? [
        { name: 'haswell', on: ['SSE42', 'AVX', 'AVX2', 'FMA', 'F16C', 'BMI2'] },
        { name: 'x64', on: [] },
      ]
    : [{ name: 'default', on: null }];

ensureLlamaSource();
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const only = process.env.MODELPOOL_PREBUILD_VARIANT;
for (const variant of variants) {
  if (only && only !== variant.name) continue;
  const out = join(root, `build-prebuild-${variant.name}`);
  const flags = variant.on === null ? [] : X86_FEATURES.map((f) => `--CDGGML_${f}=${variant.on.includes(f) ? 'ON' : 'OFF'}`);
  const args = [cmakeJs, 'compile', '--out', out, '--parallel', String(availableParallelism()), '--CDGGML_NATIVE=OFF',
    ...flags, ...process.argv.slice(2)];
  console.log(`modelpool: prebuild ${variant.name}: ${args.slice(2).join(' ')}`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: cmakeJsEnv() });
  if (result.status !== 0) process.exit(result.status ?? 1);
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`, variant.name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(out, 'Release', 'modelpool.node'), join(dir, 'modelpool.node'));
  console.log(`modelpool: wrote ${join(dir, 'modelpool.node')}`);
}
