/**
 * Faults a wire server plays instead of (or in the middle of) a normal answer, so that tests of a
 * client can cover rate limits, server errors, timeouts, cut and garbled streams and dropped
 * connections. Faults wait in a queue; each is used by the next request whose path it matches.
 */
import { invalidArgument } from '../../errors.js';
import { plainObject } from '../../validate.js';

/**
 * One fault for the next matching request. Fields combine: `delayMs` first, then a `status` error,
 * or else the normal answer cut by `malformedAfterChunks` / `disconnectAfterChunks`.
 */
export interface WireFault {
  /** Only a request to this path (`'/v1/chat/completions'`, `'/api/chat'`); default: the next request. */
  path?: string;
  /** Answer with the vendor's error body for this status (429, 500, 503, 529, ...) instead. */
  status?: number;
  /** With `status`: the Retry-After header, in seconds (fractions allowed) or an HTTP-date. */
  retryAfter?: number | string;
  /** With `status`: the error message (default: the vendor's usual one for the status). */
  message?: string;
  /** Wait this long before sending anything (the headers included): a slow server, for timeouts. */
  delayMs?: number;
  /**
   * After this many good chunks of a stream (SSE events, NDJSON lines; the closing `[DONE]` counts),
   * send a line that is not JSON, then end the response. A JSON (non-streaming) answer is one chunk:
   * 0 sends a body that is not JSON.
   */
  malformedAfterChunks?: number;
  /** After this many good chunks (as above), destroy the socket (0 on a JSON answer: after the headers). */
  disconnectAfterChunks?: number;
  /** Destroy the socket before any response. */
  dropConnection?: boolean;
}

const FAULT_KEYS = ['path', 'status', 'retryAfter', 'message', 'delayMs', 'malformedAfterChunks', 'disconnectAfterChunks', 'dropConnection'];

function count(field: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
    throw invalidArgument(field, 'an integer of at least 0', value);
  }
}

/** Checks a fault, naming the field that is wrong (INVALID_ARGUMENT). */
export function checkFault(value: unknown): WireFault {
  const fault = plainObject('fault', value) as WireFault & Record<string, unknown>;
  for (const key of Object.keys(fault)) {
    if (!FAULT_KEYS.includes(key)) throw invalidArgument(`fault.${key}`, `no such field (known: ${FAULT_KEYS.join(', ')})`, fault[key]);
  }
  if (fault.path !== undefined && (typeof fault.path !== 'string' || !fault.path.startsWith('/'))) {
    throw invalidArgument('fault.path', 'a path starting with "/"', fault.path);
  }
  if (fault.status !== undefined && (typeof fault.status !== 'number' || !Number.isInteger(fault.status) || fault.status < 400 || fault.status > 599)) {
    throw invalidArgument('fault.status', 'an integer between 400 and 599', fault.status);
  }
  const retryAfter = fault.retryAfter;
  if (retryAfter !== undefined && !(typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) && !(typeof retryAfter === 'string' && retryAfter.length > 0)) {
    throw invalidArgument('fault.retryAfter', 'a number of seconds of at least 0 or an HTTP-date string', retryAfter);
  }
  if (retryAfter !== undefined && fault.status === undefined) throw invalidArgument('fault.retryAfter', 'no retryAfter without a status', retryAfter);
  if (fault.message !== undefined && typeof fault.message !== 'string') throw invalidArgument('fault.message', 'a string', fault.message);
  if (fault.delayMs !== undefined && (typeof fault.delayMs !== 'number' || !Number.isFinite(fault.delayMs) || fault.delayMs < 0)) {
    throw invalidArgument('fault.delayMs', 'a number of at least 0', fault.delayMs);
  }
  count('fault.malformedAfterChunks', fault.malformedAfterChunks);
  count('fault.disconnectAfterChunks', fault.disconnectAfterChunks);
  if (fault.dropConnection !== undefined && typeof fault.dropConnection !== 'boolean') {
    throw invalidArgument('fault.dropConnection', 'a boolean', fault.dropConnection);
  }
  return { ...fault };
}

/** Faults waiting for requests, first in first out. */
export class FaultQueue {
  readonly #faults: WireFault[] = [];

  push(fault: WireFault): void {
    this.#faults.push(checkFault(fault));
  }

  /** Takes the first fault for `path` (or for any path), if one is waiting. */
  take(path: string): WireFault | undefined {
    const index = this.#faults.findIndex((fault) => fault.path === undefined || fault.path === path);
    return index < 0 ? undefined : this.#faults.splice(index, 1)[0];
  }

  get size(): number {
    return this.#faults.length;
  }

  clear(): void {
    this.#faults.length = 0;
  }
}
