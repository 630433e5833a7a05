/**
 * The counter sampler (health/traffic.ts) on a fake clock: a read every period while wanted, none
 * while not; an extra read when a silent period is due (never closer than 10 ms to the last); one
 * read in flight at a time; stop ends the timer and closes the source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_GAP_MS, TrafficSampler, type InterfaceCounters, type TrafficSource } from '../../../src/health/traffic.js';
import { FakeClock } from './fake-clock.js';

class Source implements TrafficSource {
  at: number[] = [];
  closed = false;
  /** Milliseconds a read takes (fake time). */
  takes = 0;
  constructor(private readonly clock: FakeClock) {}
  read(): Promise<Map<number, InterfaceCounters>> {
    this.at.push(this.clock.now());
    return new Promise((r) => this.clock.setTimer(() => r(new Map([[1, { txPackets: 1, rxPackets: 1 }]])), this.takes));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(opts: { wanted?: () => boolean; dueAt?: () => number | undefined; busy?: () => boolean } = {}) {
  const clock = new FakeClock();
  const source = new Source(clock);
  const samples: number[] = [];
  const s = new TrafficSampler({ source, clock, wanted: opts.wanted ?? (() => true), dueAt: opts.dueAt, ...(opts.busy ? { busy: opts.busy } : {}), onSample: (_c, at) => samples.push(at), onError: () => undefined, periodMs: 100, idlePeriodMs: 500 });
  s.start();
  return { clock, source, samples, s, t0: clock.now() };
}

test('a read every period while some link watches; none while none does', async () => {
  let wanted = true;
  const { clock, source, s, t0 } = setup({ wanted: () => wanted });
  await clock.advance(1000);
  assert.deepEqual(source.at.map((t) => t - t0), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  wanted = false;
  await clock.advance(1000);
  assert.equal(source.at.length, 10);
  await s.stop();
  assert.equal(source.closed, true);
  assert.equal(clock.pending(), 0);
});

test('every period while some watched link carries traffic, every idle period while none does', async () => {
  let busy = false;
  const { clock, source, t0 } = setup({ busy: () => busy });
  await clock.advance(1000);
  assert.deepEqual(source.at.map((t) => t - t0), [500, 1000], 'idle: every 500 ms');
  busy = true;
  await clock.advance(1000);
  // The read at 1000 was armed idle (next at 1500); from there on, every 100 ms.
  assert.deepEqual(source.at.map((t) => t - t0), [500, 1000, 1500, 1600, 1700, 1800, 1900, 2000]);
  busy = false;
  await clock.advance(1000);
  assert.deepEqual(source.at.slice(8).map((t) => t - t0), [2100, 2600], 'idle again (the read at 2000 was armed busy)');
});

test('a silent period due before the next regular read is read at its due time, at least 10 ms after the last', async () => {
  // What the links say after each read (the sampler asks after every read, and at start).
  const t0 = new FakeClock().now();
  const dues: (number | undefined)[] = [undefined, t0 + 135, undefined, t0 + 236, undefined];
  const { clock, source } = setup({ dueAt: () => dues.shift() });
  await clock.advance(400);
  // 100: regular; 135: due; 235: a period later; 245: due 1 ms later, but 10 ms at least; 345.
  assert.deepEqual(source.at.map((t) => t - t0), [100, 135, 235, 235 + MIN_GAP_MS, 345]);
});

test('one read at a time: a slow read delays the next, never overlaps', async () => {
  const { clock, source, samples, t0 } = setup();
  source.takes = 250;
  await clock.advance(1000);
  assert.deepEqual(source.at.map((t) => t - t0), [100, 450, 800]);
  assert.deepEqual(samples.map((t) => t - t0), [350, 700]);
});

test('a failing read or a throwing consumer is reported (at most once a minute) and sampling goes on', async () => {
  const clock = new FakeClock();
  const source = new Source(clock);
  const errors: unknown[] = [];
  let calls = 0;
  const s = new TrafficSampler({
    source,
    clock,
    wanted: () => true,
    onSample: () => {
      calls++;
      throw new Error('bug downstream');
    },
    onError: (e) => errors.push(e),
    periodMs: 100,
  });
  s.start();
  await clock.advance(120_000);
  assert.ok(calls >= 1000, `${calls} samples`);
  assert.equal(errors.length, 2, 'at 100 ms and 60.1 s');
  assert.match(String(errors[0]), /bug downstream/);
  await s.stop();
});
