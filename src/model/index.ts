/**
 * The model contract: the interface every provider's models implement ({@link ModelHandle}), the
 * local extension the pool checks for ({@link LocalModelHandle}, {@link isLocalModel}), where models
 * come from ({@link Provider}), and the request, result and load types they share.
 */
export { isLocalModel } from './handle.js';
export type { LocalModelHandle, ModelCapabilities, ModelHandle, ModelInfo } from './handle.js';
export type { DeviceMemoryInfo, ModelEstimate, ModelRef, Provider, ProviderLoadOptions } from './provider.js';
export type * from './types.js';
