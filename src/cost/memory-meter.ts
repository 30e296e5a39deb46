import { ModelpoolError, invalidArgument } from '../errors.js';
import { finiteNumber } from '../validate.js';

/** Bytes in a GB (decimal, as the field names say) times milliseconds in a second. */
const BYTE_MS_PER_GB_SECOND = 1e9 * 1000;

/** A request's place in a {@link MemoryMeter}, from `begin()` to `end()`. */
export interface MeterTicket {
  /** The meter's shared integral when the request began (byte·ms per active request). */
  readonly start: number;
}

/** A ticket of one meter, ended once (a class rather than a WeakSet entry: begin and end run per request). */
class Ticket implements MeterTicket {
  ended = false;
  constructor(
    readonly start: number,
    readonly owner: MemoryMeter,
  ) {}
}

/**
 * Memory-seconds of one model, shared among the requests it served meanwhile: while k requests are
 * active, each accrues bytes × dt / k, so the shares of all requests plus the idle time add up to
 * bytes × time exactly. Time with no active request accrues to {@link MemoryMeter.idleGbSeconds}
 * (the price of keeping the model loaded), charged to no request.
 *
 * One running integral of bytes / k over time makes `begin()` and `end()` O(1): a request's share is
 * the integral's growth between its begin and its end.
 */
export class MemoryMeter {
  readonly #now: () => number;
  #bytes: number;
  #active = 0;
  #last: number;
  /** ∫ bytes / k dt over the time k > 0, byte·ms. */
  #shared = 0;
  /** ∫ bytes dt over the time k = 0, byte·ms. */
  #idle = 0;
  /** ∫ bytes dt over all time, byte·ms. */
  #total = 0;

  /**
   * A meter of a model holding `bytes` resident, from now on. `now` is the clock in milliseconds
   * (default `performance.now`). Throws INVALID_ARGUMENT naming `bytes` or `now`.
   */
  constructor(bytes: number, now: () => number = () => performance.now()) {
    this.#bytes = finiteNumber('bytes', bytes, 0, Number.MAX_VALUE);
    if (typeof now !== 'function') throw invalidArgument('now', 'a function returning milliseconds', now);
    this.#now = now;
    this.#last = this.#read();
  }

  /** Resident bytes now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Requests between `begin()` and `end()`. */
  get activeRequests(): number {
    return this.#active;
  }

  /** GB·s accrued while no request was active, up to now. */
  get idleGbSeconds(): number {
    this.#advance();
    return this.#idle / BYTE_MS_PER_GB_SECOND;
  }

  /** GB·s held since the meter was made, up to now (= all requests' shares + idle). */
  get totalGbSeconds(): number {
    this.#advance();
    return this.#total / BYTE_MS_PER_GB_SECOND;
  }

  /** A request starts sharing the model's memory. */
  begin(): MeterTicket {
    this.#advance();
    this.#active++;
    return new Ticket(this.#shared, this);
  }

  /**
   * The request of `ticket` ends; returns its share, GB·s. Throws INVALID_ARGUMENT naming `ticket`
   * for a ticket of another meter or one already ended.
   */
  end(ticket: MeterTicket): number {
    if (!(ticket instanceof Ticket) || ticket.owner !== this || ticket.ended) {
      throw new ModelpoolError('INVALID_ARGUMENT', 'Expected a ticket of this meter not yet ended for ticket', { field: 'ticket', value: ticket });
    }
    this.#advance();
    ticket.ended = true;
    this.#active--;
    return Math.max(0, this.#shared - ticket.start) / BYTE_MS_PER_GB_SECOND;
  }

  /** The model's resident bytes changed (from now on). Throws INVALID_ARGUMENT naming `bytes`. */
  setBytes(bytes: number): void {
    finiteNumber('bytes', bytes, 0, Number.MAX_VALUE);
    this.#advance();
    this.#bytes = bytes;
  }

  #read(): number {
    const time = this.#now();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of milliseconds', time);
    return time;
  }

  /** Accrues the time since the last event; a clock that steps back counts as no time. */
  #advance(): void {
    const time = this.#read();
    const dt = time - this.#last;
    if (dt <= 0) return;
    this.#last = time;
    const area = this.#bytes * dt;
    this.#total += area;
    if (this.#active === 0) this.#idle += area;
    else this.#shared += area / this.#active;
  }
}
