/**
 * The tracker with the passive signal, on simulated time: interface counters sampled every 50 ms
 * beside the probe rounds. A busy link blackholed goes offline through a suspicion and its burst,
 * well before three failed rounds; an idle one through the rounds, as before; a one-way flow on a
 * healthy link makes a bounded number of bursts that are all answered; `passive: false` never
 * suspects; a burst lost while traffic came back clears; a suspicion never outlives the link
 * being online.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BURST_ATTEMPTS, BURST_SPACING_MS, PASSIVE_SAMPLE_MS } from '../../../src/health/tracker.js';
import { MIN_DEADLINE_MS } from '../../../src/health/deadline.js';
import { describeReason } from '../../../src/model.js';
import type { ProbeConfig } from '../../../src/config/schema.js';
import { Sim, prng } from './sim.js';

interface LinkModel {
  /** LAN packets out per millisecond (0: idle). */
  outPerMs: number;
  /** LAN packets in per millisecond while the upstream works (0: a one-way flow). */
  inPerMs: number;
  /** Epoch ms from which nothing gets through (blackhole). */
  fault: number;
}

/**
 * A simulated link: LAN traffic at constant rates, plus the probes the tracker sent (out) and the
 * answers that came back (in), all cut off by the fault. Probes are answered after 2 ms.
 */
function busyLink(over: Partial<ProbeConfig> = {}, model: Partial<LinkModel> = {}, lossFor?: (sentAt: number, attempt: number, round: number) => boolean): { sim: Sim; m: LinkModel } {
  const m: LinkModel = { outPerMs: 5, inPerMs: 5, fault: Infinity, ...model };
  const sim = Sim.create(over, (_t, sentAt, round, _i, attempt) => (sentAt >= m.fault || lossFor?.(sentAt, attempt, round) ? 'lost' : { rttMs: 2 }));
  const start = sim.now;
  const answered = new Set<number>();
  sim.counters = (now) => {
    const probesOut = sim.sent.filter((s) => s.at <= now).length;
    let probesIn = 0;
    sim.sent.forEach((s, k) => {
      if (s.at + 2 <= now && s.at < m.fault && !lossFor?.(s.at, s.attempt, s.round)) {
        probesIn++;
        answered.add(k);
      }
    });
    const lanIn = Math.floor((Math.min(now, m.fault) - start) * m.inPerMs);
    return { txPackets: Math.floor((now - start) * m.outPerMs) + probesOut, rxPackets: lanIn + probesIn };
  };
  return { sim, m };
}

test('a busy link blackholed goes offline through a suspicion and its lost burst, before three rounds could fail', () => {
  const { sim, m } = busyLink();
  sim.runFor(5000);
  assert.equal(sim.tracker.state, 'online');
  assert.equal(sim.passive.length, 0, 'a busy answered link is never suspect');
  const t0 = sim.now + 130;
  m.fault = t0;
  sim.runFor(3000);
  const off = sim.into('offline');
  assert.equal(off.length, 1);
  const r = off[0]!.reason;
  assert.equal(r.kind, 'traffic-silent');
  if (r.kind !== 'traffic-silent') return;
  assert.equal(r.lost, 2 * BURST_ATTEMPTS);
  assert.equal(r.sent, 2 * BURST_ATTEMPTS);
  assert.equal(r.thresholdMs, 300);
  assert.ok(r.silenceMs >= 300 && r.silenceMs < 300 + PASSIVE_SAMPLE_MS, `silence ${r.silenceMs}`);
  assert.match(describeReason(r), /^traffic silent for \d+ ms \(threshold 300 ms\), 6\/6 burst probes lost$/);
  // Suspect when the silence, counted from the middle of the sample interval with the last packet
  // in (at most half a period off), reaches the threshold (the counters are read right then); the
  // burst's last probe goes out 2 spacings later and is given up at its 100 ms deadline.
  const d = off[0]!.at - t0;
  assert.ok(d <= 300 + PASSIVE_SAMPLE_MS / 2 + (BURST_ATTEMPTS - 1) * BURST_SPACING_MS + MIN_DEADLINE_MS, `detected after ${d} ms`);
  assert.deepEqual(
    sim.passive.map((e) => e.kind),
    ['suspect', 'confirmed'],
  );
  assert.equal(sim.tracker.passiveStatus().confirmed, 1);
});

test('over every fault phase: offline through the passive path within threshold ± half a sample period + burst', () => {
  for (let phase = 0; phase < 500; phase += 10) {
    const { sim, m } = busyLink();
    sim.runFor(3000);
    m.fault = sim.now + phase + 0.5;
    sim.runFor(3000);
    const off = sim.into('offline')[0];
    assert.ok(off, `phase ${phase}`);
    assert.equal(off.reason.kind, 'traffic-silent', `phase ${phase}`);
    const d = off.at - m.fault;
    const burst = 2 * BURST_SPACING_MS + MIN_DEADLINE_MS;
    assert.ok(d >= 300 - PASSIVE_SAMPLE_MS / 2 + burst && d <= 300 + PASSIVE_SAMPLE_MS / 2 + burst, `phase ${phase}: ${d} ms`);
  }
});

test('an idle link (only its own probes) is never suspect: a blackhole is found by the rounds, as before', () => {
  const { sim, m } = busyLink({}, { outPerMs: 0, inPerMs: 0 });
  sim.runFor(5000);
  m.fault = sim.now + 120;
  sim.runFor(3000);
  const off = sim.into('offline');
  assert.equal(off.length, 1);
  assert.equal(off[0]!.reason.kind, 'probes-failed');
  assert.deepEqual(sim.passive, []);
});

test('a one-way flow on a healthy link: bursts are answered, the link stays online, and the backoff bounds them', () => {
  const { sim } = busyLink({}, { outPerMs: 5, inPerMs: 0 });
  sim.runFor(10 * 60_000);
  assert.deepEqual(sim.stateChanges().map((t) => t.state), ['online']);
  const kinds = sim.passive.map((e) => e.kind);
  const suspicions = kinds.filter((k) => k === 'suspect').length;
  // Positive control: the pattern is seen at all.
  assert.ok(suspicions >= 1);
  assert.ok(suspicions <= 2, `${suspicions} suspicions in 10 minutes`);
  assert.equal(kinds.filter((k) => k === 'cleared').length, suspicions);
  assert.equal(kinds.filter((k) => k === 'confirmed').length, 0);
});

test('passive: false never suspects (the same busy link blackholed goes offline by the rounds)', () => {
  const { sim, m } = busyLink({ passive: false });
  sim.runFor(5000);
  m.fault = sim.now + 120;
  sim.runFor(3000);
  assert.equal(sim.into('offline')[0]?.reason.kind, 'probes-failed');
  assert.deepEqual(sim.passive, []);
  assert.equal(sim.tracker.passiveStatus().enabled, false);
  assert.equal(sim.tracker.passiveStatus().suspicions, 0);
});

test('a burst lost while traffic came back clears the suspicion (no false offline from a lost burst alone)', () => {
  // From t1, the LAN flow gets no answer for 350 ms (a slow server) and every probe sent in the
  // next 500 ms is lost: the burst fails, but packets came in before its verdict.
  let t1 = Infinity;
  const { sim } = busyLink({}, {}, (at) => at >= t1 && at < t1 + 500);
  const base = sim.counters!;
  sim.counters = (now) => {
    const c = base(now);
    const gap = now >= t1 ? Math.floor((Math.min(now, t1 + 350) - t1) * 5) : 0;
    return { txPackets: c.txPackets, rxPackets: c.rxPackets - gap };
  };
  sim.runFor(5000);
  t1 = sim.now + 10;
  sim.runFor(3000);
  assert.deepEqual(sim.stateChanges().map((t) => t.state), ['online']);
  assert.deepEqual(sim.passive.map((e) => e.kind), ['suspect', 'cleared']);
  const cleared = sim.passive[1]!;
  assert.ok(cleared.kind === 'cleared');
  assert.equal(cleared.by, 'traffic');
  assert.equal(cleared.answered, 0);
});

test('under 19 % probe loss and a busy answered link: no suspicion, no false offline', () => {
  const rnd = prng(7);
  const lost = new Map<string, boolean>();
  const { sim } = busyLink({}, {}, (at, attempt, round) => {
    const k = `${round}/${attempt}/${at}`;
    if (!lost.has(k)) lost.set(k, rnd() < 0.19);
    return lost.get(k)!;
  });
  sim.runFor(5 * 60_000);
  assert.deepEqual(sim.stateChanges().map((t) => t.state), ['online']);
  assert.deepEqual(sim.passive, []);
});

test('the link leaving online ends an open suspicion; status says idle', () => {
  const { sim, m } = busyLink();
  sim.runFor(3000);
  m.fault = sim.now;
  for (let i = 0; i < 100 && !sim.passive.some((e) => e.kind === 'suspect'); i++) sim.runFor(10);
  assert.equal(sim.tracker.passiveStatus().state, 'suspect');
  sim.record(sim.tracker.setKernel({ usable: false, reason: { kind: 'carrier-lost' } }, sim.now));
  assert.equal(sim.tracker.passiveStatus().state, 'idle');
  assert.equal(sim.tracker.nextWakeup(), undefined, 'no burst probe or deadline left');
});

/**
 * An lte-like link, simulated: each way 30 ± 10 ms, 2 % loss, and 200 ms stalls (everything held
 * until the stall ends) starting at random, on average every `gapMs` each way; a LAN flow of 200
 * packets/s whose replies go through the same delays. Probes see the same link.
 */
function stallingLink(seed: number, minutes: number, stallMs: number, gapMs: number, deadAfter = Infinity): Sim {
  const rnd = prng(seed);
  const start = 1_000_000;
  const end = start + minutes * 60_000 + 5000;
  const stalls = (): [number, number][] => {
    const w: [number, number][] = [];
    for (let t = start - Math.log(1 - rnd()) * gapMs; t < end; t += -Math.log(1 - rnd()) * gapMs) w.push([t, t + stallMs]);
    return w;
  };
  const up = stalls();
  const down = stalls();
  const held = (w: [number, number][], t: number) => w.find(([a, b]) => t >= a && t < b)?.[1] ?? t;
  const oneWay = (w: [number, number][], t: number) => held(w, t) - t + 30 + (rnd() * 20 - 10);
  const rtt = (t: number) => {
    const u = oneWay(up, t);
    return u + oneWay(down, t + u);
  };
  const lost = () => rnd() < 0.02;
  const lan: number[] = [];
  for (let t = start; t < Math.min(end, deadAfter); t += 5) if (!lost() && !lost() && t + rtt(t) < deadAfter) lan.push(t + rtt(t));
  lan.sort((a, b) => a - b);
  const answers: number[] = [];
  const sim = Sim.create({}, (_t, sentAt) => {
    if (sentAt >= deadAfter || lost() || lost()) return 'lost';
    const r = rtt(sentAt);
    if (sentAt + r >= deadAfter || r >= 1000) return 'lost';
    answers.push(sentAt + r);
    return { rttMs: r };
  }, 'online');
  const upTo = (xs: number[], now: number) => {
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (xs[m]! <= now) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  sim.counters = (now) => ({
    txPackets: Math.floor((now - start) / 5) + upTo(sim.sent.map((s) => s.at), now),
    rxPackets: upTo(lan, now) + answers.filter((a) => a <= now).length,
  });
  return sim;
}

test('an lte-like link (RTT 40-80 ms, 200 ms stalls each way every 20 s on average, 2 % loss), busy, 1 hour simulated: no false offline', () => {
  let suspicions = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const sim = stallingLink(seed, 10, 200, 20_000);
    sim.runFor(10 * 60_000);
    assert.deepEqual(sim.stateChanges().map((t) => t.state), [], `seed ${seed}`);
    suspicions += sim.passive.filter((e) => e.kind === 'suspect').length;
  }
  // Harsher: stalls every 5 s each way, so back-to-back stalls (silences past the threshold) occur.
  for (let seed = 1; seed <= 6; seed++) {
    const sim = stallingLink(100 + seed, 10, 200, 5000);
    sim.runFor(10 * 60_000);
    assert.deepEqual(sim.stateChanges().map((t) => t.state), [], `harsh seed ${seed}`);
    suspicions += sim.passive.filter((e) => e.kind === 'suspect').length;
  }
  assert.ok(suspicions >= 1, 'positive control: stalls did make the link suspect');
});

test('the same stalling link blackholed while busy goes offline through the passive path, its burst given the link’s slowest recent answer', () => {
  const sim = stallingLink(7, 2, 200, 20_000, 1_000_000 + 90_000);
  sim.runFor(2 * 60_000);
  const off = sim.into('offline');
  assert.equal(off.length, 1);
  assert.equal(off[0]!.reason.kind, 'traffic-silent');
  // Suspect after 300 ms; the burst waits for the slowest answer of the last 5 minutes (a stall, over 200 ms).
  const d = off[0]!.at - (1_000_000 + 90_000);
  assert.ok(d > 300 + 200 && d < 300 + PASSIVE_SAMPLE_MS / 2 + 2 * BURST_SPACING_MS + 1000, `offline after ${d} ms`);
});
