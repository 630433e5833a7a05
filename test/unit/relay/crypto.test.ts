/**
 * Handshake (protocol version 2) and record protection:
 * - both sides derive the same per-direction keys, new for every connection (fresh ephemerals);
 * - the keys are exactly the documented schedule, which needs the ephemeral DH secret: a
 *   recording plus the pre-shared key does not let a passive observer open anything (forward
 *   secrecy);
 * - per-entry keys: a holder of another entry's key can pose neither as the exit to this entry nor
 *   as this entry to the exit; an unknown key name is refused like a wrong MAC;
 * - a replayed ClientHello earns nothing usable;
 * - a tampered, replayed, reordered or dropped record fails authentication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, diffieHellman, hkdfSync, randomBytes } from 'node:crypto';
import {
  deriveSessionKeys,
  encodeClientHello,
  encodeServerHello,
  helloMacKey,
  newEphemeral,
  openClientHello,
  parseHelloHead,
  parseServerHello,
  type Ephemeral,
  type PeerKey,
  type SessionKeys,
} from '../../../src/relay/protocol/handshake.js';
import { Opener, Sealer, RelayAuthError } from '../../../src/relay/protocol/aead.js';
import { RecordDecoder } from '../../../src/relay/protocol/records.js';
import { HELLO_HEAD_LEN, ROLE_CLIENT, ROLE_SERVER } from '../../../src/relay/protocol/constants.js';
import { RelayProtocolError } from '../../../src/relay/protocol/frames.js';

const pk = (psk: Buffer): PeerKey => ({ psk, macKey: helloMacKey(psk) });
const KA = pk(randomBytes(32));
const KB = pk(randomBytes(32));
/** The exit's keys: one per entry. */
const exitKeys = new Map([
  ['east', KA],
  ['west', KB],
]);
const lookup = (n: string) => exitKeys.get(n);

const body = (rec: Buffer) => new RecordDecoder().push(rec)[0]!;

interface Run {
  ch: Buffer;
  sh: Buffer;
  ce: Ephemeral;
  se: Ephemeral;
  c: SessionKeys;
  s: SessionKeys;
  /** The entry's first record (HELLO), sealed under c. */
  helloRecord: Buffer;
}

/** One complete handshake: entry `name` with `key`, against the exit's keys. */
function run(name = 'east', key = KA): Run {
  const ce = newEphemeral();
  const ch = encodeClientHello(name, key.macKey, ce.share);
  const opened = openClientHello(ch, lookup);
  const se = newEphemeral();
  const sh = encodeServerHello(se.share);
  const s = deriveSessionKeys(opened.key.psk, se.privateKey, opened.share, ch, sh);
  const c = deriveSessionKeys(key.psk, ce.privateKey, parseServerHello(sh), ch, sh);
  return { ch, sh, ce, se, c, s, helloRecord: new Sealer(c.clientToServer).seal([Buffer.from('HELLO frame')]) };
}

const opens = (key: Buffer, rec: Buffer): boolean => {
  try {
    new Opener(key).open(body(rec));
    return true;
  } catch (err) {
    assert.ok(err instanceof RelayAuthError);
    return false;
  }
};

test('hellos: head checks magic, version, role and name length; the ClientHello carries the key name', () => {
  const e = newEphemeral();
  const ch = encodeClientHello('east', KA.macKey, e.share);
  assert.equal(ch.length, HELLO_HEAD_LEN + 32 + 4 + 16);
  assert.equal(parseHelloHead(ch.subarray(0, HELLO_HEAD_LEN), ROLE_CLIENT), 32 + 4 + 16);
  const opened = openClientHello(ch, lookup);
  assert.equal(opened.keyName, 'east');
  assert.ok(opened.share.equals(e.share));
  assert.throws(() => parseHelloHead(ch.subarray(0, HELLO_HEAD_LEN), ROLE_SERVER), /hello from a client where a server was expected/);
  const bad = Buffer.from(ch);
  bad[0] = 0x47;
  assert.throws(() => openClientHello(bad, lookup), /bad magic/);
  assert.throws(() => parseHelloHead(encodeClientHello('east', KA.macKey, e.share, 1).subarray(0, 8), ROLE_CLIENT), /peer speaks relay protocol version 1, this side 2/);
  const sh = encodeServerHello(e.share);
  assert.equal(sh.length, 40);
  assert.ok(parseServerHello(sh).equals(e.share));
  const zeroName = Buffer.from(ch.subarray(0, HELLO_HEAD_LEN));
  zeroName[6] = 0;
  assert.throws(() => parseHelloHead(zeroName, ROLE_CLIENT), RelayProtocolError);
  zeroName[6] = 65;
  assert.throws(() => parseHelloHead(zeroName, ROLE_CLIENT), /key name length of 65/);
  assert.throws(() => encodeClientHello('bad name', KA.macKey, e.share), RangeError);
});

test('the ClientHello MAC: a wrong key, an unknown key name and any changed byte are refused alike (RelayAuthError)', () => {
  const e = newEphemeral();
  assert.throws(() => openClientHello(encodeClientHello('east', KB.macKey, e.share), lookup), (x: unknown) => x instanceof RelayAuthError && /key "east" failed authentication/.test((x as Error).message));
  assert.throws(() => openClientHello(encodeClientHello('north', KA.macKey, e.share), lookup), (x: unknown) => x instanceof RelayAuthError && /unknown key "north"/.test((x as Error).message));
  const ch = encodeClientHello('east', KA.macKey, e.share);
  for (let pos = HELLO_HEAD_LEN; pos < ch.length; pos++) {
    const t = Buffer.from(ch);
    t[pos]! ^= 1;
    assert.throws(() => openClientHello(t, lookup), (x: unknown) => x instanceof RelayAuthError || x instanceof RelayProtocolError, `byte ${pos}`);
  }
});

test('both sides derive the same keys; the directions differ; every handshake has new ephemerals and new keys', () => {
  const a = run();
  assert.ok(a.c.clientToServer.equals(a.s.clientToServer));
  assert.ok(a.c.serverToClient.equals(a.s.serverToClient));
  assert.ok(!a.c.clientToServer.equals(a.c.serverToClient));
  const b = run();
  assert.ok(!a.ce.share.equals(b.ce.share) && !a.se.share.equals(b.se.share), 'fresh ephemerals');
  assert.ok(!a.c.clientToServer.equals(b.c.clientToServer));
  assert.ok(opens(a.s.clientToServer, a.helloRecord), 'the exit opens the entry’s first record');
});

test('the keys are the documented schedule: HKDF(dh ‖ K, SHA-256(ClientHello ‖ ServerHello)), so they need the ephemeral secret', () => {
  const r = run();
  const dh = diffieHellman({ privateKey: r.ce.privateKey, publicKey: createPublicKey(r.se.privateKey) });
  assert.ok(dh.equals(diffieHellman({ privateKey: r.se.privateKey, publicKey: createPublicKey(r.ce.privateKey) })));
  const th = createHash('sha256').update(r.ch).update(r.sh).digest();
  const okm = Buffer.from(hkdfSync('sha256', Buffer.concat([dh, KA.psk]), th, Buffer.from('wanbraid relay v2 keys'), 64));
  assert.ok(okm.subarray(0, 32).equals(r.c.clientToServer));
  assert.ok(okm.subarray(32).equals(r.c.serverToClient));
  // Each secret input matters: another dh, or another K, gives other keys.
  const otherDh = Buffer.from(hkdfSync('sha256', Buffer.concat([randomBytes(32), KA.psk]), th, Buffer.from('wanbraid relay v2 keys'), 64));
  const otherK = Buffer.from(hkdfSync('sha256', Buffer.concat([dh, KB.psk]), th, Buffer.from('wanbraid relay v2 keys'), 64));
  assert.ok(!otherDh.subarray(0, 32).equals(r.c.clientToServer));
  assert.ok(!otherK.subarray(0, 32).equals(r.c.clientToServer));
});

test('forward secrecy: a passive observer with the recording and the key opens nothing', () => {
  const r = run();
  assert.ok(opens(r.s.clientToServer, r.helloRecord), 'positive control: the real exit opens it');
  // Everything the observer holds: K (it leaked later), ClientHello, ServerHello, the record.
  // (1) The version-1 schedule, which derived the keys from K and the hellos alone.
  const v1 = Buffer.from(hkdfSync('sha256', KA.psk, Buffer.concat([r.ch, r.sh]), Buffer.from('wanbraid relay v1 keys'), 64));
  assert.equal(opens(v1.subarray(0, 32), r.helloRecord), false);
  // (2) The schedule without dh (K and the transcript hash only).
  const th = createHash('sha256').update(r.ch).update(r.sh).digest();
  const noDh = Buffer.from(hkdfSync('sha256', KA.psk, th, Buffer.from('wanbraid relay v2 keys'), 64));
  assert.equal(opens(noDh.subarray(0, 32), r.helloRecord), false);
  // (3) Playing either side with the key and its own ephemeral (all a key holder can do).
  const mine = newEphemeral();
  const asExit = deriveSessionKeys(KA.psk, mine.privateKey, r.ce.share, r.ch, r.sh);
  const asEntry = deriveSessionKeys(KA.psk, mine.privateKey, r.se.share, r.ch, r.sh);
  assert.equal(opens(asExit.clientToServer, r.helloRecord), false);
  assert.equal(opens(asEntry.clientToServer, r.helloRecord), false);
});

test('an entry holding key B cannot pose as the exit to the entry holding key A', () => {
  // The impostor (west, key B) answers east's ClientHello as an exit would, with its own
  // ephemeral, using the only key it has.
  const ce = newEphemeral();
  const ch = encodeClientHello('east', KA.macKey, ce.share);
  assert.throws(() => openClientHello(ch, (n) => (n === 'east' ? KB : undefined)), RelayAuthError, 'with key B the hello does not even verify');
  const ie = newEphemeral();
  const sh = encodeServerHello(ie.share);
  const impostor = deriveSessionKeys(KB.psk, ie.privateKey, ce.share, ch, sh);
  const entry = deriveSessionKeys(KA.psk, ce.privateKey, ie.share, ch, sh);
  const hello = new Sealer(entry.clientToServer).seal([Buffer.from('HELLO: session id, slot, name')]);
  assert.equal(opens(impostor.clientToServer, hello), false, 'it cannot read the entry’s HELLO');
  const welcome = new Sealer(impostor.serverToClient).seal([Buffer.from('WELCOME')]);
  assert.equal(opens(entry.serverToClient, welcome), false, 'the entry refuses its WELCOME');
  // Positive control: the same attack with the same key (the version-1 single shared key) succeeds.
  const shared = deriveSessionKeys(KA.psk, ie.privateKey, ce.share, ch, sh);
  assert.ok(opens(shared.clientToServer, hello));
  assert.ok(opens(entry.serverToClient, new Sealer(shared.serverToClient).seal([Buffer.from('WELCOME')])));
});

test('an entry holding key B cannot pose as the entry holding key A to the exit; its own name works', () => {
  const e = newEphemeral();
  assert.throws(() => openClientHello(encodeClientHello('east', KB.macKey, e.share), lookup), RelayAuthError);
  assert.equal(openClientHello(encodeClientHello('west', KB.macKey, e.share), lookup).keyName, 'west');
  // Relabelling its own MACed hello breaks the MAC (the name is covered).
  const own = encodeClientHello('west', KB.macKey, e.share);
  const relabelled = Buffer.from(own);
  relabelled.write('east', HELLO_HEAD_LEN + 32, 'ascii');
  assert.throws(() => openClientHello(relabelled, lookup), RelayAuthError);
});

test('a replayed ClientHello yields nothing usable: the exit answers with a new ephemeral, and the recorded HELLO record does not open', () => {
  const r = run();
  // The replay passes the MAC (only K is proven), so the exit answers it…
  const replayed = openClientHello(r.ch, lookup);
  const se2 = newEphemeral();
  const sh2 = encodeServerHello(se2.share);
  const s2 = deriveSessionKeys(replayed.key.psk, se2.privateKey, replayed.share, r.ch, sh2);
  assert.ok(!s2.clientToServer.equals(r.s.clientToServer));
  // …but the replayer's recorded first record does not open under the new keys, and without e_c
  // it cannot make one that does (its best: its own ephemeral, even holding K).
  assert.equal(opens(s2.clientToServer, r.helloRecord), false);
  const forged = deriveSessionKeys(KA.psk, newEphemeral().privateKey, se2.share, r.ch, sh2);
  assert.equal(opens(s2.clientToServer, new Sealer(forged.clientToServer).seal([Buffer.from('HELLO')])), false);
});

test('a low-order or malformed key share is refused', () => {
  const e = newEphemeral();
  const ch = encodeClientHello('east', KA.macKey, Buffer.alloc(32));
  const opened = openClientHello(ch, lookup);
  assert.throws(() => deriveSessionKeys(KA.psk, e.privateKey, opened.share, ch, encodeServerHello(e.share)), RelayAuthError);
  const one = Buffer.alloc(32);
  one[0] = 1; // the point of order 1 (u = 1)
  assert.throws(() => deriveSessionKeys(KA.psk, e.privateKey, one, ch, encodeServerHello(e.share)), RelayAuthError);
});

test('records open in order; header and pieces are authenticated together', () => {
  const { c, s } = run();
  const tx = new Sealer(c.clientToServer);
  const rx = new Opener(s.clientToServer);
  for (let i = 0; i < 100; i++) {
    const rec = tx.seal([Buffer.from([i]), Buffer.alloc(i * 100, i)]);
    const plain = rx.open(body(rec));
    assert.equal(plain.length, 1 + i * 100);
    assert.equal(plain[0], i);
  }
});

test('a changed byte anywhere (header, ciphertext, tag) fails authentication', () => {
  const { c, s } = run();
  const rec = new Sealer(c.clientToServer).seal([Buffer.alloc(64, 3)]);
  for (const pos of [5, 30, rec.length - 1]) {
    const t = Buffer.from(rec);
    t[pos]! ^= 1;
    assert.throws(() => new Opener(s.clientToServer).open(body(t)), RelayAuthError, `byte ${pos}`);
  }
});

test('replayed, reordered and dropped records fail authentication (implicit counter nonce)', () => {
  const { c, s } = run();
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
  const a = run();
  const b = run();
  assert.equal(opens(b.s.clientToServer, a.helloRecord), false);
  assert.ok(opens(a.s.clientToServer, a.helloRecord));
});
