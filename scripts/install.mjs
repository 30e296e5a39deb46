// npm install hook: keep shipped prebuilt binaries (src/engine/native.ts picks the CPU variant at run
// time) or an existing local build; otherwise build the addon from source.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './llama-source.mjs';

if (process.env.MODELPOOL_SKIP_BUILD === '1') process.exit(0);
const require = createRequire(import.meta.url);
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (existsSync(prebuilt)) {
  console.log(`modelpool: using prebuilt binaries in ${prebuilt}`);
  process.exit(0);
}
const local = join(root, 'build', 'Release', 'modelpool.node');
if (existsSync(local)) {
  try {
    require(local);
    console.log(`modelpool: using ${local}`);
    process.exit(0);
  } catch (error) {
    console.log(`modelpool: ${local} does not load here (${error.message.split('\n')[0]}); rebuilding`);
  }
}
const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
