/** Address text ↔ bytes: iproute2's (glibc inet_ntop) text, checked against vectors and Node's URL serialiser as an oracle. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesToIp, ipToBytes } from '../../../../src/kernel/rtnl/ip.js';

const VECTORS: [string, string][] = [
  ['198.18.0.1', 'c6120001'],
  ['0.0.0.0', '00000000'],
  ['::', '00000000000000000000000000000000'],
  ['::1', '00000000000000000000000000000001'],
  ['2001:db8::', '20010db8000000000000000000000000'],
  ['2001:db8:1::2', '20010db8000100000000000000000002'],
  ['2001:db8:0:1:0:0:0:1', '20010db8000000010000000000000001'],
  ['fe80::5c35:1dff:fe40:f511', 'fe800000000000005c351dfffe40f511'],
  ['::ffff:198.18.0.1', '00000000000000000000ffffc6120001'],
  ['::198.18.0.1', '000000000000000000000000c6120001'],
  ['2001:db8:0:0:1::1', '20010db8000000000001000000000001'],
];

test('known addresses encode to network order and print as iproute2 prints them', () => {
  for (const [text, hex] of VECTORS) {
    assert.equal(ipToBytes(text).toString('hex'), hex, text);
    const canonical = text === '2001:db8:0:1:0:0:0:1' ? '2001:db8:0:1::1' : text === '2001:db8:0:0:1::1' ? '2001:db8::1:0:0:1' : text;
    assert.equal(bytesToIp(Buffer.from(hex, 'hex')), canonical, hex);
  }
});

test('IPv6 text matches the WHATWG URL serialiser (RFC 5952) for random addresses, and round-trips', () => {
  for (let i = 0; i < 2000; i++) {
    const b = randomBytes(16);
    // Zero some words so that runs of zeros (and ties between runs) are common.
    for (let w = 0; w < 8; w++) if (Math.random() < 0.5) b.writeUInt16BE(0, w * 2);
    const text = bytesToIp(b);
    assert.deepEqual(ipToBytes(text), b, text);
    const embeddedV4 = b.subarray(0, 10).every((x) => x === 0) && (b.readUInt16BE(10) === 0xffff || b.readUInt16BE(10) === 0);
    if (!embeddedV4) assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1), text);
  }
});

test('a family mismatch or garbage is refused', () => {
  assert.throws(() => ipToBytes('198.18.0.1', 6), /expected an IPv6 address/);
  assert.throws(() => ipToBytes('2001:db8::1', 4), /expected an IPv4 address/);
  assert.throws(() => ipToBytes('198.18.0'), /expected an IP address/);
  assert.throws(() => ipToBytes('fe80::1%eth0'), /expected an IP address/);
  assert.throws(() => bytesToIp(Buffer.alloc(5)), /malformed/);
});
