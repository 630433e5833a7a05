/** Netlink attribute writer and reader: layout, padding, NLA_F_NESTED, and refusal of malformed input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttrReader, AttrWriter, NLA_F_NESTED, align4 } from '../../../../src/kernel/rtnl/attr.js';
import { WanbraidError } from '../../../../src/errors.js';

test('attributes are length/type/value, padded to 4 bytes, in host (little-endian) order', () => {
  const b = new AttrWriter().u8(1, 0xab).u16(2, 0x1234).u32(3, 0xdeadbeef).string(4, 'v0').flag(5).bytes();
  assert.equal(
    b.toString('hex'),
    '05000100ab000000' + '060002003412' + '0000' + '08000300efbeadde' + '07000400763000' + '00' + '04000500',
  );
  const r = AttrReader.parse(b, 'test');
  assert.equal(r.u8(1), 0xab);
  assert.equal(r.u16(2), 0x1234);
  assert.equal(r.u32(3), 0xdeadbeef);
  assert.equal(r.string(4), 'v0');
  assert.ok(r.has(5));
  assert.equal(r.raw(6), undefined);
  assert.equal(r.u32(6), undefined);
});

test('u64 round-trips beyond 2^53', () => {
  const v = 0xfedcba9876543210n;
  assert.equal(AttrReader.parse(new AttrWriter().u64(9, v).bytes(), 't').u64(9), v);
});

test('a nest is marked NLA_F_NESTED and read back with the flag masked off', () => {
  const b = new AttrWriter().nested(12, (w) => w.u16(1, 32).u32(2, 300)).bytes();
  assert.equal(b.readUInt16LE(2), 12 | NLA_F_NESTED);
  const inner = AttrReader.parse(b, 't').nested(12);
  assert.ok(inner);
  assert.equal(inner.u16(1), 32);
  assert.equal(inner.u32(2), 300);
});

test('malformed attributes are refused with a WanbraidError naming the message', () => {
  const good = new AttrWriter().u32(1, 7).bytes();
  const tooLong = Buffer.from(good);
  tooLong.writeUInt16LE(40, 0);
  assert.throws(() => AttrReader.parse(tooLong, 'route'), (e: unknown) => e instanceof WanbraidError && /malformed route/.test(e.message));
  const tooShort = Buffer.from(good);
  tooShort.writeUInt16LE(2, 0);
  assert.throws(() => AttrReader.parse(tooShort, 'route'), WanbraidError);
  // A value shorter than its type needs.
  const short = new AttrWriter().u8(1, 1).bytes();
  assert.throws(() => AttrReader.parse(short, 'route').u32(1), /expected 4/);
});

test('align4', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 8].map(align4), [0, 4, 4, 4, 4, 8, 8]);
});

test('attributes cut at any point parse whole or fail as malformed', () => {
  const b = new AttrWriter().u32(1, 1).string(3, 'wan1').nested(12, (w) => w.u16(1, 8)).bytes();
  // Attribute ends: 8, 17 (the string, whose padding may be missing at the very end: 18, 19), 20, 32.
  const ends = [0, 8, 17, 18, 19, 20, 32];
  for (let cut = 0; cut <= b.length; cut++) {
    if (ends.includes(cut)) assert.doesNotThrow(() => AttrReader.parse(b.subarray(0, cut), 't'), `cut ${cut}`);
    else assert.throws(() => AttrReader.parse(b.subarray(0, cut), 't'), /malformed t/, `cut ${cut}`);
  }
});
