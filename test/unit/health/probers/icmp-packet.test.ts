/** ICMP echo codec: the checksum against RFC 1071's example and a naive oracle, request layout, reply parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  buildEchoRequest,
  internetChecksum,
  parseEchoReply,
  ICMP_ECHO_REPLY,
  ICMP6_ECHO_REPLY,
} from '../../../../src/health/probers/icmp-packet.js';

/** Naive oracle: sum 16-bit words in a big integer, fold once at the end. */
function naiveChecksum(buf: Uint8Array): number {
  let sum = 0n;
  for (let i = 0; i < buf.length; i += 2) sum += BigInt((buf[i]! << 8) | (buf[i + 1] ?? 0));
  while (sum > 0xffffn) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(~sum & 0xffffn);
}

/** An IPv4 packet around `icmp` as a raw socket delivers it. */
function ipv4(icmp: Buffer, opts: { protocol?: number; fragment?: number; options?: number } = {}): Buffer {
  const ihl = 5 + (opts.options ?? 0);
  const h = Buffer.alloc(ihl * 4);
  h[0] = 0x40 | ihl;
  h.writeUInt16BE(h.length + icmp.length, 2);
  h.writeUInt16BE(opts.fragment ?? 0x4000, 6); // DF by default, which is not a fragment
  h[8] = 64;
  h[9] = opts.protocol ?? 1;
  h.set([198, 19, 0, 1], 12);
  h.set([198, 18, 1, 2], 16);
  return Buffer.concat([h, icmp]);
}

/** An echo reply as the target would send it: the request with its type changed and the checksum redone. */
function replyTo(request: Buffer, family: 4 | 6): Buffer {
  const r = Buffer.from(request);
  r[0] = family === 4 ? ICMP_ECHO_REPLY : ICMP6_ECHO_REPLY;
  r.writeUInt16BE(0, 2);
  if (family === 4) r.writeUInt16BE(internetChecksum(r), 2);
  return r;
}

test('checksum: the RFC 1071 example and odd lengths', () => {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), complement 220d.
  assert.equal(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex')), 0x220d);
  assert.equal(internetChecksum(Buffer.from('01', 'hex')), 0xfeff, 'a last odd byte is the high half of a word');
  assert.equal(internetChecksum(Buffer.alloc(0)), 0xffff);
});

test('checksum agrees with a naive oracle, and a message carrying its checksum sums to zero', () => {
  for (let i = 0; i < 500; i++) {
    const buf = randomBytes(1 + (i % 97));
    assert.equal(internetChecksum(buf), naiveChecksum(buf), buf.toString('hex'));
  }
  const msg = buildEchoRequest(4, { id: 0xbeef, seq: 7, payload: randomBytes(8) });
  assert.equal(internetChecksum(msg), 0);
});

test('echo request layout: IPv4 type 8 with checksum, IPv6 type 128 with the checksum left to the kernel', () => {
  const payload = Buffer.from('0102030405060708', 'hex');
  assert.equal(buildEchoRequest(4, { id: 0x1234, seq: 0xfffe, payload }).toString('hex'), '0800' + 'd5b8' + '1234fffe' + '0102030405060708');
  assert.equal(buildEchoRequest(6, { id: 0x1234, seq: 1, payload }).toString('hex'), '8000' + '0000' + '12340001' + '0102030405060708');
  assert.equal(buildEchoRequest(4, { id: 0x1_0001, seq: 0x1_0002, payload: Buffer.alloc(0) }).readUInt32BE(4), 0x00010002, 'ids wrap to 16 bits');
});

test('parse: an IPv4 reply behind its IP header (with or without options), an IPv6 reply bare', () => {
  const payload = randomBytes(8);
  const req4 = buildEchoRequest(4, { id: 4242, seq: 65535, payload });
  for (const options of [0, 3]) {
    const r = parseEchoReply(4, ipv4(replyTo(req4, 4), { options }));
    assert.deepEqual(r && { id: r.id, seq: r.seq, payload: r.payload.toString('hex') }, { id: 4242, seq: 65535, payload: payload.toString('hex') });
  }
  const req6 = buildEchoRequest(6, { id: 1, seq: 2, payload });
  const r6 = parseEchoReply(6, replyTo(req6, 6));
  assert.deepEqual(r6 && { id: r6.id, seq: r6.seq }, { id: 1, seq: 2 });
});

test('parse rejects what is not our echo reply', () => {
  const req = buildEchoRequest(4, { id: 1, seq: 1, payload: Buffer.alloc(8, 0xab) });
  const good = replyTo(req, 4);
  const corrupt = Buffer.from(good);
  corrupt[10] = corrupt[10]! ^ 0xff;
  const cases: [string, Buffer, 4 | 6][] = [
    ['an echo request', ipv4(req), 4],
    ['a bad checksum', ipv4(corrupt), 4],
    ['not ICMP', ipv4(good, { protocol: 17 }), 4],
    ['a fragment (MF)', ipv4(good, { fragment: 0x2000 }), 4],
    ['a fragment (offset)', ipv4(good, { fragment: 0x0010 }), 4],
    ['a truncated IP header', ipv4(good).subarray(0, 19), 4],
    ['a total length beyond the datagram', ipv4(good).subarray(0, 30), 4],
    ['an IPv6 packet on the IPv4 socket', Buffer.concat([Buffer.from([0x60]), Buffer.alloc(40)]), 4],
    ['a short ICMPv6 message', replyTo(buildEchoRequest(6, { id: 1, seq: 1, payload: Buffer.alloc(0) }), 6).subarray(0, 7), 6],
    ['an ICMPv6 echo request', buildEchoRequest(6, { id: 1, seq: 1, payload: Buffer.alloc(0) }), 6],
    ['a nonzero code', Buffer.from('8101000000010001', 'hex'), 6],
  ];
  for (const [what, datagram, family] of cases) assert.equal(parseEchoReply(family, datagram), undefined, what);
  // Random bytes never throw.
  for (let i = 0; i < 2000; i++) {
    parseEchoReply(4, randomBytes(i % 64));
    parseEchoReply(6, randomBytes(i % 64));
  }
});
