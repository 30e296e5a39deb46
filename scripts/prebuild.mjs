// Produces the prebuilt binaries for the current platform, for publishing, with prebuildify:
//   prebuilds/<platform>-<arch>/modelpool[.glibc|.musl][.<cpu variant>].node
// named as prebuildify names a Node-API build (no ABI tag: it loads on every Node version) and found at run
// time by src/engine/native.ts with node-gyp-build's rules. prebuildify 6 drives node-gyp only; its
// --node-gyp hook runs scripts/prebuildify-cmake.mjs instead, which builds with cmake-js (CMakeLists.txt
// stays the one build description).
//
// A shipped binary must not die with "illegal instruction" on an older CPU, so none is built with
// -march=native. On x86-64 two variants are built — `haswell` (AVX2/FMA/F16C/BMI2) and `x64` (nothing beyond
// the x86-64 baseline) — and the CPU variant is one more tag in the file name, which node-gyp-build's own
// resolver ignores; native.ts matches it against the CPU's flags. Other platforms get one build, untagged.
//   npm run build:prebuild                          # every variant of this platform
//   MODELPOOL_PREBUILD_VARIANT=x64 npm run build:prebuild
//   npm run build:prebuild -- --CDGGML_CUDA=ON      # extra CMake options pass through
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ensureLlamaSource, root } from './llama-source.mjs';

const X86_FEATURES = ['SSE42', 'AVX', 'AVX2', 'FMA', 'F16C', 'BMI2', 'AVX512', 'AVX_VNNI'];
const variants =
  process.arch === 'x64'
    ? [
        { name: 'haswell', on: ['SSE42', 'AVX', 'AVX2', 'FMA', 'F16C', 'BMI2'] },
        { name: 'x64', on: [] },
      ]
    : [{ name: '', on: null }];

const only = process.env.MODELPOOL_PREBUILD_VARIANT;
if (only && !variants.some((v) => v.name === only)) {
  throw new Error(`MODELPOOL_PREBUILD_VARIANT must be one of ${variants.map((v) => v.name).join(', ')} on ${process.arch}, got "${only}"`);
}
ensureLlamaSource();
const prebuildify = createRequire(import.meta.url)('prebuildify');
const builds = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const libc = process.platform === 'linux';

for (const variant of variants) {
  if (only && only !== variant.name) continue;
  const flags = variant.on === null ? [] : X86_FEATURES.map((f) => `--CDGGML_${f}=${variant.on.includes(f) ? 'ON' : 'OFF'}`);
  // Read by prebuildify-cmake.mjs (prebuildify passes the environment on).
  process.env.MODELPOOL_PREBUILD_CMAKE_ARGS = JSON.stringify(['--CDGGML_NATIVE=OFF', ...flags, ...process.argv.slice(2)]);
  // Each variant has its own build tree (the cwd prebuildify takes its build/Release output from).
  const cwd = join(root, `build-prebuild-${variant.name || 'default'}`);
  mkdirSync(cwd, { recursive: true });
  console.log(`modelpool: prebuild ${variant.name || process.arch}: ${process.env.MODELPOOL_PREBUILD_CMAKE_ARGS}`);
  await new Promise((resolvePromise, reject) =>
    prebuildify(
      {
        cwd,
        out: root,
        name: 'modelpool',
        napi: true,
        targets: [process.versions.node],
        strip: process.platform === 'linux' || process.platform === 'darwin',
        tagLibc: libc,
        nodeGyp: join(root, 'scripts', process.platform === 'win32' ? 'prebuildify-cmake.cmd' : 'prebuildify-cmake.mjs'),
        shell: process.platform === 'win32',
      },
      (error) => (error ? reject(error) : resolvePromise()),
    ),
  );
  const built = join(builds, `modelpool${libc ? `.${libcOf()}` : ''}.node`);
  const named = variant.name ? built.replace(/\.node$/, `.${variant.name}.node`) : built;
  if (named !== built) renameSync(built, named);
  console.log(`modelpool: wrote ${named}`);
}

// prebuildify's own rule (Alpine is musl), so the name matches the one it wrote.
function libcOf() {
  return process.env.PREBUILD_LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
}
