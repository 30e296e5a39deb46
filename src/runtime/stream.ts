/**
 * The front door's stream: chunks pushed by the request's pipeline (admission, selection, lease,
 * generation) as they come, read by the caller at its own pace. The pipeline starts at once, as a
 * model's generate() does, so `result` settles whether or not anyone iterates.
 */
import type { GenerationChunk } from '../model/types.js';

type Pending = { resolve: (value: IteratorResult<GenerationChunk>) => void; reject: (error: unknown) => void };

export class Channel {
  readonly #buffer: GenerationChunk[] = [];
  #pending: Pending | undefined;
  #ended = false;
  #error: unknown;
  #claimed = false;

  push(chunk: GenerationChunk): void {
    if (this.#ended) return;
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending.resolve({ value: chunk, done: false });
    } else {
      this.#buffer.push(chunk);
    }
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    if (error === undefined) pending.resolve({ value: undefined, done: true });
    else pending.reject(error);
  }

  /** One reader only: the chunks go to whoever iterates first. */
  iterator(onReturn: () => void): AsyncIterator<GenerationChunk> {
    if (this.#claimed) throw new TypeError('A front-door stream can be iterated once');
    this.#claimed = true;
    return {
      next: () => {
        const chunk = this.#buffer.shift();
        if (chunk !== undefined) return Promise.resolve({ value: chunk, done: false });
        if (this.#ended) return this.#error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.#error);
        return new Promise((resolve, reject) => (this.#pending = { resolve, reject }));
      },
      return: () => {
        onReturn();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
