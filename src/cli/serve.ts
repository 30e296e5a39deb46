/**
 * `modelpool serve`: the server over a registry (a SQLite file in the user's data folder by default) and a
 * front door. `--model PATH[=NAME]` registers a GGUF (or ONNX) file under NAME (default: the file's name);
 * with no model registered at all, the embedded default is: the shared stories260K beside a source
 * checkout, else a generated model with a real vocabulary. Ctrl-C drains requests in flight and exits.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { dataFolder, defaultModel } from './defaults.js';
import { ModelpoolError } from '../errors.js';
import { createOllamaProvider, createOnnxProvider, createOpenAICompatibleProvider } from '../providers/index.js';
import { ModelRegistry } from '../registry/index.js';
import { FrontDoor } from '../runtime/index.js';
import { createServer } from '../server/index.js';

export interface ServeOptions {
  host: string;
  port: number;
  model: string[];
  registry?: string;
  contextSize: number;
  json?: boolean;
}

/** `PATH[=NAME]` → the file and the id to register it under. */
export function modelArgument(value: string): { path: string; id: string } {
  const at = value.lastIndexOf('=');
  const path = resolve(at > 0 ? value.slice(0, at) : value);
  const id = at > 0 ? value.slice(at + 1) : basename(path, extname(path));
  if (id.length === 0) throw new ModelpoolError('INVALID_ARGUMENT', `--model ${value}: the name after = is empty`, { field: '--model', value });
  return { path, id };
}

async function register(registry: ModelRegistry, path: string, id: string): Promise<void> {
  if (registry.has(id)) return;
  const kind = extname(path).toLowerCase() === '.onnx' ? 'onnx' : 'gguf';
  await registry.registerModel({ id, tasks: kind === 'onnx' ? ['embedding'] : ['completion', 'chat'], version: { version: '1', source: { kind, path } } });
}

export async function serve(options: ServeOptions): Promise<void> {
  const path = options.registry ?? join(dataFolder(), 'registry.db');
  mkdirSync(dirname(path), { recursive: true });
  const registry = await ModelRegistry.open({ path });
  for (const value of options.model) {
    const { path: file, id } = modelArgument(value);
    await register(registry, file, id);
  }
  if (registry.size === 0) await register(registry, await defaultModel(), 'stories');
  const door = new FrontDoor({
    registry,
    specDefaults: { contextSize: options.contextSize, parallel: 2 },
    poolOptions: { providers: [createOnnxProvider(), createOpenAICompatibleProvider(), createOllamaProvider()] },
  });
  const server = await createServer({ door, host: options.host, port: options.port });
  const url = await server.listen();
  const first = registry.list()[0]!.id;
  if (options.json === true) {
    console.log(JSON.stringify({ url, dashboard: `${url}/dashboard`, registry: path, models: registry.list().map((m) => m.id) }));
  } else {
    console.log(`modelpool serving ${registry.size} model(s) (${registry.list().map((m) => m.id).join(', ')}) at ${url}`);
    console.log(`  dashboard: ${url}/dashboard    metrics: ${url}/metrics    registry: ${path}`);
    console.log(`  try: curl ${url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${first}","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":64}'`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.error('modelpool: draining requests in flight, then stopping');
    await server.close();
    await door.dispose();
    await registry.close();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
