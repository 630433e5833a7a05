/**
 * rtnetlink events through RtnlMonitor on the real kernel: link admin and carrier changes,
 * addresses, routes, rules and nexthops; and what the kernel does NOT announce when a device goes
 * down (flushed nexthops, IPv4 routes). "Nothing announced" is proven with a barrier: events on
 * one socket arrive in the kernel's order, so once the event of a marker route added afterwards
 * has arrived, anything the kernel sent for the earlier change has arrived too.
 *
 *   r (adapter, monitor): v0 198.18.1.1/24 ── veth ── v1 (p)
 *                         w0 198.18.2.1/24 ── veth ── w1 (p)
 *                         y0 198.18.4.1/24 2001:db8:4::1/64 ── veth ── y1 (r)   admin-down case
 *                         z0 198.18.5.1/24 ── veth ── z1 (r)                    carrier-loss case
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RTPROT_WANBRAID, route, type Link, type Nexthop, type Route, type RtnlEvent } from '../../../src/kernel/rtnl/index.js';
import { startRtnlLab, type RtnlLab } from './rtnl-lab.js';

const P = RTPROT_WANBRAID;
let lab: RtnlLab;

before(async () => {
  lab = await startRtnlLab();
  await lab.d.call('monitor.start', {});
});
after(async () => {
  await lab?.destroy();
});

type Pred = (e: RtnlEvent) => boolean;
const waitEvent = (pred: Pred, since: number) => lab.d.waitFor<RtnlEvent>('event', pred, { since });
const linkEv = (ifindex: number, pred: (l: Link) => boolean): Pred => (e) => e.kind === 'link' && e.op === 'new' && e.link.ifindex === ifindex && pred(e.link);
const routeEv = (op: 'new' | 'del', dst: string, table: number): Pred => (e) => e.kind === 'route' && e.op === op && e.route.dst === dst && e.route.table === table;
const nexthopEv = (op: 'new' | 'del', id: number): Pred => (e) => e.kind === 'nexthop' && e.op === op && e.nexthop.id === id;

/** Add a marker route and wait for its event: every event the kernel queued before it has now arrived. */
async function barrier(n: number): Promise<RtnlEvent[]> {
  const since = lab.d.cursor('event');
  const marker: Route = { family: 4, table: 20199, dst: `198.18.99.${n}`, dstLen: 32, protocol: P, scope: 0, type: 'unicast', gateway: '198.18.1.2', oif: lab.v0 };
  await lab.d.call('route.add', marker);
  await waitEvent(routeEv('new', marker.dst, 20199), since);
  return lab.d.items<RtnlEvent>('event').slice(0, lab.d.cursor('event'));
}

test('link admin down/up and carrier loss/return arrive as link events', async () => {
  const { w0 } = lab;
  let c = lab.d.cursor('event');
  await lab.ip('link', 'set', 'w0', 'down');
  const down = await waitEvent(linkEv(w0, (l) => !l.flags.up), c);
  assert.ok(down.kind === 'link' && down.link.name === 'w0' && down.link.operstate === 'down');
  c = lab.d.cursor('event');
  await lab.ip('link', 'set', 'w0', 'up');
  await waitEvent(linkEv(w0, (l) => l.flags.up && l.flags.lowerUp && l.operstate === 'up'), c);

  c = lab.d.cursor('event');
  await lab.ipPeer('link', 'set', 'w1', 'down');
  const lost = await waitEvent(linkEv(w0, (l) => !l.flags.lowerUp), c);
  assert.ok(lost.kind === 'link' && lost.link.flags.up, 'still administratively up');
  // veth reports `down` or `lowerlayerdown` here depending on where its peer lives: judge carrier by lowerUp, not operstate.
  assert.ok(lost.kind === 'link' && lost.link.operstate !== 'up');
  c = lab.d.cursor('event');
  await lab.ipPeer('link', 'set', 'w1', 'up');
  await waitEvent(linkEv(w0, (l) => l.flags.lowerUp && l.flags.running), c);
});

test('address add and delete arrive as address events, IPv4 and IPv6', async () => {
  const { w0 } = lab;
  const addrEv = (op: 'new' | 'del', local: string): Pred => (e) => e.kind === 'address' && e.op === op && e.address.local === local && e.address.ifindex === w0;
  const c = lab.d.cursor('event');
  await lab.ip('addr', 'add', '198.18.2.50/24', 'dev', 'w0');
  await lab.ip('addr', 'add', '2001:db8:2::50/64', 'dev', 'w0', 'nodad');
  const a4 = await waitEvent(addrEv('new', '198.18.2.50'), c);
  assert.ok(a4.kind === 'address' && a4.address.prefixLen === 24 && a4.address.family === 4);
  await waitEvent(addrEv('new', '2001:db8:2::50'), c);
  await lab.ip('addr', 'del', '198.18.2.50/24', 'dev', 'w0');
  await lab.ip('addr', 'del', '2001:db8:2::50/64', 'dev', 'w0');
  await waitEvent(addrEv('del', '198.18.2.50'), c);
  await waitEvent(addrEv('del', '2001:db8:2::50'), c);
});

test('route, rule and nexthop changes arrive as events, whoever makes them', async () => {
  const { d, v0 } = lab;
  const c = lab.d.cursor('event');
  const r: Route = { family: 4, table: 20130, dst: '198.18.80.0', dstLen: 24, protocol: P, scope: 0, type: 'unicast', gateway: '198.18.1.2', oif: v0 };
  await d.call('route.add', r);
  const added = await waitEvent(routeEv('new', '198.18.80.0', 20130), c);
  assert.ok(added.kind === 'route' && route.equals(added.route, r), 'the event carries the decoded route');
  await lab.ip('route', 'del', '198.18.80.0/24', 'table', '20130');
  await waitEvent(routeEv('del', '198.18.80.0', 20130), c);
  await lab.ip('-6', 'route', 'add', '2001:db8:80::/48', 'via', '2001:db8:1::2', 'table', '20130', 'proto', '87');
  await waitEvent(routeEv('new', '2001:db8:80::', 20130), c);

  await d.call('rule.add', { family: 4, priority: 1500, action: 'table', table: 20130, protocol: P, fwmark: 0x500 });
  await waitEvent((e) => e.kind === 'rule' && e.op === 'new' && e.rule.priority === 1500 && e.rule.fwmark === 0x500, c);
  await lab.ip('rule', 'del', 'priority', '1500');
  await waitEvent((e) => e.kind === 'rule' && e.op === 'del' && e.rule.priority === 1500, c);

  // Positive control for the flush test below: an explicit delete IS announced.
  await d.call('nexthop.add', { kind: 'single', id: 50, protocol: P, family: 4, oif: v0, gateway: '198.18.1.2' });
  await waitEvent(nexthopEv('new', 50), c);
  await lab.ip('nexthop', 'del', 'id', '50');
  const del = await waitEvent(nexthopEv('del', 50), c);
  assert.ok(del.kind === 'nexthop' && del.nexthop.kind === 'single' && del.nexthop.gateway === '198.18.1.2');
});

test('admin-down: nexthops on the device and emptied groups are deleted, IPv4 routes flushed, none of it announced; IPv6 flushes are', async () => {
  const { d, v0 } = lab;
  await lab.ip('link', 'add', 'y0', 'type', 'veth', 'peer', 'name', 'y1');
  await lab.ip('link', 'set', 'y1', 'up');
  await lab.ip('link', 'set', 'y0', 'up');
  await lab.ip('addr', 'add', '198.18.4.1/24', 'dev', 'y0');
  await lab.ip('addr', 'add', '2001:db8:4::1/64', 'dev', 'y0', 'nodad');
  const y0 = await d.call<Link>('link.get', { which: 'y0' });
  let c = lab.d.cursor('event');
  await waitEvent(linkEv(y0.ifindex, (l) => l.flags.lowerUp), 0);
  const nh = (id: number, oif: number, gateway: string): Nexthop => ({ kind: 'single', id, protocol: P, family: 4, oif, gateway });
  await d.call('nexthop.add', nh(40, y0.ifindex, '198.18.4.2'));
  await d.call('nexthop.add', nh(41, v0, '198.18.1.2'));
  await d.call('nexthop.add', { kind: 'group', id: 42, protocol: P, type: 'mpath', members: [{ id: 40, weight: 1 }, { id: 41, weight: 1 }] });
  await d.call('nexthop.add', { kind: 'group', id: 43, protocol: P, type: 'resilient', members: [{ id: 40, weight: 1 }] });
  const u = { protocol: P, scope: 0, type: 'unicast' as const, table: 20140 };
  await d.call('route.add', { ...u, family: 4, dst: '0.0.0.0', dstLen: 0, nhid: 43 });
  await d.call('route.add', { ...u, family: 4, dst: '198.18.70.0', dstLen: 24, gateway: '198.18.4.2', oif: y0.ifindex });
  await d.call('route.add', { ...u, family: 6, dst: '2001:db8:70::', dstLen: 48, gateway: '2001:db8:4::2', oif: y0.ifindex });
  await waitEvent(routeEv('new', '2001:db8:70::', 20140), c);

  c = lab.d.cursor('event');
  await lab.ip('link', 'set', 'y0', 'down');
  await waitEvent(linkEv(y0.ifindex, (l) => !l.flags.up), c);
  const seen = (await barrier(1)).slice(c);

  // The kernel's state: y0's nexthop and the group left empty are gone, the other group shrank,
  // the IPv4 routes in the table are gone, the IPv6 one too.
  const ids = (await d.call<Nexthop[]>('nexthop.list', { protocol: P })).map((n) => n.id);
  assert.ok(!ids.includes(40) && !ids.includes(43), `nexthops left: ${ids.join(',')}`);
  const g42 = await d.call<Nexthop>('nexthop.get', { id: 42 });
  assert.deepEqual(g42.kind === 'group' && g42.members, [{ id: 41, weight: 1 }]);
  assert.deepEqual(await d.call('route.list', { table: 20140 }), []);

  // What was announced: the link change and the IPv6 deletion; no nexthop event at all, no IPv4 route deletion.
  assert.deepEqual(seen.filter((e) => e.kind === 'nexthop'), [], 'no RTM_DELNEXTHOP / RTM_NEWNEXTHOP for the flush');
  assert.deepEqual(seen.filter((e) => e.kind === 'route' && e.route.family === 4 && e.route.table === 20140), [], 'IPv4 flush not announced');
  assert.ok(seen.some(routeEv('del', '2001:db8:70::', 20140)), 'IPv6 flush announced');

  // Up again: nothing comes back by itself.
  c = lab.d.cursor('event');
  await lab.ip('link', 'set', 'y0', 'up');
  await waitEvent(linkEv(y0.ifindex, (l) => l.flags.up && l.flags.lowerUp), c);
  const again = (await d.call<Nexthop[]>('nexthop.list', { protocol: P })).map((n) => n.id);
  assert.ok(!again.includes(40) && !again.includes(43));
});

test('carrier loss: the device keeps IFF_UP, its nexthops are deleted unannounced, its gateway routes stay', async () => {
  const { d } = lab;
  await lab.ip('link', 'add', 'z0', 'type', 'veth', 'peer', 'name', 'z1');
  await lab.ip('link', 'set', 'z1', 'up');
  await lab.ip('link', 'set', 'z0', 'up');
  await lab.ip('addr', 'add', '198.18.5.1/24', 'dev', 'z0');
  const z0 = await d.call<Link>('link.get', { which: 'z0' });
  await waitEvent(linkEv(z0.ifindex, (l) => l.flags.lowerUp), 0);
  await d.call('nexthop.add', { kind: 'single', id: 60, protocol: P, family: 4, oif: z0.ifindex, gateway: '198.18.5.2' });
  const r: Route = { family: 4, table: 20150, dst: '198.18.90.0', dstLen: 24, protocol: P, scope: 0, type: 'unicast', gateway: '198.18.5.2', oif: z0.ifindex };
  await d.call('route.add', r);

  const c = lab.d.cursor('event');
  await lab.ip('link', 'set', 'z1', 'down');
  const ev = await waitEvent(linkEv(z0.ifindex, (l) => !l.flags.lowerUp), c);
  assert.ok(ev.kind === 'link' && ev.link.flags.up);
  const seen = (await barrier(2)).slice(c);
  assert.deepEqual(seen.filter((e) => e.kind === 'nexthop'), []);
  await assert.rejects(d.call('nexthop.get', { id: 60 }), (e: unknown) => (e as { errno?: string }).errno === 'ENOENT');
  const [kept] = await d.call<Route[]>('route.list', { table: 20150 });
  assert.ok(kept && route.equals(kept, r), 'the gateway route stays (ip shows it `linkdown`)');
  assert.deepEqual((await lab.ipj<{ flags: string[] }>('route', 'show', 'table', '20150'))[0]!.flags, ['linkdown']);
});
