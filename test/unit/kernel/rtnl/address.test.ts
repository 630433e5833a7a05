/** Addresses: round trips (IPv4, IPv6, point-to-point peer, label, 32-bit flags), real kernel bytes, identity. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as address from '../../../../src/kernel/rtnl/address.js';
import type { Address } from '../../../../src/kernel/rtnl/address.js';
import { IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_F_PERMANENT, IFA_F_TENTATIVE, RT_SCOPE_LINK } from '../../../../src/kernel/rtnl/constants.js';
import { V0_IFINDEX, fixtures } from './fixtures.js';
import { payloadOf } from './helpers.js';

const SAMPLES: Address[] = [
  { family: 4, ifindex: 3, local: '198.18.1.1', prefixLen: 24, scope: 0, flags: IFA_F_PERMANENT, label: 'wan1' },
  { family: 4, ifindex: 4, local: '198.18.9.1', peer: '198.18.9.2', prefixLen: 32, scope: 0, flags: 0 },
  { family: 6, ifindex: 3, local: '2001:db8:1::1', prefixLen: 64, scope: 0, flags: IFA_F_NODAD | IFA_F_NOPREFIXROUTE },
  { family: 6, ifindex: 3, local: 'fe80::1', prefixLen: 64, scope: RT_SCOPE_LINK, flags: 0 },
];

test('samples survive encode → decode', () => {
  for (const a of SAMPLES) assert.deepEqual(address.decode(address.encode(a)), a, address.describe(a));
});

test('real kernel addresses from `ip addr add` decode: IFA_FLAGS wins over the byte, IPv6 sends IFA_ADDRESS only', () => {
  assert.deepEqual(
    fixtures.addresses.map((h) => address.decode(payloadOf(h))),
    [
      { family: 4, ifindex: V0_IFINDEX, local: '198.18.1.1', prefixLen: 24, scope: 0, flags: IFA_F_PERMANENT, label: 'v0' },
      { family: 6, ifindex: V0_IFINDEX, local: '2001:db8:1::1', prefixLen: 64, scope: 0, flags: IFA_F_PERMANENT | IFA_F_NODAD },
    ],
  );
});

test('equals ignores the flags the kernel manages (tentative, permanent), not the ones a caller sets', () => {
  const a = SAMPLES[2]!;
  assert.ok(address.equals(a, { ...a, flags: a.flags | IFA_F_TENTATIVE | IFA_F_PERMANENT }));
  assert.ok(!address.equals(a, { ...a, flags: IFA_F_NODAD }));
  assert.ok(address.canReplace(a, { ...a, flags: 0 }));
  assert.ok(!address.canReplace(a, { ...a, prefixLen: 48 }));
  assert.equal(address.key(SAMPLES[1]!), 'inet 198.18.9.1 peer 198.18.9.2/32 dev #4');
});
