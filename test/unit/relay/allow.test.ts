/** The exit's allow-list and the address codec behind it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAllowed, formatAllowRule } from '../../../src/relay/core/allow.js';
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
  assert.ok(!isAllowed(allow, { host: '::ffff:198.19.0.10', port: 5201, family: 6 }), 'no cross-family match');
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
