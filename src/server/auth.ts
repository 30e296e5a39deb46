/**
 * Caller keys on the server: when the server has a `CallerKeys` store, every request but the health
 * checks carries a key (`Authorization: Bearer mp_...`, or `x-api-key`), verified for the route's scope —
 * 'inference' for the OpenAI and Ollama APIs, 'admin' for the admin API. Without a store the server is
 * open (bind it to loopback).
 */
import type { FastifyRequest } from 'fastify';
import type { Caller, CallerKeys, CallerScope } from '../security/index.js';

export type { Caller } from '../security/index.js';

/** The key a request carries, if any. */
export function keyOf(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match !== null) return match[1];
  }
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  // A browser's EventSource cannot set headers: the dashboard passes its key in the query.
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.key === 'string' ? query.key : undefined;
}

/** The verified caller (UNAUTHORIZED / FORBIDDEN otherwise), or undefined when the server has no keys. */
export function authenticate(request: FastifyRequest, keys: CallerKeys | undefined, scope: CallerScope): Caller | undefined {
  if (keys === undefined) return undefined;
  return keys.verify(keyOf(request), scope);
}
