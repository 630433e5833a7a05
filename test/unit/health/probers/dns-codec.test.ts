/** DNS codec: query bytes, header fields, names with compression, and what counts as a response. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  decodeFirstQuestion,
  decodeHeader,
  decodeName,
  encodeQuery,
  isResponseTo,
  nameLabels,
  DNS_TYPE_NS,
} from '../../../../src/health/probers/dns-codec.js';
import { WanbraidError } from '../../../../src/errors.js';

/** What a server sends back: the query with QR (and the given flags/rcode) set, then `extra` appended. */
function response(query: Buffer, opts: { rcode?: number; id?: number; qr?: boolean; extra?: Buffer; qdcount?: number } = {}): Buffer {
  const r = Buffer.concat([query, opts.extra ?? Buffer.alloc(0)]);
  if (opts.id !== undefined) r.writeUInt16BE(opts.id, 0);
  r[2] = (opts.qr === false ? 0 : 0x80) | (query[2]! & 0x7f);
  r[3] = 0x80 | (opts.rcode ?? 0);
  if (opts.qdcount !== undefined) r.writeUInt16BE(opts.qdcount, 4);
  return r;
}

test('a root NS query is byte-exact', () => {
  assert.equal(encodeQuery(0xabcd, '.').toString('hex'), 'abcd' + '0100' + '0001' + '0000' + '0000' + '0000' + '00' + '0002' + '0001');
  assert.equal(encodeQuery(0xabcd, '').toString('hex'), encodeQuery(0xabcd, '.').toString('hex'));
});

test('a name is encoded as length-prefixed labels, with or without its trailing dot', () => {
  const q = encodeQuery(1, 'www.Example.org.', DNS_TYPE_NS);
  assert.equal(q.subarray(12).toString('hex'), '03777777' + '074578616d706c65' + '036f7267' + '00' + '0002' + '0001');
  assert.deepEqual(encodeQuery(1, 'www.Example.org'), q);
});

test('invalid names are refused with the reason', () => {
  assert.deepEqual(nameLabels('a..b'), { problem: 'empty label in "a..b"' });
  assert.match((nameLabels(`${'x'.repeat(64)}.org`) as { problem: string }).problem, /longer than 63 bytes/);
  assert.match((nameLabels(Array(60).fill('abcd').join('.')) as { problem: string }).problem, /longer than 255 bytes/);
  assert.match((nameLabels('bücher.de') as { problem: string }).problem, /punycode/);
  assert.match((nameLabels('a b.org') as { problem: string }).problem, /printable ASCII/);
  assert.throws(() => encodeQuery(1, 'a..b'), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_CONFIG_INVALID');
  assert.deepEqual(nameLabels(`${'x'.repeat(63)}.org`), ['x'.repeat(63), 'org']);
});

test('header fields', () => {
  const h = decodeHeader(Buffer.from('1234' + '85a3' + '0001' + '0002' + '0003' + '0004', 'hex'));
  assert.deepEqual(h, { id: 0x1234, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, rcode: 3, qdcount: 1, ancount: 2, nscount: 3, arcount: 4 });
  assert.equal(decodeHeader(Buffer.alloc(11)), undefined);
});

test('names: compression pointers are followed backwards only', () => {
  // header, then "org" at 12, then "example" + pointer to 12 at 17.
  const msg = Buffer.concat([Buffer.alloc(12), Buffer.from('036f726700', 'hex'), Buffer.from('076578616d706c65c00c', 'hex')]);
  assert.deepEqual(decodeName(msg, 12), { name: 'org', next: 17 });
  assert.deepEqual(decodeName(msg, 17), { name: 'example.org', next: 27 });
  const loop = Buffer.concat([Buffer.alloc(12), Buffer.from('c00c', 'hex')]);
  assert.equal(decodeName(loop, 12), undefined, 'a pointer to itself');
  const forward = Buffer.concat([Buffer.alloc(12), Buffer.from('c00e00', 'hex')]);
  assert.equal(decodeName(forward, 12), undefined, 'a forward pointer');
  assert.equal(decodeName(Buffer.concat([Buffer.alloc(12), Buffer.from('05616263', 'hex')]), 12), undefined, 'a label past the end');
  assert.equal(decodeName(Buffer.concat([Buffer.alloc(12), Buffer.from('4100', 'hex')]), 12), undefined, 'an unknown label type');
});

test('a response is recognised by id, QR, opcode and the echoed question', () => {
  const query = encodeQuery(0x4242, 'example.org');
  const want = { id: 0x4242, name: 'example.org', type: DNS_TYPE_NS };
  assert.equal(isResponseTo(response(query), want), true);
  assert.equal(isResponseTo(response(query, { rcode: 2 }), want), true, 'SERVFAIL still proves the path');
  assert.equal(isResponseTo(response(query, { rcode: 5 }), want), true, 'REFUSED too');
  assert.equal(isResponseTo(response(query, { extra: randomBytes(40) }), want), true, 'trailing records are not parsed');
  assert.equal(isResponseTo(response(query, { qdcount: 0 }).subarray(0, 12), want), true, 'no question echoed (FORMERR style)');
  const mixedCase = response(encodeQuery(0x4242, 'ExAmPlE.oRg'));
  assert.equal(isResponseTo(mixedCase, want), true, '0x20 case randomisation');
  assert.deepEqual(decodeFirstQuestion(mixedCase), { name: 'example.org', type: DNS_TYPE_NS, class: 1 });

  assert.equal(isResponseTo(query, want), false, 'our own query (QR clear)');
  assert.equal(isResponseTo(response(query, { id: 0x4243 }), want), false, 'another id');
  assert.equal(isResponseTo(response(encodeQuery(0x4242, 'example.com')), want), false, 'another question');
  assert.equal(isResponseTo(response(encodeQuery(0x4242, 'example.org', 1)), want), false, 'another type');
  assert.equal(isResponseTo(response(query).subarray(0, 20), want), false, 'a truncated question');
  const opcode = response(query);
  opcode[2] = opcode[2]! | 0x10; // opcode 2 (STATUS)
  assert.equal(isResponseTo(opcode, want), false, 'another opcode');
  for (let i = 0; i < 2000; i++) isResponseTo(randomBytes(i % 80), want);
});
