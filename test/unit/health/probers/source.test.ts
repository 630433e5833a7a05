/** Source choice by the target's family, and address comparison as the kernel prints addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, chooseSource } from '../../../../src/health/probers/source.js';

test('the target family picks the source; a missing family is an error, never the other address', () => {
  const both = { ipv4: '198.18.1.2', ipv6: '2001:db8:1::2' };
  assert.deepEqual(chooseSource('198.19.0.1', both), { family: 4, address: '198.18.1.2' });
  assert.deepEqual(chooseSource('2001:db8:ffff::1', both), { family: 6, address: '2001:db8:1::2' });
  assert.deepEqual(chooseSource('2001:db8:ffff::1', { ipv4: '198.18.1.2' }), { error: 'no IPv6 source address on this link for target 2001:db8:ffff::1' });
  assert.deepEqual(chooseSource('198.19.0.1', { ipv6: '2001:db8:1::2' }), { error: 'no IPv4 source address on this link for target 198.19.0.1' });
  assert.deepEqual(chooseSource('probe.example', both), { error: 'target "probe.example" is not an IP address' });
});

test('canonical addresses match what inet_ntop prints', () => {
  assert.equal(canonicalAddress('2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalAddress('198.19.0.1'), '198.19.0.1');
});
