// Regenerates test/fixtures/embeddings/bert-<pooling>.json: the vectors llama.cpp's own llama-embedding
// computes for the generated BERT test models (src/testing/bert-generator.ts) and a few texts. The
// models are deterministic for their options, so the file's sha256 is recorded beside the vectors and
// the test checks it before trusting them. Needs `npm run build` and `npm run build:llama-tools`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './llama-source.mjs';

/** Shared with test/engine/embeddings.test.ts, which reads them back from the fixtures. */
export const EMBEDDING_TEXTS = [
  'hello world',
  'The quick brown fox jumps over the lazy dog.',
  'a',
  '',
  'Embeddings put many texts into one decode, each text its own sequence.',
  'naïve café, 42 × 7 = 294!',
];
export const POOLINGS = ['none', 'mean', 'cls', 'last', 'rank'];
export const MODEL_OPTIONS = { layers: 2, embeddingSize: 64, heads: 4, feedForwardSize: 128, contextLength: 512, seed: 7 };

/**
 * llama-embedding's arguments for one model. Pooled vectors come L2-normalised (its default, 2); token
 * vectors (pooling none) and reranker scores (rank) come raw (-1), to be compared with modelpool's raw
 * output. One thread, so the run is the same wherever it is made.
 */
export function llamaEmbeddingArgs(path, pooling, texts) {
  const normalize = pooling === 'none' || pooling === 'rank' ? -1 : 2;
  // Its JSON output of a reranker holds n_embd numbers read past the one score: the plain "rerank score"
  // lines (3 decimals) are the only reliable form.
  const format = pooling === 'rank' ? [] : ['--embd-output-format', 'json'];
  return ['-m', path, '-p', texts.join('\n'), '-c', String(MODEL_OPTIONS.contextLength), '-t', '1', ...format, '--embd-normalize', String(normalize)];
}

/** Runs llama-embedding and returns its vectors (one per text, or one per token for pooling none). */
export function runLlamaEmbedding(binary, path, pooling, texts) {
  // Its output goes through llama.cpp's asynchronous logger, which now and then loses the tail at exit:
  // a run whose output is incomplete is made again.
  for (let attempt = 1; ; attempt++) {
    const out = execFileSync(binary, llamaEmbeddingArgs(path, pooling, texts), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    try {
      const vectors =
        pooling === 'rank'
          ? [...out.matchAll(/^rerank score \d+:\s*(\S+)$/gm)].map((m) => [Number(m[1])])
          : JSON.parse(out).data.map((entry) => entry.embedding);
      if (pooling === 'none' || vectors.length === texts.length) return vectors;
      throw new Error(`llama-embedding gave ${vectors.length} vectors for ${texts.length} texts`);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function main() {
  const { cachedBertTestModel } = await import(pathToFileURL(join(root, 'lib', 'testing', 'bert-generator.js')).href);
  const binary = join(root, 'build', 'bin', 'llama-embedding');
  const dir = join(root, 'test', 'fixtures', 'embeddings');
  mkdirSync(dir, { recursive: true });
  for (const pooling of POOLINGS) {
    const options = { ...MODEL_OPTIONS, pooling };
    const path = await cachedBertTestModel(options);
    const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
    const args = llamaEmbeddingArgs('<model>', pooling, ['<texts joined by newlines>']);
    const vectors = runLlamaEmbedding(binary, path, pooling, EMBEDDING_TEXTS);
    const fixture = { tool: 'llama-embedding (llama.cpp, same bundle)', args, options, sha256, texts: EMBEDDING_TEXTS, vectors };
    writeFileSync(join(dir, `bert-${pooling}.json`), `${JSON.stringify(fixture)}\n`);
    console.log(`bert-${pooling}: ${vectors.length} vectors of ${vectors[0].length}, model sha256 ${sha256.slice(0, 16)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
