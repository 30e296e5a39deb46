/**
 * /metrics in Prometheus's text format (prom-client): requests, latency, time to first token and decode
 * speed per model, queue depths, memory per device, loads, evictions, swaps and unloads, breaker states
 * and cost. Request figures come from the front door's 'request' events, pool figures from its events
 * and its status (read when scraped).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolEvent } from '../pool/index.js';
import type { FrontDoor, RequestEvent } from '../runtime/index.js';

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface Metrics {
  registry: Registry;
  /** Counts a request that ended before the front door (bad input, auth): by route and status. */
  http(route: string, status: number): void;
  stop(): void;
}

export function createMetrics(door: FrontDoor): Metrics {
  const registry = new Registry();
  const labels = ['model', 'task', 'outcome'] as const;
  const requests = new Counter({ name: 'modelpool_requests_total', help: 'Requests the front door finished, by model, task and outcome (ok or the error code)', labelNames: labels, registers: [registry] });
  const http = new Counter({ name: 'modelpool_http_responses_total', help: 'HTTP responses by route and status', labelNames: ['route', 'status'] as const, registers: [registry] });
  const latency = new Histogram({ name: 'modelpool_request_duration_seconds', help: 'Wall time of a request, admission to answer', labelNames: ['model', 'task'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
  const ttft = new Histogram({ name: 'modelpool_time_to_first_token_seconds', help: 'Time to the first generated token', labelNames: ['model'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] });
  const tokensPerSecond = new Histogram({ name: 'modelpool_decode_tokens_per_second', help: 'Decode speed of a request', labelNames: ['model'] as const, buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers: [registry] });
  const tokens = new Counter({ name: 'modelpool_tokens_total', help: 'Tokens by model and kind (prompt, generated)', labelNames: ['model', 'kind'] as const, registers: [registry] });
  const cost = new Counter({ name: 'modelpool_cost_usd_total', help: 'Dollar cost of requests (local rates or remote prices)', labelNames: ['model', 'provider'] as const, registers: [registry] });
  const cpu = new Counter({ name: 'modelpool_cpu_core_seconds_total', help: 'CPU core-seconds of requests', labelNames: ['model'] as const, registers: [registry] });
  const poolEvents = new Counter({ name: 'modelpool_pool_events_total', help: 'Loads, load failures, evictions, unloads, swaps and rollbacks', labelNames: ['event', 'model'] as const, registers: [registry] });
  new Gauge({
    name: 'modelpool_queue_depth',
    help: 'Requests waiting: in admission, and for each model in the pool',
    labelNames: ['queue'] as const,
    registers: [registry],
    collect() {
      this.set({ queue: 'admission' }, door.admission.queued);
      this.set({ queue: 'pool' }, door.pool.status().queued);
    },
  });
  new Gauge({
    name: 'modelpool_in_flight_requests',
    help: 'Requests admitted and running',
    registers: [registry],
    collect() {
      this.set(door.admission.inFlight);
    },
  });
  new Gauge({
    name: 'modelpool_memory_bytes',
    help: 'Memory per device: used by models, and the budget',
    labelNames: ['device', 'kind'] as const,
    registers: [registry],
    collect() {
      for (const device of door.pool.status().devices) {
        this.set({ device: device.device, kind: 'used' }, device.used);
        if (device.budget !== undefined) this.set({ device: device.device, kind: 'budget' }, device.budget);
      }
    },
  });
  new Gauge({
    name: 'modelpool_model_loaded',
    help: 'Models in the pool: 1 when ready, with their measured size',
    labelNames: ['model', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const m of door.pool.status().models) this.set({ model: m.id, state: m.state }, 1);
    },
  });
  new Gauge({
    name: 'modelpool_breaker_state',
    help: 'Circuit breaker per model: 0 closed, 1 half-open, 2 open',
    labelNames: ['model'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of door.breakers.snapshot()) this.set({ model: b.key }, BREAKER_STATE[b.state]);
    },
  });

  const stopRequests = door.on('request', (event: RequestEvent) => {
    const model = event.model;
    requests.inc({ model, task: event.task, outcome: event.success ? 'ok' : (event.error?.code ?? 'error') });
    const c = event.cost;
    if (c === undefined) return;
    latency.observe({ model, task: event.task }, c.wallMs / 1000);
    if (c.ttftMs !== undefined) ttft.observe({ model }, c.ttftMs / 1000);
    if (c.decodeTokensPerSecond !== undefined) tokensPerSecond.observe({ model }, c.decodeTokensPerSecond);
    tokens.inc({ model, kind: 'prompt' }, c.promptTokens);
    tokens.inc({ model, kind: 'generated' }, c.generatedTokens);
    cost.inc({ model, provider: c.provider }, c.usd);
    cpu.inc({ model }, c.cpuCoreSeconds);
  });
  const counted = ['ready', 'load-failed', 'evict', 'unload', 'swap', 'rollback'] as const;
  const stops = counted.map((type) => door.pool.on(type, (event: PoolEvent) => poolEvents.inc({ event: type === 'ready' ? 'load' : type, model: 'modelId' in event ? event.modelId : '' })));
  return {
    registry,
    http: (route, status) => http.inc({ route, status: String(status) }),
    stop() {
      stopRequests();
      for (const stop of stops) stop();
    },
  };
}
