/**
 * Providers beyond the in-process llama one (which the pool uses by default): ONNX embedding and
 * classification models in process (onnxruntime-node), and remote servers that speak OpenAI's API
 * (llama-server, vLLM, LM Studio, modelpool's own server, OpenAI), Anthropic's and Ollama's, through
 * each vendor's official SDK. Give them to a pool (`providers: [...]`) and name one in
 * a spec (`provider: 'openai-compatible'`), or register a model with a remote source and let the front
 * door's pool resolve it. Every remote model shares one behaviour: retries with backoff, jitter and
 * Retry-After before the first token, timeouts, cancellation, and typed errors that carry partial output.
 */
export { createOpenAICompatibleProvider, createOpenAIProvider, type OpenAIProviderOptions } from './openai/index.js';
export { createAnthropicProvider, type AnthropicProviderOptions } from './anthropic/index.js';
export { createOllamaProvider, type OllamaProviderOptions } from './ollama/index.js';
export * from './onnx/index.js';
export { RemoteModel, type RemoteBackend, type RemoteEvent, type RemoteModelOptions } from './remote/remote-model.js';
export { createRemoteProvider, type KeyMaterial, type RemoteConnector, type RemoteProviderOptions, type ResolvedRemoteOptions } from './remote/provider.js';
export { parseRetryAfter, remoteFailure, type RemoteFailure } from './remote/errors.js';
export { resolveRetry, retryDelay, type ResolvedRetry, type RetryOptions } from './remote/retry.js';
