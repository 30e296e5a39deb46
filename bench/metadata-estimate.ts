/**
 * The peer estimator: what a scheduler can estimate from GGUF metadata alone (Ollama's approach):
 * weights = tensor bytes, KV = 2 · n_ctx · n_layer · n_head_kv · head_dim · 2 bytes (f16), compute =
 * the logits and a few activations of one batch in f32.
 */
import { inspect } from '../src/engine/index.js';
import type { EstimateOptions, MemoryReport } from '../src/engine/types.js';

export async function metadataEstimate(path: string, options: EstimateOptions): Promise<MemoryReport> {
  const info = await inspect(path);
  const ctx = options.contextSize ?? Math.min(info.contextLength, 4096);
  const batch = Math.min(options.batchSize ?? 512, ctx);
  const weights = info.tensorBytes;
  const kvCache = 2 * ctx * (options.parallel ?? 1) * info.layers * info.kvHeads * info.keyLength * 2;
  const compute = 4 * batch * (info.vocabularySize + 4 * info.embeddingSize);
  const total = weights + kvCache + compute;
  return { devices: [{ device: 'CPU', weights, kvCache, compute, total, reclaimable: 0 }], total, weights, kvCache, compute, reclaimable: 0 };
}
