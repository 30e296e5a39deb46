/**
 * modelpool: in-process model registry and pool manager for Node.js over llama.cpp.
 * Subpaths give each room whole: `modelpool/engine`, `modelpool/registry`, `modelpool/pool`, `modelpool/swap`.
 */
export * from './errors.js';
export * from './engine/index.js';
export { isLocalModel } from './model/index.js';
export type { ModelHandle, LocalModelHandle, ModelCapabilities, ModelInfo, Provider, ModelRef, ModelEstimate, ProviderLoadOptions, DeviceMemoryInfo } from './model/index.js';
export { ModelRegistry, SqliteRegistryStore, MemoryRegistryStore } from './registry/index.js';
export type { RegistryOptions } from './registry/index.js';
export { ModelPool, createLlamaProvider, createEngineLoader } from './pool/index.js';
export { registryResolver, mirrorLifecycle, swapToVersion, FrontDoor } from './runtime/index.js';
export type { FrontDoorOptions, FrontDoorRequest, FrontDoorResult, FrontDoorStream, EmbedRequest, EmbedResult } from './runtime/index.js';
export type { PoolOptions, ModelSpec, Lease, PoolStatus, ModelLoader } from './pool/index.js';
