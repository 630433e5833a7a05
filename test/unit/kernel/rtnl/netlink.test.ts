/**
 * Netlink framing and the kernel's verdicts: messages in a datagram, ACK/ERROR with and without
 * extended ack (real kernel bytes), DONE, errno names, and the KernelError a refusal becomes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NLMSG_ERROR,
  encodeMessage,
  errnoName,
  kernelError,
  parseDone,
  parseError,
  parseMessages,
} from '../../../../src/kernel/rtnl/netlink.js';
import { KernelError, WanbraidError } from '../../../../src/errors.js';
import { fixtures } from './fixtures.js';
import { messageOf } from './helpers.js';

test('a datagram of several messages splits into them, payloads without padding', () => {
  const a = encodeMessage({ type: 24, flags: 0x2, seq: 7, pid: 99, payload: Buffer.from('0102030405', 'hex') });
  const b = encodeMessage({ type: 3, flags: 0x2, seq: 7, pid: 99, payload: Buffer.alloc(4) });
  assert.equal(a.length, 16 + 8);
  assert.equal(a.readUInt32LE(0), 21, 'nlmsg_len counts the unpadded payload');
  const msgs = parseMessages(Buffer.concat([a, b]));
  assert.equal(msgs.length, 2);
  assert.deepEqual(
    msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.toString('hex')]),
    [
      [24, 2, 7, 99, '0102030405'],
      [3, 2, 7, 99, '00000000'],
    ],
  );
});

test('a truncated or lying datagram is refused, not half-parsed', () => {
  const a = encodeMessage({ type: 24, flags: 0, seq: 1, payload: Buffer.alloc(8) });
  assert.throws(() => parseMessages(a.subarray(0, a.length - 4)), WanbraidError);
  const lying = Buffer.from(a);
  lying.writeUInt32LE(8, 0);
  assert.throws(() => parseMessages(lying), /malformed netlink datagram/);
});

test('real kernel error with NETLINK_EXT_ACK: errno and the kernel text', () => {
  const m = messageOf(fixtures.routeErrorExtAck[0]!);
  assert.equal(m.type, NLMSG_ERROR);
  const st = parseError(m);
  assert.equal(st.errno, 101);
  assert.equal(errnoName(st.errno), 'ENETUNREACH');
  // The text is not about one attribute, so the kernel sends no NLMSGERR_ATTR_OFFS.
  assert.deepEqual(st, { errno: 101, extack: 'Nexthop has invalid gateway' });
});

test('real kernel error without extended ack: errno only', () => {
  const st = parseError(messageOf(fixtures.routeErrorPlain[0]!));
  assert.deepEqual(st, { errno: 101 });
});

test('ACK is errno 0; DONE carries a dump error', () => {
  const ackMsg = { type: NLMSG_ERROR, flags: 0x100, seq: 1, pid: 0, payload: Buffer.alloc(20) };
  assert.equal(parseError(ackMsg).errno, 0);
  const d = Buffer.alloc(4);
  d.writeInt32LE(-22, 0);
  assert.equal(parseDone({ type: 3, flags: 2, seq: 1, pid: 0, payload: d }).errno, 22);
  assert.equal(parseDone({ type: 3, flags: 2, seq: 1, pid: 0, payload: Buffer.alloc(0) }).errno, 0);
});

test('errno names are the C names; unknown numbers stay numeric', () => {
  assert.deepEqual(
    [17, 2, 3, 22, 101, 19, 105, 16, 99, 4000].map(errnoName),
    ['EEXIST', 'ENOENT', 'ESRCH', 'EINVAL', 'ENETUNREACH', 'ENODEV', 'ENOBUFS', 'EBUSY', 'EADDRNOTAVAIL', 'E4000'],
  );
});

test('a refusal becomes a KernelError with op, errno name and extack', () => {
  const e = kernelError('route add 198.18.60.0/24 table 20101', parseError(messageOf(fixtures.routeErrorExtAck[0]!)));
  assert.ok(e instanceof KernelError);
  assert.equal(e.code, 'WB_KERNEL');
  assert.equal(e.op, 'route add 198.18.60.0/24 table 20101');
  assert.equal(e.errno, 'ENETUNREACH');
  assert.equal(e.extack, 'Nexthop has invalid gateway');
  assert.equal(e.message, 'route add 198.18.60.0/24 table 20101: ENETUNREACH (Nexthop has invalid gateway)');
});

test('a datagram cut at any point yields its whole messages or a malformed error, never a partial message', () => {
  const whole = Buffer.concat(fixtures.routes4.map((h) => Buffer.from(h, 'hex')));
  const ends: number[] = [];
  for (let off = 0; off < whole.length; off += (whole.readUInt32LE(off) + 3) & ~3) ends.push(off);
  for (let cut = 0; cut <= whole.length; cut++) {
    const boundary = cut === whole.length || ends.includes(cut);
    if (boundary) {
      const msgs = parseMessages(whole.subarray(0, cut));
      assert.equal(msgs.length, cut === whole.length ? fixtures.routes4.length : ends.indexOf(cut), `cut ${cut}`);
    } else {
      assert.throws(() => parseMessages(whole.subarray(0, cut)), /malformed netlink datagram/, `cut ${cut}`);
    }
  }
});
