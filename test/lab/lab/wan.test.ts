/**
 * The multi-WAN lab on the real kernel: it builds and leaves nothing behind, every ISP path
 * reaches the internet over both families, and every fault is observable and undone by clear.
 *
 *  client ── lan0 ┐                 ┌ isp1 ─┐
 *                 router     wan1 ──┤       │
 *                            wan2 ──┤ isp2 ─┼── inet (198.19.0.1/.2, 2001:db8:ffff::1/::2)
 *                            wan3 ──┘ isp3 ─┘
 *
 * Paths are chosen from the router with a source address and a per-test policy route
 * (from 198.18.I.1 → table 100+I → default via ispI), since the router has no default route.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../../src/lab/lab.js';
import { listNetns } from '../../../src/lab/netns.js';
import { FAULT_TABLE } from '../../../src/lab/faults.js';
import { pings, rootLinks, linkFlags, recovers, sourceRouteLinks } from './helpers.js';

let lab: Lab;

before(async () => {
  lab = await Lab.up({ links: 3, services: false });
  await sourceRouteLinks(lab);
});

after(async () => {
  await lab?.down();
});

const link = (i: number) => lab.addr.links[i - 1]!;

test('up and down leave ip netns list and the root namespace\'s links exactly as they were', async () => {
  const netnsBefore = await listNetns();
  const linksBefore = await rootLinks();
  const other = await Lab.up({ links: 2 });
  const names = other.nodes.map((n) => other.ns(n));
  try {
    const during = await listNetns();
    for (const name of names) assert.ok(during.includes(name), `${name} exists`);
    assert.deepEqual(await rootLinks(), linksBefore, 'nothing appears in the root namespace');
  } finally {
    await other.down();
  }
  const after = await listNetns();
  assert.deepEqual(after.filter((n) => n.includes(other.runId)), [], 'no namespace of the run is left');
  // Other runs on this machine come and go meanwhile; ours (the shared lab) is untouched.
  const mine = (list: string[]) => list.filter((n) => n.includes(lab.runId)).sort();
  assert.deepEqual(mine(after), mine(netnsBefore));
  assert.deepEqual(await rootLinks(), linksBefore);
  await other.down(); // twice is harmless
});

test('each ISP path reaches both track IPs over IPv4 and IPv6', async () => {
  const checks = lab.addr.links.flatMap((l) => [
    ...lab.addr.inet.track4.map((t) => ({ src: l.router4, dst: t })),
    ...lab.addr.inet.track6.map((t) => ({ src: l.router6, dst: t })),
  ]);
  const got = await Promise.all(checks.map((c) => pings(lab, 'router', c.src, c.dst, 1)));
  checks.forEach((c, k) => assert.equal(got[k], 1, `${c.src} → ${c.dst}`));
});

test('the client reaches the router; the router has forwarding and no default route', async () => {
  assert.equal(await pings(lab, 'client', lab.addr.lan.client4, lab.addr.lan.router4, 1), 1);
  assert.equal(await pings(lab, 'client', lab.addr.lan.client6, lab.addr.lan.router6, 1), 1);
  assert.equal((await lab.exec('router', ['ip', 'route', 'show', 'default'])).stdout.trim(), '');
  assert.equal((await lab.exec('router', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
  assert.equal((await lab.exec('client', ['sysctl', '-n', 'net.core.txrehash'])).stdout.trim(), '0');
});

test('blackhole: nothing passes through that ISP while its gateway still answers; other ISPs unaffected; clear undoes it', async () => {
  await lab.fault('wan2', { kind: 'blackhole' });
  assert.equal(await pings(lab, 'router', link(2).router4, '198.19.0.1', 2), 0, 'IPv4 through isp2 is dropped');
  assert.equal(await pings(lab, 'router', link(2).router6, '2001:db8:ffff::1', 2), 0, 'IPv6 through isp2 is dropped');
  assert.equal(await pings(lab, 'router', link(2).router4, link(2).gateway4, 1), 1, 'the ISP itself still answers (ARP works)');
  assert.equal(await pings(lab, 'router', link(2).router6, link(2).gateway6, 1), 1, 'and over IPv6 (ND works)');
  assert.ok((await linkFlags(lab, 'router', 'wan2')).includes('LOWER_UP'), 'carrier stays up');
  assert.equal(await pings(lab, 'router', link(1).router4, '198.19.0.1', 1), 1, 'isp1 still works');
  assert.deepEqual(await lab.faultState(2), { blackhole: true, lossPct: null, carrier: true });
  await lab.fault('wan2', { kind: 'clear' });
  assert.ok(await recovers(lab, 'router', link(2).router4, '198.19.0.1'));
  assert.ok(await recovers(lab, 'router', link(2).router6, '2001:db8:ffff::1'));
  assert.deepEqual(await lab.faultState(2), { blackhole: false, lossPct: null, carrier: true });
});

test('carrier-down: the router\'s interface shows NO-CARRIER; carrier-up and clear restore the path', async () => {
  await lab.fault('isp3', { kind: 'carrier-down' });
  const flags = await linkFlags(lab, 'router', 'wan3');
  assert.ok(flags.includes('NO-CARRIER') && !flags.includes('LOWER_UP'), `wan3 flags: ${flags.join(',')}`);
  assert.equal(await pings(lab, 'router', link(3).router4, '198.19.0.1', 1), 0);
  assert.equal((await lab.faultState(3)).carrier, false);
  await lab.fault(3, { kind: 'carrier-up' });
  assert.ok((await linkFlags(lab, 'router', 'wan3')).includes('LOWER_UP'));
  await lab.fault(3, { kind: 'carrier-down' });
  await lab.fault(3, { kind: 'clear' });
  assert.ok((await linkFlags(lab, 'router', 'wan3')).includes('LOWER_UP'));
  assert.ok(await recovers(lab, 'router', link(3).router4, '198.19.0.1'), 'IPv4 back');
  assert.ok(await recovers(lab, 'router', link(3).router6, '2001:db8:ffff::1'), 'IPv6 back (the ISP kept its addresses)');
});

test('loss: 100% drops every packet, 0% none, a middle value is a numgen rule; clear removes it', async () => {
  await lab.fault('wan1', { kind: 'loss', pct: 100 });
  assert.equal(await pings(lab, 'router', link(1).router4, '198.19.0.2', 5), 0);
  await lab.fault('wan1', { kind: 'loss', pct: 0 });
  assert.equal(await pings(lab, 'router', link(1).router4, '198.19.0.2', 20), 20);
  await lab.fault('wan1', { kind: 'loss', pct: 12.5 });
  const rules = (await lab.exec('isp1', ['nft', 'list', 'table', 'inet', FAULT_TABLE])).stdout;
  assert.match(rules, /hook prerouting priority raw/);
  assert.match(rules, /numgen random mod 10000 < 1250 counter packets \d+ bytes \d+ drop comment "loss 12.5"/);
  assert.equal((rules.match(/numgen/g) ?? []).length, 1, 'a new loss replaces the old one');
  await lab.fault('wan1', { kind: 'blackhole' });
  assert.deepEqual(await lab.faultState('wan1'), { blackhole: true, lossPct: 12.5, carrier: true }, 'faults combine');
  await lab.fault('wan1', { kind: 'clear' });
  assert.equal((await lab.exec('isp1', ['nft', 'list', 'table', 'inet', FAULT_TABLE], { allowFail: true })).code, 1, 'the table is gone');
  assert.equal((await lab.exec('router', ['nft', 'list', 'ruleset'])).stdout.trim(), '', 'the router never gets nftables');
});

test('tbf shapes each ISP both ways at the configured rates', async () => {
  const shaped = await Lab.up({ links: 2, rates: ['40mbit', { down: '8mbit', up: '2mbit' }], services: false });
  try {
    const q1 = (await shaped.exec('isp1', ['tc', 'qdisc', 'show'])).stdout;
    assert.match(q1, /qdisc tbf \S+ dev router root .*rate 40Mbit burst 32Kb lat 20ms/);
    assert.match(q1, /qdisc tbf \S+ dev inet root .*rate 40Mbit/);
    const q2 = (await shaped.exec('isp2', ['tc', 'qdisc', 'show'])).stdout;
    assert.match(q2, /dev router root .*rate 8Mbit/);
    assert.match(q2, /dev inet root .*rate 2Mbit/);
  } finally {
    await shaped.down();
  }
  assert.doesNotMatch((await lab.exec('isp1', ['tc', 'qdisc', 'show'])).stdout, /tbf/, 'unlimited links have no tbf');
});

test('an unknown link is refused with the lab\'s link names', async () => {
  await assert.rejects(lab.fault('wan9', { kind: 'clear' }), /no link "wan9" in this lab \(links: wan1, wan2, wan3\)/);
});
