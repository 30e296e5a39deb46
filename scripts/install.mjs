// npm install hook: use a prebuilt binary when one loads on this machine, else build from source.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './llama-source.mjs';

if (process.env.MODELPOOL_SKIP_BUILD === '1') process.exit(0);
const require = createRequire(import.meta.url);
const target = `${process.platform}-${process.arch}`;
for (const path of [join(root, 'prebuilds', target, 'modelpool.node'), join(root, 'build', 'Release', 'modelpool.node')]) {
  if (!existsSync(path)) continue;
  try {
    require(path);
    console.log(`modelpool: using ${path}`);
    process.exit(0);
  } catch (error) {
    console.log(`modelpool: ${path} does not load here (${error.message.split('\n')[0]}); building from source`);
  }
}
const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
