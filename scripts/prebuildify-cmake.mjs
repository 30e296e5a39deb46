#!/usr/bin/env node
// prebuildify's --node-gyp hook: it runs `<this> rebuild --target=<node> --devdir=<dir> --arch=<arch> --release`
// in the build tree's folder and takes the first .node file from build/Release there. This builds the same
// with cmake-js over CMakeLists.txt; CMake options come from scripts/prebuild.mjs (MODELPOOL_PREBUILD_CMAKE_ARGS).
// The Node version does not matter: the addon is Node-API (one binary for every Node version).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cmakeJsEnv, root } from './llama-source.mjs';

const argv = process.argv.slice(2);
if (argv[0] !== 'rebuild') throw new Error(`prebuildify-cmake: expected "rebuild" as the first argument, got ${JSON.stringify(argv[0])}`);
const arch = argv.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'compile', '--directory', root, '--out', join(process.cwd(), 'build'), '--parallel', String(availableParallelism())];
if (arch) args.push('--arch', arch);
if (argv.includes('--debug')) args.push('--debug');
args.push(...JSON.parse(process.env.MODELPOOL_PREBUILD_CMAKE_ARGS ?? '[]'));
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: cmakeJsEnv() });
process.exit(result.status ?? 1);
