/**
 * kernel/rtnl objects → health's kernel vocabulary: link flags, address flags (secondary vs
 * temporary share a bit; optimistic addresses are usable), routes (default, metric, multipath).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromAddress, fromLink, fromRoute, fromRtnl } from '../../../src/health/rtnl-source.js';
import { IFA_F_DEPRECATED, IFA_F_OPTIMISTIC, IFA_F_SECONDARY, IFA_F_TENTATIVE } from '../../../src/kernel/rtnl/index.js';

test('links: IFF_UP, IFF_LOWER_UP, IFF_POINTOPOINT', () => {
  assert.deepEqual(fromLink({ ifindex: 4, name: 'ppp0', flags: { up: true, running: false, lowerUp: false, pointopoint: true, loopback: false }, operstate: 'down' }), {
    ifindex: 4,
    name: 'ppp0',
    adminUp: true,
    lowerUp: false,
    pointToPoint: true,
  });
});

test('addresses: the secondary bit is "temporary" for IPv6; tentative unless optimistic', () => {
  const base = { ifindex: 3, prefixLen: 64, scope: 0 };
  assert.equal(fromAddress({ ...base, family: 4, local: '198.18.1.1', flags: IFA_F_SECONDARY }).secondary, true);
  const v6 = fromAddress({ ...base, family: 6, local: '2001:db8:1::9', flags: IFA_F_SECONDARY | IFA_F_DEPRECATED });
  assert.deepEqual([v6.secondary, v6.temporary, v6.deprecated], [false, true, true]);
  assert.equal(fromAddress({ ...base, family: 6, local: '2001:db8:1::9', flags: IFA_F_TENTATIVE }).tentative, true);
  assert.equal(fromAddress({ ...base, family: 6, local: '2001:db8:1::9', flags: IFA_F_TENTATIVE | IFA_F_OPTIMISTIC }).tentative, false);
});

test('routes: default has no dst; metric defaults per family; nexthop objects and multipath are not a link’s own', () => {
  const r = fromRoute({ family: 4, table: 254, dst: '0.0.0.0', dstLen: 0, protocol: 16, scope: 0, type: 'unicast', gateway: '198.18.1.254', oif: 3, metric: 100 });
  assert.deepEqual(r, { family: 4, table: 254, dst: undefined, dstLen: 0, gateway: '198.18.1.254', oif: 3, priority: 100, protocol: 16, type: 'unicast', multipath: false });
  assert.equal(fromRoute({ family: 6, table: 254, dst: '::', dstLen: 0, protocol: 9, scope: 0, type: 'unicast', oif: 3 }).priority, 1024);
  assert.equal(fromRoute({ family: 4, table: 254, dst: '0.0.0.0', dstLen: 0, protocol: 87, scope: 0, type: 'unicast', nhid: 5 }).multipath, true);
  assert.equal(fromRtnl({ kind: 'rule', op: 'new', rule: {} as never }), undefined);
});
