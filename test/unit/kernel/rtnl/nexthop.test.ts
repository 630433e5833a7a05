/**
 * Nexthops: round trips for single (gateway+dev, dev only), blackhole, weighted groups and
 * resilient groups with buckets and timers; NLA_F_NESTED on the resilient nest; real kernel
 * bytes from `ip nexthop add`; identity, equality and which changes the kernel applies in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nexthop from '../../../../src/kernel/rtnl/nexthop.js';
import type { Nexthop } from '../../../../src/kernel/rtnl/nexthop.js';
import { AttrReader, NLA_F_NESTED } from '../../../../src/kernel/rtnl/attr.js';
import { RTPROT_WANBRAID } from '../../../../src/kernel/rtnl/constants.js';
import { V0_IFINDEX, fixtures } from './fixtures.js';
import { payloadOf } from './helpers.js';

const P = RTPROT_WANBRAID;

const SAMPLES: Nexthop[] = [
  { kind: 'single', id: 1, protocol: P, family: 4, oif: 3, gateway: '198.18.1.2' },
  { kind: 'single', id: 3, protocol: P, family: 4, oif: 7 },
  { kind: 'single', id: 5, protocol: P, family: 6, oif: 3, gateway: 'fe80::1' },
  { kind: 'blackhole', id: 4, protocol: P, family: 6 },
  { kind: 'group', id: 10, protocol: P, type: 'mpath', members: [{ id: 1, weight: 3 }, { id: 2, weight: 256 }] },
  {
    kind: 'group',
    id: 0xfffffff0,
    protocol: P,
    type: 'resilient',
    members: [{ id: 1, weight: 5 }, { id: 2, weight: 3 }, { id: 3, weight: 2 }],
    resilient: { buckets: 512, idleTimerMs: 2500, unbalancedTimerMs: 30_000 },
  },
];

test('every sample survives encode → decode unchanged', () => {
  for (const n of SAMPLES) assert.deepEqual(nexthop.decode(nexthop.encode(n)), n, nexthop.describe(n));
});

test('a resilient group is NHA_GROUP_TYPE 1 and an NLA_F_NESTED NHA_RES_GROUP with timers in clock_t', () => {
  const b = nexthop.encode(SAMPLES[5]!);
  assert.equal(b.readUInt8(0), 0, 'groups have family AF_UNSPEC');
  const a = AttrReader.parse(b.subarray(8), 't');
  assert.equal(a.u16(3), 1);
  // The nest's raw type field carries NLA_F_NESTED.
  const rawTypes: number[] = [];
  for (let off = 8; off < b.length; off += (b.readUInt16LE(off) + 3) & ~3) rawTypes.push(b.readUInt16LE(off + 2));
  assert.ok(rawTypes.includes(12 | NLA_F_NESTED), `raw types ${rawTypes.join(',')}`);
  const res = a.nested(12)!;
  assert.equal(res.u16(1), 512);
  assert.equal(res.u32(2), 250, 'idle timer 2500 ms = 250 ticks of 1/100 s');
  assert.equal(res.u32(3), 3000);
  // Group members: id, weight - 1.
  assert.equal(a.raw(2)!.subarray(0, 8).toString('hex'), '01000000' + '04' + '00' + '0000');
});

test('a resilient group without parameters gets the kernel defaults, and equals its decoded form', () => {
  const asked: Nexthop = { kind: 'group', id: 9, protocol: P, type: 'resilient', members: [{ id: 1, weight: 1 }] };
  const got = nexthop.decode(nexthop.encode(asked));
  assert.deepEqual(got.kind === 'group' && got.resilient, { buckets: 128, idleTimerMs: 120_000, unbalancedTimerMs: 0 });
  assert.ok(nexthop.equals(got, asked));
});

test('real kernel nexthops from `ip nexthop add` decode to what the commands asked, resilient parameters included', () => {
  const o = V0_IFINDEX;
  assert.deepEqual(
    fixtures.nexthops.map((h) => nexthop.decode(payloadOf(h))),
    [
      { kind: 'single', id: 1, protocol: P, family: 4, oif: o, gateway: '198.18.1.2' },
      { kind: 'single', id: 2, protocol: P, family: 4, oif: o, gateway: '198.18.1.3' },
      { kind: 'single', id: 3, protocol: P, family: 4, oif: o },
      { kind: 'blackhole', id: 4, protocol: P, family: 4 },
      { kind: 'single', id: 5, protocol: P, family: 6, oif: o, gateway: '2001:db8:1::2' },
      { kind: 'group', id: 10, protocol: P, type: 'mpath', members: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }] },
      {
        kind: 'group',
        id: 11,
        protocol: P,
        type: 'resilient',
        members: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }],
        // ip(8) took seconds: idle_timer 3 unbalanced_timer 7; unbalanced_time is the kernel's (read-only).
        resilient: { buckets: 32, idleTimerMs: 3000, unbalancedTimerMs: 7000, unbalancedTimeMs: 0 },
      },
    ],
  );
});

test('equals ignores member order and read-only fields; sees weights, members, timers, protocol', () => {
  const g = SAMPLES[5]!;
  assert.ok(g.kind === 'group');
  assert.ok(nexthop.equals(g, { ...g, members: [...g.members].reverse() }));
  assert.ok(nexthop.equals(g, { ...g, resilient: { ...g.resilient!, unbalancedTimeMs: 1234 } }));
  assert.ok(nexthop.equals(g, { ...g, resilient: { ...g.resilient!, idleTimerMs: 2504 } }), '10 ms precision');
  assert.ok(!nexthop.equals(g, { ...g, resilient: { ...g.resilient!, idleTimerMs: 3000 } }));
  assert.ok(!nexthop.equals(g, { ...g, members: g.members.slice(1) }));
  assert.ok(!nexthop.equals(g, { ...g, members: g.members.map((m) => ({ ...m, weight: 1 })) }));
  assert.ok(!nexthop.equals(g, { ...g, protocol: 4 }));
  assert.ok(!nexthop.equals(SAMPLES[0]!, { ...SAMPLES[0]!, gateway: '198.18.1.3' } as Nexthop));
  assert.equal(nexthop.key(g), `nexthop ${0xfffffff0}`);
});

test('canReplace: same id and kind; groups of the same type; resilient only with the same bucket count', () => {
  const [single, devOnly, v6] = SAMPLES as [Nexthop, Nexthop, Nexthop];
  const mpath = SAMPLES[4]!;
  const res = SAMPLES[5]!;
  assert.ok(res.kind === 'group');
  assert.ok(nexthop.canReplace(single, { ...devOnly, id: single.id }));
  assert.ok(!nexthop.canReplace(single, { ...v6, id: single.id }), 'family change');
  assert.ok(!nexthop.canReplace(single, { ...mpath, id: single.id }), 'single → group');
  assert.ok(!nexthop.canReplace(mpath, { ...res, id: mpath.id }), 'mpath → resilient');
  assert.ok(nexthop.canReplace(res, { ...res, members: res.members.slice(1), resilient: { ...res.resilient!, idleTimerMs: 1000 } }));
  assert.ok(!nexthop.canReplace(res, { ...res, resilient: { ...res.resilient!, buckets: 64 } }));
});

test('invalid nexthops are refused before reaching the kernel', () => {
  assert.throws(() => nexthop.encode({ ...SAMPLES[4]!, members: [] } as Nexthop), /at least one member/);
  assert.throws(() => nexthop.encode({ kind: 'group', id: 1, protocol: P, type: 'mpath', members: [{ id: 2, weight: 257 }] }), /weight must be an integer in 1\.\.256/);
  assert.throws(() => nexthop.encode({ kind: 'single', id: 1, protocol: P, family: 4, oif: 3, gateway: 'fe80::1' }), /gateway must be an IPv4/);
  assert.throws(() => nexthop.encode({ kind: 'single', id: 0, protocol: P, family: 4, oif: 3 }), /id must be an integer/);
});
