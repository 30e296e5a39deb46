// Puts llama.cpp's source at deps/llama.cpp, cloned from the git bundle that node-llama-cpp ships.
// No network: the bundle comes from the npm registry with node-llama-cpp (pinned exactly in package.json).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const llamaDir = join(root, 'deps', 'llama.cpp');

// node-llama-cpp's exports map hides package.json, so look for the folder the way Node would.
function findPackage(name) {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed (needed for the llama.cpp source); run npm ci`);
  }
}

export function ensureLlamaSource() {
  const nlcDir = findPackage('node-llama-cpp');
  const bundle = join(nlcDir, 'llama', 'gitRelease.bundle');
  const { tag } = JSON.parse(readFileSync(join(nlcDir, 'llama', 'llama.cpp.info.json'), 'utf8'));
  const { version } = JSON.parse(readFileSync(join(nlcDir, 'package.json'), 'utf8'));
  const stamp = join(llamaDir, '.modelpool-source');
  const want = `node-llama-cpp@${version} ${tag}`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return { dir: llamaDir, tag };
  if (!existsSync(bundle)) throw new Error(`llama.cpp git bundle not found at ${bundle}; is node-llama-cpp installed?`);
  rmSync(llamaDir, { recursive: true, force: true });
  console.log(`modelpool: cloning llama.cpp ${tag} from ${bundle}`);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', bundle, llamaDir], { stdio: 'inherit' });
  writeFileSync(stamp, `${want}\n`);
  return { dir: llamaDir, tag };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureLlamaSource();

// cmake-js downloads Node's headers unless npm's `nodedir` points at local ones. Node installs ship
// them (include/node/node.h beside bin/node), so use those: no network at build time.
export function cmakeJsEnv() {
  // ccache keys on relative paths, so clones in other folders reuse each other's objects.
  const env = { CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: 'true', ...process.env };
  if (!env.npm_config_nodedir) {
    const prefix = dirname(dirname(process.execPath));
    if (existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  }
  return env;
}
