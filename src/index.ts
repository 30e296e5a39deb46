/** modelpool: in-process model registry and pool manager for Node.js over llama.cpp. */
export * from './errors.js';
export * from './engine/index.js';
