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
// `node scripts/build-llama-tools.mjs llama-server` builds only the tools named (the test suite needs llama-server).
const ALL = ['llama-bench', 'llama-batched-bench', 'llama-simple', 'llama-server', 'llama-embedding'];
const asked = process.argv.slice(2);
for (const name of asked) if (!ALL.includes(name)) throw new Error(`Unknown tool ${name} (one of ${ALL.join(', ')})`);
run('cmake', ['--build', join(root, 'build'), '--parallel', String(availableParallelism()), '--target', ...(asked.length > 0 ? asked : ALL)]);
console.log(`llama.cpp tools in ${join(root, 'build', 'bin')}`);
