/**
 * A stream of generation chunks: pushed by a producer (the native callback, the front door's pipeline) as
 * they come, pulled by one async iterator at the reader's pace. Chunks that wait come out as one, so a
 * slow reader sees fewer, larger chunks.
 */
import type { GenerationChunk } from './types.js';

export class ChunkChannel {
  readonly #chunks: GenerationChunk[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void) | undefined;
  #claimed = false;

  /** `once`: a second iteration throws a TypeError (the chunks go to one reader). */
  constructor(readonly once = false) {}

  push(chunk: GenerationChunk): void {
    if (this.#done) return;
    this.#chunks.push(chunk);
    this.#notify();
  }

  /** Ends the stream, with an error the reader gets after the chunks. Later calls are ignored. */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#notify();
  }

  /** The chunks; `onStop` is called when the reader stops before the end (break, return, throw). */
  chunks(onStop?: () => void): AsyncGenerator<GenerationChunk> {
    if (this.once) {
      if (this.#claimed) throw new TypeError('This stream can be iterated once');
      this.#claimed = true;
    }
    return this.#iterate(onStop);
  }

  /** The chunks' texts (claimed at once, as `chunks`). */
  texts(onStop?: () => void): AsyncGenerator<string> {
    const chunks = this.chunks(onStop);
    return (async function* () {
      for await (const chunk of chunks) yield chunk.text;
    })();
  }

  async *#iterate(onStop: (() => void) | undefined): AsyncGenerator<GenerationChunk> {
    let finished = false;
    try {
      for (;;) {
        if (this.#chunks.length > 0) {
          const pending = this.#chunks.splice(0);
          if (pending.length === 1) yield pending[0]!;
          else {
            const text = pending.map((c) => c.text).join('');
            yield pending.some((c) => c.logprobs) ? { text, logprobs: pending.flatMap((c) => c.logprobs ?? []) } : { text };
          }
          continue;
        }
        if (this.#done) {
          finished = true;
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      if (!finished) onStop?.();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
