/**
 * A fake {@link Clock} for unit tests: timers run in time order when the test advances time, and
 * promise continuations run between them, so code that awaits a fake prober behaves as it would
 * with real time. Test helper.
 */
import type { Clock, TimerHandle } from '../../../src/health/clock.js';

interface FakeTimer extends TimerHandle {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const flush = () => new Promise<void>((r) => setImmediate(r));

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2024, 0, 10, 12, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const h: FakeTimer = { __timer: true, at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(h);
    return h;
  }

  clearTimer(h: TimerHandle | undefined): void {
    if (h) (h as FakeTimer).cancelled = true;
  }

  /** Pending timers (for asserting that nothing is left running). */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Let promise continuations run without moving time. */
  async settle(): Promise<void> {
    await flush();
    await flush();
  }

  /** Move time forward by `ms`, running every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    await this.settle();
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await this.settle();
    }
    this.t = until;
  }

  /** Advance in steps until `pred` holds or `maxMs` has passed; returns the time it took. */
  async until(pred: () => boolean, maxMs: number, stepMs = 1): Promise<number> {
    const start = this.t;
    while (!pred()) {
      if (this.t - start >= maxMs) throw new Error(`condition not met within ${maxMs} ms of fake time`);
      await this.advance(stepMs);
    }
    return this.t - start;
  }
}
