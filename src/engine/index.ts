export { loadModel, estimateMemory, deviceInfo, setLogLevel, defaultThreads, Model, ModelSlot } from './engine.js';
export { inspect } from './inspect.js';
export { quantizeModel } from './quantize.js';
export type { QuantizeType } from './quantize.js';
export type * from './types.js';
