/**
 * llama.cpp's llama-server (built by the suite's global setup from the same source bundle) on loopback:
 * the real third-party OpenAI-compatible server the remote providers are tested against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './models.js';

export const LLAMA_SERVER = join(repoRoot, 'build', 'bin', process.platform === 'win32' ? 'llama-server.exe' : 'llama-server');

export interface LlamaServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: ChildProcess;
  /** Kills it (SIGKILL: a crash, as far as a client can tell) and waits for the exit. */
  kill(): Promise<void>;
  /** Stops it politely and waits. */
  stop(): Promise<void>;
  /** Output so far, for failure messages. */
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LlamaServerOptions {
  model: string;
  alias: string;
  /** Serve embeddings only (llama-server's --embeddings). */
  embeddings?: boolean;
  parallel?: number;
  contextSize?: number;
  /** Reuse a port (to restart a killed server where clients expect it). */
  port?: number;
}

/** Starts llama-server and waits until /health says it is ready. */
export async function startLlamaServer(options: LlamaServerOptions): Promise<LlamaServer> {
  const port = options.port ?? (await freePort());
  const args = ['-m', options.model, '--alias', options.alias, '--host', '127.0.0.1', '--port', String(port), '-c', String(options.contextSize ?? 1024), '-np', String(options.parallel ?? 2), '-t', '1', '--threads-http', '2', '--no-webui'];
  if (options.embeddings === true) args.push('--embeddings', '--pooling', 'mean');
  const child = spawn(LLAMA_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}):\n${output}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`llama-server did not become ready in 60 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    process: child,
    log: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
