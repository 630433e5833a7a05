/**
 * The binding of planned specs to rtnl objects: every planned object encodes (the adapter's
 * validation accepts it), and decoding what the kernel would send back equals the desired object,
 * so an unchanged plan reconciles to no change at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../../src/plan/planner.js';
import { kernelHasResilientGroups, nexthopKind, routeKind, ruleKind, toNexthop, toRoute, toRule } from '../../../src/kernel/rtnl-backend.js';
import { nexthop, route, rule, RT_SCOPE_LINK } from '../../../src/kernel/rtnl/index.js';
import { threeLinks, view, views } from '../plan/fixtures.js';

test('every planned route, rule and nexthop survives encode → decode and equals itself', () => {
  const c = threeLinks({ routing: { lastResort: 'blackhole' } });
  const plans = [
    plan(c, [view('wan1', 1, 5), view('wan2', 2, 3, { p2p: true }), view('wan3', 3, 2, { v6: false })]),
    plan(c, views(c, { wan1: { state: 'offline' }, wan2: { state: 'offline' }, wan3: { state: 'offline' } })),
    plan(threeLinks({ routing: { groupType: 'multipath' } }), views(c)),
  ];
  let n = 0;
  for (const d of plans) {
    for (const r of d.routes.map(toRoute)) {
      assert.ok(routeKind.equals(route.decode(route.encode(r)), r), route.describe(r));
      n++;
    }
    for (const r of d.rules.map(toRule)) {
      assert.ok(ruleKind.equals(rule.decode(rule.encode(r)), r), rule.describe(r));
      n++;
    }
    for (const x of d.nexthops.map(toNexthop)) {
      assert.ok(nexthopKind.equals(nexthop.decode(nexthop.encode(x)), x), nexthop.describe(x));
      n++;
    }
  }
  assert.ok(n > 60);
});

test('specs map to the kernel fields: scope, table, gateway, device, group parameters', () => {
  const c = threeLinks();
  const d = plan(c, views(c));
  const connected = toRoute(d.routes.find((r) => r.family === 4 && r.table === 20101 && r.dst.len === 24)!);
  assert.deepEqual(connected, { family: 4, table: 20101, dst: '198.18.1.0', dstLen: 24, protocol: 87, scope: RT_SCOPE_LINK, type: 'unicast', oif: 11, prefsrc: '198.18.1.1' });
  const group = toNexthop(d.nexthops.find((n) => n.kind === 'group' && n.family === 4)!);
  assert.deepEqual(group, {
    kind: 'group',
    id: 87_000_004,
    protocol: 87,
    type: 'resilient',
    members: [
      { id: 87_000_101, weight: 5 },
      { id: 87_000_102, weight: 3 },
      { id: 87_000_103, weight: 2 },
    ],
    resilient: { buckets: 128, idleTimerMs: 120_000, unbalancedTimerMs: 0 },
  });
  const mark = toRule(d.rules.find((r) => r.fwmark && r.table === 20102)!);
  assert.deepEqual(mark, { family: 4, priority: 20103, action: 'table', table: 20102, protocol: 87, fwmark: 0x20000, fwmask: 0xff0000 });
  assert.equal(routeKind.owner({ ...connected, protocol: 4 }), 'foreign');
  assert.equal(routeKind.owner({ ...connected, protocol: 2 }), 'kernel');
  assert.equal(nexthopKind.rank!(group), 1);
});

test('resilient groups are detected from the kernel release', () => {
  assert.equal(kernelHasResilientGroups('6.18.44-fc'), true);
  assert.equal(kernelHasResilientGroups('5.13.0'), true);
  assert.equal(kernelHasResilientGroups('5.12.19'), false);
  assert.equal(kernelHasResilientGroups('4.19.0'), false);
  assert.equal(kernelHasResilientGroups('weird'), false);
});
