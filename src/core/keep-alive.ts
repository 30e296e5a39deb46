/**
 * Keeps the Node.js event loop alive while work the caller was promised is pending.
 *
 * The pool's own timers (keep-alive expiry, wake-ups) are unref'd so that an idle pool never holds a
 * process open. But a request that waits for memory, a CPU turn, a load, a swap or a disposal must
 * hold it open: otherwise a plain `node` script whose only pending work is such a wait exits with
 * its promises unsettled (exit code 13 for a top-level await). One ref'd handle stands for all pending
 * work; it exists only while the count of holds is above zero.
 */
export class KeepAlive {
  #count = 0;
  #handle: NodeJS.Timeout | undefined;

  /** Pending holds. */
  get count(): number {
    return this.#count;
  }

  /** Takes a hold; the returned function releases it (idempotent). */
  hold(): () => void {
    if (this.#count++ === 0) this.#handle = setInterval(noop, 2 ** 31 - 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#count === 0) {
        clearInterval(this.#handle);
        this.#handle = undefined;
      }
    };
  }

  /** Holds the loop until `promise` settles; returns it unchanged. */
  track<T>(promise: Promise<T>): Promise<T> {
    const release = this.hold();
    promise.then(release, release);
    return promise;
  }
}

function noop(): void {}
