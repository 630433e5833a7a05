/**
 * The whole receive path as the socket layer runs it: random frames → sealed records → bytes split
 * at random points → record decoder → open → parse, against the frames that went in (the oracle).
 * Truncated streams hold what is incomplete; garbage and flipped bits are refused, never misread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Opener, Sealer, RelayAuthError } from '../../../src/relay/protocol/aead.js';
import { RecordDecoder } from '../../../src/relay/protocol/records.js';
import { encodeDataHeader, encodeFrames, parseFrames, type Frame } from '../../../src/relay/protocol/frames.js';
import { WanbraidError } from '../../../src/errors.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function randomRecord(rand: () => number, i: number): Frame[] {
  if (rand() < 0.5) {
    const len = 1 + Math.floor(rand() * 20000);
    return [{ type: 'DATA', flow: i % 7, offset: i * 65536, data: Buffer.alloc(len, i & 0xff) }];
  }
  const frames: Frame[] = [];
  const n = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < n; k++) {
    const pick = Math.floor(rand() * 5);
    if (pick === 0) frames.push({ type: 'ACK', flow: k, offset: i * 1000 + k });
    else if (pick === 1) frames.push({ type: 'PATH_ACK', received: i * 977, time: (i * 13) >>> 0 });
    else if (pick === 2) frames.push({ type: 'PING' });
    else if (pick === 3) frames.push({ type: 'RST', flow: i, reason: k % 9 });
    else frames.push({ type: 'OPEN', flow: i, target: { host: '2001:db8::10', port: 443, family: 6 } });
  }
  return frames;
}

function seal(sealer: Sealer, frames: Frame[]): Buffer {
  const f = frames[0]!;
  if (frames.length === 1 && f.type === 'DATA') return sealer.seal([encodeDataHeader(f.flow, f.offset, f.data.length), f.data]);
  return sealer.seal([encodeFrames(frames)]);
}

test('frames survive sealing, random splits, decoding and opening unchanged, in order', () => {
  for (let trial = 0; trial < 20; trial++) {
    const rand = lcg(100 + trial);
    const key = randomBytes(32);
    const sealer = new Sealer(key);
    const sent = Array.from({ length: 60 }, (_, i) => randomRecord(rand, i));
    const wire = Buffer.concat(sent.map((f) => seal(sealer, f)));
    const dec = new RecordDecoder();
    const opener = new Opener(key);
    const got: Frame[][] = [];
    for (let p = 0; p < wire.length; ) {
      const n = rand() < 0.3 ? 1 + Math.floor(rand() * 7) : 1 + Math.floor(rand() * 40000);
      for (const body of dec.push(wire.subarray(p, p + n))) got.push(parseFrames(opener.open(body)));
      p += n;
    }
    assert.deepEqual(got, sent, `trial ${trial}`);
  }
});

test('a truncated stream yields the whole records before the cut and nothing misread', () => {
  const rand = lcg(7);
  const key = randomBytes(32);
  const sealer = new Sealer(key);
  const sent = Array.from({ length: 10 }, (_, i) => randomRecord(rand, i));
  const recs = sent.map((f) => seal(sealer, f));
  const wire = Buffer.concat(recs);
  const cut = recs.slice(0, 6).reduce((s, r) => s + r.length, 0) + Math.floor(recs[6]!.length / 2);
  const dec = new RecordDecoder();
  const opener = new Opener(key);
  const got = dec.push(wire.subarray(0, cut)).map((b) => parseFrames(opener.open(b)));
  assert.deepEqual(got, sent.slice(0, 6));
  assert.ok(dec.buffered > 0);
});

test('garbage and flipped bits are refused with a relay error, never parsed into frames', () => {
  const rand = lcg(9);
  const key = randomBytes(32);
  for (let trial = 0; trial < 300; trial++) {
    const sealer = new Sealer(key);
    const rec = Buffer.from(seal(sealer, randomRecord(rand, trial)));
    const pos = Math.floor(rand() * rec.length);
    rec[pos]! ^= 1 << Math.floor(rand() * 8);
    const dec = new RecordDecoder();
    const opener = new Opener(key);
    try {
      for (const body of dec.push(rec)) parseFrames(opener.open(body));
      // A flipped length bit can make the record look longer: then it is incomplete, and nothing came out.
      assert.ok(pos < 4 && dec.buffered > 0, `flip at ${pos} went unnoticed`);
    } catch (e) {
      assert.ok(e instanceof RelayAuthError || (e instanceof WanbraidError && e.code === 'WB_RELAY_PROTOCOL'), String(e));
    }
  }
});
