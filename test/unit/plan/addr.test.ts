import { test } from 'node:test';
import assert from 'node:assert/strict';
import { covers, networkOf, prefixKey, reducePrefixes } from '../../../src/plan/addr.js';
import { parsePrefix, type Prefix } from '../../../src/config/values.js';

const P = (s: string): Prefix => parsePrefix(s)!;

test('networkOf clears host bits in both families', () => {
  assert.deepEqual(networkOf('198.18.1.7', 24), { address: '198.18.1.0', len: 24, family: 4 });
  assert.deepEqual(networkOf('198.18.1.7', 0), { address: '0.0.0.0', len: 0, family: 4 });
  assert.deepEqual(networkOf('198.18.1.7', 32), { address: '198.18.1.7', len: 32, family: 4 });
  assert.deepEqual(networkOf('2001:db8:1:0:abcd::1', 64), { address: '2001:db8:1::', len: 64, family: 6 });
  assert.deepEqual(networkOf('2001:db8::1', 128), { address: '2001:db8::1', len: 128, family: 6 });
  assert.equal(networkOf('::ffff:198.18.0.1', 128).address, '::ffff:c612:1');
  assert.equal(prefixKey(P('2001:0db8:0000::/32')), '2001:db8::/32');
});

test('covers and reducePrefixes keep only the outermost prefixes, sorted', () => {
  assert.ok(covers(P('198.18.0.0/15'), P('198.19.4.0/24')));
  assert.ok(!covers(P('198.18.0.0/16'), P('198.19.4.0/24')));
  assert.ok(!covers(P('198.18.0.0/15'), P('2001:db8::/32')));
  const r = reducePrefixes([P('198.19.4.0/24'), P('198.18.0.0/15'), P('198.20.0.1'), P('198.20.0.1/32'), P('2001:db8::/32'), P('198.18.5.5/24')], 4);
  assert.deepEqual(r.map((p) => `${p.address}/${p.len}`), ['198.18.0.0/15', '198.20.0.1/32']);
  const r6 = reducePrefixes([P('2001:db8:1::/48'), P('2001:db8::/32'), P('2001:db9::1')], 6);
  assert.deepEqual(r6.map((p) => `${p.address}/${p.len}`), ['2001:db8::/32', '2001:db9::1/128']);
});
