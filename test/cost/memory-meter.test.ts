import { describe, expect, it, vi } from 'vitest';
import { MemoryMeter, type MeterTicket } from '../../src/cost/index.js';
import { expectCode, seededRandom } from '../helpers/expect.js';

/** A clock the test moves by hand, in ms. */
function manualClock(start = 0) {
  let time = start;
  return {
    now: () => time,
    set: (ms: number) => {
      time = ms;
    },
  };
}

describe('MemoryMeter', () => {
  it('shares memory-seconds among concurrent requests and keeps idle time apart', () => {
    const clock = manualClock();
    const meter = new MemoryMeter(2e9, clock.now); // 2 GB
    clock.set(1000);
    const a = meter.begin();
    clock.set(3000);
    const b = meter.begin();
    expect(meter.activeRequests).toBe(2);
    clock.set(4000);
    meter.setBytes(4e9);
    expect(meter.bytes).toBe(4e9);
    clock.set(5000);
    // A: 2 GB × 2 s alone + 2 GB × 1 s / 2 + 4 GB × 1 s / 2 = 4 + 1 + 2.
    expect(meter.end(a)).toBeCloseTo(7, 12);
    clock.set(6000);
    // B: 2 GB × 1 s / 2 + 4 GB × 1 s / 2 + 4 GB × 1 s alone = 1 + 2 + 4.
    expect(meter.end(b)).toBeCloseTo(7, 12);
    clock.set(8000);
    // Idle: 2 GB × 1 s before A + 4 GB × 2 s after B.
    expect(meter.idleGbSeconds).toBeCloseTo(10, 12);
    // 2 GB × 4 s + 4 GB × 4 s.
    expect(meter.totalGbSeconds).toBeCloseTo(24, 12);
    expect(meter.activeRequests).toBe(0);
  });

  it('splits the shares of requests that begin together equally, whatever the order they end', () => {
    const clock = manualClock(500);
    const meter = new MemoryMeter(1e9, clock.now);
    const tickets = [meter.begin(), meter.begin(), meter.begin()];
    clock.set(3500); // 3 s shared by 3
    expect(meter.end(tickets[1]!)).toBeCloseTo(1, 12);
    clock.set(5500); // 2 s shared by 2
    expect(meter.end(tickets[2]!)).toBeCloseTo(2, 12);
    expect(meter.end(tickets[0]!)).toBeCloseTo(2, 12);
    expect(meter.idleGbSeconds).toBe(0);
  });

  it('adds up to bytes × time under random interleavings (property)', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const random = seededRandom(seed);
      let time = random() * 1e6;
      const clock = manualClock(time);
      let bytes = Math.floor(random() * 8e9);
      const meter = new MemoryMeter(bytes, clock.now);
      // Reference: each request's exact share, accrued interval by interval.
      const open = new Map<MeterTicket, number>();
      const shares: number[] = [];
      const measured: number[] = [];
      let idle = 0;
      let total = 0;
      for (let step = 0; step < 400; step++) {
        const dt = random() < 0.1 ? 0 : random() * 5000;
        const area = (bytes * dt) / 1e12; // GB·s
        total += area;
        if (open.size === 0) idle += area;
        else for (const [ticket, share] of open) open.set(ticket, share + area / open.size);
        time += dt;
        clock.set(time);
        const action = random();
        if (action < 0.45) open.set(meter.begin(), 0);
        else if (action < 0.85 && open.size > 0) {
          const ticket = [...open.keys()][Math.floor(random() * open.size)]!;
          shares.push(open.get(ticket)!);
          open.delete(ticket);
          measured.push(meter.end(ticket));
        } else {
          bytes = Math.floor(random() * 8e9);
          meter.setBytes(bytes);
        }
        expect(meter.activeRequests).toBe(open.size);
      }
      for (const ticket of open.keys()) {
        shares.push(open.get(ticket)!);
        measured.push(meter.end(ticket));
      }
      expect(measured.length).toBeGreaterThan(50);
      measured.forEach((share, index) => expect(share).toBeCloseTo(shares[index]!, 6));
      const sum = measured.reduce((left, right) => left + right, 0) + meter.idleGbSeconds;
      expect(Math.abs(sum - total) / total).toBeLessThan(1e-9);
      expect(Math.abs(meter.totalGbSeconds - total) / total).toBeLessThan(1e-12);
      expect(meter.idleGbSeconds).toBeCloseTo(idle, 6);
    }
  });

  it('counts no time when the clock steps back', () => {
    const clock = manualClock(10_000);
    const meter = new MemoryMeter(1e9, clock.now);
    const ticket = meter.begin();
    clock.set(9000);
    meter.setBytes(3e9);
    clock.set(11_000); // 1 s since the last time seen, at 3 GB
    expect(meter.end(ticket)).toBeCloseTo(3, 12);
  });

  it('uses performance.now by default', () => {
    const spy = vi.spyOn(performance, 'now').mockReturnValue(1000);
    try {
      const meter = new MemoryMeter(1e9);
      const ticket = meter.begin();
      spy.mockReturnValue(3000);
      expect(meter.end(ticket)).toBeCloseTo(2, 12);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses bad bytes, clocks and tickets', async () => {
    const clock = manualClock();
    await expectCode(() => new MemoryMeter(-1, clock.now), 'INVALID_ARGUMENT', 'bytes');
    await expectCode(() => new MemoryMeter(Number.NaN, clock.now), 'INVALID_ARGUMENT', 'bytes');
    await expectCode(() => new MemoryMeter(1, 5 as never), 'INVALID_ARGUMENT', 'now');
    await expectCode(() => new MemoryMeter(1, () => Number.NaN), 'INVALID_ARGUMENT', 'now()');
    const meter = new MemoryMeter(1e9, clock.now);
    const other = new MemoryMeter(1e9, clock.now);
    await expectCode(() => meter.setBytes(Infinity), 'INVALID_ARGUMENT', 'bytes');
    const ticket = meter.begin();
    await expectCode(() => other.end(ticket), 'INVALID_ARGUMENT', 'ticket');
    await expectCode(() => meter.end({ start: 0 }), 'INVALID_ARGUMENT', 'ticket');
    await expectCode(() => meter.end(null as never), 'INVALID_ARGUMENT', 'ticket');
    meter.end(ticket);
    await expectCode(() => meter.end(ticket), 'INVALID_ARGUMENT', 'ticket');
    expect(meter.activeRequests).toBe(0);
  });
});
