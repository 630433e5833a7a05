/** Frame codec: every type round-trips; malformed plaintext is refused with a clear message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDataHeader, encodeFrames, parseFrames, isEliciting, type Frame } from '../../../src/relay/protocol/frames.js';
import { WanbraidError } from '../../../src/errors.js';

const ALL: Frame[] = [
  { type: 'PING' },
  { type: 'PATH_ACK', received: 2 ** 40 + 12345, time: 0xfffffff0 },
  { type: 'HELLO', session: Buffer.alloc(16, 7), slot: 3, window: 4 << 20, name: 'wan1' },
  { type: 'WELCOME', incarnation: Buffer.alloc(8, 9), window: 1 << 20 },
  { type: 'GOAWAY', reason: 6 },
  { type: 'OPEN', flow: 0xfffffffe, target: { host: '198.19.0.10', port: 5201, family: 4 } },
  { type: 'OPEN', flow: 2, target: { host: '2001:db8::10', port: 443, family: 6 } },
  { type: 'OPENED', flow: 77 },
  { type: 'DATA', flow: 5, offset: 2 ** 45, data: Buffer.from('hello world') },
  { type: 'FIN', flow: 5, offset: 99 },
  { type: 'ACK', flow: 5, offset: 2 ** 47 - 1 },
  { type: 'RST', flow: 9, reason: 1 },
  { type: 'TEST', flow: 10, request: { test: 'down', ms: 4000 } },
  { type: 'TEST', flow: 11, request: { test: 'up', ms: 0xffffffff } },
];

test('every frame type round-trips, several to a record', () => {
  const back = parseFrames(encodeFrames(ALL));
  assert.deepEqual(back, ALL);
  for (const f of ALL) assert.deepEqual(parseFrames(encodeFrames([f])), [f]);
});

test('a DATA header followed by its payload parses like an encoded DATA frame', () => {
  const payload = Buffer.alloc(60000, 0xab);
  const plain = Buffer.concat([encodeDataHeader(3, 1000, payload.length), payload]);
  assert.deepEqual(plain, encodeFrames([{ type: 'DATA', flow: 3, offset: 1000, data: payload }]));
  const [f] = parseFrames(plain);
  assert.ok(f?.type === 'DATA');
  assert.equal(f.data.length, 60000);
});

test('only ACK and PATH_ACK are not eliciting', () => {
  assert.deepEqual(
    ALL.filter((f) => !isEliciting(f)).map((f) => f.type),
    ['PATH_ACK', 'ACK'],
  );
});

test('malformed frames are protocol errors that say what was wrong', () => {
  const bad = (b: Buffer, re: RegExp) =>
    assert.throws(() => parseFrames(b), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_RELAY_PROTOCOL' && re.test(e.message));
  bad(Buffer.from([0x7f]), /unknown frame type 0x7f/);
  bad(Buffer.from([0x12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 10, 1, 2]), /truncated DATA/);
  bad(encodeFrames([{ type: 'ACK', flow: 1, offset: 5 }]).subarray(0, 6), /truncated ACK/);
  bad(Buffer.from([0x10, 0, 0, 0, 1, 5, 1, 2, 3, 4, 0, 80]), /address family 5/);
  bad(Buffer.from([0x12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), /empty payload/);
  bad(Buffer.from([0x16, 0, 0, 0, 1, 3, 0, 0, 0, 1]), /TEST with direction 3/);
  bad(Buffer.from([0x16, 0, 0, 0, 1, 1, 0, 0]), /truncated TEST/);
  const hello = encodeFrames([{ type: 'HELLO', session: Buffer.alloc(16), slot: 0, window: 1, name: 'x' }]);
  hello[1 + 16 + 6] = 200;
  bad(hello, /name of 200 bytes/);
});

test('garbage never crashes the parser: it returns frames or throws a protocol error', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.alloc(1 + Math.floor(rand() * 40));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
    if (rand() < 0.7) b[0] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15][Math.floor(rand() * 11)]!;
    try {
      parseFrames(b);
    } catch (e) {
      assert.ok(e instanceof WanbraidError && e.code === 'WB_RELAY_PROTOCOL', `unexpected ${String(e)}`);
    }
  }
});
