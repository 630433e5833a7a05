/**
 * The record decoder against a naive oracle (concatenate everything, cut records one by one), with
 * the input split at random points, plus truncated and garbage input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder, recordHeader } from '../../../src/relay/protocol/records.js';
import { WanbraidError } from '../../../src/errors.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function makeStream(rand: () => number, n: number): { wire: Buffer; bodies: Buffer[] } {
  const bodies: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = 17 + Math.floor(rand() * (rand() < 0.2 ? 60000 : 300));
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j += 97) b[j] = (i + j) & 0xff;
    bodies.push(b);
  }
  return { wire: Buffer.concat(bodies.flatMap((b) => [recordHeader(b.length), b])), bodies };
}

/** The oracle: read the whole stream at once. */
function oracle(wire: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p + 4 <= wire.length) {
    const len = wire.readUInt32BE(p);
    if (p + 4 + len > wire.length) break;
    out.push(wire.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}

test('records come out whole and in order whatever the split points', () => {
  for (let trial = 0; trial < 50; trial++) {
    const rand = lcg(trial + 1);
    const { wire, bodies } = makeStream(rand, 40);
    assert.deepEqual(oracle(wire), bodies);
    const dec = new RecordDecoder();
    const got: Buffer[] = [];
    for (let p = 0; p < wire.length; ) {
      const r = rand();
      const n = r < 0.3 ? 1 + Math.floor(rand() * 5) : r < 0.9 ? 1 + Math.floor(rand() * 2000) : 1 + Math.floor(rand() * 100000);
      got.push(...dec.push(wire.subarray(p, p + n)));
      p += n;
    }
    assert.equal(got.length, bodies.length, `trial ${trial}`);
    got.forEach((g, i) => assert.ok(g.equals(bodies[i]!), `trial ${trial} record ${i}`));
    assert.equal(dec.buffered, 0);
  }
});

test('a truncated stream yields the complete records and holds the rest', () => {
  const { wire, bodies } = makeStream(lcg(7), 5);
  const dec = new RecordDecoder();
  const got = dec.push(wire.subarray(0, wire.length - 3));
  assert.equal(got.length, 4);
  assert.ok(got[3]!.equals(bodies[3]!));
  assert.equal(dec.buffered, bodies[4]!.length - 3, 'its header was read, its body waits');
});

test('one byte at a time works, and a body inside one buffer is a view, not a copy', () => {
  const { wire, bodies } = makeStream(lcg(3), 6);
  const dec = new RecordDecoder();
  const got: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) got.push(...dec.push(wire.subarray(i, i + 1)));
  assert.deepEqual(got, bodies);
  const whole = dec.push(Buffer.from(wire));
  assert.equal(whole.length, 6);
  assert.ok(whole[0]!.buffer === whole[1]!.buffer, 'views into the same input buffer');
});

test('a length outside the limits is a protocol error (garbage on the port)', () => {
  for (const len of [0, 16, 70000, 0xffffffff]) {
    const dec = new RecordDecoder();
    assert.throws(() => dec.push(recordHeader(len)), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_RELAY_PROTOCOL' && /record length/.test(e.message));
  }
  const http = new RecordDecoder();
  assert.throws(() => http.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), /record length/);
});
