import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The real trained tiny model shared beside the repository (never copied into it). */
export const STORIES = resolve(repoRoot, '..', 'shared', 'models', 'stories260K.gguf');
export const VOCAB_SPM = join(repoRoot, 'deps', 'llama.cpp', 'models', 'ggml-vocab-llama-spm.gguf');

if (!existsSync(STORIES)) throw new Error(`test model missing: ${STORIES}`);

/** Collects a stream's chunks and its result. */
export async function collect(stream: AsyncIterable<string> & { result: Promise<unknown> }) {
  const chunks: string[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { chunks, result: await stream.result };
}
