import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../../src/plan/planner.js';
import { renderPlan } from '../../../src/plan/render.js';
import { threeLinks, view, views } from './fixtures.js';

test('renderPlan prints policies, ip rules, nexthops and routes per table in ip(8) notation, then the nft batch', () => {
  const c = threeLinks({ policies: { p: { links: [{ link: 'wan1' }, { link: 'wan2', tier: 2 }], sticky: 'source' } }, rules: [{ name: 'all', policy: 'p' }] });
  const text = renderPlan(plan(c, [view('wan1', 1, 5, { state: 'offline' }), view('wan2', 2, 3, { p2p: true }), view('wan3', 3, 2, { v6: false })]));
  const lines = text.split('\n');
  for (const want of [
    'p IPv4 sticky source: tier 2: wan2 3 (100.0%)',
    '_all (default) IPv4: tier 1: wan2 3 (60.0%), wan3 2 (40.0%)',
    '_all (default) IPv6: tier 1: wan2 3 (100.0%)',
    '20100:\tfrom all lookup main suppress_prefixlength 0 proto wanbraid',
    '20102:\tfrom all fwmark 0x10000/0xff0000 lookup 20101 proto wanbraid',
    '20102:\tfrom 198.18.1.1 lookup 20101 proto wanbraid',
    '20200:\tfrom all lookup 20100 proto wanbraid',
    'id 87000102 dev wan2 proto wanbraid',
    'id 87000004 group 87000102,3/87000103,2 type resilient buckets 128 idle_timer 120 proto wanbraid',
    'default nhid 87000004 proto wanbraid',
    '198.18.1.0/24 dev wan1 proto wanbraid scope link src 198.18.1.1',
    'default via 198.18.1.254 dev wan1 proto wanbraid src 198.18.1.1',
    'default dev wan2 proto wanbraid scope link src 198.18.2.1',
    'net.ipv6.fib_multipath_hash_policy = 1',
  ]) {
    assert.ok(lines.includes(want), `missing line: ${JSON.stringify(want)}\n${text}`);
  }
  assert.ok(lines.includes('# ip -6 route show table 20103 (wan3)') && lines[lines.indexOf('# ip -6 route show table 20103 (wan3)') + 1] === '(empty)');
  const json = text.slice(text.indexOf('# nft -j -f - (one transaction)\n') + '# nft -j -f - (one transaction)\n'.length);
  const batch = JSON.parse(json) as { nftables: unknown[] };
  assert.deepEqual(batch.nftables[0], { add: { table: { family: 'inet', name: 'wanbraid' } } });
  // Nothing usable: the lastResort is spelled out, and the multipath form prints its legs.
  const none = renderPlan(plan(c, views(c, { wan1: { state: 'offline' }, wan2: { state: 'offline' }, wan3: { state: 'offline' } })));
  assert.ok(none.includes('_all (default) IPv4: nothing usable: unreachable') && none.includes('unreachable default proto wanbraid'));
  const mp = renderPlan(plan(threeLinks({ routing: { groupType: 'multipath' } }), views(c)));
  assert.ok(mp.includes('default proto wanbraid\n\tnexthop via 198.18.1.254 dev wan1 weight 5\n\tnexthop via 198.18.2.254 dev wan2 weight 3'), mp);
});
