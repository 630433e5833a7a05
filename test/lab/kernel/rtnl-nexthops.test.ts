/**
 * Nexthop objects and groups (resilient included), links, addresses and concurrent use of one
 * client, through the rtnetlink adapter, checked against `ip -j` on the real kernel.
 *
 *   r (adapter): v0 198.18.1.1/24 2001:db8:1::1/64 ── veth ── v1 (p)
 *                w0 198.18.2.1/24 2001:db8:2::1/64 ── veth ── w1 (p)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RTPROT_WANBRAID, nexthop, route, address, type Address, type Link, type Nexthop, type Route } from '../../../src/kernel/rtnl/index.js';
import { RemoteError } from '../harness/remote.js';
import { pick } from '../harness/ip.js';
import { startRtnlLab, type RtnlLab } from './rtnl-lab.js';

const P = RTPROT_WANBRAID;
let lab: RtnlLab;

before(async () => {
  lab = await startRtnlLab();
});
after(async () => {
  await lab?.destroy();
});

function kernelError(errno: string) {
  return (e: unknown) => {
    assert.ok(e instanceof RemoteError, String(e));
    assert.equal(e.name, 'KernelError');
    assert.equal(e.errno, errno, e.message);
    return true;
  };
}

test('nexthops (gateway, device only, blackhole, IPv6, weighted group, resilient group) appear in ip -j and read back with their parameters', async () => {
  const { d, v0, w0 } = lab;
  const wanted: Nexthop[] = [
    { kind: 'single', id: 1, protocol: P, family: 4, oif: v0, gateway: '198.18.1.2' },
    { kind: 'single', id: 2, protocol: P, family: 4, oif: w0, gateway: '198.18.2.2' },
    { kind: 'single', id: 3, protocol: P, family: 4, oif: w0 },
    { kind: 'blackhole', id: 4, protocol: P, family: 4 },
    { kind: 'single', id: 5, protocol: P, family: 6, oif: v0, gateway: '2001:db8:1::2' },
    { kind: 'group', id: 10, protocol: P, type: 'mpath', members: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }] },
    {
      kind: 'group',
      id: 11,
      protocol: P,
      type: 'resilient',
      members: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }],
      resilient: { buckets: 32, idleTimerMs: 3000, unbalancedTimerMs: 7000 },
    },
  ];
  for (const n of wanted) await d.call('nexthop.add', n);
  assert.deepEqual(pick(await lab.ipj('nexthop', 'show'), ['id', 'gateway', 'dev', 'blackhole', 'group', 'type', 'resilient_args', 'protocol']), [
    { id: 1, gateway: '198.18.1.2', dev: 'v0', protocol: '87' },
    { id: 2, gateway: '198.18.2.2', dev: 'w0', protocol: '87' },
    { id: 3, dev: 'w0', protocol: '87' },
    { id: 4, blackhole: null, protocol: '87' },
    { id: 5, gateway: '2001:db8:1::2', dev: 'v0', protocol: '87' },
    { id: 10, group: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }], protocol: '87' },
    // ip(8) shows the timers in seconds.
    { id: 11, group: [{ id: 1, weight: 3 }, { id: 2, weight: 5 }], type: 'resilient', resilient_args: { buckets: 32, idle_timer: 3, unbalanced_timer: 7, unbalanced_time: 0 }, protocol: '87' },
  ]);
  const got = await d.call<Nexthop[]>('nexthop.list', { protocol: P });
  assert.equal(got.length, wanted.length);
  for (const w of wanted) assert.ok(got.some((g) => nexthop.equals(g, w)), `read back: ${nexthop.describe(w)}`);
  const res = await d.call<Nexthop>('nexthop.get', { id: 11 });
  assert.deepEqual(res.kind === 'group' && res.resilient, { buckets: 32, idleTimerMs: 3000, unbalancedTimerMs: 7000, unbalancedTimeMs: 0 });

  // A route through the resilient group: ip shows the group's legs, the adapter reads back nhid only.
  const r: Route = { family: 4, table: 20110, dst: '0.0.0.0', dstLen: 0, protocol: P, scope: 0, type: 'unicast', nhid: 11 };
  await d.call('route.add', r);
  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '20110'), ['dst', 'nhid', 'protocol', 'nexthops']), [
    {
      dst: 'default',
      nhid: 11,
      protocol: '87',
      nexthops: [
        { gateway: '198.18.1.2', dev: 'v0', weight: 3, flags: [] },
        { gateway: '198.18.2.2', dev: 'w0', weight: 5, flags: [] },
      ],
    },
  ]);
  const [back] = await d.call<Route[]>('route.list', { table: 20110 });
  assert.ok(back && route.equals(back, r), JSON.stringify(back));
});

test('replace changes a group in place; the kernel refuses what canReplace rules out; delete; ENOENT', async () => {
  const { d, v0, w0 } = lab;
  await d.call('nexthop.add', { kind: 'single', id: 21, protocol: P, family: 4, oif: v0, gateway: '198.18.1.3' });
  await d.call('nexthop.add', { kind: 'single', id: 22, protocol: P, family: 4, oif: w0, gateway: '198.18.2.3' });
  const g: Nexthop = { kind: 'group', id: 20, protocol: P, type: 'resilient', members: [{ id: 21, weight: 1 }], resilient: { buckets: 64, idleTimerMs: 1000, unbalancedTimerMs: 0 } };
  await d.call('nexthop.add', g);
  await assert.rejects(d.call('nexthop.add', g), kernelError('EEXIST'));
  // A route on the group stays while the group changes under it.
  await d.call('route.add', { family: 4, table: 20111, dst: '0.0.0.0', dstLen: 0, protocol: P, scope: 0, type: 'unicast', nhid: 20 });
  const g2: Nexthop = { ...g, members: [{ id: 21, weight: 2 }, { id: 22, weight: 1 }], resilient: { buckets: 64, idleTimerMs: 2000, unbalancedTimerMs: 5000 } };
  assert.ok(nexthop.canReplace(g, g2));
  await d.call('nexthop.replace', g2);
  const [shown] = await lab.ipj('nexthop', 'show', 'id', '20');
  assert.deepEqual(pick([shown!], ['group', 'resilient_args']), [
    { group: [{ id: 21, weight: 2 }, { id: 22 }], resilient_args: { buckets: 64, idle_timer: 2, unbalanced_timer: 5, unbalanced_time: 0 } },
  ]);
  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '20111'), ['dst', 'nhid']), [{ dst: 'default', nhid: 20 }]);
  // What canReplace rules out, the kernel refuses: a bucket count change, a group becoming plain.
  const buckets: Nexthop = { ...g2, resilient: { buckets: 128, idleTimerMs: 2000, unbalancedTimerMs: 5000 } };
  assert.ok(!nexthop.canReplace(g2, buckets));
  await assert.rejects(d.call('nexthop.replace', buckets), kernelError('EINVAL'));
  const mpath: Nexthop = { kind: 'group', id: 20, protocol: P, type: 'mpath', members: [{ id: 21, weight: 1 }] };
  assert.ok(!nexthop.canReplace(g2, mpath));
  await assert.rejects(d.call('nexthop.replace', mpath), kernelError('EINVAL'));
  // A single nexthop is replaced in place, group membership kept.
  await d.call('nexthop.replace', { kind: 'single', id: 22, protocol: P, family: 4, oif: w0, gateway: '198.18.2.4' });
  assert.deepEqual(pick(await lab.ipj('nexthop', 'show', 'id', '22'), ['gateway']), [{ gateway: '198.18.2.4' }]);
  assert.equal((await lab.ipj<{ group: unknown[] }>('nexthop', 'show', 'id', '20'))[0]!.group.length, 2);

  await d.call('nexthop.remove', { id: 20 });
  await assert.rejects(d.call('nexthop.get', { id: 20 }), kernelError('ENOENT'));
  await assert.rejects(d.call('nexthop.remove', { id: 20 }), kernelError('ENOENT'));
  // Deleting the group deleted the route that used it.
  assert.deepEqual(await lab.ipj('route', 'show', 'table', '20111'), []);
});

test('a nexthop on a device without carrier is refused with ENETDOWN', async () => {
  const { d } = lab;
  await lab.ip('link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1');
  await lab.ip('link', 'set', 'x0', 'up'); // x1 stays down: x0 has no carrier
  await lab.ip('addr', 'add', '198.18.3.1/24', 'dev', 'x0');
  const x0 = await d.call<Link>('link.get', { which: 'x0' });
  assert.equal(x0.flags.up, true);
  assert.equal(x0.flags.lowerUp, false);
  await assert.rejects(d.call('nexthop.add', { kind: 'single', id: 30, protocol: P, family: 4, oif: x0.ifindex, gateway: '198.18.3.2' }), kernelError('ENETDOWN'));
  await lab.ip('link', 'del', 'x0');
});

test('links and addresses read back as ip -j shows them; addresses added, replaced and deleted', async () => {
  const { d, w0 } = lab;
  const links = await d.call<Link[]>('link.list');
  const ipLinks = await lab.ipj<{ ifindex: number; ifname: string; flags: string[]; operstate: string; mtu: number }>('link', 'show');
  assert.deepEqual(
    links.map((l) => [l.ifindex, l.name, l.mtu, l.flags.up, l.flags.lowerUp, l.operstate.toUpperCase()]),
    ipLinks.map((l) => [l.ifindex, l.ifname, l.mtu, l.flags.includes('UP'), l.flags.includes('LOWER_UP'), l.operstate]),
  );
  assert.deepEqual((await d.call<Link>('link.get', { which: w0 })).name, 'w0');
  await assert.rejects(d.call('link.get', { which: 'nosuch0' }), kernelError('ENODEV'));
  const addrs = await d.call<Address[]>('address.list', { ifindex: w0 });
  const ipAddrs = (await lab.ipj<{ addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }>('addr', 'show', 'dev', 'w0'))[0]!.addr_info;
  assert.deepEqual(
    addrs.map((a) => [a.family, a.local, a.prefixLen, a.scope === 0 ? 'global' : a.scope === 253 ? 'link' : String(a.scope)]),
    ipAddrs.map((a) => [a.family === 'inet' ? 4 : 6, a.local, a.prefixlen, a.scope]),
  );

  const a: Address = { family: 4, ifindex: w0, local: '198.18.2.77', prefixLen: 24, scope: 0, flags: 0, label: 'w0:x' };
  await d.call('address.add', a);
  await assert.rejects(d.call('address.add', a), kernelError('EEXIST'));
  const b: Address = { family: 6, ifindex: w0, local: '2001:db8:2::77', prefixLen: 64, scope: 0, flags: 0x2 /* nodad */ };
  await d.call('address.add', b);
  await d.call('address.replace', { ...b, flags: 0x2 | 0x200 /* noprefixroute */ });
  const shown = (await lab.ipj<{ addr_info: Record<string, unknown>[] }>('addr', 'show', 'dev', 'w0'))[0]!.addr_info;
  assert.ok(shown.some((x) => x.local === '198.18.2.77' && x.label === 'w0:x'));
  assert.ok(shown.some((x) => x.local === '2001:db8:2::77' && x.noprefixroute === true));
  const back = await d.call<Address[]>('address.list', { ifindex: w0 });
  assert.ok(back.some((x) => address.equals(x, a)));
  await d.call('address.remove', a);
  await d.call('address.remove', b);
  await assert.rejects(d.call('address.remove', a), kernelError('EADDRNOTAVAIL'));
  const after = (await lab.ipj<{ addr_info: { local: string }[] }>('addr', 'show', 'dev', 'w0'))[0]!.addr_info.map((x) => x.local);
  assert.ok(!after.includes('198.18.2.77') && !after.includes('2001:db8:2::77'));
});

test('one client serves 200 concurrent route adds while dumps of 3000 routes are in flight', async () => {
  const { d, v0, set } = lab;
  // A table big enough that each dump spans many datagrams, so ACKs arrive between its parts
  // (the case the `netlink` package's own request layer gets wrong).
  const big = Array.from({ length: 3000 }, (_, i) => `route add 198.19.${128 + (i >> 8)}.${i & 255}/32 dev lo table 20121`);
  await set.ip('r', big);
  const routes: Route[] = Array.from({ length: 200 }, (_, i) => ({
    family: 4,
    table: 20120,
    dst: `198.19.${i}.0`,
    dstLen: 24,
    protocol: P,
    scope: 0,
    type: 'unicast',
    gateway: '198.18.1.2',
    oif: v0,
  }));
  const { adds, listed } = await d.call<{ adds: string[]; listed: number[] }>('route.concurrent', { routes, listTable: 20121 });
  assert.deepEqual(adds, new Array<string>(200).fill('ok'));
  assert.deepEqual(listed, [3000, 3000, 3000]);
  assert.equal((await lab.ipj('route', 'show', 'table', '20120')).length, 200);
});
