// Builds llama.cpp's own reference tools (llama-bench, llama-batched-bench, llama-simple) from the same
// source bundle into build-llama-tools/, for the benchmarks and for regenerating the reference fixture.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ensureLlamaSource, root } from './llama-source.mjs';

const { dir } = ensureLlamaSource();
const out = join(root, 'build-llama-tools');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run('cmake', ['-S', dir, '-B', out, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DBUILD_SHARED_LIBS=OFF',
  '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_SERVER=OFF', '-DLLAMA_BUILD_TOOLS=ON', '-DLLAMA_BUILD_EXAMPLES=ON']);
run('cmake', ['--build', out, '--parallel', String(availableParallelism()), '--target', 'llama-bench', 'llama-batched-bench', 'llama-simple']);
console.log(`llama.cpp tools in ${join(out, 'bin')}`);
