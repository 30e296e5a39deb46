// `modelpool serve` as a user runs it: a plain `node` process on the built CLI, a SQLite registry in a
// temporary data folder, the embedded default model; the official `ollama` client as the client (chat,
// generate, streaming and not, tags, ps, show, embed errors); SIGTERM drains and exits 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Ollama } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, STORIES } from '../helpers/models.js';

let child: ChildProcess;
let url: string;
let home: string;
const exited = () => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'modelpool-serve-'));
  child = spawn(process.execPath, [join(repoRoot, 'lib', 'cli', 'main.js'), 'serve', '--port', '0', '--json', '--model', `${STORIES}=stories`, '--context-size', '512'], {
    env: { ...process.env, MODELPOOL_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  url = (JSON.parse(line) as { url: string }).url;
}, 60_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('modelpool serve, with the ollama client', () => {
  it('serves chat and generate, streamed and not, and lists models', async () => {
    const ollama = new Ollama({ host: url });
    const plain = await ollama.generate({ model: 'stories', prompt: 'Once upon a time', options: { num_predict: 12, temperature: 0 } });
    expect(plain.response.length).toBeGreaterThan(0);
    expect(plain.eval_count).toBe(12);
    let streamed = '';
    for await (const part of await ollama.generate({ model: 'stories', prompt: 'Once upon a time', stream: true, options: { num_predict: 12, temperature: 0 } })) streamed += part.response;
    expect(streamed).toBe(plain.response);
    const chat = await ollama.chat({ model: 'stories:latest', messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 6, temperature: 0 } });
    expect(chat.message.role).toBe('assistant');
    let chatStreamed = '';
    for await (const part of await ollama.chat({ model: 'stories', messages: [{ role: 'user', content: 'Hi' }], stream: true, options: { num_predict: 6, temperature: 0 } })) chatStreamed += part.message.content;
    expect(chatStreamed).toBe(chat.message.content);
    expect((await ollama.list()).models.map((m) => m.name)).toContain('stories:latest');
    expect((await ollama.ps()).models.map((m) => m.name)).toContain('stories:latest');
    expect((await ollama.show({ model: 'stories' })).details).toBeDefined();
    const missing = await ollama.generate({ model: 'nobody', prompt: 'x' }).catch((e: { status_code?: number; error?: string }) => e);
    expect((missing as { status_code: number }).status_code).toBe(404);
    const notEmbedding = await ollama.embed({ model: 'stories', input: 'x' }).catch((e: { status_code?: number }) => e);
    expect((notEmbedding as { status_code: number }).status_code).toBe(400);
  });

  it('the CLI acts on the running server (ps, load, unload, swap) and on the local registry (ls, add, rm, run)', async () => {
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [join(repoRoot, 'lib', 'cli', 'main.js'), ...args], { env: { ...process.env, MODELPOOL_HOME: home, MODELPOOL_SERVER: url }, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const ls = cli('ls', '--json');
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.out) as Array<{ id: string }>).map((m) => m.id)).toContain('stories');
    expect(cli('add', STORIES, '--name', 'stories', '--version', '2').code).toBe(0);
    // The server's registry sees the other process's write within its refresh interval (1 s).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const swap = cli('swap', 'stories', '2');
    expect(swap.err).toBe('');
    expect(swap.code).toBe(0);
    const ps = JSON.parse(cli('ps', '--json').out) as { models: Array<{ id: string; version: string; state: string }> };
    expect(ps.models.find((m) => m.id === 'stories')).toMatchObject({ version: '2', state: 'ready' });
    expect(cli('ps').out).toMatch(/NAME\s+VERSION\s+STATE/);
    expect(cli('unload', 'stories').code).toBe(0);
    expect((JSON.parse(cli('ps', '--json').out) as { models: Array<{ id: string; state: string }> }).models.find((m) => m.id === 'stories')?.state ?? 'unloaded').toBe('unloaded');
    expect(cli('load', 'stories').code).toBe(0);
    const run = cli('run', 'stories', 'Once upon a time', '--max-tokens', '8', '--temperature', '0', '--json');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.out) as { generatedTokens: number }).generatedTokens).toBe(8);
    const missing = cli('rm', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('MODEL_NOT_FOUND');
    expect(cli('load').code).toBe(2);
    expect(cli('unload', 'stories', '--server', 'http://127.0.0.1:9').err).toContain('PROVIDER_UNAVAILABLE');
  }, 120_000);

  it('SIGTERM drains requests in flight and exits 0', async () => {
    const inFlight = fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'stories', prompt: 'Once upon a time', max_tokens: 200, temperature: 0 }) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBeGreaterThan(0);
    expect(await exited()).toBe(0);
  });
});
