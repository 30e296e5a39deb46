/**
 * The ONNX provider: embedding and classification models exported to ONNX, run in this process by
 * ONNX Runtime (the optional package onnxruntime-node, imported on first use).
 */
export { createOnnxProvider, loadOnnxModel, estimateOnnxModel, onnxMemoryReport, ONNX_SESSION_OVERHEAD_BYTES } from './provider.js';
export type { OnnxModelOptions, OnnxLoadOptions, OnnxProviderOptions, OnnxEstimate } from './provider.js';
export { OnnxModel, isOnnxModel } from './model.js';
export type { OnnxModelInfo, OnnxClassification, OnnxSessionStatus } from './model.js';
export { inspectOnnxModel } from './inspect.js';
export type { OnnxInspection, OnnxValueInfo } from './inspect.js';
export { executionAttempts, loadOnnxRuntime } from './execution.js';
export type { OnnxExecutionProvider, OnnxRuntime } from './execution.js';
export type { OnnxPooling, OnnxTask, OnnxScoreFunction } from './pooling.js';
export type { OnnxTextInput } from './tokenize.js';
