// npm install hook: keep shipped prebuilt binaries (src/engine/native.ts picks the CPU variant at run
// time); otherwise build the addon from source.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './llama-source.mjs';

if (process.env.MODELPOOL_SKIP_BUILD === '1') process.exit(0);
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (existsSync(prebuilt)) {
  console.log(`modelpool: using prebuilt binaries in ${prebuilt}`);
  process.exit(0);
}
// An existing build tree makes this an incremental build (seconds when nothing changed).
const result = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
