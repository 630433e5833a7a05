/** The exit's allow-list and the address codec behind it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAllowed, formatAllowRule, normalizeTarget } from '../../../src/relay/core/allow.js';
import { bytesToIp, ipToBytes, prefixContains } from '../../../src/relay/protocol/addr.js';
import { parseConfigText } from '../../../src/config/load.js';

const allow = parseConfigText(`
relay:
  exit:
    listen: 0.0.0.0:7000
    keyFile: /k
    allow: [198.19.0.10:5201, 198.19.1.0/24:80-443, "[2001:db8:1::/48]:443", 198.18.99.0/30]
`).relay!.exit!.allow;

const t4 = (host: string, port: number) => ({ host, port, family: 4 as const });

test('CIDRs and port ranges permit exactly what they say', () => {
  assert.ok(isAllowed(allow, t4('198.19.0.10', 5201)));
  assert.ok(!isAllowed(allow, t4('198.19.0.10', 5202)), 'other port');
  assert.ok(!isAllowed(allow, t4('198.19.0.11', 5201)), 'other host');
  assert.ok(isAllowed(allow, t4('198.19.1.200', 80)));
  assert.ok(isAllowed(allow, t4('198.19.1.200', 443)));
  assert.ok(!isAllowed(allow, t4('198.19.1.200', 444)));
  assert.ok(!isAllowed(allow, t4('198.19.2.1', 80)));
  assert.ok(isAllowed(allow, t4('198.18.99.3', 1)), 'no port: any port');
  assert.ok(!isAllowed(allow, t4('198.18.99.4', 1)));
  assert.ok(!isAllowed(allow, t4('198.18.99.3', 0)), 'port 0 never');
  assert.ok(isAllowed(allow, { host: '2001:db8:1:ffff::1', port: 443, family: 6 }));
  assert.ok(!isAllowed(allow, { host: '2001:db8:2::1', port: 443, family: 6 }));
  assert.ok(!isAllowed(allow, { host: '2001:db8::c613:a', port: 5201, family: 6 }), 'no cross-family match');
  assert.ok(isAllowed(allow, { host: '::ffff:198.19.0.10', port: 5201, family: 6 }), 'an IPv4-mapped address is its IPv4 address');
  assert.ok(!isAllowed([], t4('198.19.0.10', 5201)), 'an empty list allows nothing');
});

test('allow rules print back in config form', () => {
  assert.deepEqual(allow.map(formatAllowRule), ['198.19.0.10/32:5201', '198.19.1.0/24:80-443', '[2001:db8:1::/48]:443', '198.18.99.0/30']);
});

test('addresses round-trip through bytes in canonical form', () => {
  for (const [a, canon] of [
    ['198.19.0.10', '198.19.0.10'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::', '2001:db8::'],
    ['::ffff:198.18.0.1', '::ffff:c612:1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
  ] as const) {
    assert.equal(bytesToIp(ipToBytes(a)!), canon, a);
  }
  assert.equal(ipToBytes('198.18.0'), undefined);
  assert.ok(prefixContains('198.18.0.0', 15, '198.19.255.255'));
  assert.ok(!prefixContains('198.18.0.0', 15, '198.20.0.0'));
  assert.ok(prefixContains('0.0.0.0', 0, '1.2.3.4'));
  assert.ok(prefixContains('2001:db8::', 33, '2001:db8:7fff::1'));
  assert.ok(!prefixContains('2001:db8::', 33, '2001:db8:8000::1'));
});

function rules(...items: string[]) {
  return parseConfigText(`relay:\n  exit:\n    listen: 0.0.0.0:7000\n    keyFile: /k\n    allow: [${items.map((i) => JSON.stringify(i)).join(', ')}]\n`).relay!.exit!.allow;
}
const t6 = (host: string, port: number) => ({ host, port, family: 6 as const });

test('an IPv4-mapped IPv6 target is matched as the IPv4 address it reaches (the ::ffff:127.0.0.1 bypass)', () => {
  const list = rules('127.0.0.1:6000', '[::/0]:7000');
  assert.ok(!isAllowed(list, t6('::ffff:127.0.0.1', 7000)), '[::/0] does not cover the IPv4 listener on 127.0.0.1:7000');
  assert.ok(!isAllowed(list, t6('::ffff:7f00:1', 7000)), 'the same address in hex groups');
  assert.ok(!isAllowed(list, t6('0:0:0:0:0:ffff:127.0.0.1', 7000)), 'the same address written out');
  assert.ok(isAllowed(list, t6('::ffff:127.0.0.1', 6000)), 'positive control: the IPv4 rule does cover it, as IPv4');
  assert.ok(isAllowed(list, t6('2001:db8::1', 7000)), 'positive control: [::/0] still covers real IPv6 addresses');
  assert.deepEqual(normalizeTarget(t6('::ffff:198.19.0.10', 80)), { host: '198.19.0.10', port: 80, family: 4 }, 'and the exit connects to the IPv4 address');
  assert.deepEqual(normalizeTarget(t6('2001:db8::1', 80)), t6('2001:db8::1', 80));
  // A rule written in mapped form is an IPv4 rule.
  assert.ok(isAllowed(rules('[::ffff:198.19.0.0/112]:80'), t4('198.19.0.7', 80)));
  assert.ok(!isAllowed(rules('[::ffff:198.19.0.0/112]:80'), t4('198.18.0.7', 80)));
});

test('unspecified, loopback, link-local and metadata addresses need a rule that names them', () => {
  const wide = rules('0.0.0.0/0', '[::/0]');
  for (const [host, family] of [
    ['0.0.0.0', 4],
    ['0.1.2.3', 4],
    ['127.0.0.1', 4],
    ['127.53.0.1', 4],
    ['169.254.169.254', 4],
    ['169.254.1.1', 4],
    ['::', 6],
    ['::1', 6],
    ['fe80::1', 6],
    ['febf::1', 6],
    ['fd00:ec2::254', 6],
    ['::ffff:127.0.0.1', 6],
    ['::ffff:169.254.169.254', 6],
  ] as const) {
    assert.ok(!isAllowed(wide, { host, port: 80, family }), `${host} is refused by 0.0.0.0/0 and [::/0]`);
  }
  // Positive controls: the wide rules do allow ordinary addresses next to the special ranges.
  for (const [host, family] of [
    ['1.0.0.1', 4],
    ['126.255.255.255', 4],
    ['128.0.0.1', 4],
    ['169.253.255.255', 4],
    ['169.255.0.1', 4],
    ['::2', 6],
    ['fec0::1', 6],
    ['fd00:ec2::253', 6],
    ['2001:db8::1', 6],
  ] as const) {
    assert.ok(isAllowed(wide, { host, port: 80, family }), `${host} is an ordinary address`);
  }
  // Exact naming: a rule inside the special range permits what it names, and only that.
  const exact = rules('127.0.0.1:5201', '169.254.169.254:80', '[::1]:22', '[fe80::/64]:443', '127.0.0.0/8:9000');
  assert.ok(isAllowed(exact, t4('127.0.0.1', 5201)));
  assert.ok(!isAllowed(exact, t4('127.0.0.1', 5202)));
  assert.ok(!isAllowed(exact, t4('127.0.0.2', 5201)));
  assert.ok(isAllowed(exact, t4('127.9.9.9', 9000)), 'a prefix inside 127/8 names that part of it');
  assert.ok(isAllowed(exact, t4('169.254.169.254', 80)));
  assert.ok(!isAllowed(exact, t4('169.254.169.253', 80)));
  assert.ok(isAllowed(exact, t6('::1', 22)));
  assert.ok(isAllowed(exact, t6('::ffff:127.0.0.1', 5201)), 'the mapped form reaches what the IPv4 rule names');
  assert.ok(isAllowed(exact, t6('fe80::42', 443)));
  assert.ok(!isAllowed(exact, t6('fe80:0:0:1::42', 443)), 'outside the named /64');
  assert.ok(!isAllowed(rules('0.0.0.0/1:5201'), t4('127.0.0.1', 5201)), 'a prefix wider than 127/8 does not name it');
});
