/**
 * The nudger with a fake sender and a fake conntrack: each flow is nudged until its entry shows
 * the reset, with alternating halves of the sequence space, within the schedule's bound; counters,
 * the tracking cap and close. The schedule is shortened to milliseconds; the tests wait for the
 * nudger to finish (nothing followed any more), never for a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Nudger } from '../../../src/kernel/nudger.js';
import type { CtFlow } from '../../../src/kernel/tcp-nudge.js';

const SCHEDULE = [2, 4, 6, 8];
const flow = (sport: number, family: 4 | 6 = 4): CtFlow =>
  family === 4
    ? { family, proto: 6, src: '198.18.100.2', dst: '198.19.0.10', sport, dport: 9000, tcpState: 3 }
    : { family, proto: 6, src: '2001:db8:100::2', dst: '2001:db8:ffff::10', sport, dport: 9000, tcpState: 3 };

interface Sent {
  family: 4 | 6;
  mark: number;
  sport: number;
  seq: number;
}

function harness(resetAfter: Map<number, number>, opts: { maxTracked?: number } = {}) {
  const sent: Sent[] = [];
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const n = new Nudger({
    log,
    schedule: SCHEDULE,
    random: () => 0x12345678,
    ...opts,
    send: (family, mark, packets) => {
      for (const [p] of packets) {
        const tcp = p.subarray(family === 4 ? 20 : 40);
        sent.push({ family, mark, sport: tcp.readUInt16BE(2), seq: tcp.readUInt32BE(4) });
      }
      return packets.length;
    },
    // A flow shows its reset once it has been nudged `resetAfter` times (Infinity: never).
    getFlow: (f) => {
      const times = sent.filter((s) => s.sport === f.sport).length;
      return Promise.resolve(times >= (resetAfter.get(f.sport) ?? 1) ? { ...f, tcpState: 8 } : times > 0 && f.sport % 2 === 0 ? { ...f, tcpState: 3 } : undefined);
    },
  });
  return { n, sent, lines };
}

async function settled(n: Nudger): Promise<void> {
  for (let i = 0; i < 1000 && n.counters().following > 0; i++) await sleep(2);
  assert.equal(n.counters().following, 0, 'the nudger finished');
}

test('flows that reset after the first nudge are confirmed and never nudged again', async () => {
  const { n, sent } = harness(new Map());
  assert.equal(n.nudge('wan2', [flow(1), flow(2, 6)], 7), 2);
  await settled(n);
  assert.deepEqual(n.counters(), { sent: 2, confirmed: 2, retried: 0, unconfirmed: 0, untracked: 0, following: 0 });
  assert.deepEqual(sent.map((s) => [s.family, s.mark, s.seq]), [[4, 7, 0x12345678], [6, 7, 0x12345678]]);
});

test('a flow without a reset is nudged again with the other half of the sequence space, until it resets', async () => {
  const { n, sent, lines } = harness(new Map([[3, 3], [4, 2]]));
  n.nudge('wan2', [flow(3), flow(4), flow(5)], 7);
  await settled(n);
  assert.deepEqual(n.counters(), { sent: 3 + 2 + 1, confirmed: 3, retried: 3, unconfirmed: 0, untracked: 0, following: 0 });
  assert.deepEqual(sent.filter((s) => s.sport === 3).map((s) => s.seq), [0x12345678, 0x92345678, 0x12345678]);
  assert.deepEqual(sent.filter((s) => s.sport === 4).map((s) => s.seq), [0x12345678, 0x92345678]);
  assert.ok(lines.some((l) => l.msg === 'nudging again: no reset seen yet'));
});

test('a flow that never resets gets one nudge per check but the last, then counts as unconfirmed (logged once)', async () => {
  const { n, sent, lines } = harness(new Map([[6, Infinity], [7, Infinity]]));
  n.nudge('wan2', [flow(6), flow(7)], 7);
  await settled(n);
  assert.equal(sent.filter((s) => s.sport === 6).length, SCHEDULE.length, 'first nudge + one per check except the last');
  assert.deepEqual(n.counters(), { sent: 2 * SCHEDULE.length, confirmed: 0, retried: 2 * (SCHEDULE.length - 1), unconfirmed: 2, untracked: 0, following: 0 });
  const warn = lines.filter((l) => l.msg.startsWith('no reset seen'));
  assert.equal(warn.length, 1);
  assert.deepEqual((warn[0] as unknown as { sample: { seen: string[] }[] }).sample.map((s) => s.seen), [
    ['unanswered', 'unanswered', 'unanswered', 'unanswered'],
    ['silent', 'silent', 'silent', 'silent'],
  ]);
});

test('beyond the tracking cap a flow is nudged once and counted untracked; close stops every check', async () => {
  const capped = harness(new Map([[8, Infinity], [9, Infinity], [10, Infinity]]), { maxTracked: 2 });
  capped.n.nudge('wan2', [flow(8), flow(9), flow(10)], 7);
  await settled(capped.n);
  assert.equal(capped.n.counters().untracked, 1);
  assert.equal(capped.sent.filter((s) => s.sport === 10).length, 1, 'the untracked flow had one nudge');
  assert.equal(capped.n.counters().unconfirmed, 2);

  const closed = harness(new Map([[11, Infinity]]));
  closed.n.nudge('wan2', [flow(11)], 7);
  closed.n.close();
  await sleep(SCHEDULE.at(-1)! * 3);
  assert.equal(closed.sent.length, 1, 'nothing sent after close');
  assert.equal(closed.n.nudge('wan2', [flow(12)], 7), 0, 'a closed nudger sends nothing');
});

/** A nudger with a destroy-event source the test drives (`emit`), counting open watchers. */
function watched(getFlow: (f: CtFlow) => Promise<CtFlow | undefined>, lingerMs = 0) {
  const w = { sent: [] as number[], watching: 0, opened: 0, emit: undefined as ((f: CtFlow) => void) | undefined, n: undefined as unknown as Nudger };
  w.n = new Nudger({
    log: pino({ level: 'silent' }),
    lingerMs,
    schedule: SCHEDULE,
    send: (_family, _mark, packets) => {
      for (const [p] of packets) w.sent.push(p.subarray(20).readUInt16BE(2));
      return packets.length;
    },
    getFlow,
    watchDestroyed: (cb) => {
      w.emit = cb;
      w.watching++;
      w.opened++;
      return { close: () => void w.watching-- };
    },
  });
  return w;
}

test('a destroyed entry confirms a flow unless it carries the dead link\'s mark (the flush\'s own deletions)', async () => {
  // A reset entry is gone at once: absence proves nothing.
  const w = watched(() => Promise.resolve(undefined));
  const { n, sent } = w;
  n.nudge('wan2', [flow(20), flow(21)], 7, { mark: 0x20000, mask: 0xff0000 });
  assert.equal(w.watching, 1, 'destroy events are followed while flows are');
  w.emit!({ ...flow(20), mark: 0x20000 }); // the flushed entry itself: not a reset
  w.emit!({ ...flow(21), mark: 0x10000 }); // the client's answer, pinned to wan1, reset by the server
  w.emit!({ ...flow(99), mark: 0x10000 }); // someone else's entry
  await settled(n);
  assert.equal(sent.filter((p) => p === 21).length, 1, 'the reset flow is not nudged again');
  assert.equal(sent.filter((p) => p === 20).length, SCHEDULE.length, 'the other is nudged until the schedule ends');
  assert.deepEqual({ ...n.counters() }, { sent: 1 + SCHEDULE.length, confirmed: 1, retried: SCHEDULE.length - 1, unconfirmed: 1, untracked: 0, following: 0 });
  assert.equal(w.watching, 0, 'the watcher closes with the last followed flow');
});

test('a reset drawn between the flush and the nudge (seen after prepare) needs no nudge', async () => {
  const w = watched((f) => Promise.resolve({ ...f, tcpState: 8 }));
  const { n, sent } = w;
  const done = n.prepare('wan2');
  assert.equal(w.watching, 1, 'listening before the flush');
  w.emit!({ ...flow(30), mark: 0x20000 }); // flushed
  w.emit!({ ...flow(31), mark: 0x20000 }); // flushed
  w.emit!({ ...flow(31), mark: 0x30000 }); // then its retransmission drew a reset through wan3
  assert.equal(n.nudge('wan2', [flow(30), flow(31)], 7, { mark: 0x20000, mask: 0xff0000 }), 1);
  done();
  await settled(n);
  assert.deepEqual(sent, [30]);
  assert.equal(n.counters().confirmed, 2);
  assert.equal(w.watching, 0);
});

test('the watcher lingers after the last failover: the next failover reuses it, forgetting what it saw before', async () => {
  const w = watched((f) => Promise.resolve({ ...f, tcpState: 8 }), 60_000);
  const { n, sent } = w;
  const first = n.prepare('wan2');
  w.emit!({ ...flow(40), mark: 0x30000 }); // a reset seen during the first failover
  first();
  assert.equal(w.watching, 1, 'still open after the failover settled');
  const second = n.prepare('wan3');
  assert.equal(w.opened, 1, 'the second failover reuses the socket');
  // The earlier destroy of the same tuple is not this failover's: the flow is nudged.
  assert.equal(n.nudge('wan3', [flow(40)], 7, { mark: 0x40000, mask: 0xff0000 }), 1);
  second();
  await settled(n);
  assert.deepEqual(sent.slice(0, 1), [40]);
  assert.equal(w.watching, 1, 'open for the linger after the last flow settled');
  n.close();
});

test('a lingering watcher closes by itself once the linger passes', async () => {
  const w = watched(() => Promise.resolve(undefined), 1);
  w.n.prepare('wan2')();
  for (let i = 0; i < 1000 && w.watching > 0; i++) await sleep(2);
  assert.equal(w.watching, 0);
  assert.equal(w.opened, 1);
});

test('close closes a lingering watcher at once', () => {
  const w = watched(() => Promise.resolve(undefined), 60_000);
  w.n.prepare('wan2')();
  assert.equal(w.watching, 1);
  w.n.close();
  assert.equal(w.watching, 0);
});
