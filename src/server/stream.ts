/**
 * Streams and disconnects: Server-Sent Events (OpenAI) and NDJSON (Ollama) written to the raw response,
 * and an AbortSignal per request that fires when the client goes away before its answer ends — so the
 * generation it asked for stops.
 */
import type { FastifyReply } from 'fastify';

const signals = new WeakMap<FastifyReply, AbortSignal>();

/** A signal that fires when the client disconnects before the response has ended. */
export function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  let signal = signals.get(reply);
  if (signal === undefined) {
    const controller = new AbortController();
    // 'close' comes when the connection closes; before the response ended it means the client left.
    reply.raw.once('close', () => {
      if (!reply.raw.writableEnded) controller.abort();
    });
    signal = controller.signal;
    signals.set(reply, signal);
  }
  return signal;
}

export type Send = (payload: unknown) => void;

/**
 * Writes a stream: `format` 'sse' (`data: <json>\n\n`, then `data: [DONE]`) or 'ndjson' (one JSON per
 * line). `write` produces the payloads; a failure while it runs is written as `errorBody(error)` and ends
 * the stream (the status line is already sent).
 */
export async function sendStream(reply: FastifyReply, format: 'sse' | 'ndjson', write: (send: Send) => Promise<void>, errorBody: (error: unknown) => unknown): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const line = (text: string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(text);
  };
  const send: Send = (payload) => line(format === 'sse' ? `data: ${JSON.stringify(payload)}\n\n` : `${JSON.stringify(payload)}\n`);
  try {
    await write(send);
    if (format === 'sse') line('data: [DONE]\n\n');
  } catch (error) {
    send(errorBody(error));
  } finally {
    if (!raw.writableEnded) raw.end();
  }
}
