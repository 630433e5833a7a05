import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planWanLab, wanNodes } from '../../../src/lab/wan-plan.js';
import { planRelayLab } from '../../../src/lab/relay-plan.js';
import { resolveRates, UNLIMITED } from '../../../src/lab/rate.js';
import type { TopologyPlan } from '../../../src/lab/plan.js';
import { WanbraidError } from '../../../src/errors.js';
import { contains, inAllowedRange } from './net-helpers.js';

const ns = (node: string) => `wanbraid-abc123-${node}`;
const nodeOfNs = (name: string) => name.replace(/^wanbraid-abc123-/, '');

function wan(links: number, rates: string[] = []): TopologyPlan {
  return planWanLab({ links, rates: resolveRates(rates, links) }, ns).plan;
}

function lines(plan: TopologyPlan, node: string): string[] {
  const n = plan.nodes.find((x) => x.node === node)!;
  return [...n.create, ...n.address, ...n.route];
}

/** Devices per node as the plan creates them: creator end, and the peer in its namespace. */
function devices(plan: TopologyPlan): Map<string, Set<string>> {
  const devs = new Map(plan.nodes.map((n) => [n.node, new Set(['lo'])]));
  for (const n of plan.nodes) {
    for (const l of n.create) {
      const m = /^link add name (\S+) up type (\S+)(?: peer name (\S+) netns (\S+))?$/.exec(l);
      assert.ok(m, `create line of ${n.node} not understood: ${l}`);
      devs.get(n.node)!.add(m[1]!);
      if (m[3]) {
        const peerNode = nodeOfNs(m[4]!);
        assert.ok(devs.has(peerNode), `peer namespace ${m[4]} is not a lab node`);
        assert.notEqual(peerNode, n.node);
        devs.get(peerNode)!.add(m[3]);
      }
    }
  }
  return devs;
}

/** Every line names only devices that exist in its node, and every device is brought up. */
function checkConsistent(plan: TopologyPlan): void {
  const devs = devices(plan);
  for (const n of plan.nodes) {
    const mine = devs.get(n.node)!;
    for (const l of [...n.address, ...n.route, ...n.tc]) {
      for (const m of l.matchAll(/\bdev (\S+)/g)) assert.ok(mine.has(m[1]!), `${n.node}: "${l}" names device ${m[1]} it does not have`);
    }
    for (const d of mine) {
      if (d === 'lo') continue;
      const upAtCreate = n.create.some((l) => l.startsWith(`link add name ${d} up`));
      assert.ok(upAtCreate || n.address.includes(`link set dev ${d} up`), `${n.node}: ${d} is never brought up`);
    }
  }
}

function addressesOf(plan: TopologyPlan): { node: string; cidr: string; dev: string; line: string }[] {
  return plan.nodes.flatMap((n) =>
    n.address.flatMap((l) => {
      const m = /^addr add (\S+) dev (\S+)/.exec(l);
      return m ? [{ node: n.node, cidr: m[1]!, dev: m[2]!, line: l }] : [];
    }),
  );
}

test('the WAN lab has client, router, isp1..N and inet, with the example config\'s interface names', () => {
  const plan = wan(3);
  assert.deepEqual(plan.nodes.map((n) => n.node), ['client', 'router', 'isp1', 'isp2', 'isp3', 'inet']);
  assert.deepEqual(wanNodes(2), ['client', 'router', 'isp1', 'isp2', 'inet']);
  const routerDevs = [...devices(plan).get('router')!].sort();
  assert.deepEqual(routerDevs, ['lan0', 'lo', 'wan1', 'wan2', 'wan3']);
  assert.ok(devices(plan).get('client')!.has('lan0'));
  checkConsistent(plan);
  checkConsistent(wan(16));
  checkConsistent(wan(1));
});

test('the router gets forwarding and addresses but no route and no nftables', () => {
  const plan = wan(3);
  const router = plan.nodes.find((n) => n.node === 'router')!;
  assert.deepEqual(router.route, []);
  assert.deepEqual(router.tc, []);
  assert.ok(router.sysctl.includes('net.ipv4.ip_forward=1'));
  assert.ok(router.sysctl.includes('net.ipv6.conf.all.forwarding=1'));
  assert.ok(lines(plan, 'router').includes('addr add 198.18.2.1/24 dev wan2'));
  assert.ok(lines(plan, 'router').includes('addr add 2001:db8:2::1/64 dev wan2 nodad'));
  assert.ok(!JSON.stringify(plan).includes('nft'), 'nothing nftables in a plan');
});

test('client defaults via the router and does not rehash; inet routes each link back through its ISP', () => {
  const plan = wan(2);
  const client = plan.nodes.find((n) => n.node === 'client')!;
  assert.ok(client.sysctl.includes('net.core.txrehash=0'));
  assert.deepEqual(client.route, ['route add default via 198.18.100.1 dev lan0', 'route add ::/0 via 2001:db8:100::1 dev lan0']);
  const inet = plan.nodes.find((n) => n.node === 'inet')!;
  assert.ok(inet.route.includes('route add 198.18.2.0/24 via 198.18.66.1 dev isp2'));
  assert.ok(inet.route.includes('route add 2001:db8:2::/64 via 2001:db8:66::1 dev isp2'));
  assert.ok(inet.address.includes('addr add 198.19.0.1/32 dev lo'));
  assert.ok(inet.address.includes('addr add 2001:db8:ffff::20/128 dev lo nodad'));
  const isp2 = plan.nodes.find((n) => n.node === 'isp2')!;
  assert.deepEqual(isp2.route, ['route add default via 198.18.66.2 dev inet', 'route add ::/0 via 2001:db8:66::2 dev inet']);
});

test('every address is in the lab ranges, IPv6 ones without DAD, and each next hop is on a connected network', () => {
  for (const plan of [wan(16), planRelayLab({ paths: 8, rates: resolveRates([], 8) }, ns).plan]) {
    const addrs = addressesOf(plan);
    for (const a of addrs) {
      assert.ok(inAllowedRange(a.cidr), `${a.node}: ${a.cidr}`);
      if (a.cidr.includes(':')) assert.ok(a.line.endsWith(' nodad'), `${a.line} waits for DAD`);
    }
    for (const n of plan.nodes) {
      for (const r of n.route) {
        const m = /via (\S+) dev (\S+)$/.exec(r);
        assert.ok(m, r);
        const onLink = addrs.some((a) => a.node === n.node && a.dev === m[2] && !a.cidr.endsWith('/32') && !a.cidr.endsWith('/128') && contains(a.cidr, m[1]!));
        assert.ok(onLink, `${n.node}: next hop of "${r}" is not on a network of ${m[2]}`);
      }
    }
    // A next hop is some other node's address.
    const all = new Set(addrs.map((a) => a.cidr.split('/')[0]));
    for (const n of plan.nodes) for (const r of n.route) assert.ok(all.has(/via (\S+)/.exec(r)![1]), r);
  }
});

test('each ISP shapes both directions with tbf; unlimited links have no qdisc', () => {
  const plan2 = planWanLab({ links: 3, rates: resolveRates(['40mbit', { down: '100mbit', up: '10mbit' }], 3) }, ns).plan;
  const isp1 = plan2.nodes.find((n) => n.node === 'isp1')!;
  assert.deepEqual(isp1.tc, ['qdisc replace dev router root tbf rate 40000000bit burst 32768 latency 20ms', 'qdisc replace dev inet root tbf rate 40000000bit burst 32768 latency 20ms']);
  const isp2 = plan2.nodes.find((n) => n.node === 'isp2')!;
  assert.match(isp2.tc[0]!, /dev router root tbf rate 100000000bit/);
  assert.match(isp2.tc[1]!, /dev inet root tbf rate 10000000bit/);
  assert.deepEqual(plan2.nodes.find((n) => n.node === 'isp3')!.tc, []);
  assert.ok(wan(2).nodes.every((n) => n.tc.length === 0), 'unlimited by default');
});

test('faults live in the ISP, on its router-facing interface; blackhole only what it forwards', () => {
  const plan = wan(3);
  assert.deepEqual(plan.faults[1], { link: 'wan2', index: 2, node: 'isp2', carrierDev: 'router', farDev: 'inet', blackholeScope: 'forward' });
  assert.equal(plan.servicesNode, 'inet');
  assert.ok(plan.certIps.includes('198.19.0.10') && plan.certIps.includes('2001:db8:ffff::10'));
});

test('bad link counts and rate lists are refused with the option named', () => {
  for (const n of [0, 17, 2.5]) {
    assert.throws(() => wan(n), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_LAB' && /links: /.test(e.message));
  }
  assert.throws(() => resolveRates(['1mbit', '1mbit', '1mbit'], 2), /rates: 3 rates given for 2 links/);
  assert.throws(() => planWanLab({ links: 2, rates: [UNLIMITED] }, ns), /1 rates for 2 links/);
});

test('the relay lab: user, entry, hops, exit, target; shaping and faults in the hops', () => {
  const { plan, addr } = planRelayLab({ paths: 2, rates: resolveRates(['40mbit', { down: '8mbit', up: '2mbit' }], 2) }, ns);
  assert.deepEqual(plan.nodes.map((n) => n.node), ['user', 'entry', 'hop1', 'hop2', 'exit', 'target']);
  checkConsistent(plan);
  const hop2 = plan.nodes.find((n) => n.node === 'hop2')!;
  assert.ok(hop2.address.includes('addr add 198.18.12.2/24 dev entry'));
  assert.deepEqual(hop2.tc, ['qdisc replace dev entry root tbf rate 8000000bit burst 32768 latency 20ms', 'qdisc replace dev exit root tbf rate 2000000bit burst 32768 latency 20ms']);
  assert.ok(hop2.sysctl.includes('net.ipv4.ip_forward=1'));
  const entry = plan.nodes.find((n) => n.node === 'entry')!;
  assert.deepEqual(entry.route, [], 'the entry reaches the exit only through the relay (or a route a test adds)');
  assert.deepEqual(entry.tc, []);
  const exit = plan.nodes.find((n) => n.node === 'exit')!;
  assert.ok(exit.address.includes(`addr add ${addr.relay.exit4}/24 dev target`));
  assert.ok(exit.route.includes('route add 198.18.12.0/24 via 198.18.22.1 dev hop2'));
  assert.deepEqual(plan.faults[0], { link: 'path1', index: 1, node: 'hop1', carrierDev: 'entry', farDev: 'exit', blackholeScope: 'all' });
  assert.equal(plan.servicesNode, 'target');
  assert.throws(() => planRelayLab({ paths: 9, rates: [] }, ns), /paths: 9/);
});
