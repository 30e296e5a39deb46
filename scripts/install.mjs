// npm install hook. A local build tree (a checkout that built before) is rebuilt incrementally: it is what
// loads first, so it must not go stale. Otherwise a shipped prebuild that loads here is used (checked in a
// child process with the package's own loader, lib/engine/native.js, which also picks the CPU variant), and
// only when none does is the addon built from source (offline: the llama.cpp source ships in deps/); an
// installed package then keeps only the binary.
//   MODELPOOL_SKIP_BUILD=1                  do nothing
//   npm install --build-from-source        always build (node-gyp-build's convention)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { llamaArchive, llamaDir, root } from './llama-source.mjs';

if (process.env.MODELPOOL_SKIP_BUILD === '1') process.exit(0);

/** The prebuild that loads here, or why none does. */
function loadablePrebuild() {
  const loader = join(root, 'lib', 'engine', 'native.js');
  if (!existsSync(loader)) return { reason: 'no lib/ (a checkout before `npm run build`)' };
  const script = `
    const { loadBinding, prebuildPaths } = await import(${JSON.stringify(pathToFileURL(loader).href)});
    const paths = prebuildPaths();
    if (paths.length === 0) { console.log('no prebuild matches'); process.exit(1); }
    try { console.log(loadBinding(paths).path); } catch (e) { console.log(e.details?.tried?.join('; ') ?? e.message); process.exit(1); }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const out = child.stdout.trim() || child.stderr.trim().split('\n').at(-1);
  return child.status === 0 ? { path: out } : { reason: out || `loader exited with ${child.signal ?? child.status}` };
}

const target = `${process.platform}-${process.arch}`;
const fromSource = process.env.npm_config_build_from_source === 'true';
if (!fromSource && !existsSync(join(root, 'build'))) {
  const prebuild = loadablePrebuild();
  if (prebuild.path) {
    console.log(`modelpool: using the prebuilt binary ${prebuild.path}`);
    process.exit(0);
  }
  console.log(`modelpool: no prebuilt binary for ${target} loads here (${prebuild.reason}); building from source`);
}
const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
if (result.status === 0 && root.split(sep).includes('node_modules')) pruneSourceBuild();
process.exit(result.status ?? 1);

// Installed as a dependency, not a checkout: keep only the binary. The CMake tree and the expanded llama.cpp
// source (~55 MB) are read by nothing afterwards; a rebuild expands the archive again (ccache keeps it quick).
function pruneSourceBuild() {
  const build = join(root, 'build');
  for (const name of readdirSync(build)) if (name !== 'Release') rmSync(join(build, name), { recursive: true, force: true });
  if (existsSync(llamaArchive)) rmSync(llamaDir, { recursive: true, force: true });
}
