/**
 * `modelpool/testing`: what you need to test code that uses modelpool without a real model — a fake
 * provider whose models honour the model contract (local ones, and ones without the local
 * extension, as a remote provider's would be) — and a generator of small llama GGUFs with random
 * weights and a real vocabulary, to test the real engine at any size.
 */
export * from './model-generator.js';
export { FakeProvider, FakeModel, FakeRemoteModel, MB, type FakeModelConfig, type FakeProviderOptions } from './fake-provider.js';
export * from './bert-generator.js';
export * from './lora-generator.js';
