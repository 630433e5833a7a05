/**
 * From kernel objects to each link's observation and verdict: carrier, admin state, source
 * address choice, gateway configured / learned / device / none; and the monitor's dump-and-events
 * bookkeeping, including events that race the dump and a lost event stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelTable, kernelVerdict, observeLink } from '../../../src/health/observe.js';
import { KernelMonitor } from '../../../src/health/monitor.js';
import { silentLogger } from '../../../src/log.js';
import { FakeKernel } from './fake-kernel.js';

const wan1 = { interface: 'wan1', gateway: undefined };

async function monitored(setup: (k: FakeKernel) => void = () => undefined) {
  const k = new FakeKernel();
  setup(k);
  const m = new KernelMonitor(k, silentLogger());
  let changes = 0;
  m.onChange(() => changes++);
  await m.start();
  return { k, m, changes: () => changes };
}

test('a missing interface, then one set down, without carrier, without address, without gateway', async () => {
  const { k, m } = await monitored();
  const obs = () => observeLink(m.table, wan1);
  assert.deepEqual(kernelVerdict(obs()), { usable: false, reason: { kind: 'interface-missing' } });
  k.link(7, 'wan1', { adminUp: false, lowerUp: false });
  assert.equal(obs().ifindex, 7);
  assert.deepEqual(kernelVerdict(obs()).reason, { kind: 'admin-down' });
  k.link(7, 'wan1', { adminUp: true, lowerUp: false });
  assert.deepEqual(kernelVerdict(obs()).reason, { kind: 'carrier-lost' });
  k.link(7, 'wan1', { lowerUp: true });
  assert.deepEqual(kernelVerdict(obs()).reason, { kind: 'no-address' });
  k.addr(7, '198.18.1.1/24');
  assert.deepEqual(obs().ipv4, { address: '198.18.1.1', prefixLen: 24, gateway: undefined, gatewaySource: 'none' });
  assert.deepEqual(kernelVerdict(obs()).reason, { kind: 'no-gateway' });
  // The DHCP client installs its default route: the gateway is learned.
  const r = k.route({ oif: 7, gateway: '198.18.1.254', priority: 1024 });
  const prev = kernelVerdict({ ...obs(), ipv4: { ...obs().ipv4!, gatewaySource: 'none' } });
  assert.deepEqual(obs().ipv4, { address: '198.18.1.1', prefixLen: 24, gateway: '198.18.1.254', gatewaySource: 'route' });
  assert.deepEqual(kernelVerdict(obs(), prev), { usable: true, reason: { kind: 'address-changed' } });
  k.delRoute(r);
  assert.equal(obs().ipv4?.gatewaySource, 'none');
});

test('gateway: configured wins; lowest metric; not multipath, not our own protocol, not another table; device routes', async () => {
  const { k, m } = await monitored((k) => {
    k.link(3, 'wan1');
    k.link(4, 'wan2');
    k.addr(3, '198.18.1.1/24');
  });
  k.route({ oif: 3, gateway: '198.18.1.253', priority: 200 });
  k.route({ oif: 3, gateway: '198.18.1.252', priority: 100 });
  k.route({ oif: 4, gateway: '198.18.2.254', priority: 1 });
  k.route({ oif: 3, gateway: '198.18.1.9', priority: 0, protocol: 250 });
  k.route({ oif: undefined, priority: 0, multipath: true });
  k.route({ oif: 3, gateway: '198.18.1.8', priority: 0, table: 20101 });
  assert.equal(observeLink(m.table, wan1, undefined, { ownProtocol: 250 }).ipv4?.gateway, '198.18.1.252');
  assert.equal(observeLink(m.table, wan1).ipv4?.gateway, '198.18.1.9', 'without ownProtocol our route would count');
  const cfg = observeLink(m.table, { interface: 'wan1', gateway: { ipv4: '198.18.1.254' } });
  assert.deepEqual(cfg.ipv4, { address: '198.18.1.1', prefixLen: 24, gateway: '198.18.1.254', gatewaySource: 'config' });
  // A default route straight onto the device (no gateway): routed via the device.
  k.link(5, 'ppp0', { pointToPoint: false });
  k.addr(5, '198.18.5.1/32');
  k.route({ oif: 5, priority: 0 });
  assert.equal(observeLink(m.table, { interface: 'ppp0', gateway: undefined }).ipv4?.gatewaySource, 'device');
});

test('a point-to-point link without a gateway uses the device', async () => {
  const { m } = await monitored((k) => {
    k.link(9, 'ppp0', { pointToPoint: true });
    k.addr(9, '198.18.9.1/32');
  });
  const o = observeLink(m.table, { interface: 'ppp0', gateway: undefined });
  assert.equal(o.pointToPoint, true);
  assert.deepEqual(o.ipv4, { address: '198.18.9.1', prefixLen: 32, gateway: undefined, gatewaySource: 'device' });
  assert.equal(kernelVerdict(o).usable, true);
});

test('source address: primary global IPv4; IPv6 after DAD, preferring permanent, sticky while eligible', async () => {
  const { k, m } = await monitored((k) => {
    k.link(3, 'wan1');
    k.addr(3, '198.18.1.1/24', { secondary: false });
    k.addr(3, '198.18.1.2/24', { secondary: true });
    k.addr(3, '127.0.0.9/8', { scope: 254 });
    k.addr(3, 'fe80::1/64', { scope: 253 });
    k.addr(3, '2001:db8:1::50/64', { tentative: true });
    k.addr(3, '2001:db8:1::60/64', { temporary: true });
  });
  let o = observeLink(m.table, { interface: 'wan1', gateway: { ipv6: '2001:db8:1::1' } });
  assert.equal(o.ipv4?.address, '198.18.1.1');
  assert.equal(o.ipv6?.address, '2001:db8:1::60', 'only the temporary one is eligible yet');
  k.addr(3, '2001:db8:1::50/64', { tentative: false });
  o = observeLink(m.table, { interface: 'wan1', gateway: { ipv6: '2001:db8:1::1' } }, o);
  assert.equal(o.ipv6?.address, '2001:db8:1::50', 'DAD done: the permanent one is preferred');
  k.addr(3, '2001:db8:1::40/64');
  assert.equal(observeLink(m.table, { interface: 'wan1', gateway: { ipv6: '2001:db8:1::1' } }, o).ipv6?.address, '2001:db8:1::50', 'sticky');
  k.addr(3, '2001:db8:1::50/64', { deprecated: true });
  assert.equal(observeLink(m.table, { interface: 'wan1', gateway: { ipv6: '2001:db8:1::1' } }, o).ipv6?.address, '2001:db8:1::40', 'deprecated loses');
  k.delAddr(3, '198.18.1.1');
  assert.equal(observeLink(m.table, wan1).ipv4, undefined, 'a secondary alone is not a source');
});

test('a deleted link takes its addresses and routes with it', async () => {
  const { k, m } = await monitored((k) => {
    k.link(3, 'wan1');
    k.addr(3, '198.18.1.1/24');
    k.route({ oif: 3, gateway: '198.18.1.254' });
  });
  k.delLink(3);
  assert.equal(m.table.addresses.size, 0);
  assert.equal(m.table.routes.size, 0);
});

test('monitor: events during the dump are applied after it; unrelated routes are not a change', async () => {
  const k = new FakeKernel();
  k.link(3, 'wan1');
  k.duringDump = () => {
    k.addr(3, '198.18.1.7/24');
    k.link(3, 'wan1', { lowerUp: false });
  };
  const m = new KernelMonitor(k, silentLogger());
  let changes = 0;
  m.onChange(() => changes++);
  await m.start();
  const o = observeLink(m.table, wan1);
  assert.equal(o.carrier, false);
  assert.equal(o.ipv4?.address, '198.18.1.7');
  assert.equal(changes, 1, 'one change for the dump');
  k.route({ oif: 3, gateway: '198.18.1.254', table: 20101 });
  k.route({ oif: 3, dst: '198.18.77.0', dstLen: 24, gateway: '198.18.1.254' });
  assert.equal(changes, 1);
  k.route({ oif: 3, gateway: '198.18.1.254' });
  assert.equal(changes, 2);
  await m.stop();
  assert.equal(k.closed, true);
});

test('monitor: a lost event stream is healed by a fresh dump', async () => {
  const { k, m, changes } = await monitored((k) => k.link(3, 'wan1'));
  // Changes the monitor never hears about, then the overrun error.
  k.links.set(3, { ...k.links.get(3)!, lowerUp: false });
  assert.equal(observeLink(m.table, wan1).carrier, true);
  const before = changes();
  k.onError!(new Error('ENOBUFS'));
  await m.resync();
  assert.equal(observeLink(m.table, wan1).carrier, false);
  assert.ok(changes() > before);
});

test('KernelTable.from keeps only main-table default routes', () => {
  const t = KernelTable.from({
    links: [],
    addresses: [],
    routes: [
      { family: 4, table: 254, dst: undefined, dstLen: 0, gateway: '198.18.1.254', oif: 3, priority: 0, protocol: 4, type: 'unicast', multipath: false },
      { family: 4, table: 254, dst: '198.18.1.0', dstLen: 24, gateway: undefined, oif: 3, priority: 0, protocol: 2, type: 'unicast', multipath: false },
      { family: 4, table: 255, dst: undefined, dstLen: 0, gateway: undefined, oif: 3, priority: 0, protocol: 2, type: 'local', multipath: false },
    ],
  });
  assert.equal(t.routes.size, 1);
});

test('admin-down forgets the link’s IPv4 default routes (the kernel flushes them without telling)', async () => {
  const { k, m } = await monitored((k) => {
    k.link(3, 'wan1');
    k.addr(3, '198.18.1.1/24');
    k.route({ oif: 3, gateway: '198.18.1.254' });
    k.route({ oif: 3, gateway: '2001:db8:1::fe', family: 6 });
  });
  // The fake kernel, like the real one, sends only the link event.
  k.links.set(3, { ...k.links.get(3)!, adminUp: false });
  k.link(3, 'wan1', { adminUp: false });
  assert.deepEqual([...m.table.routes.values()].map((r) => r.family), [6]);
  k.link(3, 'wan1', { adminUp: true });
  assert.equal(observeLink(m.table, wan1).ipv4?.gatewaySource, 'none', 'until the DHCP client puts it back');
});
