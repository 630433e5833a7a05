import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answerQuery, decodeMessage, decodeName, encodeName, encodeQuery, encodeResponse, ipv6Bytes, RCODE, TYPE, CLASS_IN, type ZoneAnswers } from '../../../src/lab/dns.js';

const zone: ZoneAnswers = { a: '198.19.0.10', aaaa: '2001:db8:ffff::10', ns: 'ns.lab.wanbraid', ttl: 60 };

function ask(name: string, type: number, id = 0x1234) {
  const reply = answerQuery(encodeQuery(id, name, type), zone);
  assert.ok(reply, 'a query gets a reply');
  return decodeMessage(reply);
}

test('A, AAAA and NS questions about any name get one record each, the question echoed', () => {
  const a = ask('example.com', TYPE.A);
  assert.equal(a.header.id, 0x1234);
  assert.equal(a.header.qr, true);
  assert.equal(a.header.rd, true);
  assert.equal(a.header.rcode, RCODE.NOERROR);
  assert.deepEqual(a.questions, [{ name: 'example.com', type: TYPE.A, class: CLASS_IN }]);
  assert.deepEqual(a.answers, [{ name: 'example.com', type: TYPE.A, class: CLASS_IN, ttl: 60, data: '198.19.0.10' }]);
  assert.equal(ask('www.wanbraid.test', TYPE.AAAA).answers[0]!.data, '2001:db8:ffff:0:0:0:0:10');
  assert.equal(ask('lab', TYPE.NS).answers[0]!.data, 'ns.lab.wanbraid');
  assert.deepEqual(ask('x', TYPE.ANY).answers.map((r) => r.type), [TYPE.A, TYPE.AAAA]);
});

test('other types get an empty NOERROR answer; the root name works', () => {
  const mx = ask('example.com', TYPE.MX);
  assert.equal(mx.header.rcode, RCODE.NOERROR);
  assert.deepEqual(mx.answers, []);
  assert.equal(ask('', TYPE.A).answers[0]!.name, '');
});

test('the question name keeps its case (0x20 randomisation)', () => {
  assert.equal(ask('ExAmPle.CoM', TYPE.A).questions[0]!.name, 'ExAmPle.CoM');
});

test('answer names point back at the question (compression) and decode to the same name', () => {
  const raw = answerQuery(encodeQuery(1, 'a.b.c', TYPE.A), zone)!;
  const qEnd = 12 + encodeName('a.b.c').length + 4;
  assert.deepEqual([...raw.subarray(qEnd, qEnd + 2)], [0xc0, 12]);
});

test('not a query, or too short: no reply at all', () => {
  assert.equal(answerQuery(Buffer.alloc(5), zone), null);
  const response = answerQuery(encodeQuery(7, 'x', TYPE.A), zone)!;
  assert.equal(answerQuery(response, zone), null, 'a response is never answered (no loops)');
});

test('malformed queries with a readable header get FORMERR or NOTIMP, with their id', () => {
  const q = encodeQuery(42, 'example.com', TYPE.A);
  const truncated = q.subarray(0, q.length - 3);
  assert.equal(decodeMessage(answerQuery(truncated, zone)!).header.rcode, RCODE.FORMERR);
  const two = Buffer.from(q);
  two.writeUInt16BE(2, 4);
  assert.equal(decodeMessage(answerQuery(two, zone)!).header.rcode, RCODE.FORMERR);
  const notify = Buffer.from(q);
  notify[2] = (notify[2]! & 0x87) | (4 << 3);
  const r = decodeMessage(answerQuery(notify, zone)!);
  assert.equal(r.header.rcode, RCODE.NOTIMP);
  assert.equal(r.header.id, 42);
  assert.equal(r.header.opcode, 4);
});

test('compression pointer loops and overlong names are refused, not followed', () => {
  const loop = Buffer.concat([Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.throws(() => decodeName(loop, 12), /loop/);
  assert.equal(decodeMessage(answerQuery(loop, zone)!).header.rcode, RCODE.FORMERR);
  const long = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0])]);
  assert.throws(() => decodeName(long, 0), /longer than 255/);
  assert.throws(() => encodeName('a'.repeat(64)), /bad label/);
  const dotted = Buffer.from([3, 0x61, 0x2e, 0x62, 0]);
  assert.throws(() => decodeName(dotted, 0), /dot/);
});

test('a pointer into the middle of a name decodes', () => {
  const msg = Buffer.concat([Buffer.alloc(12), encodeName('www.example.com'), Buffer.from([3, 0x66, 0x6f, 0x6f, 0xc0, 16])]);
  assert.equal(decodeName(msg, 12 + 17).name, 'foo.example.com');
  assert.equal(decodeName(msg, 12 + 17).next, 12 + 17 + 6);
});

test('random garbage never throws and never produces a reply that fails to decode', () => {
  for (let i = 0; i < 3000; i++) {
    const len = i % 80;
    const buf = randomBytes(len);
    if (i % 3 === 0 && len >= 4) buf[2] = buf[2]! & 0x7f; // mostly queries
    const reply = answerQuery(buf, zone);
    if (reply) decodeMessage(reply);
  }
});

test('a query cut at every point never throws', () => {
  const q = encodeQuery(9, 'deep.name.for.cutting', TYPE.AAAA);
  for (let cut = 0; cut <= q.length; cut++) {
    const reply = answerQuery(q.subarray(0, cut), zone);
    if (cut < 12) assert.equal(reply, null);
    else {
      const r = decodeMessage(reply!);
      assert.equal(r.header.rcode, cut === q.length ? RCODE.NOERROR : RCODE.FORMERR);
    }
  }
});

test('IPv6 text to bytes', () => {
  const hex = (s: string) => ipv6Bytes(s).toString('hex');
  assert.equal(hex('2001:db8:ffff::10'), '20010db8ffff00000000000000000010');
  assert.equal(hex('::'), '0'.repeat(32));
  assert.equal(hex('::1'), '0'.repeat(31) + '1');
  assert.equal(hex('fe80::'), 'fe80' + '0'.repeat(28));
  assert.equal(hex('::ffff:198.19.0.1'), '00000000000000000000ffffc6130001');
  assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  assert.equal(hex('1:2:3:4:5:6:1.2.3.4'), '00010002000300040005000601020304');
  assert.throws(() => ipv6Bytes('1.2.3.4'), /not an IPv6/);
});

test('encodeResponse without a question (FORMERR shape)', () => {
  const r = decodeMessage(encodeResponse({ id: 5, opcode: 0, rd: false }, RCODE.FORMERR, []));
  assert.deepEqual([r.header.id, r.header.qdcount, r.header.rcode], [5, 0, RCODE.FORMERR]);
});
