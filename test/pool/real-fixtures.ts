/**
 * Real models for pool and swap tests: stories260K (trained) and generated llama models of
 * different sizes that share its 512-token vocabulary, so each loads in ~10-20 ms.
 */

import { cachedTestModel } from '../../src/testing/model-generator.js';
import { STORIES } from '../helpers/models.js';

export { STORIES };

export interface RealModels {
  stories: string;
  /** ~0.9 MB at context 256. */
  small: string;
  /** ~3.5 MB at context 256. */
  medium: string;
  /** ~22 MB at context 256. */
  large: string;
}

let cached: Promise<RealModels> | undefined;

export function realModels(): Promise<RealModels> {
  cached ??= (async () => {
    const common = { heads: 4, kvHeads: 2, contextLength: 1024, type: 'F32' as const, vocabPath: STORIES };
    const [small, medium, large] = await Promise.all([
      cachedTestModel({ ...common, layers: 2, embeddingSize: 64, feedForwardSize: 128 }),
      cachedTestModel({ ...common, layers: 4, embeddingSize: 128, feedForwardSize: 256 }),
      cachedTestModel({ ...common, layers: 8, embeddingSize: 256, feedForwardSize: 512 }),
    ]);
    return { stories: STORIES, small, medium, large };
  })();
  return cached;
}

/** Load options shared by the real tests: a small context and batch keep every model to a few MB. */
export const SMALL_LOAD = { contextSize: 256, batchSize: 64 } as const;
