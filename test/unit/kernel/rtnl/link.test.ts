/** Links: round trip of the fields health uses, and a real kernel RTM_NEWLINK for a veth. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as link from '../../../../src/kernel/rtnl/link.js';
import type { Link } from '../../../../src/kernel/rtnl/link.js';
import { V0_IFINDEX, fixtures } from './fixtures.js';
import { payloadOf } from './helpers.js';

const flags = { up: true, running: false, lowerUp: false, pointopoint: true, loopback: false };
const SAMPLES: Link[] = [
  { ifindex: 9, name: 'ppp0', flags, operstate: 'lowerlayerdown', mtu: 1492, kind: 'ppp' },
  { ifindex: 1, name: 'lo', flags: { up: true, running: true, lowerUp: true, pointopoint: false, loopback: true }, operstate: 'unknown' },
];

test('samples survive encode → decode', () => {
  for (const l of SAMPLES) assert.deepEqual(link.decode(link.encode(l)), l);
});

test('a real veth link message decodes: index, name, flags, operstate, mtu, kind', () => {
  const l = link.decode(payloadOf(fixtures.links[0]!));
  assert.deepEqual(l, {
    ifindex: V0_IFINDEX,
    name: 'v0',
    flags: { up: true, running: true, lowerUp: true, pointopoint: false, loopback: false },
    operstate: 'up',
    mtu: 1500,
    kind: 'veth',
  });
  assert.equal(link.describe(l), `${V0_IFINDEX}: v0 <up,running,lowerUp> state up mtu 1500`);
});

test('identity is the index; links are never replaced; AF_BRIDGE messages are not links', () => {
  const [a] = SAMPLES as [Link];
  assert.equal(link.key(a), 'link 9');
  assert.ok(link.equals(a, { ...a }));
  assert.ok(!link.equals(a, { ...a, flags: { ...a.flags, lowerUp: true } }));
  assert.ok(!link.canReplace(a, a));
  const bridge = link.encode(a);
  bridge.writeUInt8(7, 0);
  assert.ok(!link.isLinkMessage(bridge));
  assert.ok(link.isLinkMessage(link.encode(a)));
});
