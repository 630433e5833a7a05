/** The log rate limiter on a fake clock: one line per interval in full, then one summary with the count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LimitedLog, LogLimit } from '../../../src/util/log-limit.js';

class FakeTimers {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => (timer.live = false);
  }
  /** Advance to `t`, firing due timers in order. */
  advance(t: number): void {
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= t).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      due.live = false;
      due.fn();
    }
    this.t = t;
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}

test('LogLimit: the first event of each interval passes, the rest are counted until taken', () => {
  const l = new LogLimit(1000);
  assert.equal(l.allow(0), true);
  assert.equal(l.allow(10), false);
  assert.equal(l.allow(999), false);
  assert.equal(l.pending, 2);
  assert.equal(l.summaryDue, 1000);
  assert.equal(l.allow(1000), true, 'a new interval');
  assert.equal(l.takeSummary(), 2);
  assert.equal(l.takeSummary(), 0);
  assert.equal(l.summaryDue, undefined);
  const b = new LogLimit(1000, 3);
  assert.deepEqual([0, 1, 2, 3, 4].map((t) => b.allow(t)), [true, true, true, false, false], 'a burst of 3');
  assert.throws(() => new LogLimit(0), RangeError);
});

test('LimitedLog: a flood of 10 000 events over 5 intervals writes 5 full lines and 5 summaries that add up', () => {
  const timers = new FakeTimers();
  const full: number[] = [];
  const summaries: { n: number; at: number }[] = [];
  const log = new LimitedLog(timers, 1000, (n) => summaries.push({ n, at: timers.now() }));
  for (let i = 0; i < 10_000; i++) {
    timers.advance(i / 2); // 2 events per ms for 5 s
    log.event(() => full.push(i));
  }
  timers.advance(6000);
  assert.equal(full.length, 5, `full lines: ${full.join(',')}`);
  assert.deepEqual(full, [0, 2000, 4000, 6000, 8000]);
  assert.equal(summaries.length, 5);
  assert.deepEqual(summaries.map((s) => s.at), [1000, 2000, 3000, 4000, 5000], 'each summary when its interval ends, even after the last event');
  assert.equal(full.length + summaries.reduce((a, s) => a + s.n, 0), 10_000, 'every event is either logged or counted');
  assert.equal(timers.pending, 0, 'no timer left behind');
});

test('LimitedLog: a lone event is logged in full with no summary; close() reports what is pending and stops the timer', () => {
  const timers = new FakeTimers();
  const summaries: number[] = [];
  const log = new LimitedLog(timers, 1000, (n) => summaries.push(n));
  let lines = 0;
  assert.equal(log.event(() => lines++), true);
  timers.advance(5000);
  assert.deepEqual(summaries, [], 'nothing suppressed, no summary');
  assert.equal(log.event(() => lines++), true, 'a later event starts a new interval');
  assert.equal(log.event(() => lines++), false);
  assert.equal(log.event(() => lines++), false);
  assert.equal(lines, 2);
  log.close();
  assert.deepEqual(summaries, [2]);
  assert.equal(timers.pending, 0);
});
