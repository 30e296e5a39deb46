// Produces prebuilds/<platform>-<arch>/modelpool.node for the current platform, for publishing.
// A shipped binary must not die with "illegal instruction" on an older CPU, so it is built without
// -march=native: GGML_NATIVE=OFF targets the baseline ISA of the platform (x86-64: SSE4.2-free
// baseline plus runtime-checked paths in ggml). Extra CMake options pass through, e.g. --CDGGML_CUDA=ON.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cmakeJsEnv, ensureLlamaSource, root } from './llama-source.mjs';

ensureLlamaSource();
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const out = join(root, 'build-prebuild');
const args = [cmakeJs, 'rebuild', '--out', out, '--parallel', String(availableParallelism()), '--CDGGML_NATIVE=OFF',
  ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: cmakeJsEnv() });
if (result.status !== 0) process.exit(result.status ?? 1);
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
copyFileSync(join(out, 'Release', 'modelpool.node'), join(dir, 'modelpool.node'));
console.log(`modelpool: wrote ${join(dir, 'modelpool.node')}`);
