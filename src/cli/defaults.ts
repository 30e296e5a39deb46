/** Defaults of the CLI: where its data lives, and the model it runs when given none. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (above lib/). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The user's data folder for modelpool (XDG on Linux, Application Support on macOS, AppData on Windows). */
export function dataFolder(): string {
  if (process.env.MODELPOOL_HOME !== undefined) return process.env.MODELPOOL_HOME;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'modelpool');
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'modelpool');
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'modelpool');
}

/** The embedded default model: the shared stories260K beside a source checkout, else a generated one. */
export async function defaultModel(): Promise<string> {
  const shared = resolve(packageRoot, '..', 'shared', 'models', 'stories260K.gguf');
  if (existsSync(shared)) return shared;
  const { cachedTestModel } = await import('../testing/model-generator.js');
  return cachedTestModel({ type: 'F16' });
}

