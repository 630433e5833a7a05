/**
 * Rules: round trips with marks and masks, prefixes, suppress_prefixlength, interface names,
 * inversion, reject actions, tables above 255, IPv6; real kernel bytes from `ip rule add`;
 * identity and the no-replace rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as rule from '../../../../src/kernel/rtnl/rule.js';
import type { Rule } from '../../../../src/kernel/rtnl/rule.js';
import { AttrReader } from '../../../../src/kernel/rtnl/attr.js';
import { RTPROT_WANBRAID } from '../../../../src/kernel/rtnl/constants.js';
import { fixtures } from './fixtures.js';
import { payloadOf } from './helpers.js';

const P = RTPROT_WANBRAID;

const SAMPLES: Rule[] = [
  { family: 4, priority: 1000, action: 'table', table: 20101, protocol: P, fwmark: 0x100, fwmask: 0xff00 },
  { family: 4, priority: 1001, action: 'table', table: 20101, protocol: P, src: '198.18.1.0', srcLen: 24 },
  { family: 4, priority: 1002, action: 'table', table: 254, protocol: P, suppressPrefixlen: 0 },
  { family: 4, priority: 1003, action: 'unreachable', protocol: P, dst: '198.18.50.0', dstLen: 24, iifname: 'lan0' },
  { family: 4, priority: 1004, action: 'blackhole', protocol: P, oifname: 'wan1', fwmark: 0, fwmask: 0xff },
  { family: 4, priority: 1005, action: 'table', table: 7, protocol: P, fwmark: 7, fwmask: 0xffffffff, invert: true },
  { family: 4, priority: 1006, action: 'goto', goto: 1010, protocol: P },
  { family: 4, priority: 1007, action: 'table', table: 0xfffffff0, protocol: P, src: '198.18.1.1', srcLen: 32, dst: '198.19.0.0', dstLen: 16 },
  { family: 6, priority: 1000, action: 'table', table: 20101, protocol: P, src: '2001:db8:1::', srcLen: 64, suppressPrefixlen: 48 },
  { family: 6, priority: 1001, action: 'prohibit', protocol: P, fwmark: 0x3, fwmask: 0x3 },
];

test('every sample survives encode → decode unchanged', () => {
  for (const r of SAMPLES) assert.deepEqual(rule.decode(rule.encode(r)), r, rule.describe(r));
});

test('FRA_PROTOCOL and FRA_TABLE are always sent; the header table byte only for ids up to 255', () => {
  const big = rule.encode(SAMPLES[0]!);
  const a = AttrReader.parse(big.subarray(12), 't');
  assert.equal(a.u8(21), P);
  assert.equal(a.u32(15), 20101);
  assert.equal(big.readUInt8(4), 0);
  assert.equal(rule.encode(SAMPLES[2]!).readUInt8(4), 254);
});

test('real kernel rules from `ip rule add` decode to what the command asked', () => {
  assert.deepEqual(
    fixtures.rules4.map((h) => rule.decode(payloadOf(h))),
    [
      { family: 4, priority: 1000, action: 'table', protocol: P, table: 20101, fwmark: 0x100, fwmask: 0xff00 },
      { family: 4, priority: 1001, action: 'table', protocol: P, table: 20101, src: '198.18.1.0', srcLen: 24 },
      { family: 4, priority: 1002, action: 'table', protocol: P, table: 254, suppressPrefixlen: 0 },
      { family: 4, priority: 1003, action: 'unreachable', protocol: P, dst: '198.18.50.0', dstLen: 24, iifname: 'v0' },
      // `fwmark 0x7` without a mask: the kernel reports mask 0xffffffff.
      { family: 4, priority: 1004, action: 'table', protocol: P, table: 7, fwmark: 7, fwmask: 0xffffffff, invert: true },
    ],
  );
  assert.deepEqual(
    fixtures.rules6.map((h) => rule.decode(payloadOf(h))),
    [{ family: 6, priority: 1000, action: 'table', protocol: P, table: 20101, src: '2001:db8:1::', srcLen: 64 }],
  );
});

test('a fwmark without a mask equals the kernel form with mask 0xffffffff', () => {
  const asked: Rule = { family: 4, priority: 1004, action: 'table', table: 7, protocol: P, fwmark: 7, invert: true };
  const got = rule.decode(payloadOf(fixtures.rules4[4]!));
  assert.equal(rule.key(asked), rule.key(got));
  assert.ok(rule.equals(got, asked));
});

test('key is priority and selectors; equals adds action, table, protocol; rules are never replaced in place', () => {
  const a = SAMPLES[0]!;
  assert.equal(rule.key(a), 'inet pref 1000 from all fwmark 0x100/0xff00');
  assert.equal(rule.key({ ...a, table: 20102 }), rule.key(a));
  assert.ok(!rule.equals(a, { ...a, table: 20102 }));
  assert.ok(!rule.equals(a, { ...a, protocol: 4 }));
  assert.ok(!rule.equals(a, { ...a, suppressPrefixlen: 0 }));
  assert.notEqual(rule.key(a), rule.key({ ...a, fwmask: 0xffff }));
  assert.ok(!rule.canReplace(a, { ...a, table: 20102 }));
  assert.equal(rule.describe(SAMPLES[3]!), 'inet pref 1003 from all to 198.18.50.0/24 iif lan0 unreachable proto 87');
});

test('invalid rules are refused before reaching the kernel', () => {
  assert.throws(() => rule.encode({ family: 4, priority: 1, action: 'table', protocol: P }), /action 'table' needs a table/);
  assert.throws(() => rule.encode({ ...SAMPLES[1]!, src: '2001:db8::' }), /src must be an IPv4 address/);
  assert.throws(() => rule.encode({ ...SAMPLES[0]!, fwmark: -1 }), /fwmark must be an integer/);
  assert.throws(() => rule.encode({ ...SAMPLES[0]!, action: 'jump' as Rule['action'] }), /unknown action/);
});
