// Puts llama.cpp's source at deps/llama.cpp.
//
// In a checkout it is cloned from the git bundle that node-llama-cpp ships (a devDependency, pinned exactly in
// package.json): no network. The published package carries instead deps/llama.cpp.tar.gz, the subset of that
// clone a source build of the addon needs (LLAMA_SUBSET), expanded here only when a source build runs, so
// installs that use a prebuilt binary keep 2.6 MB of archive rather than 16 MB of source.
// deps/llama.cpp/modelpool-source.json records which revision the folder holds; CMakeLists.txt reads it and
// checks llama.cpp's private headers native/ uses against scripts/llama-pin.json.
//
//   node scripts/llama-source.mjs          # clone (or keep) the pinned source
//   node scripts/llama-source.mjs --pin    # after reviewing native/ against a new bundle: pin its private headers
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const llamaDir = join(root, 'deps', 'llama.cpp');
export const stampPath = join(llamaDir, 'modelpool-source.json');
export const pinPath = join(root, 'scripts', 'llama-pin.json');
export const llamaArchive = join(root, 'deps', 'llama.cpp.tar.gz');

/**
 * What a source build of the addon needs from llama.cpp (git pathspecs; `*` stays within one folder): the
 * libraries, the two files of common/ the addon compiles (the grammar converter and its JSON), the vendored
 * pieces llama.cpp's CMake adds (only the CMakeLists.txt of the header-only ones nothing here includes), and
 * the ggml backends the README documents. The other backends (SYCL, OpenCL, CANN, ...) are left out: ggml
 * configures a backend's folder only when it is switched on.
 */
export const LLAMA_SUBSET = [
  'CMakeLists.txt', 'LICENSE', 'licenses', 'cmake', 'include', 'src',
  'common/common.h', 'common/json.h', 'common/json.cpp', 'common/json-schema-to-grammar.h', 'common/json-schema-to-grammar.cpp',
  'vendor/CMakeLists.txt', 'vendor/hash', 'vendor/nlohmann',
  'vendor/miniaudio/CMakeLists.txt', 'vendor/sheredom/CMakeLists.txt', 'vendor/stb/CMakeLists.txt',
  'ggml/CMakeLists.txt', 'ggml/cmake', 'ggml/include',
  'ggml/src/CMakeLists.txt', 'ggml/src/*.c', 'ggml/src/*.cpp', 'ggml/src/*.h', 'ggml/src/*.in',
  'ggml/src/ggml-cpu', 'ggml/src/ggml-blas', 'ggml/src/ggml-cuda', 'ggml/src/ggml-hip', 'ggml/src/ggml-metal', 'ggml/src/ggml-vulkan',
];

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const git = (args, cwd) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The node-llama-cpp version whose bundle is the source (package.json pins it exactly). */
export function pinnedNodeLlamaCpp() {
  const pkg = readJson(join(root, 'package.json'));
  const version = pkg.devDependencies?.['node-llama-cpp'] ?? pkg.dependencies?.['node-llama-cpp'];
  if (!/^\d+\.\d+\.\d+$/.test(version ?? '')) {
    throw new Error(`package.json devDependencies["node-llama-cpp"] must be an exact version, got ${JSON.stringify(version)}`);
  }
  return version;
}

/** The stamp of deps/llama.cpp, or undefined when there is none (or no source beside it). */
export function readStamp() {
  if (!existsSync(stampPath) || !existsSync(join(llamaDir, 'CMakeLists.txt'))) return undefined;
  return readJson(stampPath);
}

// node-llama-cpp's exports map hides package.json, so look for the folder the way Node would.
function findPackage(name) {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * llama.cpp's private headers native/ includes (staging API, and llama_model's tensor list for memory
 * accounting): CMakeLists.txt builds only against the versions pinned in scripts/llama-pin.json.
 */
export const PRIVATE_HEADERS = ['src/llama-ext.h', 'src/llama-model.h'];

export function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function writeStamp(from, tag) {
  const stamp = {
    from,
    tag,
    commit: git(['rev-parse', 'HEAD'], llamaDir),
    buildNumber: Number(git(['rev-list', '--count', 'HEAD'], llamaDir)),
  };
  writeFileSync(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
}

/** Makes sure deps/llama.cpp holds the pinned source; returns its stamp. */
export function ensureLlamaSource() {
  const version = pinnedNodeLlamaCpp();
  const from = `node-llama-cpp@${version}`;
  const stamp = readStamp();
  if (stamp?.from === from) return stamp;

  const nlcDir = findPackage('node-llama-cpp');
  const installed = nlcDir && readJson(join(nlcDir, 'package.json')).version;
  // The published package (node-llama-cpp absent, or some other version of it in the consuming project).
  if (installed !== version && existsSync(llamaArchive)) return extractSubset(from);
  if (!nlcDir) {
    throw new Error(
      `llama.cpp source not found at ${llamaDir} (nor ${llamaArchive}) and node-llama-cpp, its source, is not ` +
        'installed: run `npm ci` in the modelpool repository',
    );
  }
  if (installed !== version) throw new Error(`node-llama-cpp at ${nlcDir} is ${installed}, package.json pins ${version}: run npm ci`);
  const bundle = join(nlcDir, 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`llama.cpp git bundle not found at ${bundle}; is node-llama-cpp ${version} installed completely?`);
  const { tag } = readJson(join(nlcDir, 'llama', 'llama.cpp.info.json'));
  // A clone of the same commit (say, one stamped by an older version of this script) is kept as it is:
  // recloning would touch every file and rebuild everything.
  const bundleHead = git(['bundle', 'list-heads', bundle], root).split(/\s+/)[0];
  if (existsSync(join(llamaDir, '.git')) && git(['rev-parse', 'HEAD'], llamaDir) === bundleHead) {
    return writeStamp(from, tag);
  }
  rmSync(llamaDir, { recursive: true, force: true });
  console.log(`modelpool: cloning llama.cpp ${tag} from ${bundle}`);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', bundle, llamaDir], { stdio: 'inherit' });
  return writeStamp(from, tag);
}

// CMake is needed for the build anyway, and its `-E tar` reads .tar.gz on every platform.
function extractSubset(from) {
  rmSync(llamaDir, { recursive: true, force: true });
  console.log(`modelpool: expanding ${llamaArchive}`);
  const result = spawnSync('cmake', ['-E', 'tar', 'xzf', llamaArchive], { cwd: dirname(llamaArchive), stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    throw new Error(`could not expand ${llamaArchive} with \`cmake -E tar\` (${result.error?.message ?? `exit ${result.status}`}): a source build needs cmake >= 3.19 on PATH`);
  }
  const stamp = readStamp();
  if (stamp?.from !== from) throw new Error(`${llamaArchive} holds llama.cpp from ${stamp?.from ?? 'an unknown source'}, package.json pins ${from}`);
  return stamp;
}

/** Writes deps/llama.cpp.tar.gz: LLAMA_SUBSET of the pinned clone and its stamp, under llama.cpp/. */
export function packLlamaSubset() {
  const stamp = ensureLlamaSource();
  if (!existsSync(join(llamaDir, '.git'))) throw new Error(`${llamaDir} is not a git clone: cannot pack its subset`);
  const specs = LLAMA_SUBSET.map((path) => `:(glob)${path}`); // a folder matches all below it; * stays in one
  const missing = LLAMA_SUBSET.filter((_, i) => git(['ls-files', '--', specs[i]], llamaDir) === '');
  if (missing.length > 0) throw new Error(`llama.cpp ${stamp.commit} (${stamp.from}) lacks paths of LLAMA_SUBSET: ${missing.join(', ')}`);
  execFileSync('git', ['archive', '--format=tar.gz', '--prefix=llama.cpp/', `--add-file=${stampPath}`, '-o', llamaArchive, 'HEAD', '--', ...specs], {
    cwd: llamaDir,
    stdio: 'inherit',
  });
  return stamp;
}

// cmake-js builds Node-API addons (package.json#binary.napi_versions) against the node-api-headers package,
// so no Node headers are downloaded. ccache keys on relative paths, so clones in other folders (and the
// installed package) reuse each other's objects.
export function cmakeJsEnv() {
  return { CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: 'true', ...process.env };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stamp = ensureLlamaSource();
  if (process.argv.includes('--pin')) {
    const privateHeaders = Object.fromEntries(PRIVATE_HEADERS.map((path) => [path, sha256(join(llamaDir, path))]));
    const pin = { from: stamp.from, commit: stamp.commit, privateHeaders };
    writeFileSync(pinPath, `${JSON.stringify(pin, null, 2)}\n`);
    console.log(`modelpool: pinned ${PRIVATE_HEADERS.join(', ')} of llama.cpp ${stamp.commit} in ${pinPath}`);
  }
}
