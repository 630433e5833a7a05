/**
 * Health follows the kernel on the real thing: a link's gateway is learned from its default route
 * in the main table when the config leaves it out (and losing that route takes the link out), and
 * an address change re-sources the link's probes without a restart.
 *
 *   router (HealthManager)
 *     wan1 198.18.1.1 → 198.18.1.77 ── isp1 ─┐
 *     wan2 198.18.2.1 (no gateway in config) ─ isp2 ─┴── inet (198.19.0.1, .2)
 *   router: table 10I default via 198.18.I.254, rule "from <wanI address> lookup 10I";
 *   main: "default via 198.18.2.254 dev wan2 proto dhcp metric 100" (as a DHCP client would add).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthStatus } from '../../../src/health/status.js';
import type { ChangeEvent } from './health-ops.js';
import { allOnline, healthLab, type HealthLab } from './setup.js';
import { applyRouting, linkConfig, linkRouting } from './routing.js';

let h: HealthLab;

before(async () => {
  h = await healthLab({
    links: 2,
    config: (ls) => ({ links: [linkConfig(ls[0]!), { ...linkConfig(ls[1]!), gateway: undefined }] }),
    routing: (ls) => [...ls.map((l) => linkRouting(l)), { ip4: ['route add default via 198.18.2.254 dev wan2 proto dhcp metric 100'], ip6: [] }],
  });
  await allOnline(h, ['wan1', 'wan2']);
});

after(async () => {
  await h?.down();
});

test('the gateway is learned from the main table when omitted; without it the link is out', async () => {
  const wan2 = h.initial.find((v) => v.name === 'wan2')!;
  assert.deepEqual(wan2.observation.ipv4, { address: '198.18.2.1', prefixLen: 24, gateway: '198.18.2.254', gatewaySource: 'route' });
  assert.equal(wan2.observation.ipv6?.gatewaySource, 'none', 'no IPv6 default route in main');
  const since = h.driver.cursor('change');
  await h.lab.exec('router', ['ip', 'route', 'del', 'default', 'via', '198.18.2.254', 'dev', 'wan2', 'metric', '100']);
  const off = await h.waitState('wan2', 'offline', { since });
  assert.deepEqual(off.view.reason, { kind: 'no-gateway' });
  const back = h.driver.cursor('change');
  await h.lab.exec('router', ['ip', 'route', 'add', 'default', 'via', '198.18.2.254', 'dev', 'wan2', 'proto', 'dhcp', 'metric', '100']);
  const probing = await h.waitState('wan2', 'probing', { since: back });
  assert.deepEqual(probing.view.reason, { kind: 'address-changed' });
  await h.waitState('wan2', 'online', { since: back });
});

test('an address change moves the probes to the new source address, no restart', async () => {
  const l = h.links[0]!;
  const since = h.driver.cursor('change');
  // Like a DHCP renew with a new lease: the new address arrives, the old one goes (promoted, so
  // the new one is not deleted with it).
  await h.lab.exec('router', ['sysctl', '-q', '-w', 'net.ipv4.conf.wan1.promote_secondaries=1']);
  await h.lab.exec('router', ['ip', 'addr', 'add', '198.18.1.77/24', 'dev', 'wan1']);
  await h.lab.exec('router', ['ip', 'addr', 'del', '198.18.1.1/24', 'dev', 'wan1']);
  // The kernel announces the old address's removal, then the promoted one: two changes.
  await h.driver.waitFor<ChangeEvent>('change', (c) => c.view.name === 'wan1' && c.view.observation.ipv4?.address === '198.18.1.77', { since });
  const firstMove = h.driver.items<ChangeEvent>('change').slice(since).find((c) => c.view.name === 'wan1')!;
  assert.equal(firstMove.prev?.observation.ipv4?.address, '198.18.1.1');
  // What the planner does on that event: the link's table and source rule follow the address.
  await applyRouting(h.lab.ns('router'), [{ ip4: linkRouting(l, '198.18.1.77').ip4, ip6: [] }]);
  await h.lab.exec('router', ['ip', 'rule', 'del', 'from', '198.18.1.1', 'lookup', '101']);
  // Probes continue, now from 198.18.1.77 (198.18.1.1 no longer exists on the router, so an
  // answered probe cannot have used it).
  const t = Date.now();
  let st: HealthStatus['links'][number] | undefined;
  for (let i = 0; i < 100; i++) {
    st = (await h.driver.call<HealthStatus>('health.status')).links.find((x) => x.name === 'wan1')!;
    if (st.state === 'online' && st.targets.every((x) => x.last?.ok && x.last.at > t + 600)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(st!.state, 'online');
  assert.ok(st!.targets.every((x) => x.last?.ok && x.last.at > t + 600), JSON.stringify(st!.targets));
  assert.equal(st!.observation.ipv4?.address, '198.18.1.77');
  const log = h.driver.items<Record<string, unknown>>('log').find((x) => x.op === 'addressing' && String(x.ipv4).startsWith('198.18.1.77/24'));
  assert.ok(log, 'the change was logged');
});
