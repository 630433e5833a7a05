/**
 * Weighted and sticky balancing of new LAN flows, in the multi-WAN lab:
 *
 *   client ── lan0 ┐                      ┌ isp1 ─┐
 *                  router (Balancer) wan1 ┤       │
 *                                    wan2 ┤ isp2 ─┼── inet (HTTP /ip tells which link a flow took)
 *                                    wan3 ┘ isp3 ─┘
 *
 * Bounds are loose on purpose (the ±3 points figure over 3000 flows is a benchmark): 300 flows at
 * 5:3:2 land roughly by weight, sticky-per-source keeps each client address on one link while
 * plain balancing from the same address spreads (the positive control), and IPv6 balances too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BalancerLab, labConfig } from './harness.js';

let L: BalancerLab;
before(async () => {
  L = await BalancerLab.up({ links: 3 });
});
after(async () => {
  await L?.down();
});

test('new flows spread roughly by weight, IPv4 and IPv6', async () => {
  await L.applyOk(labConfig(L.addr, [5, 3, 2]));
  for (const v6 of [false, true]) {
    const { byLink, failures } = await L.census(300, { v6 });
    assert.deepEqual(failures, []);
    const share = (l: string) => (byLink[l] ?? 0) / 300;
    assert.deepEqual(Object.keys(byLink).sort(), ['wan1', 'wan2', 'wan3'], JSON.stringify(byLink));
    assert.ok(Math.abs(share('wan1') - 0.5) < 0.12, `v${v6 ? 6 : 4} wan1 ${JSON.stringify(byLink)}`);
    assert.ok(Math.abs(share('wan2') - 0.3) < 0.12, `v${v6 ? 6 : 4} wan2 ${JSON.stringify(byLink)}`);
    assert.ok(Math.abs(share('wan3') - 0.2) < 0.12, `v${v6 ? 6 : 4} wan3 ${JSON.stringify(byLink)}`);
  }
  const st = await L.status();
  assert.equal(st.links.reduce((s, l) => s + l.newFlows, 0), 600, 'the new-flow counters saw every flow');
});

test('sticky per source keeps each client address on one link; plain balancing from one address spreads', async () => {
  const sources = ['198.18.100.11', '198.18.100.12', '198.18.100.13', '198.18.100.14'];
  await L.lab.ip('client', sources.map((s) => `addr add ${s}/24 dev lan0`));
  await L.applyOk(labConfig(L.addr, [1, 1, 1], { policies: { s: { links: ['wan1', 'wan2', 'wan3'], sticky: 'source' } }, rules: [{ name: 'all', policy: 's' }] }));
  for (const source of sources) {
    const { byLink, failures } = await L.census(20, { source, concurrency: 4 });
    assert.deepEqual(failures, []);
    assert.equal(Object.keys(byLink).length, 1, `${source} stayed on one link: ${JSON.stringify(byLink)}`);
  }
  // Positive control: without stickiness the same address spreads over the links.
  await L.applyOk(labConfig(L.addr, [1, 1, 1]));
  const { byLink } = await L.census(30, { source: sources[0]!, concurrency: 4 });
  assert.ok(Object.keys(byLink).length >= 2, `plain balancing spreads one source: ${JSON.stringify(byLink)}`);
});
