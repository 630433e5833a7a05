import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { issuesOf } from '../../helpers/config-issues.js';

const BASE = `
links:
  - { name: wan2, interface: eth2, gateway: 198.18.2.1 }
dials:
  - name: isp
    parent: eth1
    sessions: 4
    method: dhcp
    dial: { mode: stagger, stagger: 300ms, redial: 2s..1m }
    link: { weight: 2, probe: { targets: [198.19.0.1, 198.19.0.2], interval: 200ms } }
policies:
  balanced: { links: [isp, { link: wan2, tier: 2 }] }
routing: { defaultPolicy: balanced }
`;

test('a dial expands into session links after the configured ones, with the template and no gateway', () => {
  const c = parseConfigText(BASE);
  assert.deepEqual(c.links.map((l) => [l.name, l.interface]), [
    ['wan2', 'eth2'],
    ['isp1', 'wbm-isp1'],
    ['isp2', 'wbm-isp2'],
    ['isp3', 'wbm-isp3'],
    ['isp4', 'wbm-isp4'],
  ]);
  const s = c.links[1]!;
  assert.equal(s.weight, 2);
  assert.equal(s.gateway, undefined);
  assert.deepEqual(s.probe?.targets, ['198.19.0.1', '198.19.0.2']);
  assert.equal(s.probe?.interval, 200);
  assert.deepEqual(c.dials[0]!.dial, { mode: 'stagger', stagger: 300, redial: { min: 2000, max: 60_000 } });
});

test("a dial's name in a policy stands for all its sessions, at that entry's tier and weight", () => {
  const c = parseConfigText(BASE);
  assert.deepEqual(
    c.policies.balanced!.links!.map((l) => `${l.link}/${l.tier}`),
    ['isp1/1', 'isp2/1', 'isp3/1', 'isp4/1', 'wan2/2'],
  );
});

test('defaults: sync dial, 200ms stagger, redial 5s..5m, weight 1, pppoe mtu 1492', () => {
  const c = parseConfigText(`
dials:
  - { name: a, parent: eth1, sessions: 1, method: pppoe, pppoe: { username: u, passwordFile: /etc/wanbraid/a.secret } }
`);
  const d = c.dials[0]!;
  assert.deepEqual(d.dial, { mode: 'sync', stagger: 200, redial: { min: 5000, max: 300_000 } });
  assert.equal(d.pppoe?.mtu, 1492);
  assert.equal(c.links[0]!.interface, 'wbp-a1', 'a PPPoE session link is its PPP interface');
  assert.equal(c.links[0]!.weight, 1);
});

test('session and dial names sessions may use: schedules and relay paths may name a session', () => {
  const c = parseConfigText(`${BASE}
schedules:
  - { cron: "0 2 * * *", link: isp3, action: down, duration: 10m }
`);
  assert.equal(c.schedules[0]!.link, 'isp3');
});

test('errors name their path: sessions out of range, clashes, pppoe without credentials, long names, bad ranges', () => {
  const bad = issuesOf(`
links:
  - { name: isp2, interface: eth2, gateway: 198.18.2.1 }
  - { name: wan, interface: eth3, gateway: 198.18.3.1 }
lan: { interfaces: [lan0] }
dials:
  - { name: isp, parent: eth1, sessions: 3, method: dhcp }
  - { name: wan, parent: eth4, sessions: 1, method: dhcp }
  - { name: big, parent: eth5, sessions: 65, method: dhcp }
  - { name: zero, parent: eth5, sessions: 0, method: dhcp }
  - { name: p, parent: lan0, sessions: 1, method: pppoe }
  - { name: waytoolongname, parent: eth7, sessions: 1, method: dhcp }
  - { name: r, parent: eth8, sessions: 1, method: dhcp, dial: { redial: 5m..5s } }
  - { name: q, parent: eth9, sessions: 1, method: carrier-pigeon }
policies:
  p1: { links: [isq] }
`);
  const has = (re: RegExp) => assert.ok(bad.some((l) => re.test(l)), `expected ${re} in:\n${bad.join('\n')}`);
  has(/^dials\[0\]\.name: session 2 of dial "isp" is the link "isp2", which clashes with links\[0\]$/);
  has(/^dials\[1\]\.name: dial "wan" has the name of links\[1\]/);
  has(/^dials\[2\]\.sessions: expected a number <= 64, got 65$/);
  has(/^dials\[3\]\.sessions: expected a number >= 1, got 0$/);
  has(/^dials\[4\]\.parent: "lan0" is also a LAN interface$/);
  has(/^dials\[5\]\.name: expected .*at most 9 characters/);
  has(/^dials\[6\]\.dial\.redial: expected a range of durations like 5s\.\.5m/);
  has(/^dials\[7\]\.method: expected one of "dhcp", "pppoe"/);
  has(/^policies\.p1\.links\[0\]: unknown link "isq" \(did you mean "isp"\?\)$/);
});

test('pppoe needs its credentials, and only pppoe has them', () => {
  assert.deepEqual(
    issuesOf(`
dials:
  - { name: p, parent: eth1, sessions: 1, method: pppoe }
  - { name: d, parent: eth2, sessions: 1, method: dhcp, pppoe: { username: u, passwordFile: /x } }
`),
    ['dials[0].pppoe: required for method "pppoe" (username, passwordFile)', 'dials[1].pppoe: is only for method "pppoe" (this dial uses "dhcp")'],
  );
});

test('at most 64 links with the sessions counted; dials must not clash with each other', () => {
  const many = issuesOf(`
links:
  - { name: wan, interface: eth2, gateway: 198.18.2.1 }
dials:
  - { name: isp, parent: eth1, sessions: 64, method: dhcp }
`);
  assert.ok(many.includes('dials: at most 64 links (dial sessions included), got 65'), many.join('\n'));
  const clash = issuesOf(`
dials:
  - { name: a, parent: eth1, sessions: 12, method: dhcp }
  - { name: a1, parent: eth2, sessions: 1, method: dhcp }
`);
  assert.ok(clash.some((l) => /^dials\[0\]\.name: session 1 of dial "a" is the link "a1", which clashes with the dial dials\[1\]$/.test(l)), clash.join('\n'));
  assert.ok(clash.some((l) => /^dials\[1\]\.name: session 1 of dial "a1" is the link "a11", which clashes with a session of dials\[0\]$/.test(l)), clash.join('\n'));
});

test('template probe settings are checked like a link\'s', () => {
  const bad = issuesOf(`
dials:
  - { name: isp, parent: eth1, sessions: 2, method: dhcp, link: { probe: { targets: [198.19.0.1], reliability: 2 } } }
`);
  assert.deepEqual(bad, ['dials[0].link.probe.reliability: expected at most the number of targets (1), got 2']);
});

test('the multi-dial example of docs/configuration.md is valid', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## `dials` (multi-dial)'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  const c = parseConfigText(yaml);
  assert.deepEqual(c.links.map((l) => l.name), ['lte', 'isp1', 'isp2', 'isp3', 'isp4', 'dsl1', 'dsl2']);
  assert.deepEqual(c.policies.balanced!.links!.map((l) => `${l.link}/${l.tier}`), ['isp1/1', 'isp2/1', 'isp3/1', 'isp4/1', 'dsl1/1', 'dsl2/1', 'lte/2']);
});
