/** Failover nudges: the segment's bytes and checksums, which flushed entries get one, and the ctnetlink dump codec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowsToNudge, nudgeSegment, nudgeSeq, nudgeVerdict, NUDGE_SCHEDULE, type CtFlow, type NudgeScope } from '../../../src/kernel/tcp-nudge.js';
import { internetChecksum } from '../../../src/util/checksum.js';
import { decodeCtEntry, decodeCtMessages, encodeDumpByMark, encodeGetFlow } from '../../../src/kernel/conntrack.js';
import { parsePrefix } from '../../../src/config/values.js';
import { ipToBytes } from '../../../src/kernel/rtnl/ip.js';

const v4: CtFlow = { family: 4, proto: 6, src: '198.18.100.2', dst: '198.19.0.10', sport: 40000, dport: 9000, tcpState: 3 };
const v6: CtFlow = { family: 6, proto: 6, src: '2001:db8:100::2', dst: '2001:db8:ffff::10', sport: 40001, dport: 443, tcpState: 3 };

test('IPv4 nudge: from the server to the client, ACK only, valid IP and TCP checksums', () => {
  const p = nudgeSegment(v4, 0x11223344, 0x55667788);
  assert.equal(p.length, 40);
  assert.equal(p[0], 0x45);
  assert.equal(p.readUInt16BE(2), 40);
  assert.equal(p[9], 6);
  assert.deepEqual(p.subarray(12, 16), ipToBytes('198.19.0.10'));
  assert.deepEqual(p.subarray(16, 20), ipToBytes('198.18.100.2'));
  assert.equal(internetChecksum(p.subarray(0, 20)), 0, 'IP header checksum');
  const tcp = p.subarray(20);
  assert.equal(tcp.readUInt16BE(0), 9000);
  assert.equal(tcp.readUInt16BE(2), 40000);
  assert.equal(tcp.readUInt32BE(4), 0x11223344);
  assert.equal(tcp.readUInt32BE(8), 0x55667788);
  assert.equal(tcp[13], 0x10, 'ACK only: no SYN, no RST, no data');
  const pseudo = Buffer.concat([p.subarray(12, 16), p.subarray(16, 20), Buffer.from([0, 6, 0, 20])]);
  assert.equal(internetChecksum(Buffer.concat([pseudo, tcp])), 0, 'TCP checksum');
});

test('IPv6 nudge: fixed header, TCP checksum over the IPv6 pseudo-header', () => {
  const p = nudgeSegment(v6, 1, 2);
  assert.equal(p.length, 60);
  assert.equal(p[0]! >> 4, 6);
  assert.equal(p.readUInt16BE(4), 20);
  assert.equal(p[6], 6);
  assert.deepEqual(p.subarray(8, 24), ipToBytes('2001:db8:ffff::10'));
  assert.deepEqual(p.subarray(24, 40), ipToBytes('2001:db8:100::2'));
  const pseudo = Buffer.concat([p.subarray(8, 24), p.subarray(24, 40), Buffer.from([0, 0, 0, 20, 0, 0, 0, 6])]);
  assert.equal(internetChecksum(Buffer.concat([pseudo, p.subarray(40)])), 0);
});

const scope: NudgeScope = {
  local: new Set(['198.18.1.1', '198.18.100.1', '2001:db8:100::1']),
  lan: [parsePrefix('198.18.100.0/24')!, parsePrefix('2001:db8:100::/64')!, parsePrefix('198.18.120.0/24')!],
};

test('only live outbound TCP connections of LAN clients are nudged', () => {
  const outbound = { ...v4, reply: { src: v4.dst, dst: '198.18.1.1', sport: 9000, dport: 40000 } };
  const routedLan = { ...v4, src: '198.18.120.9' }; // behind a router on the LAN: a main-table route via lan0
  const flows: CtFlow[] = [
    v4,
    v6,
    outbound,
    routedLan,
    { ...v4, proto: 17 }, // UDP
    { ...v4, tcpState: 7 }, // TIME_WAIT
    { ...v4, src: '198.18.1.1' }, // the router's own connection, from its wan1 address
    // A port forward that came in through the dead link: an internet client to the router's WAN
    // address, destination-NATed to a LAN server (its reply comes from the LAN server).
    { family: 4, proto: 6, src: '198.19.0.10', dst: '198.18.1.1', sport: 50000, dport: 8080, tcpState: 3, reply: { src: '198.18.100.2', dst: '198.19.0.10', sport: 80, dport: 50000 } },
    // The same seen as a LAN server's address (a forward without DNAT, a routed public LAN): not a LAN client either.
    { family: 4, proto: 6, src: '198.19.0.10', dst: '198.18.100.2', sport: 50001, dport: 80, tcpState: 3 },
    // Destination-NATed by something else on the router (the reply is not from the original destination).
    { ...v4, sport: 40002, reply: { src: '198.18.100.1', dst: v4.src, sport: 3128, dport: 40002 } },
  ];
  assert.deepEqual(flowsToNudge(flows, scope), [v4, v6, outbound, routedLan]);
  assert.deepEqual(flowsToNudge([v4], { local: new Set(), lan: [] }), [], 'no LAN networks known: nothing is nudged');
});

test('a nudged flow\'s new conntrack entry tells reset, unanswered or silent', () => {
  assert.equal(nudgeVerdict(undefined), 'silent');
  assert.equal(nudgeVerdict({ ...v4, tcpState: 3 }), 'unanswered');
  assert.equal(nudgeVerdict({ ...v4 }), 'unanswered');
  assert.equal(nudgeVerdict({ ...v4, tcpState: 8 }), 'reset', 'CLOSE');
  assert.equal(nudgeVerdict({ ...v4, tcpState: 7 }), 'reset', 'TIME_WAIT');
});

test('consecutive nudges are 2^31 apart in sequence space: never both inside one receive window', () => {
  for (const base of [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 123456789]) {
    for (let n = 0; n < 6; n++) {
      const a = nudgeSeq(base, n);
      const b = nudgeSeq(base, n + 1);
      assert.ok(a >= 0 && a < 2 ** 32 && Number.isInteger(a));
      assert.equal((b - a + 2 ** 32) % 2 ** 32, 2 ** 31);
    }
  }
  // The checks after the first are more than tcp_invalid_ratelimit (500 ms) apart.
  for (let i = 2; i < NUDGE_SCHEDULE.length; i++) assert.ok(NUDGE_SCHEDULE[i]! - NUDGE_SCHEDULE[i - 1]! > 500);
});

/** A netlink attribute (payload padded to 4). */
function nla(type: number, payload: Buffer, nested = false): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type | (nested ? 0x8000 : 0), 2);
  payload.copy(b, 4);
  return b;
}
const be16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
function msg(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

test('ctnetlink: the dump request filters by mark; entries, errors and the end of the dump decode', () => {
  const req = encodeDumpByMark(9, 0x20000, 0xff0000);
  assert.equal(req.readUInt16LE(4), (1 << 8) | 1, 'IPCTNL_MSG_CT_GET');
  assert.equal(req.readUInt16LE(6), 0x301, 'NLM_F_REQUEST | NLM_F_DUMP');
  assert.equal(req.readUInt32BE(24), 0x20000, 'CTA_MARK, big-endian');
  assert.equal(req.readUInt32BE(32), 0xff0000, 'CTA_MARK_MASK');

  const tuple = nla(
    1,
    Buffer.concat([
      nla(1, Buffer.concat([nla(1, ipToBytes('198.18.100.2')), nla(2, ipToBytes('198.19.0.10'))]), true),
      nla(2, Buffer.concat([nla(1, Buffer.from([6])), nla(2, be16(40000)), nla(3, be16(9000))]), true),
    ]),
    true,
  );
  const protoinfo = nla(4, nla(1, nla(1, Buffer.from([3])), true), true);
  const entry = msg((1 << 8) | 0, 9, Buffer.concat([Buffer.from([2, 0, 0, 0]), tuple, protoinfo]));
  const tuple6 = nla(
    1,
    Buffer.concat([
      nla(1, Buffer.concat([nla(3, ipToBytes('2001:db8:100::2')), nla(4, ipToBytes('2001:db8:ffff::10'))]), true),
      nla(2, Buffer.concat([nla(1, Buffer.from([6])), nla(2, be16(40001)), nla(3, be16(443))]), true),
    ]),
    true,
  );
  const entry6 = msg((1 << 8) | 0, 9, Buffer.concat([Buffer.from([10, 0, 0, 0]), tuple6]));
  const done = msg(3, 9, Buffer.alloc(4));
  const err = Buffer.alloc(4);
  err.writeInt32LE(-1, 0);
  const eperm = msg(2, 10, Buffer.concat([err, Buffer.alloc(16)]));
  assert.deepEqual(decodeCtMessages(Buffer.concat([entry, entry6, done, eperm])), [
    { seq: 9, kind: 'entry', flow: v4 },
    { seq: 9, kind: 'entry', flow: { family: 6, proto: 6, src: '2001:db8:100::2', dst: '2001:db8:ffff::10', sport: 40001, dport: 443 } },
    { seq: 9, kind: 'done' },
    { seq: 10, kind: 'ack', errno: 1 },
  ]);
});

test('ctnetlink: a get by original tuple encodes the tuple nested; entries decode with their reply tuple', () => {
  for (const f of [v4, v6]) {
    const req = encodeGetFlow(5, f);
    assert.equal(req.readUInt32LE(0), req.length);
    assert.equal(req.readUInt16LE(4), (1 << 8) | 1, 'IPCTNL_MSG_CT_GET');
    assert.equal(req.readUInt16LE(6), 0x5, 'NLM_F_REQUEST | NLM_F_ACK, no dump');
    assert.equal(req[16], f.family === 4 ? 2 : 10);
    // The request's attributes are what an entry carries: decode it as one (the nested flag is ignored).
    const back = decodeCtEntry(req.subarray(16));
    assert.deepEqual(back, { family: f.family, proto: 6, src: f.src, dst: f.dst, sport: f.sport, dport: f.dport });
  }
  const orig = nla(
    1,
    Buffer.concat([
      nla(1, Buffer.concat([nla(1, ipToBytes('198.18.100.2')), nla(2, ipToBytes('198.19.0.10'))]), true),
      nla(2, Buffer.concat([nla(1, Buffer.from([6])), nla(2, be16(40000)), nla(3, be16(9000))]), true),
    ]),
    true,
  );
  const reply = nla(
    2,
    Buffer.concat([
      nla(1, Buffer.concat([nla(1, ipToBytes('198.19.0.10')), nla(2, ipToBytes('198.18.1.1'))]), true),
      nla(2, Buffer.concat([nla(1, Buffer.from([6])), nla(2, be16(9000)), nla(3, be16(40000))]), true),
    ]),
    true,
  );
  const protoinfo = nla(4, nla(1, nla(1, Buffer.from([8])), true), true);
  assert.deepEqual(decodeCtEntry(Buffer.concat([Buffer.from([2, 0, 0, 0]), orig, reply, protoinfo])), {
    ...v4,
    tcpState: 8,
    reply: { src: '198.19.0.10', dst: '198.18.1.1', sport: 9000, dport: 40000 },
  });
});
