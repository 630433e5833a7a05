/** Failover nudges: the segment's bytes and checksums, which flushed entries get one, and the ctnetlink dump codec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowsToNudge, nudgeSegment, type CtFlow } from '../../../src/kernel/tcp-nudge.js';
import { internetChecksum } from '../../../src/util/checksum.js';
import { decodeCtMessages, encodeDumpByMark } from '../../../src/kernel/conntrack.js';
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

test('only live TCP connections of LAN clients are nudged', () => {
  const flows: CtFlow[] = [
    v4,
    v6,
    { ...v4, proto: 17 }, // UDP
    { ...v4, tcpState: 7 }, // TIME_WAIT
    { ...v4, src: '198.18.1.1' }, // the router's own connection, from its wan1 address
  ];
  assert.deepEqual(flowsToNudge(flows, new Set(['198.18.1.1'])), [v4, v6]);
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
