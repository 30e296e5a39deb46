/**
 * What a vendor protocol supplies to the shared server core: its credential check, its error
 * shapes (as a whole response and inside a stream), and its routes. The core owns everything else
 * (sockets, recording, faults, closing).
 */
import type { ModelHandle } from '../../model/handle.js';
import type { WireExchange } from './exchange.js';
import type { WireHttpError, WireInputError } from './fields.js';

/** A vendor's error response: status, JSON body (or text) and extra headers. */
export interface ErrorResponse {
  status: number;
  body: unknown;
  /** Sent as text/plain instead of JSON (Ollama's "404 page not found"). */
  text?: boolean;
  headers?: Record<string, string>;
}

/** What a dialect's routes can ask the server. */
export interface WireContext {
  /** The model names the server lists. */
  readonly models: readonly string[];
  /** The model serving `name`, or undefined (the vendor's 404). */
  resolve(name: string): ModelHandle | undefined;
  /** When the server started (list entries' creation and modification times). */
  readonly started: Date;
}

export interface Dialect {
  /** The header that carries a request id on every response. */
  readonly requestIdHeader: string;
  requestId(): string;
  /** A response to send instead when credentials or required headers are missing or wrong. */
  authenticate(exchange: WireExchange, apiKey: string | undefined): ErrorResponse | undefined;
  /** The vendor's error for `status` (the message defaults to the vendor's usual one). */
  error(status: number, message?: string, details?: WireHttpError['details']): ErrorResponse;
  /** The vendor's words for a bad request parameter. */
  inputError(error: WireInputError): ErrorResponse;
  /** Writes an error into a stream already open (the stream is ended after it). */
  streamError(exchange: WireExchange, error: WireHttpError): void;
  /** Answers a request (throws WireHttpError / WireInputError for the vendor's error responses). */
  handle(exchange: WireExchange, context: WireContext): Promise<void>;
}

/** Sends an error response through the exchange (a no-op once the response can no longer be written). */
export function sendError(exchange: WireExchange, response: ErrorResponse): void {
  if (response.text === true) exchange.text(response.status, String(response.body), response.headers);
  else exchange.json(response.status, response.body, response.headers);
}
