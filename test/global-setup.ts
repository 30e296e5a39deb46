/**
 * Before the suite: llama.cpp's own llama-server, built from the same source bundle and build tree as the
 * addon, is the real third-party OpenAI-compatible server the remote providers are tested against. Built
 * once (a few minutes on a fresh machine; ccache makes later builds short), reused after.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

export default function setup(): void {
  const server = join(root, 'build', 'bin', process.platform === 'win32' ? 'llama-server.exe' : 'llama-server');
  if (existsSync(server)) return;
  console.log('global setup: building llama-server (once) for the remote-provider tests');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-llama-tools.mjs'), 'llama-server'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building llama-server failed (exit ${r.status}): run npm run build:llama-tools to see why`);
}
