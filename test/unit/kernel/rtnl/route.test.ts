/**
 * Routes: encode → decode round trips for every attribute we model (multipath, nhid, reject
 * types, tables above 255, IPv6, prefsrc), decoding of real kernel bytes from `ip route add`,
 * identity/equality/replace rules, and refusal of invalid objects before they reach the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as route from '../../../../src/kernel/rtnl/route.js';
import type { Route } from '../../../../src/kernel/rtnl/route.js';
import { RTPROT_WANBRAID, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_SCOPE_HOST } from '../../../../src/kernel/rtnl/constants.js';
import { AttrReader } from '../../../../src/kernel/rtnl/attr.js';
import { WanbraidError } from '../../../../src/errors.js';
import { V0_IFINDEX, fixtures } from './fixtures.js';
import { payloadOf } from './helpers.js';

const P = RTPROT_WANBRAID;
const base = { protocol: P, scope: RT_SCOPE_UNIVERSE, type: 'unicast' as const };

const SAMPLES: Route[] = [
  { ...base, family: 4, table: 20101, dst: '0.0.0.0', dstLen: 0, gateway: '198.18.1.254', oif: 3, metric: 0 },
  { ...base, family: 4, table: 7, dst: '198.18.44.0', dstLen: 24, scope: RT_SCOPE_LINK, oif: 3, prefsrc: '198.18.1.1', metric: 0 },
  { ...base, family: 4, table: 0xfffffff0, dst: '198.18.0.0', dstLen: 15, gateway: '198.18.1.2', oif: 3, metric: 4294967295 },
  {
    ...base,
    family: 4,
    table: 20101,
    dst: '198.18.41.0',
    dstLen: 24,
    metric: 10,
    multipath: [
      { gateway: '198.18.1.2', oif: 3, weight: 5 },
      { gateway: '198.18.2.2', oif: 4, weight: 256 },
      { oif: 5, weight: 1 },
    ],
  },
  { ...base, family: 4, table: 20102, dst: '0.0.0.0', dstLen: 0, nhid: 11, metric: 0 },
  { ...base, family: 4, table: 20101, dst: '198.18.42.0', dstLen: 24, type: 'unreachable', metric: 0 },
  { ...base, family: 4, table: 20101, dst: '198.18.43.0', dstLen: 24, type: 'blackhole', metric: 0 },
  { ...base, family: 4, table: 20101, dst: '198.18.45.0', dstLen: 24, type: 'prohibit', metric: 0 },
  { ...base, family: 4, table: 255, dst: '198.18.1.1', dstLen: 32, type: 'local', scope: RT_SCOPE_HOST, oif: 3, prefsrc: '198.18.1.1', metric: 0 },
  { ...base, family: 6, table: 20101, dst: '::', dstLen: 0, gateway: 'fe80::1', oif: 3, metric: 1024 },
  {
    ...base,
    family: 6,
    table: 300,
    dst: '2001:db8:41::',
    dstLen: 48,
    metric: 1024,
    multipath: [
      { gateway: '2001:db8:1::2', oif: 3, weight: 2 },
      { gateway: '2001:db8:2::2', oif: 4, weight: 1 },
    ],
  },
  { ...base, family: 6, table: 20101, dst: '2001:db8:42::', dstLen: 48, type: 'unreachable', metric: 1024 },
  { ...base, family: 6, table: 20101, dst: '2001:db8::', dstLen: 32, nhid: 5, metric: 512 },
];

test('every sample survives encode → decode unchanged', () => {
  for (const r of SAMPLES) assert.deepEqual(route.decode(route.encode(r)), r, route.describe(r));
});

test('tables above 255 travel in RTA_TABLE with rtm_table = RT_TABLE_UNSPEC; small ids fill both', () => {
  const big = route.encode(SAMPLES[0]!);
  assert.equal(big.readUInt8(4), 0);
  assert.equal(AttrReader.parse(big.subarray(12), 't').u32(15), 20101);
  const small = route.encode(SAMPLES[1]!);
  assert.equal(small.readUInt8(4), 7);
  assert.equal(AttrReader.parse(small.subarray(12), 't').u32(15), 7);
});

test('RTA_MULTIPATH is an array of rtnexthop with hops = weight - 1 and a nested RTA_GATEWAY', () => {
  const b = route.encode(SAMPLES[3]!);
  const mp = AttrReader.parse(b.subarray(12), 't').raw(9)!;
  // leg 1: len 16 (8 + gateway attr 8), flags 0, hops 4, ifindex 3, RTA_GATEWAY 198.18.1.2
  assert.equal(mp.subarray(0, 16).toString('hex'), '1000' + '00' + '04' + '03000000' + '08000500' + 'c6120102');
  // leg 3: device only, len 8, hops 0
  assert.equal(mp.subarray(32).toString('hex'), '0800' + '00' + '00' + '05000000');
});

test('real kernel IPv4 routes from `ip route add` decode to what the command asked', () => {
  const got = fixtures.routes4.map((h) => route.decode(payloadOf(h)));
  const o = V0_IFINDEX;
  assert.deepEqual(got, [
    { ...base, family: 4, table: 7, dst: '198.18.44.0', dstLen: 24, scope: RT_SCOPE_LINK, metric: 0, prefsrc: '198.18.1.1', oif: o },
    { ...base, family: 4, table: 20101, dst: '198.18.40.0', dstLen: 24, metric: 5, oif: o, gateway: '198.18.1.2' },
    {
      ...base,
      family: 4,
      table: 20101,
      dst: '198.18.41.0',
      dstLen: 24,
      metric: 0,
      multipath: [
        { oif: o, weight: 3, gateway: '198.18.1.2' },
        { oif: o, weight: 1, gateway: '198.18.1.3' },
      ],
    },
    { ...base, family: 4, table: 20101, dst: '198.18.42.0', dstLen: 24, type: 'unreachable', metric: 0 },
    { ...base, family: 4, table: 20101, dst: '198.18.43.0', dstLen: 24, type: 'blackhole', metric: 0 },
    // The kernel also reports the group's legs (nexthop_compat_mode); the decoder keeps only nhid.
    { ...base, family: 4, table: 20102, dst: '0.0.0.0', dstLen: 0, metric: 0, nhid: 11 },
  ]);
  // And they re-encode to the same object.
  for (const r of got) assert.deepEqual(route.decode(route.encode(r)), r);
});

test('real kernel IPv6 routes decode, the reject route without the `dev lo` IPv6 gives it', () => {
  const got = fixtures.routes6.map((h) => route.decode(payloadOf(h)));
  const o = V0_IFINDEX;
  assert.deepEqual(got, [
    { ...base, family: 6, table: 20101, dst: '2001:db8:40::', dstLen: 48, metric: 1024, oif: o, gateway: '2001:db8:1::2' },
    {
      ...base,
      family: 6,
      table: 20101,
      dst: '2001:db8:41::',
      dstLen: 48,
      metric: 1024,
      multipath: [
        { oif: o, weight: 2, gateway: '2001:db8:1::2' },
        { oif: o, weight: 1, gateway: '2001:db8:1::3' },
      ],
    },
    { ...base, family: 6, table: 20101, dst: '2001:db8:42::', dstLen: 48, type: 'unreachable', metric: 1024 },
  ]);
});

test('key: table, destination and metric (kernel default metric filled in); equals: everything else too', () => {
  const a: Route = { ...base, family: 6, table: 20101, dst: '::', dstLen: 0, gateway: 'fe80::1', oif: 3 };
  const b: Route = { ...a, metric: 1024 };
  assert.equal(route.key(a), 'inet6 ::/0 table 20101 metric 1024');
  assert.equal(route.key(a), route.key(b));
  assert.ok(route.equals(a, b));
  assert.ok(!route.equals(a, { ...b, gateway: 'fe80::2' }));
  assert.ok(!route.equals(a, { ...b, protocol: 4 }));
  assert.ok(!route.equals(a, { ...b, type: 'unreachable', gateway: undefined, oif: undefined }));
  assert.ok(route.canReplace(a, { ...b, gateway: 'fe80::2' }));
  assert.ok(!route.canReplace(a, { ...b, metric: 100 }));
  assert.ok(!route.canReplace(a, { ...b, table: 20102 }));
});

test('equals: multipath legs in any order are the same route; one leg equals a plain route; nhid compares by id', () => {
  const m = SAMPLES[3]!;
  assert.ok(route.equals(m, { ...m, multipath: [...m.multipath!].reverse() }));
  assert.ok(!route.equals(m, { ...m, multipath: m.multipath!.map((h, i) => (i === 0 ? { ...h, weight: 4 } : h)) }));
  const one: Route = { ...base, family: 4, table: 1, dst: '0.0.0.0', dstLen: 0, multipath: [{ gateway: '198.18.1.2', oif: 3, weight: 7 }] };
  assert.ok(route.equals(one, { ...base, family: 4, table: 1, dst: '0.0.0.0', dstLen: 0, gateway: '198.18.1.2', oif: 3, metric: 0 }));
  const nh = SAMPLES[4]!;
  assert.ok(route.equals(nh, { ...nh }));
  assert.ok(!route.equals(nh, { ...nh, nhid: 12 }));
});

test('defaultScope follows ip(8): link for device routes, host for local, universe otherwise and for IPv6', () => {
  assert.equal(route.defaultScope({ family: 4, type: 'unicast' }), RT_SCOPE_LINK);
  assert.equal(route.defaultScope({ family: 4, type: 'unicast', gateway: '198.18.1.1' }), RT_SCOPE_UNIVERSE);
  assert.equal(route.defaultScope({ family: 4, type: 'unicast', nhid: 1 }), RT_SCOPE_UNIVERSE);
  assert.equal(route.defaultScope({ family: 4, type: 'local' }), RT_SCOPE_HOST);
  assert.equal(route.defaultScope({ family: 4, type: 'unreachable' }), RT_SCOPE_UNIVERSE);
  assert.equal(route.defaultScope({ family: 6, type: 'unicast' }), RT_SCOPE_UNIVERSE);
});

test('describe reads like ip(8)', () => {
  assert.equal(route.describe(SAMPLES[0]!), 'default via 198.18.1.254 dev #3 table 20101 proto 87 metric 0');
  assert.equal(route.describe(SAMPLES[5]!), 'unreachable 198.18.42.0/24 table 20101 proto 87 metric 0');
  assert.equal(route.describe(SAMPLES[12]!), '-6 2001:db8::/32 nhid 5 table 20101 proto 87 metric 512');
});

test('invalid routes are refused before reaching the kernel, naming the field', () => {
  const ok = SAMPLES[0]!;
  const bad: [Partial<Route>, RegExp][] = [
    [{ gateway: '2001:db8::1' }, /gateway must be an IPv4 address/],
    [{ dstLen: 33 }, /dstLen must be an integer in 0\.\.32/],
    [{ table: 0 }, /table must be an integer/],
    [{ nhid: 3 }, /nhid excludes gateway/],
    [{ gateway: undefined, oif: undefined, multipath: [{ oif: 3, weight: 0 }] }, /multipath\[0\]\.weight/],
    [{ multipath: [{ oif: 3, weight: 1 }] }, /multipath excludes gateway and oif/],
    [{ type: 'blackhole' }, /a blackhole route has no gateway/],
    [{ type: 'bogus' as Route['type'] }, /unknown type/],
  ];
  for (const [patch, re] of bad) {
    assert.throws(
      () => route.encode({ ...ok, ...patch }),
      (e: unknown) => e instanceof WanbraidError && e.code === 'WB_INTERNAL' && re.test(e.message) && e.message.includes('invalid route'),
      re.source,
    );
  }
});

test('a route message of a family we do not model is recognised, not decoded', () => {
  const b = route.encode(SAMPLES[0]!);
  b.writeUInt8(128, 0); // RTNL_FAMILY_IPMR
  assert.equal(route.familyOf(b), undefined);
  assert.throws(() => route.decode(b), /malformed route/);
});
