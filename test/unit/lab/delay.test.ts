import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDuration,
  parseOneWay,
  parseLinkDelay,
  parseDelayList,
  resolveDelay,
  resolveDelays,
  formatLinkDelay,
  formatOneWay,
  elementParams,
  elementArgs,
  setRequest,
  delayTcLines,
  delayTcRemove,
  parseElementReply,
  hasDelay,
  NO_DELAY,
  type LinkDelay,
} from '../../../src/lab/delay.js';
import { parseFault, formatFault, faultCommands, type FaultTarget } from '../../../src/lab/faults.js';

const ow = (delayMs: number, jitterMs = 0, stallMs = 0, stallEveryMs = 0) => ({ delayMs, jitterMs, stallMs, stallEveryMs });
const isp: FaultTarget = { link: 'wan2', index: 2, node: 'isp2', carrierDev: 'router', farDev: 'inet', blackholeScope: 'forward' };
const hop: FaultTarget = { link: 'path1', index: 1, node: 'hop1', carrierDev: 'entry', farDev: 'exit', blackholeScope: 'all' };

test('durations: ms by default, us and s, microsecond resolution', () => {
  assert.equal(parseDuration('30ms', 'd'), 30);
  assert.equal(parseDuration('30', 'd'), 30);
  assert.equal(parseDuration('1.5s', 'd'), 1500);
  assert.equal(parseDuration('500us', 'd'), 0.5);
  assert.equal(parseDuration('0.0004ms', 'd'), 0);
  assert.throws(() => parseDuration('fast', 'delay'), /delay: "fast" is not a duration/);
  assert.throws(() => parseDuration('-5ms', 'delay'), /not a duration/);
  assert.throws(() => parseDuration('11s', 'delay'), /delay: 11s is more than 10 s/);
});

test('one direction: DELAY[±JITTER][:STALL@EVERY], +- for ±, none', () => {
  assert.deepEqual(parseOneWay('30ms'), ow(30));
  assert.deepEqual(parseOneWay('30ms±5ms'), ow(30, 5));
  assert.deepEqual(parseOneWay('30ms+-5ms'), ow(30, 5));
  assert.deepEqual(parseOneWay(' 30 ± 5 '), ow(30, 5));
  assert.deepEqual(parseOneWay('30ms±10ms:200ms@10s'), ow(30, 10, 200, 10_000));
  assert.deepEqual(parseOneWay('0:200ms@5s'), ow(0, 0, 200, 5000), 'stalls alone are a delay element too');
  assert.equal(parseOneWay('-'), null);
  assert.equal(parseOneWay('none'), null);
  assert.equal(parseOneWay('0'), null);
  assert.equal(parseOneWay('0ms±0ms'), null);
});

test('bad one-way delays are refused naming what is wrong', () => {
  assert.throws(() => parseOneWay('5ms±10ms', 'delay'), /delay: jitter 10 ms is more than the delay 5 ms/);
  assert.throws(() => parseOneWay('30ms+5ms', 'delay'), /"30ms\+5ms" is not a duration/);
  assert.throws(() => parseOneWay('30ms:200ms', 'delay'), /is not DELAY\[±JITTER\]\[:STALL@EVERY\]/);
  assert.throws(() => parseOneWay('30ms±', 'delay'), /is not DELAY/);
  assert.throws(() => parseOneWay('30ms:0@10s', 'delay'), /a stall needs both its length and its mean interval/);
});

test('a link: both directions alike, or DOWN/UP', () => {
  assert.deepEqual(parseLinkDelay('30ms±5ms'), { down: ow(30, 5), up: ow(30, 5) });
  assert.deepEqual(parseLinkDelay('10ms/20ms±2ms'), { down: ow(10), up: ow(20, 2) });
  assert.deepEqual(parseLinkDelay('-/20ms'), { down: null, up: ow(20) });
  assert.deepEqual(parseLinkDelay('none'), NO_DELAY);
  assert.throws(() => parseLinkDelay('1ms/2ms/3ms', 'delay'), /more than one "\/"/);
  assert.throws(() => parseLinkDelay('1ms/x', 'delay'), /delay \(up\): "x" is not a duration/);
});

test('the CLI list, per link', () => {
  assert.deepEqual(parseDelayList('5ms,30ms±5ms'), [
    { down: ow(5), up: ow(5) },
    { down: ow(30, 5), up: ow(30, 5) },
  ]);
  assert.deepEqual(parseDelayList('-,10ms/20ms'), [NO_DELAY, { down: ow(10), up: ow(20) }]);
  assert.throws(() => parseDelayList('5ms,,1ms'), /--delay: entry 2 is empty/);
  assert.throws(() => parseDelayList('5ms,7ms±9ms'), /--delay entry 2: jitter 9 ms is more than the delay 7 ms/);
});

test('specs resolve: strings, objects (checked), nothing', () => {
  assert.deepEqual(resolveDelay(undefined), NO_DELAY);
  assert.deepEqual(resolveDelay(null), NO_DELAY);
  assert.deepEqual(resolveDelay({ down: ow(1), up: null }), { down: ow(1), up: null });
  assert.deepEqual(resolveDelay({ down: ow(0), up: ow(0) }), NO_DELAY, 'zero everywhere is no delay');
  assert.throws(() => resolveDelay({ down: ow(1, 2), up: null }, 'x'), /x \(down\): jitter 2 ms is more than the delay 1 ms/);
  assert.throws(() => resolveDelay({ down: ow(Number.NaN), up: null }, 'x'), /delayMs NaN is not a number of milliseconds/);
  assert.throws(() => resolveDelay({ down: ow(-1), up: null }, 'x'), /delayMs -1/);
  assert.deepEqual(resolveDelays(['5ms'], 2), [{ down: ow(5), up: ow(5) }, NO_DELAY]);
  assert.throws(() => resolveDelays(['5ms', '5ms', '5ms'], 2), /delays: 3 delays given for 2 links/);
  assert.equal(hasDelay(NO_DELAY), false);
  assert.equal(hasDelay({ down: null, up: ow(1) }), true);
});

test('formatting reads back as what was parsed', () => {
  for (const text of ['30ms±5ms', '10ms/20ms', '300ms', '30ms±10ms:200ms@10s', '500us', '1.5ms±250us/0', 'none']) {
    const d = parseLinkDelay(text);
    assert.deepEqual(parseLinkDelay(formatLinkDelay(d)), d, text);
  }
  assert.equal(formatLinkDelay(parseLinkDelay('30ms+-5ms')), '30ms±5ms');
  assert.equal(formatLinkDelay(parseLinkDelay('10ms/20ms')), '10ms/20ms');
  assert.equal(formatLinkDelay(parseLinkDelay('2s')), '2s');
  assert.equal(formatOneWay(null), '0');
});

test('the element is told microseconds, up before down', () => {
  const d: LinkDelay = { down: ow(10, 2.5), up: ow(30, 0, 200, 20_000) };
  assert.equal(elementParams(d.down), '10000,2500,0,0');
  assert.equal(elementParams(null), '0,0,0,0');
  assert.equal(setRequest(d), 'set up=30000,0,200000,20000000 down=10000,2500,0,0');
  assert.deepEqual(elementArgs(d, '/x/delay-wan1.sock', 10), [
    '--up-dev', 'dlyup', '--down-dev', 'dlydown', '--control', '/x/delay-wan1.sock', '--up', '30000,0,200000,20000000', '--down', '10000,2500,0,0', '--rt', '10',
  ]);
});

test('tc steering: ingress of the near side to dlyup, the far side to dlydown, ND/multicast/link-local bypass', () => {
  const lines = delayTcLines(isp);
  assert.equal(lines.length, 14);
  assert.equal(lines[0], 'qdisc add dev router clsact');
  assert.equal(lines[7], 'qdisc add dev inet clsact');
  assert.ok(lines.includes('filter add dev router ingress pref 1 protocol ipv6 u32 match u8 255 0xff at 7 classid :1'));
  assert.ok(lines.includes('filter add dev router ingress pref 4 protocol ipv6 u32 match u32 0 0 action mirred egress redirect dev dlyup'));
  assert.ok(lines.includes('filter add dev router ingress pref 6 protocol ip u32 match u32 0 0 action mirred egress redirect dev dlyup'));
  assert.ok(lines.includes('filter add dev inet ingress pref 6 protocol ip u32 match u32 0 0 action mirred egress redirect dev dlydown'));
  // Every bypass comes before the catch-all of its family on the same device.
  for (const dev of ['router', 'inet']) {
    const prefs = (re: RegExp) => lines.filter((l) => l.startsWith(`filter add dev ${dev} `) && re.test(l)).map((l) => Number(/pref (\d+)/.exec(l)![1]));
    assert.ok(Math.max(...prefs(/ipv6 .*classid/)) < Math.min(...prefs(/ipv6 .*mirred/)));
    assert.ok(Math.max(...prefs(/protocol ip .*classid/)) < Math.min(...prefs(/protocol ip .*mirred/)));
  }
  assert.ok(delayTcLines(hop).every((l) => / dev (entry|exit) /.test(l)));
  assert.deepEqual(delayTcRemove(hop), [['qdisc', 'del', 'dev', 'entry', 'clsact'], ['qdisc', 'del', 'dev', 'exit', 'clsact']]);
});

test('element answers: state parsed back into a LinkDelay; refusals and garbage are errors', () => {
  const dir = (delay: number, jitter: number) => ({ dev: 'x', delay_us: delay, jitter_us: jitter, stall_us: 0, stall_every_us: 0, packets: 3, bytes: 300, drops: 0, write_errors: 0, queued: 0, queued_max: 1, late_max_us: 12, late_over_1ms: 0 });
  const s = parseElementReply(JSON.stringify({ ok: true, pid: 42, up: dir(30000, 5000), down: dir(0, 0) }));
  assert.deepEqual(s.delay, { down: null, up: ow(30, 5) });
  assert.equal(s.pid, 42);
  assert.equal(s.up.packets, 3);
  assert.throws(() => parseElementReply('{"ok":false,"error":"bad set: x"}'), /delay element: bad set: x/);
  assert.throws(() => parseElementReply('nope'), /unreadable answer "nope"/);
  assert.throws(() => parseElementReply('{"ok":true}'), /answer without its state/);
});

test('the delay fault: parsed from the CLI words, formatted, no nft of its own', () => {
  assert.deepEqual(parseFault(['delay', '80ms±20ms']), { kind: 'delay', delay: { down: ow(80, 20), up: ow(80, 20) } });
  assert.deepEqual(parseFault(['delay', 'none']), { kind: 'delay', delay: NO_DELAY });
  assert.throws(() => parseFault(['delay']), /delay: missing delay/);
  assert.throws(() => parseFault(['delay', '1ms', 'x']), /delay: unexpected argument "x"/);
  assert.throws(() => parseFault(['delay', 'soon']), /delay: "soon" is not a duration/);
  assert.equal(formatFault({ kind: 'delay', delay: parseLinkDelay('10ms/20ms') }), 'delay 10ms/20ms');
  assert.deepEqual(faultCommands(isp, { kind: 'delay', delay: NO_DELAY }), {});
});
