/**
 * Every probe method drives the tracker on the real kernel, each through its own link, against
 * the lab's inet services: icmp, tcp (:80), dns (:53), then — after a reload that keeps the
 * links' states — http, https and icmp over IPv6; an HTTP-probed link goes offline when its ISP
 * is blackholed and comes back when cleared.
 *
 *   router (HealthManager)
 *     wan1 ── isp1 ─┐
 *     wan2 ── isp2 ─┼── inet: 198.19.0.1, .2, 2001:db8:ffff::1, ::2; http :80, https :443, dns :53
 *     wan3 ── isp3 ─┘    (dns: inet's transfer address toward isp3, 198.18.67.2)
 *   router: table 10I default via ispI, rule "from <wanI address> lookup 10I" (both families)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthStatus } from '../../../src/health/status.js';
import type { LinkView } from '../../../src/model.js';
import type { WanLinkAddressing } from '../../../src/lab/addressing.js';
import { allOnline, healthLab, type HealthLab } from './setup.js';
import { linkConfig } from './routing.js';

let h: HealthLab;
const NAMES = ['wan1', 'wan2', 'wan3'];

// The lab's DNS service binds every address of inet (the track IPs on its loopback included), so
// each answer comes from the address asked, which the prober checks.
const first = (ls: WanLinkAddressing[]) => ({
  links: [
    linkConfig(ls[0]!, { method: 'icmp' }),
    linkConfig(ls[1]!, { method: 'tcp', port: 80 }),
    linkConfig(ls[2]!, { method: 'dns' }),
  ],
});
const second = (ls: WanLinkAddressing[]) => ({
  links: [
    linkConfig(ls[0]!, { method: 'http', path: '/' }),
    linkConfig(ls[1]!, { method: 'https', path: '/' }),
    linkConfig(ls[2]!, { method: 'icmp', targets: ['2001:db8:ffff::1', '2001:db8:ffff::2'] }),
  ],
});

before(async () => {
  h = await healthLab({ config: first });
  await allOnline(h, NAMES);
});

after(async () => {
  await h?.down();
});

/** Wait until every target of every link has answered after `t` (epoch ms); returns the status. */
async function answeredSince(t: number): Promise<HealthStatus> {
  let st: HealthStatus | undefined;
  for (let i = 0; i < 100; i++) {
    st = await h.driver.call<HealthStatus>('health.status');
    if (st.links.every((l) => l.targets.every((x) => x.last?.ok && x.last.at > t))) return st;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`not every target answered: ${JSON.stringify(st?.links.map((l) => [l.name, l.method, l.targets]))}`);
}

test('icmp, tcp and dns probes bring their links online', async () => {
  const st = await answeredSince(Date.now());
  assert.deepEqual(st.links.map((l) => [l.name, l.method, l.state]), [
    ['wan1', 'icmp', 'online'],
    ['wan2', 'tcp', 'online'],
    ['wan3', 'dns', 'online'],
  ]);
  for (const l of st.links) assert.ok(l.rttMs !== undefined && l.rttMs >= 0 && l.rttMs < 1000, `${l.name} rtt ${l.rttMs}`);
});

test('after a reload to http, https and icmp over IPv6 the links stay online and every target answers', async () => {
  const since = h.driver.cursor('change');
  const t = Date.now();
  const views = await h.driver.call<LinkView[]>('health.reload', { config: second(h.links) });
  assert.deepEqual(views.map((v) => v.state), ['online', 'online', 'online'], 'states kept across the reload');
  const st = await answeredSince(t);
  assert.deepEqual(st.links.map((l) => l.method), ['http', 'https', 'icmp']);
  assert.deepEqual(st.links[2]!.targets.map((x) => x.target), ['2001:db8:ffff::1', '2001:db8:ffff::2']);
  const moves = h.driver.items<{ view: LinkView; prev?: LinkView }>('change').slice(since).filter((c) => c.view.state !== c.prev?.state);
  assert.deepEqual(moves, []);
});

test('an HTTP-probed link goes offline when its ISP is blackholed and back when cleared', async () => {
  const since = h.driver.cursor('change');
  await h.lab.fault('wan1', { kind: 'blackhole' });
  const off = await h.waitState('wan1', 'offline', { since });
  assert.equal(off.view.reason.kind, 'probes-failed');
  const back = h.driver.cursor('change');
  await h.lab.fault('wan1', { kind: 'clear' });
  await h.waitState('wan1', 'online', { since: back });
});
