// npm pack / npm publish hook: makes sure everything package.json#files names is there and current
// (messages go to stderr: `npm pack --json` writes its answer to stdout).
// - deps/llama.cpp.tar.gz: the llama.cpp source subset a source build needs, packed from the pinned clone
//   (cloned from node-llama-cpp's bundle when missing); a path of the subset that upstream renamed fails here,
//   not at a user's install.
// - lib/: compiled afresh, and files whose source is gone are removed (they would ship otherwise).
// - prebuilds/: made by `npm run build:prebuild` on each platform (CI); without them the package builds
//   from source at install, which is said here.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { llamaArchive, packLlamaSubset, root } from './llama-source.mjs';

const stamp = packLlamaSubset();
console.warn(`modelpool: packed llama.cpp ${stamp.commit} (${stamp.from}) into ${relative(root, llamaArchive)}`);

const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

// lib/x.js, x.d.ts and their maps come from src/x.ts.
function removeStale(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      removeStale(path);
      continue;
    }
    const source = join(root, 'src', relative(join(root, 'lib'), path)).replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts');
    if (!existsSync(source)) {
      console.warn(`modelpool: removing ${relative(root, path)} (no ${relative(root, source)})`);
      rmSync(path);
    }
  }
}
removeStale(join(root, 'lib'));

const prebuilds = join(root, 'prebuilds');
const platforms = existsSync(prebuilds) ? readdirSync(prebuilds) : [];
console.warn(
  platforms.length > 0
    ? `modelpool: packing prebuilds for ${platforms.join(', ')}`
    : 'modelpool: no prebuilds/ (npm run build:prebuild): the package will build from source at install',
);
