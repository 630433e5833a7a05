import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labAddressing, relayAddressing, wanLinkAddressing, INET, LAN, RELAY, MAX_LINKS, MAX_PATHS } from '../../../src/lab/addressing.js';
import { inAllowedRange, prefixesOverlap } from './net-helpers.js';

test('link I uses 198.18.I.0/24 and 2001:db8:I::/64, the ISP is the .254 gateway of the example config', () => {
  const l = wanLinkAddressing(2);
  assert.equal(l.name, 'wan2');
  assert.equal(l.iface, 'wan2');
  assert.equal(l.isp, 'isp2');
  assert.equal(l.router4, '198.18.2.1');
  assert.equal(l.gateway4, '198.18.2.254');
  assert.equal(l.router6, '2001:db8:2::1');
  assert.equal(l.gateway6, '2001:db8:2::254');
  assert.equal(l.transfer4, '198.18.66.0/24');
  assert.equal(wanLinkAddressing(16).prefix6, '2001:db8:16::/64');
});

test('inet holds the track IPs, the test server and the relay exit address', () => {
  assert.deepEqual(INET.track4, ['198.19.0.1', '198.19.0.2']);
  assert.deepEqual(INET.track6, ['2001:db8:ffff::1', '2001:db8:ffff::2']);
  assert.equal(INET.server4, '198.19.0.10');
  assert.equal(INET.relayExit4, '198.19.0.20');
  assert.equal(LAN.client4, '198.18.100.2');
  assert.equal(LAN.router6, '2001:db8:100::1');
});

test('the relay lab matches the relay issue: hops 198.18.11.2 and 198.18.12.2, exit .20, target .10', () => {
  const a = relayAddressing(2);
  assert.deepEqual(a.paths.map((p) => p.hop4), ['198.18.11.2', '198.18.12.2']);
  assert.equal(a.relay.exit4, '198.19.0.20');
  assert.equal(a.relay.target4, '198.19.0.10');
  assert.deepEqual(a.paths.map((p) => p.name), ['path1', 'path2']);
});

test('every address of the largest labs is in 198.18.0.0/15 or 2001:db8::/32, and no two networks overlap', () => {
  const wan = labAddressing(MAX_LINKS);
  const wanNets = [LAN.prefix4, LAN.prefix6, ...wan.links.flatMap((l) => [l.prefix4, l.prefix6, l.transfer4, l.transfer6]), '198.19.0.0/24', '2001:db8:ffff::/64'];
  const relay = relayAddressing(MAX_PATHS);
  const relayNets = [RELAY.userPrefix4, RELAY.userPrefix6, RELAY.targetPrefix4, RELAY.targetPrefix6, ...relay.paths.flatMap((p) => [p.entryNet4, p.entryNet6, p.exitNet4, p.exitNet6])];
  for (const nets of [wanNets, relayNets]) {
    for (const n of nets) assert.ok(inAllowedRange(n), `${n} is outside the lab ranges`);
    for (let i = 0; i < nets.length; i++) for (let j = i + 1; j < nets.length; j++) assert.ok(!prefixesOverlap(nets[i]!, nets[j]!), `${nets[i]} overlaps ${nets[j]}`);
  }
  const addrs = [...wan.links.flatMap((l) => [l.router4, l.gateway4, l.ispUp4, l.inetSide4, l.router6, l.gateway6, l.ispUp6, l.inetSide6]), ...INET.track4, ...INET.track6];
  for (const a of addrs) assert.ok(inAllowedRange(a), a);
  assert.equal(new Set(addrs).size, addrs.length, 'addresses are unique');
});
