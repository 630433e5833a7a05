/** Path meter (RTT, rate, cap, death), scheduler choices, backoff. Time is passed in (ms). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK_GAP_MAX_MS, PathMeter, QUEUE_BUDGET_MS } from '../../../src/relay/core/path-meter.js';
import { pickControlPath, pickDataPath, type PathView } from '../../../src/relay/core/scheduler.js';
import { backoffDelay } from '../../../src/relay/core/backoff.js';
import { Pacer, PACE_BURST_MS, PACING_GAIN } from '../../../src/relay/core/pacer.js';

test('RTT comes from the acknowledgement of eliciting records; the cap grows to 2 x BDP plus the queue budget', () => {
  const m = new PathMeter(64 * 1024, 0);
  assert.equal(m.cap(0), 64 * 1024, 'the floor before any sample');
  // A path of 10 MB/s and 20 ms RTT, kept full: ack 20 ms after each send.
  let t = 0;
  const sent: { end: number; t: number }[] = [];
  for (; t < 2000; t += 1) {
    m.onSend(10_000, true, t);
    sent.push({ end: m.sent, t });
    while (sent.length > 0 && sent[0]!.t + 20 <= t) m.onAck(sent.shift()!.end, t);
  }
  assert.ok(Math.abs(m.srtt! - 20) < 1, `srtt ${m.srtt}`);
  assert.equal(m.minRtt(t), 20);
  const rate = m.maxRate(t);
  assert.ok(Math.abs(rate - 10e6) / 10e6 < 0.1, `rate ${rate}`);
  const want = 10e6 * (2 * 0.02 + QUEUE_BUDGET_MS / 1000);
  assert.ok(Math.abs(m.cap(t) - want) / want < 0.1, `cap ${m.cap(t)}, want ${want}`);
});

test('non-eliciting records are counted in flight but start no death clock', () => {
  const m = new PathMeter(1000, 0);
  m.onSend(50, false, 0);
  assert.equal(m.unansweredFor(5000), 0);
  m.onSend(50, true, 100);
  assert.equal(m.unansweredFor(1600), 1500);
  m.onAck(60, 1700);
  assert.equal(m.unansweredFor(1800), 100, 'progress restarts the clock while eliciting bytes remain');
  m.onAck(100, 1900);
  assert.equal(m.unansweredFor(5000), 0);
  assert.throws(() => m.onAck(101, 2000), /only 100 sent/);
});

test('an empty path always has room; a full one has none', () => {
  const m = new PathMeter(1000, 0);
  assert.ok(m.hasRoom(5000, 0));
  m.onSend(900, true, 0);
  assert.ok(m.hasRoom(100, 0));
  assert.ok(!m.hasRoom(101, 0));
});

const view = (id: number, inflight: number, cap: number, srtt: number | undefined, rate = 1e6): PathView => ({ id, inflight, cap, srtt, rate });

test('data goes to the lowest-RTT path with room, and only to a path with room', () => {
  assert.equal(pickDataPath([view(1, 0, 100, 50), view(2, 0, 100, 10)], 50), 2);
  assert.equal(pickDataPath([view(1, 0, 100, 50), view(2, 90, 100, 10)], 50), 1);
  assert.equal(pickDataPath([view(1, 60, 100, 50), view(2, 90, 100, 10)], 50), undefined);
  assert.equal(pickDataPath([view(1, 0, 100, undefined), view(2, 10, 100, 30)], 50), 2, 'measured paths first');
  assert.equal(pickDataPath([view(1, 50, 100, 10), view(2, 10, 100, 10)], 20), 2, 'ties go to the emptier');
});

test('control frames go where they arrive first', () => {
  // Path 1: 5 ms RTT but 1 MB queued at 1 MB/s; path 2: 40 ms RTT, empty.
  assert.equal(pickControlPath([view(1, 1e6, 2e6, 5, 1e6), view(2, 0, 1e5, 40, 1e6)]), 2);
  assert.equal(pickControlPath([view(1, 1000, 2e6, 5, 1e6), view(2, 0, 1e5, 40, 1e6)]), 1);
  assert.equal(pickControlPath([]), undefined);
});

test('backoff doubles from retryMin to retryMax with bounded jitter', () => {
  assert.equal(backoffDelay(0, 200, 5000, 0.5), 200);
  assert.equal(backoffDelay(1, 200, 5000, 0.5), 400);
  assert.equal(backoffDelay(4, 200, 5000, 0.5), 3200);
  assert.equal(backoffDelay(5, 200, 5000, 0.5), 5000);
  assert.equal(backoffDelay(50, 200, 5000, 0.99), 5000);
  assert.equal(backoffDelay(0, 200, 5000, 0), 200, 'never below retryMin');
  assert.equal(backoffDelay(3, 200, 5000, 0), 1440);
});

test('reverse queueing (acks behind the far end’s data) is measured apart from our own queue', () => {
  // Far end clock is offset by 1e6 ms; the forward one-way delay is 10 ms throughout.
  const run = (fwdQueue: (t: number) => number, revQueue: (t: number) => number) => {
    const m = new PathMeter(64 * 1024, 0);
    const sent: { end: number; t: number }[] = [];
    let t = 0;
    for (; t < 3000; t += 1) {
      m.onSend(5000, true, t);
      sent.push({ end: m.sent, t });
      while (sent.length > 0) {
        const s = sent[0]!;
        const arrive = s.t + 10 + fwdQueue(s.t);
        if (arrive + 10 + revQueue(arrive) > t) break;
        sent.shift();
        m.onAck(s.end, t, (1e6 + arrive) >>> 0);
      }
    }
    return m;
  };
  const rev = run(() => 0, (t) => (t > 1000 ? 30 : 0));
  assert.ok(Math.abs(rev.reverseDelay - 30) < 3, `reverse delay ${rev.reverseDelay}`);
  assert.ok(rev.forwardQueue < 1);
  const fwd = run((t) => (t > 1000 ? 30 : 0), () => 0);
  assert.ok(fwd.reverseDelay < 3, `our own queue is not compensated (${fwd.reverseDelay})`);
  assert.ok(Math.abs(fwd.forwardQueue - 30) < 2, `forward queue ${fwd.forwardQueue}`);
});

test('pacing: data leaves at the gain times the rate, in bursts of at most PACE_BURST_MS, never below the floor rate', () => {
  const p = new Pacer();
  assert.equal(p.blocked(0), false, 'nothing sent yet');
  // 1 MB/s: a 2 MB/s pace; 20 kB takes 10 ms of pace.
  assert.equal(PACING_GAIN, 2);
  p.sent(20_000, 1e6, 0, 100);
  // The burst allowance was available (idle before): 10 ms of pace minus 4 ms of burst.
  assert.equal(p.waitMs(100), 10 - PACE_BURST_MS);
  assert.ok(p.blocked(105) && !p.blocked(106));
  // Back to back: each send adds its own pace time.
  p.sent(20_000, 1e6, 0, 106);
  assert.equal(p.waitMs(106), 10);
  // A low rate estimate cannot pace below the floor (pathQueue per min RTT).
  const f = new Pacer();
  f.sent(64_000, 1000, 6.4e6, 0);
  assert.equal(f.waitMs(0), 10 - PACE_BURST_MS);
  // No estimate at all (rate 0, floor unknown): not paced.
  const n = new Pacer();
  n.sent(1e6, 0, Infinity, 0);
  assert.equal(n.blocked(0), false);
});

test('a paced path takes no data until its pace allows, even with room under its cap', () => {
  assert.equal(pickDataPath([{ ...view(1, 0, 100, 10), paced: true }, view(2, 0, 100, 50)], 50), 2);
  assert.equal(pickDataPath([{ ...view(1, 0, 100, 10), paced: true }], 50), undefined);
});

test('the queue budget covers the far end acknowledging in batches (measured gaps), within bounds', () => {
  const run = (batchMs: number): PathMeter => {
    const m = new PathMeter(64 * 1024, 0);
    // 10 MB/s, 20 ms RTT, kept full; the far end answers every `batchMs` with everything that arrived.
    const sent: { end: number; t: number }[] = [];
    for (let t = 0; t < 3000; t += 1) {
      m.onSend(10_000, true, t);
      sent.push({ end: m.sent, t });
      if (t % batchMs === 0) {
        let end = -1;
        while (sent.length > 0 && sent[0]!.t + 20 <= t) end = sent.shift()!.end;
        if (end >= 0) m.onAck(end, t);
      }
    }
    return m;
  };
  assert.equal(run(1).queueBudget(3000), QUEUE_BUDGET_MS, 'steady acknowledgements: the base budget');
  assert.equal(run(25).queueBudget(3000), 25, 'batches every 25 ms: 25 ms');
  assert.equal(run(200).queueBudget(3000), ACK_GAP_MAX_MS, 'never more than the bound');
});
