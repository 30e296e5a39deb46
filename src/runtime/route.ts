/**
 * A front-door request taken apart: how it is routed (model or task with constraints, tenant, tags,
 * priority) and the model's own request, each field checked with a typed error naming it.
 */
import { invalidArgument } from '../errors.js';
import type { GenerateRequest } from '../model/types.js';
import type { Priority } from '../pool/index.js';
import type { Constraints, Objective } from '../select/index.js';
import type { Task } from '../telemetry/types.js';
import { nonEmptyString, optionalInteger, optionalSignal, optionalStringArray, plainObject } from '../validate.js';

/** How a request is routed; the rest of a request is the model's ({@link GenerateRequest}). */
export interface RouteOptions {
  /** A model id or alias (registry or pool). Without it the front door selects one for `task`. */
  model?: string;
  /** With `model`: a version other than the default. */
  version?: string;
  /** What the request is for. Default 'chat' with messages, 'completion' with a prompt, 'embedding' for embed(). */
  task?: Task;
  /** Hard limits a selected model must meet (not with `model`). */
  constraints?: Constraints;
  /** Weights of the selection's objective (not with `model`). Default: the selector's. */
  objective?: Objective;
  /** The caller, for cost aggregation and budgets. */
  tenant?: string;
  /** The caller key's name (never the key): its rate limits. The server sets it from the key a request carries. */
  caller?: string;
  /** Labels of the request (selection context). */
  tags?: string[];
  priority?: Priority;
  /** Bound on the wait for the model (pool queue and load), ms. */
  timeoutMs?: number;
  /**
   * How long the model that serves the request stays loaded once idle, from now on (ms; `0` unloads it
   * after the request, negative keeps it; `'default'` goes back to its configured keep-alive). Ollama's
   * `keep_alive`. Applied to a local model of the pool (remote ones hold nothing).
   */
  keepAliveMs?: number | 'default';
}

/** A checked request: its routing, a task always, and what the model gets. */
export interface Route extends RouteOptions {
  task: Task;
  signal?: AbortSignal;
  /** The selection context: the prompt's approximate length in tokens and the request's tags. */
  context: { promptTokens: number; tags?: string[] };
  /** Prompt (approximate) plus the most tokens the request may generate, for budget checks. */
  estimatedTokens: number;
  /** What the model gets: the request without the routing fields. */
  request: GenerateRequest;
}

const ROUTE_KEYS = new Set(['model', 'version', 'task', 'constraints', 'objective', 'tenant', 'caller', 'tags', 'priority', 'timeoutMs', 'keepAliveMs']);

/** The prompt's length in tokens, roughly (4 characters a token), without tokenizing: it picks a selection bucket. */
export function promptLength(request: { prompt?: unknown; messages?: unknown; input?: unknown }): number {
  let chars = 0;
  if (typeof request.prompt === 'string') chars = request.prompt.length;
  else if (typeof request.input === 'string') chars = request.input.length;
  else if (Array.isArray(request.input)) for (const text of request.input) chars += typeof text === 'string' ? text.length : 0;
  else if (Array.isArray(request.messages)) {
    for (const message of request.messages as Array<{ content?: unknown }>) {
      const content = message?.content;
      if (typeof content === 'string') chars += content.length;
      else if (Array.isArray(content)) for (const part of content as Array<{ text?: unknown }>) chars += typeof part?.text === 'string' ? part.text.length : 0;
    }
  }
  return Math.ceil(chars / 4);
}


export function routeOf(input: object, defaultTask: Task): Route {
  const raw = plainObject('request', input);
  const request: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) if (!ROUTE_KEYS.has(key)) request[key] = raw[key];
  const model = raw.model === undefined ? undefined : nonEmptyString('request.model', raw.model, 256);
  const version = raw.version === undefined ? undefined : nonEmptyString('request.version', raw.version, 64);
  if (version !== undefined && model === undefined) throw invalidArgument('request.version', 'no version without request.model', version);
  const task = raw.task === undefined ? defaultTask : nonEmptyString('request.task', raw.task, 64);
  if (model !== undefined && raw.constraints !== undefined) throw invalidArgument('request.constraints', 'no constraints with request.model (constraints guide a selection)', raw.constraints);
  if (model !== undefined && raw.objective !== undefined) throw invalidArgument('request.objective', 'no objective with request.model (an objective guides a selection)', raw.objective);
  if (raw.constraints !== undefined) plainObject('request.constraints', raw.constraints);
  if (raw.objective !== undefined) plainObject('request.objective', raw.objective);
  const tenant = raw.tenant === undefined ? undefined : nonEmptyString('request.tenant', raw.tenant, 200);
  const caller = raw.caller === undefined ? undefined : nonEmptyString('request.caller', raw.caller, 200);
  const tags = optionalStringArray('request.tags', raw.tags);
  const timeoutMs = optionalInteger('request.timeoutMs', raw.timeoutMs, 0);
  const signal = optionalSignal('request.signal', raw.signal);
  const keepAliveMs = raw.keepAliveMs === 'default' ? 'default' : optionalInteger('request.keepAliveMs', raw.keepAliveMs, Number.MIN_SAFE_INTEGER);
  const maxTokens = typeof raw.maxTokens === 'number' ? raw.maxTokens : 256;
  const promptTokens = promptLength(raw);
  const route: Route = {
    task,
    context: tags === undefined ? { promptTokens } : { promptTokens, tags },
    estimatedTokens: promptTokens + maxTokens,
    request: request as GenerateRequest,
  };
  if (model !== undefined) route.model = model;
  if (version !== undefined) route.version = version;
  if (raw.constraints !== undefined) route.constraints = raw.constraints as Constraints;
  if (raw.objective !== undefined) route.objective = raw.objective as Objective;
  if (tenant !== undefined) route.tenant = tenant;
  if (caller !== undefined) route.caller = caller;
  if (tags !== undefined) route.tags = tags;
  if (raw.priority !== undefined) route.priority = raw.priority as Priority;
  if (timeoutMs !== undefined) route.timeoutMs = timeoutMs;
  if (signal !== undefined) route.signal = signal;
  if (keepAliveMs !== undefined) route.keepAliveMs = keepAliveMs;
  return route;
}
