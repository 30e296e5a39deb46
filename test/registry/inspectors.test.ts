import { describe, expect, it } from 'vitest';
import type { GgufInspection } from '../../src/engine/types.js';
import { fromGgufInspection, ggufInspector } from '../../src/registry/index.js';
import { STORIES } from './helpers.js';

const inspection: GgufInspection = {
  path: '/m.gguf',
  fileSize: 10,
  ggufVersion: 3,
  architecture: 'qwen3moe',
  name: 'Qwen3 MoE',
  parameterCount: 30e9,
  layers: 48,
  heads: 32,
  kvHeads: 4,
  embeddingSize: 2048,
  contextLength: 40960,
  vocabularySize: 151_936,
  fileType: 'Q4_K_M',
  quantization: 'Q4_K',
  keyLength: 128,
  valueLength: 128,
  expertCount: 128,
  chatTemplate: '{{ messages }}',
  tensorCount: 1,
  tensorBytes: 1,
  metadata: {},
};

describe('GGUF inspectors', () => {
  it('maps an inspection to registry metadata', () => {
    expect(fromGgufInspection(inspection)).toEqual({
      format: 'gguf',
      sizeBytes: 10,
      architecture: 'qwen3moe',
      name: 'Qwen3 MoE',
      parameterCount: 30e9,
      quantization: 'Q4_K',
      fileType: 'Q4_K_M',
      contextLength: 40960,
      layers: 48,
      heads: 32,
      kvHeads: 4,
      embeddingSize: 2048,
      keyLength: 128,
      valueLength: 128,
      expertCount: 128,
      hasChatTemplate: true,
    });
    const { name: _name, expertCount: _experts, chatTemplate: _template, ...plain } = inspection;
    const metadata = fromGgufInspection(plain);
    expect(metadata.name).toBeUndefined();
    expect(metadata.expertCount).toBeUndefined();
    expect(metadata.hasChatTemplate).toBe(false);
  });

  it('uses a given inspect function, or the engine one', async () => {
    expect((await ggufInspector(async () => inspection)('/m.gguf')).architecture).toBe('qwen3moe');
    expect((await ggufInspector()(STORIES)).layers).toBe(5);
  });
});
