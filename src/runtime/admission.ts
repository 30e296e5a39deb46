/**
 * Admission of the front door: a bound on requests running at once and on requests waiting for a
 * place, in arrival order. The pool has its own per-model queues; this bound is the whole front
 * door's, so a burst of requests for many models cannot pile up unbounded work in the process.
 */
import { ModelpoolError } from '../errors.js';
import { optionalInteger, plainObject } from '../validate.js';

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface AdmissionOptions {
  /** Requests running at once (selection, pool lease, generation). Default 256. */
  maxInFlight?: number;
  /** Requests waiting for a place; QUEUE_FULL beyond it. Default 4096. */
  maxQueued?: number;
}

export class Admission {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  #inFlight = 0;
  readonly #waiting: Waiter[] = [];

  /** Throws INVALID_ARGUMENT naming `options.admission.maxInFlight` (an integer ≥ 1) or `.maxQueued` (≥ 0). */
  constructor(options: AdmissionOptions = {}) {
    plainObject('options.admission', options);
    this.maxInFlight = optionalInteger('options.admission.maxInFlight', options.maxInFlight, 1) ?? 256;
    this.maxQueued = optionalInteger('options.admission.maxQueued', options.maxQueued, 0) ?? 4096;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Resolves when the request may run; `release()` must follow exactly once. */
  enter(signal?: AbortSignal): Promise<void> | undefined {
    if (this.#inFlight < this.maxInFlight && this.#waiting.length === 0) {
      this.#inFlight++;
      return undefined;
    }
    if (this.#waiting.length >= this.maxQueued) {
      return Promise.reject(
        new ModelpoolError('QUEUE_FULL', `The front door has ${this.#inFlight} requests running and ${this.#waiting.length} waiting (maxQueued ${this.maxQueued})`, {
          details: { inFlight: this.#inFlight, queued: this.#waiting.length, maxQueued: this.maxQueued },
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(new ModelpoolError('ABORTED', 'The request was aborted while waiting for admission'));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) {
      this.#inFlight--;
      return;
    }
    if (next.onAbort) next.signal!.removeEventListener('abort', next.onAbort);
    next.resolve();
  }
}
