/**
 * The passive detector alone (health/passive.ts): silent periods, what counts as traffic that
 * keeps leaving, the RTT-scaled threshold, backoff after cleared suspicions, counter resets.
 * Samples are fed by hand every 50 ms; no timers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_RESET_MS, MAX_BACKOFF, PassiveDetector, type Suspicion } from '../../../src/health/passive.js';

const P = 50;

/** Feeds samples every 50 ms from `t`, with per-sample packet deltas out and in; returns suspicions. */
class Feed {
  t = 1_000_000;
  tx = 1000;
  rx = 1000;
  rtt: number | undefined = 2;
  readonly got: Suspicion[] = [];
  constructor(readonly d: PassiveDetector) {
    this.step(0, 0);
  }
  step(dTx: number, dRx: number): Suspicion | undefined {
    this.tx += dTx;
    this.rx += dRx;
    const s = this.d.sample({ at: this.t, txPackets: this.tx, rxPackets: this.rx, rttMs: this.rtt });
    if (s) this.got.push(s);
    this.t += P;
    return s;
  }
  /** `n` samples of the same deltas. */
  run(n: number, dTx: number, dRx: number): void {
    for (let i = 0; i < n; i++) this.step(dTx, dRx);
  }
}

test('traffic out with nothing in becomes suspect once the silence reaches the threshold', () => {
  const f = new Feed(new PassiveDetector(300, P));
  f.run(20, 50, 50); // busy, answered
  assert.equal(f.got.length, 0);
  // The last packet in came between the last two samples before the silence: counted from the middle.
  const first = f.t;
  f.run(5, 50, 0); // samples at first .. first+200: silence up to 275 ms
  assert.equal(f.got.length, 0);
  assert.equal(f.d.dueAt(), first - 75 + 300, 'the caller is told when to read next');
  const s = f.step(50, 0); // first+250: 325 ms
  assert.ok(s);
  assert.equal(s.at, first + 250);
  assert.equal(s.silenceMs, 325);
  assert.equal(s.thresholdMs, 300);
  assert.equal(s.txPackets, 300);
  assert.equal(f.d.status().state, 'suspect');
  assert.equal(f.d.dueAt(), undefined, 'nothing is due while a suspicion is open');
  // One suspicion at a time.
  f.run(20, 50, 0);
  assert.equal(f.got.length, 1);
  assert.equal(f.d.status().suspicions, 1);
});

test('after an idle spell, the silence starts half a sample period before the first packets out', () => {
  const f = new Feed(new PassiveDetector(300, P));
  f.run(5, 0, 0);
  const first = f.t;
  f.run(7, 10, 0);
  assert.equal(f.got.length, 1);
  assert.equal(f.got[0]!.at, first + 300);
  assert.equal(f.got[0]!.silenceMs, 325);
});

test('carrying: traffic left in the last reading, or a silence or a suspicion is open; a quiet link is not carrying', () => {
  const f = new Feed(new PassiveDetector(300, P));
  f.run(3, 0, 0);
  assert.equal(f.d.carrying, false, 'idle');
  f.step(0, 5);
  assert.equal(f.d.carrying, false, 'packets in only: nothing leaves');
  f.step(5, 5);
  assert.equal(f.d.carrying, true, 'packets out');
  f.step(0, 5);
  assert.equal(f.d.carrying, false, 'quiet again');
  f.run(8, 10, 0);
  assert.equal(f.got.length, 1);
  f.step(0, 0);
  assert.equal(f.d.carrying, true, 'a suspicion is open');
});

test('after a long (idle-rate) interval with packets in, the silence starts at most half a busy period before it ended', () => {
  const d = new PassiveDetector(300, 100);
  let t = 1_000_000;
  d.sample({ at: t, txPackets: 0, rxPackets: 0 });
  t += 500; // an idle-rate reading with packets in, then busy readings with nothing in
  d.sample({ at: t, txPackets: 5, rxPackets: 5 });
  const end = t;
  let s: Suspicion | undefined;
  for (let i = 1; i <= 5 && !s; i++) s = d.sample({ at: (t += 100), txPackets: 5 + 10 * i, rxPackets: 5 });
  assert.ok(s);
  // Counted from end - 50 (not from the middle of the 500 ms interval, 250 ms back).
  assert.equal(s.at, end + 300);
  assert.equal(s.silenceMs, 350);
});

test('any packet in ends the silent period', () => {
  const f = new Feed(new PassiveDetector(300, P));
  for (let i = 0; i < 40; i++) f.run(1, 50, i % 5 === 4 ? 1 : 0); // one packet in every 250 ms
  assert.equal(f.got.length, 0);
});

test('traffic must keep leaving: one batch before going quiet, or a trickle under 4 packets, is not a suspicion', () => {
  const one = new Feed(new PassiveDetector(300, P));
  one.step(100, 0);
  one.run(40, 0, 0);
  assert.equal(one.got.length, 0, 'one sample of packets out');
  const few = new Feed(new PassiveDetector(300, P));
  few.step(1, 0);
  few.step(1, 0);
  few.step(1, 0);
  few.run(40, 0, 0);
  assert.equal(few.got.length, 0, 'three packets out');
  // Positive control: two samples with 4 packets, then quiet: the unanswered packets age into a suspicion.
  const two = new Feed(new PassiveDetector(300, P));
  two.step(2, 0);
  two.step(2, 0);
  two.run(10, 0, 0);
  assert.equal(two.got.length, 1);
});

test('an idle link is never suspect', () => {
  const f = new Feed(new PassiveDetector(300, P));
  f.run(200, 0, 0);
  assert.equal(f.got.length, 0);
});

test('the threshold scales with the link RTT: max(silence, 3 × RTT)', () => {
  const d = new PassiveDetector(300, P);
  const f = new Feed(d);
  f.rtt = 200;
  f.step(0, 0);
  assert.equal(d.threshold(), 600);
  const first = f.t;
  f.run(40, 10, 0);
  assert.equal(f.got.length, 1);
  assert.equal(f.got[0]!.at - first, 600);
  assert.equal(f.got[0]!.silenceMs, 625);
  assert.equal(f.got[0]!.thresholdMs, 600);
});

test('a cleared suspicion doubles the threshold; it returns to base after 10 s without the pattern', () => {
  const d = new PassiveDetector(300, P);
  const f = new Feed(d);
  f.run(10, 10, 0);
  assert.equal(f.got.length, 1);
  d.settle('cleared', f.t);
  assert.equal(d.status().backoff, 1);
  assert.equal(d.threshold(), 600);
  assert.equal(d.status().cleared, 1);
  // The one-way flow goes on: next suspicion only after 600 ms of silence.
  const from = f.t;
  f.run(20, 10, 0);
  assert.equal(f.got.length, 2);
  assert.ok(f.got[1]!.silenceMs >= 600 && f.got[1]!.at - from >= 550, JSON.stringify(f.got[1]));
  d.settle('cleared', f.t);
  assert.equal(d.threshold(), 1200);
  // Up to 2^MAX_BACKOFF.
  for (let i = 0; i < 10; i++) {
    f.run(Math.ceil((d.threshold() + 100) / P), 10, 0);
    d.settle('cleared', f.t);
  }
  assert.equal(d.status().backoff, MAX_BACKOFF);
  // Answered traffic for 10 s: back to base.
  f.run(BACKOFF_RESET_MS / P + 1, 10, 10);
  assert.equal(d.status().backoff, 0);
  assert.equal(d.threshold(), 300);
});

test('a one-way flow on a probed link (an answer every 500 ms) makes at most one suspicion per pattern', () => {
  const d = new PassiveDetector(300, P);
  const f = new Feed(d);
  let n = 0;
  // 10 minutes: packets out all the time, one probe answer in every 10th sample.
  for (let i = 0; i < (10 * 60_000) / P; i++) {
    const s = f.step(20, i % 10 === 9 ? 1 : 0);
    if (s) {
      n++;
      d.settle('cleared', f.t); // the burst is answered
    }
  }
  assert.equal(n, 1, 'the backoff (600 ms) is above the longest silence between answers (500 ms)');
});

test('counters that go backwards start a new baseline', () => {
  const d = new PassiveDetector(300, P);
  const f = new Feed(d);
  f.run(4, 10, 0);
  f.tx = 0;
  f.rx = 0;
  f.step(0, 0); // went backwards: no judgement across it
  f.run(5, 10, 0);
  assert.equal(f.got.length, 0, 'the silence before the reset does not count');
  f.run(3, 10, 0);
  assert.equal(f.got.length, 1);
});

test('packets in during an open suspicion mark it resumed; reset forgets it and the backoff, keeps counters', () => {
  const d = new PassiveDetector(300, P);
  const f = new Feed(d);
  f.run(10, 10, 0);
  assert.ok(d.suspect);
  assert.equal(d.resumed, false);
  f.step(10, 3);
  assert.equal(d.resumed, true);
  d.settle('confirmed', f.t);
  assert.equal(d.status().confirmed, 1);
  assert.equal(d.status().last?.outcome, 'confirmed');
  f.run(10, 10, 0);
  d.reset();
  assert.equal(d.status().state, 'idle');
  assert.equal(d.status().backoff, 0);
  assert.equal(d.status().suspicions, 2);
  assert.match(d.status().last?.detail ?? '', /dropped/);
});
