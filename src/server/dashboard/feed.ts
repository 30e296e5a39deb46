/**
 * The dashboard's live feed: one Server-Sent Events stream per open page. Every `intervalMs` a snapshot
 * (memory per device, loaded models with state, load progress and time to expiry, queue depths, breakers,
 * and per model the requests, latency, throughput and cost since the last tick); between ticks, events as
 * they happen (a load's progress, loads, evictions, unloads, swaps, rollbacks, breaker trips, and each
 * request's selection decision).
 */
import type { FastifyReply } from 'fastify';
import type { PoolEvent } from '../../pool/index.js';
import type { FrontDoor, RequestEvent } from '../../runtime/index.js';

interface Window {
  requests: number;
  errors: number;
  latencyMs: number[];
  generated: number;
  decodeSeconds: number;
  usd: number;
}

const empty = (): Window => ({ requests: 0, errors: 0, latencyMs: [], generated: 0, decodeSeconds: 0, usd: 0 });

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export class DashboardFeed {
  readonly #door: FrontDoor;
  readonly #clients = new Set<(event: string, data: unknown) => void>();
  #window = new Map<string, Window>();
  readonly #totals = new Map<string, { requests: number; usd: number }>();
  readonly #timer: NodeJS.Timeout;
  readonly #stops: Array<() => void> = [];
  /** Progress (0..1) of the loads under way, by pool model id. */
  readonly #loading = new Map<string, number>();

  constructor(door: FrontDoor, intervalMs = 1000) {
    this.#door = door;
    this.#stops.push(door.on('request', (event: RequestEvent) => this.#onRequest(event)));
    for (const type of ['load', 'ready', 'load-failed', 'evict', 'unload', 'swap', 'rollback'] as const) {
      this.#stops.push(door.pool.on(type, (event: PoolEvent) => this.#broadcast('log', { at: Date.now(), kind: type, ...describe(event) })));
    }
    // A load's progress, sent in whole percent steps (llama.cpp reports it many times a second).
    this.#stops.push(
      door.pool.on('load-progress', (event: PoolEvent) => {
        if (event.type !== 'load-progress') return;
        const percent = Math.floor(event.progress * 100);
        const last = this.#loading.get(event.modelId);
        if (last !== undefined && Math.floor(last * 100) === percent) return;
        this.#loading.set(event.modelId, event.progress);
        this.#broadcast('progress', { at: Date.now(), model: event.modelId, version: event.version ?? null, progress: event.progress });
      }),
    );
    for (const type of ['ready', 'load-failed'] as const) this.#stops.push(door.pool.on(type, (event: PoolEvent) => void this.#loading.delete('modelId' in event ? event.modelId : '')));
    this.#stops.push(door.breakers.on('transition', (t) => this.#broadcast('log', { at: Date.now(), kind: 'breaker', model: t.key, text: `${t.from} → ${t.to} (${t.reason})` })));
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
  }

  /** Streams to one page until it goes away. */
  attach(reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => {
      if (!raw.writableEnded && !raw.destroyed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    this.#clients.add(send);
    send('snapshot', this.#snapshot(new Map()));
    raw.once('close', () => this.#clients.delete(send));
  }

  close(): void {
    clearInterval(this.#timer);
    for (const stop of this.#stops.splice(0)) stop();
    this.#clients.clear();
  }

  #onRequest(event: RequestEvent): void {
    const w = this.#window.get(event.model) ?? empty();
    this.#window.set(event.model, w);
    w.requests++;
    if (!event.success) w.errors++;
    const c = event.cost;
    if (c !== undefined) {
      w.latencyMs.push(c.wallMs);
      w.generated += c.generatedTokens;
      if (c.decodeTokensPerSecond !== undefined && c.decodeTokensPerSecond > 0) w.decodeSeconds += c.generatedTokens / c.decodeTokensPerSecond;
      w.usd += c.usd;
      const total = this.#totals.get(event.model) ?? { requests: 0, usd: 0 };
      total.requests++;
      total.usd += c.usd;
      this.#totals.set(event.model, total);
    }
    this.#broadcast('decision', { at: Date.now(), model: event.model, version: event.version ?? null, task: event.task, success: event.success, error: event.error?.code ?? null, ms: c?.wallMs ?? null });
  }

  #tick(): void {
    if (this.#clients.size === 0) {
      this.#window = new Map();
      return;
    }
    const window = this.#window;
    this.#window = new Map();
    this.#broadcast('snapshot', this.#snapshot(window));
  }

  #snapshot(window: Map<string, Window>): unknown {
    const status = this.#door.pool.status();
    const now = Date.now();
    const perModel = [...window].map(([model, w]) => {
      const sorted = w.latencyMs.sort((a, b) => a - b);
      return { model, requests: w.requests, errors: w.errors, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), tokensPerSecond: w.decodeSeconds > 0 ? w.generated / w.decodeSeconds : null, usd: w.usd };
    });
    return {
      at: now,
      devices: status.devices.map((d) => ({ device: d.device, used: d.used, budget: d.budget ?? null })),
      models: status.models.map((m) => ({
        id: m.id,
        version: m.version ?? null,
        state: m.state,
        loadProgress: m.state === 'loading' ? (this.#loading.get(m.id) ?? 0) : null,
        leases: m.leases,
        queued: m.queued,
        sizeBytes: m.sizeBytes,
        pinned: m.pinned,
        expiresInMs: m.expiresAt === null ? null : Math.max(0, m.expiresAt - now),
      })),
      queues: { admission: this.#door.admission.queued, inFlight: this.#door.admission.inFlight, pool: status.queued },
      breakers: this.#door.breakers.snapshot().map((b) => ({ model: b.key, state: b.state })),
      window: perModel,
      totals: [...this.#totals].map(([model, t]) => ({ model, requests: t.requests, usd: t.usd })),
    };
  }

  #broadcast(event: string, data: unknown): void {
    for (const send of this.#clients) send(event, data);
  }
}

function describe(event: PoolEvent): { model: string; text: string } {
  const model = 'modelId' in event ? event.modelId : '';
  switch (event.type) {
    case 'ready':
      return { model, text: `loaded v${event.version ?? '-'} in ${event.loadMs.toFixed(0)} ms, ${(event.measuredBytes / 1048576).toFixed(1)} MiB` };
    case 'evict':
      return { model, text: `evicted for ${event.forModel} (${event.reason})` };
    case 'unload':
      return { model, text: `unloaded (${event.reason})` };
    case 'swap':
      return { model, text: `swapped ${event.from ?? '-'} → ${event.to ?? '-'} (${event.strategy})` };
    case 'rollback':
      return { model, text: `rolled back ${event.from ?? '-'} → ${event.to ?? '-'} (${event.reason})` };
    case 'load-failed':
      return { model, text: `load failed: ${event.error.code}` };
    default:
      return { model, text: event.type };
  }
}
