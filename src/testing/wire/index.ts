/**
 * Loopback HTTP servers that speak the exact wire protocols of OpenAI, Anthropic and Ollama (JSON,
 * streams, errors, headers), answering with a real model's generations, with faults to inject: for
 * testing clients of those APIs offline.
 */
export { startWireServer, type WireServer, type WireServerOptions, type WireProtocol, type WireModelSource, type RecordedRequest } from './server.js';
export type { WireFault } from './faults.js';
