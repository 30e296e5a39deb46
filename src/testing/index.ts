/**
 * `modelpool/testing`: what you need to test code that uses modelpool without a real model — a fake
 * provider whose models honour the model contract (local ones, and ones without the local
 * extension, as a remote provider's would be) — and generators of GGUFs with random weights and real
 * vocabularies (llama models of any size, BERT embedding models, LoRA adapters and the merged models
 * they stand for), to test the real engine at any size.
 */
export {
  generateTestModel,
  cachedTestModel,
  TEST_MODEL_SHAPES,
  DEFAULT_VOCAB_PATH,
  DEFAULT_CACHE_DIR,
  type TestModelType,
  type TestModelShape,
  type TestModelOptions,
  type GenerateTestModelOptions,
  type CachedTestModelOptions,
  type TestModelInfo,
  type TestModelShapeDefaults,
} from './model-generator.js';
export { FakeProvider, FakeModel, FakeRemoteModel, MB, type FakeModelConfig, type FakeProviderOptions } from './fake-provider.js';
export * from './bert-generator.js';
export * from './lora-generator.js';
export * from './wire/index.js';
export * from './onnx-generator.js';
