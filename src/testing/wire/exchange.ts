/**
 * One request and its response: what a dialect reads (method, path, headers, parsed body) and the
 * only way it writes (a JSON answer, plain text, or a stream of SSE events or NDJSON lines). Writing
 * goes through here so that the chunk faults (a garbled line, a cut socket) apply the same way to
 * every protocol, and so that the generation stops (`signal`) as soon as nobody can read the answer:
 * the client went away, a fault ended the response, or the server is closing.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

import type { GenerateRequest } from '../../model/types.js';
import type { WireFault } from './faults.js';

/** How a stream is framed: Server-Sent Events (OpenAI, Anthropic) or one JSON object a line (Ollama). */
export type StreamFormat = 'sse' | 'ndjson';

export class WireExchange {
  readonly method: string;
  /** The path without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when empty). */
  readonly body: unknown;
  /** Aborted when nobody can read the answer any more: generations take it as their signal. */
  readonly signal: AbortSignal;
  /** Headers every response carries (a request id). */
  readonly baseHeaders: Record<string, string>;
  /** What the model request starts from (the server's `requestDefaults`); the vendor request's fields override it. */
  readonly requestDefaults: Partial<GenerateRequest>;

  readonly #res: ServerResponse;
  readonly #controller: AbortController;
  readonly #fault: WireFault | undefined;
  #format: StreamFormat | undefined;
  #chunks = 0;
  #cut = false;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    fault: WireFault | undefined,
    controller: AbortController,
    baseHeaders: Record<string, string>,
    requestDefaults: Partial<GenerateRequest> = {},
  ) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.method = req.method ?? 'GET';
    this.path = url.pathname;
    this.query = url.searchParams;
    this.headers = req.headers;
    this.body = body;
    this.#res = res;
    this.#controller = controller;
    this.signal = controller.signal;
    this.#fault = fault;
    this.baseHeaders = baseHeaders;
    this.requestDefaults = requestDefaults;
  }

  /** Whether the response can no longer be written: finished, cut by a fault, or its socket gone. */
  get ended(): boolean {
    return this.#cut || this.#res.writableEnded || this.#res.destroyed || this.signal.aborted;
  }

  get headersSent(): boolean {
    return this.#res.headersSent;
  }

  /** Whether a stream was opened (errors after this point are written into the stream). */
  get streaming(): StreamFormat | undefined {
    return this.#format;
  }

  /** A whole JSON answer (one chunk for the chunk faults). */
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.ended) return;
    const fault = this.#fault;
    const malformed = fault?.malformedAfterChunks === 0;
    const text = malformed ? '{"malformed": ' : JSON.stringify(body);
    this.#res.writeHead(status, { ...this.baseHeaders, ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    if (fault?.disconnectAfterChunks === 0) {
      this.#res.flushHeaders();
      return this.#disconnect();
    }
    this.#res.end(text);
    if (malformed) this.#stop();
  }

  /** A plain text answer. */
  text(status: number, text: string, headers: Record<string, string> = {}): void {
    if (this.ended) return;
    this.#res.writeHead(status, { ...this.baseHeaders, 'content-type': 'text/plain; charset=utf-8', ...headers, 'content-length': String(Buffer.byteLength(text)) });
    this.#res.end(this.method === 'HEAD' ? undefined : text);
  }

  /** Sends the headers of a 200 stream. */
  openStream(format: StreamFormat, headers: Record<string, string> = {}): void {
    if (this.ended) return;
    this.#format = format;
    const contentType = format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson';
    this.#res.writeHead(200, { ...this.baseHeaders, 'content-type': contentType, 'cache-control': 'no-cache', ...headers });
    this.#res.flushHeaders();
  }

  /**
   * Writes one chunk: an SSE event (`event:` line when `event` is given, then `data: <json>`) or an
   * NDJSON line. Returns false when the response can no longer be written (the caller stops).
   */
  send(data: unknown, event?: string): boolean {
    return this.#write(JSON.stringify(data), event);
  }

  /** Ends the stream, after a last raw SSE data line (`[DONE]`) when given. */
  endStream(lastData?: string): void {
    if (lastData !== undefined && !this.#write(lastData, undefined)) return;
    if (!this.ended) this.#res.end();
  }

  #write(data: string, event: string | undefined): boolean {
    if (this.ended || this.#format === undefined) return false;
    const fault = this.#fault;
    if (fault?.disconnectAfterChunks === this.#chunks) {
      this.#disconnect();
      return false;
    }
    const malformed = fault?.malformedAfterChunks === this.#chunks;
    const payload = malformed ? '{"malformed": ' : data;
    if (this.#format === 'ndjson') this.#res.write(`${payload}\n`);
    else this.#res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`);
    if (malformed) {
      this.#res.end();
      this.#stop();
      return false;
    }
    this.#chunks++;
    return true;
  }

  /** Destroys the socket once what was written has left it (the good chunks reach the client, then nothing). */
  #disconnect(): void {
    this.#stop();
    const socket = this.#res.socket;
    if (socket === null || socket.writableLength === 0) {
      this.#res.destroy();
      return;
    }
    socket.once('drain', () => socket.destroy());
    socket.once('close', () => this.#res.destroy());
  }

  #stop(): void {
    this.#cut = true;
    this.#controller.abort();
  }
}
