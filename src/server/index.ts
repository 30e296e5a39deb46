/**
 * The server: OpenAI's and Ollama's APIs, health, readiness and Prometheus metrics over a front door.
 * `modelpool serve` runs it; `createServer` embeds it in your own process.
 */
export { createServer, type ModelpoolServer, type ServerOptions } from './app.js';
export { httpError, openAIErrorBody, type HttpError } from './errors.js';
export type { Metrics } from './metrics.js';
