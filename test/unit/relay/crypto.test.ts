/**
 * Handshake and record protection: both sides derive the same per-direction keys from the shared
 * key and both hellos; a wrong key, a changed hello, a tampered, replayed, reordered or dropped
 * record all fail authentication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deriveKeys, encodeHello, parseHello } from '../../../src/relay/protocol/handshake.js';
import { Opener, Sealer, RelayAuthError } from '../../../src/relay/protocol/aead.js';
import { RecordDecoder } from '../../../src/relay/protocol/records.js';
import { ROLE_CLIENT, ROLE_SERVER } from '../../../src/relay/protocol/constants.js';

const K = randomBytes(32);

function pair(key = K) {
  const ch = encodeHello(ROLE_CLIENT, randomBytes(32));
  const sh = encodeHello(ROLE_SERVER, randomBytes(32));
  const c = deriveKeys(key, ch, sh);
  const s = deriveKeys(K, ch, sh);
  return { c, s, ch, sh };
}

const body = (rec: Buffer) => new RecordDecoder().push(rec)[0]!;

test('hellos parse and check magic, version and role', () => {
  const h = encodeHello(ROLE_CLIENT, Buffer.alloc(32, 1));
  assert.equal(parseHello(h, ROLE_CLIENT).random[0], 1);
  assert.throws(() => parseHello(h, ROLE_SERVER), /hello from a client where a server was expected/);
  const bad = Buffer.from(h);
  bad[0] = 0x47;
  assert.throws(() => parseHello(bad, ROLE_CLIENT), /bad magic/);
  assert.throws(() => parseHello(encodeHello(ROLE_CLIENT, Buffer.alloc(32), 9), ROLE_CLIENT), /version 9/);
});

test('both sides derive the same keys; the two directions differ; every connection differs', () => {
  const a = pair();
  assert.ok(a.c.clientToServer.equals(a.s.clientToServer));
  assert.ok(!a.c.clientToServer.equals(a.c.serverToClient));
  const b = pair();
  assert.ok(!a.c.clientToServer.equals(b.c.clientToServer));
});

test('records open in order; header and pieces are authenticated together', () => {
  const { c, s } = pair();
  const tx = new Sealer(c.clientToServer);
  const rx = new Opener(s.clientToServer);
  for (let i = 0; i < 100; i++) {
    const rec = tx.seal([Buffer.from([i]), Buffer.alloc(i * 100, i)]);
    const plain = rx.open(body(rec));
    assert.equal(plain.length, 1 + i * 100);
    assert.equal(plain[0], i);
  }
});

test('a wrong key fails the first record', () => {
  const { c, s } = pair(randomBytes(32));
  const rec = new Sealer(c.clientToServer).seal([Buffer.from('HELLO')]);
  assert.throws(() => new Opener(s.clientToServer).open(body(rec)), RelayAuthError);
});

test('a changed byte anywhere (header, ciphertext, tag) fails authentication', () => {
  const { c, s } = pair();
  const rec = new Sealer(c.clientToServer).seal([Buffer.alloc(64, 3)]);
  for (const pos of [5, 30, rec.length - 1]) {
    const t = Buffer.from(rec);
    t[pos]! ^= 1;
    assert.throws(() => new Opener(s.clientToServer).open(body(t)), RelayAuthError, `byte ${pos}`);
  }
});

test('replayed, reordered and dropped records fail authentication (implicit counter nonce)', () => {
  const { c, s } = pair();
  const tx = new Sealer(c.clientToServer);
  const r = [0, 1, 2].map((i) => body(tx.seal([Buffer.from([i])])));
  const replay = new Opener(s.clientToServer);
  replay.open(r[0]!);
  assert.throws(() => replay.open(r[0]!), /record 1 failed authentication/);
  const reorder = new Opener(s.clientToServer);
  assert.throws(() => reorder.open(r[1]!), RelayAuthError);
  const drop = new Opener(s.clientToServer);
  drop.open(r[0]!);
  assert.throws(() => drop.open(r[2]!), RelayAuthError);
});

test('records from one connection do not open on another (cross-connection replay)', () => {
  const a = pair();
  const b = pair();
  const rec = new Sealer(a.c.clientToServer).seal([Buffer.from('HELLO')]);
  assert.throws(() => new Opener(b.s.clientToServer).open(body(rec)), RelayAuthError);
});
