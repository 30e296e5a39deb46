// Builds llama.cpp's reference tools (llama-bench, llama-batched-bench, llama-simple, llama-server, llama-embedding) inside the addon's
// own build tree, so they share every object file (and so every compiler flag) with the addon.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cmakeJsEnv, ensureLlamaSource, root } from './llama-source.mjs';

ensureLlamaSource();
const require = createRequire(import.meta.url);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: cmakeJsEnv() });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
// Configure the addon's tree first (as npm run build:native does), then turn the tools on in it.
run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--CDGGML_NATIVE=ON']);
run('cmake', [join(root, 'build'), '-DMODELPOOL_LLAMA_TOOLS=ON']);
run('cmake', ['--build', join(root, 'build'), '--parallel', String(availableParallelism()), '--target', 'llama-bench', 'llama-batched-bench', 'llama-simple', 'llama-server', 'llama-embedding']);
console.log(`llama.cpp tools in ${join(root, 'build', 'bin')}`);
