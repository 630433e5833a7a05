/** Preflight's pure half (what a config needs, how a missing piece is said) and the PATH lookup. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../../src/config/load.js';
import { kernelPackage, problemLine, problems, requirements, secretFileProblem, systemCheck, systemReport, type SystemEnv } from '../../../src/daemon/preflight.js';
import { findOnPath } from '../../../src/daemon/preflight-probe.js';

const ENV: SystemEnv = { kernelRelease: '6.1.0-13-amd64', notify: false, arch: 'x64' };
const link = (name: string, probe?: Record<string, unknown>) => ({ name, interface: name, gateway: '198.18.1.254', ...(probe ? { probe } : {}) });
const ids = (cfg: unknown, env: SystemEnv = ENV) => requirements(validateConfig(cfg), env).map((r) => r.id);

test('links need nft, its table inet, libnftables, nexthop objects (auto on a resilient kernel), ctnetlink, and the addon (libnftables context, icmp probes)', () => {
  const cfg = { lan: { interfaces: ['lan0'] }, links: [link('wan1', { targets: ['198.19.0.1'] }), link('wan2', { targets: ['198.19.0.1'], method: 'tcp' })] };
  const reqs = requirements(validateConfig(cfg), ENV);
  assert.deepEqual(
    reqs.map((r) => r.id),
    ['nft', 'nft-table', 'libnftables', 'nexthop', 'ctnetlink', 'native'],
  );
  const by = new Map(reqs.map((r) => [r.id, r]));
  assert.deepEqual(by.get('nft')!.neededBy, ['balancing (links wan1, wan2)']);
  assert.match(by.get('nft')!.remedy, /Debian package nftables/);
  assert.match(by.get('nft-table')!.remedy, /linux-image-amd64/);
  assert.deepEqual(by.get('nexthop')!.neededBy, ['routing.groupType: auto (resilient groups on kernel 6.1.0-13-amd64)']);
  assert.equal(by.get('nexthop')!.known, undefined, 'probed, not decided');
  assert.deepEqual(by.get('ctnetlink')!.neededBy, ['routing.flushConntrack']);
  assert.match(by.get('libnftables')!.remedy, /Debian package libnftables1/);
  assert.deepEqual(by.get('native')!.neededBy, ['icmp probes (links wan1)', 'the libnftables context (balancing)', 'routing.resetDeadFlows']);
});

test('what each setting removes: multipath groups, no conntrack flush, tcp probes, no LAN (no nudges)', () => {
  const tcp = { targets: ['198.19.0.1'], method: 'tcp' };
  assert.deepEqual(ids({ links: [link('wan1', tcp)], routing: { groupType: 'multipath', flushConntrack: false } }), ['nft', 'nft-table', 'libnftables', 'native']);
  assert.deepEqual(ids({ links: [link('wan1', tcp)], routing: { groupType: 'multipath' } }), ['nft', 'nft-table', 'libnftables', 'ctnetlink', 'native'], 'no LAN interfaces: no nudges; the addon for the libnftables context only');
  assert.deepEqual(ids({ links: [link('wan1')], lan: { interfaces: ['lan0'] }, routing: { groupType: 'multipath', resetDeadFlows: false } }), ['nft', 'nft-table', 'libnftables', 'ctnetlink', 'native'], 'no probes at all: carrier only');
  // auto on a kernel without resilient groups uses RTA_MULTIPATH routes: no nexthop objects needed.
  assert.deepEqual(ids({ links: [link('wan1', tcp)] }, { ...ENV, kernelRelease: '5.10.0-28-amd64' }), ['nft', 'nft-table', 'libnftables', 'ctnetlink', 'native']);
});

test('groupType resilient on a kernel before 5.13 is missing without probing', () => {
  const [nh] = requirements(validateConfig({ links: [link('wan1')], routing: { groupType: 'resilient' } }), { ...ENV, kernelRelease: '5.10.0-28-amd64' }).filter((r) => r.id === 'nexthop');
  assert.ok(nh);
  assert.deepEqual(nh.known, { status: 'missing', detail: 'kernel 5.10.0-28-amd64 has no resilient nexthop groups (Linux 5.13)' });
  assert.deepEqual(nh.neededBy, ['routing.groupType: resilient']);
  assert.match(nh.remedy, /routing\.groupType: multipath/);
});

test('relay-only configs need no nft; a transparent entry or sd_notify needs the addon', () => {
  const key = '/etc/wanbraid/relay.key';
  const exit = { relay: { exit: { listen: '0.0.0.0:7000', keyFile: key, allow: ['198.19.0.10:5201'] } } };
  assert.deepEqual(ids(exit), []);
  assert.deepEqual(ids(exit, { ...ENV, notify: true }), ['native']);
  const entry = (target?: string) => ({
    relay: { entries: [{ name: 'e1', listen: '127.0.0.1:7100', ...(target ? { target } : {}), exit: '198.19.0.20:7000', keyFile: key, paths: [{ via: '198.19.0.30:7001' }] }] },
  });
  assert.deepEqual(ids(entry('198.19.0.10:5201')), []);
  const [native] = requirements(validateConfig(entry()), ENV);
  assert.deepEqual(native?.neededBy, ['transparent relay entry e1']);
});

test('a missing requirement is one line: what, what was found, what needs it, how to get it', () => {
  const [nft, table] = requirements(validateConfig({ links: [link('wan1')] }), ENV);
  const r = systemReport([
    systemCheck(nft!, { status: 'missing', detail: 'not found in PATH (/usr/bin:/bin)' }),
    systemCheck(table!, { status: 'skipped', detail: 'not checked: nft is missing' }),
  ]);
  assert.equal(r.ok, false);
  assert.deepEqual(problems(r), ['nft: not found in PATH (/usr/bin:/bin); needed by balancing (links wan1); install the Debian package nftables']);
  assert.doesNotMatch(problemLine(r.checks[0]!), /\n/);
  // Skipped alone is not a failure.
  assert.equal(systemReport([r.checks[1]!]).ok, true);
  assert.equal(systemReport([]).ok, true);
});

test('kernelPackage: Debian architecture names', () => {
  assert.equal(kernelPackage('x64'), 'linux-image-amd64');
  assert.equal(kernelPackage('arm64'), 'linux-image-arm64');
  assert.equal(kernelPackage('mips'), 'linux-image-mips');
});

test('findOnPath: the first executable file of that name; not a directory, not a non-executable file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-path-'));
  try {
    for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d));
    mkdirSync(join(dir, 'a', 'nft'));
    writeFileSync(join(dir, 'b', 'nft'), '#!/bin/sh\n', { mode: 0o644 });
    writeFileSync(join(dir, 'c', 'nft'), '#!/bin/sh\n');
    chmodSync(join(dir, 'c', 'nft'), 0o755);
    const path = ['', join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':');
    // Root may execute any file with some x bit, and access(X_OK) says so; mode 0644 has none.
    assert.equal(findOnPath('nft', path), join(dir, 'c', 'nft'));
    assert.equal(findOnPath('nft', join(dir, 'a')), undefined);
    assert.equal(findOnPath('nft', undefined), undefined);
    assert.equal(findOnPath('nft', ''), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dials need ip, dhcpcd or pppd with kernel PPP, their parents and private password files', () => {
  const c = validateConfig({
    dials: [
      { name: 'isp', parent: 'eth1', sessions: 2, method: 'dhcp' },
      { name: 'ppp', parent: 'eth2', sessions: 2, method: 'pppoe', pppoe: { username: 'u', passwordFile: '/etc/wanbraid/p.secret' } },
    ],
  });
  const reqs = requirements(c, ENV);
  const ids = reqs.map((r) => `${r.id}:${r.neededBy.join(',')}`);
  for (const want of ['ip:dials[0] (isp),dials[1] (ppp)', 'dhcpcd:dials[0] (isp, method dhcp)', 'pppd:dials[1] (ppp, method pppoe)', 'ppp-kernel:dials[1] (ppp, method pppoe)', 'dial-parent:dials[0].parent', 'dial-parent:dials[1].parent', 'dial-secret:dials[1].pppoe.passwordFile'])
    assert.ok(ids.includes(want), `${want} in ${ids.join(' | ')}`);
  assert.equal(secretFileProblem({ isFile: true, mode: 0o100600, size: 9 }), undefined);
  assert.equal(secretFileProblem({ isFile: true, mode: 0o100640, size: 9 }), 'is readable or writable by group or others (mode 0640)');
  assert.equal(secretFileProblem({ isFile: true, mode: 0o100604, size: 9 }), 'is readable or writable by group or others (mode 0604)');
  assert.equal(secretFileProblem({ isFile: false, mode: 0o40700, size: 9 }), 'is not a regular file');
  assert.equal(secretFileProblem({ isFile: true, mode: 0o100600, size: 0 }), 'is empty');
});
