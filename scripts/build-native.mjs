// Builds the addon from source: llama.cpp source from node-llama-cpp's bundle, then cmake-js over
// CMakeLists.txt (the one source of truth for the native build).
//
//   npm run build:native                       # CPU, tuned for this machine (GGML_NATIVE=ON)
//   npm run build:native -- --CDGGML_CUDA=ON   # any CMake option passes through (CUDA, HIP, Metal, Vulkan)
//   MODELPOOL_CMAKE_ARGS="--CDGGML_VULKAN=ON" npm run build:native
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { cmakeJsEnv, ensureLlamaSource, root } from './llama-source.mjs';

ensureLlamaSource();
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const extra = [...process.argv.slice(2), ...(process.env.MODELPOOL_CMAKE_ARGS ?? '').split(/\s+/).filter(Boolean)];
const args = [cmakeJs, 'compile', '--parallel', String(availableParallelism())];
if (!extra.some((a) => a.includes('GGML_NATIVE'))) args.push('--CDGGML_NATIVE=ON');
args.push(...extra);
console.log(`modelpool: building the native addon (cmake-js ${args.slice(2).join(' ')})`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: cmakeJsEnv() });
process.exit(result.status ?? 1);
