/**
 * Active health probes of the front door's models: a tiny real generation (one token; an embedding for a
 * model that only embeds) through the pool, on each watched model's interval. Results feed the same
 * breakers and health figures as real requests, so a probe's success can close a half-open breaker.
 */
import { ModelpoolError } from '../errors.js';
import { HealthMonitor, type Breakers, type HealthStatus, type HealthTracker, type ProbeOptions, type ProbeResult } from '../health/index.js';
import type { ModelPool } from '../pool/index.js';

export class Watcher {
  readonly #pool: ModelPool;
  readonly #breakers: Breakers;
  readonly #tracker: HealthTracker;
  #monitor: HealthMonitor | undefined;

  constructor(pool: ModelPool, breakers: Breakers, tracker: HealthTracker) {
    this.#pool = pool;
    this.#breakers = breakers;
    this.#tracker = tracker;
  }

  /** Watches pool models (ids as the pool knows them). */
  watch(keys: string[], options: ProbeOptions): void {
    const monitor = (this.#monitor ??= new HealthMonitor({ breakers: this.#breakers, tracker: this.#tracker }));
    for (const key of keys) {
      if (monitor.keys().includes(key)) continue;
      monitor.add(key, (signal) => this.#probe(key, signal), options);
    }
  }

  probe(key: string, name: string): Promise<ProbeResult> {
    const monitor = this.#monitor;
    if (monitor === undefined || !monitor.keys().includes(key)) return Promise.reject(new ModelpoolError('INVALID_ARGUMENT', `Model "${name}" is not watched: call watch() first`, { field: 'name', value: name }));
    return monitor.probeNow(key);
  }

  ready(key: string): boolean {
    return this.#monitor?.ready(key) ?? false;
  }

  status(): HealthStatus[] {
    return this.#monitor?.status() ?? [];
  }

  async close(): Promise<void> {
    await this.#monitor?.close();
  }

  async #probe(poolId: string, signal: AbortSignal): Promise<void> {
    await this.#pool.use(
      poolId,
      async (lease) => {
        const caps = lease.model.capabilities;
        if (!caps.generate && !caps.chat) {
          await lease.model.embed(['ping']);
          return;
        }
        const input = caps.generate ? { prompt: 'Hello' } : { messages: [{ role: 'user', content: 'Hello' }] };
        await lease.model.complete({ ...input, maxTokens: 1, temperature: 0, signal });
      },
      { signal },
    );
  }
}
