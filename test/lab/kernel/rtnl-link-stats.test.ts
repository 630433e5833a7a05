/**
 * Interface counters through rtnetlink on the real kernel (kernel/rtnl/link-stats.ts, the passive
 * signal's input): RTM_GETSTATS and RTM_GETLINK's IFLA_STATS64 give the counters `ip -s link`
 * shows, and they move with the packets sent and received.
 *
 *   r (adapter): v0 198.18.1.1/24 ── veth ── v1 198.18.1.2/24 (p)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkStats } from '../../../src/kernel/rtnl/index.js';
import { startRtnlLab, type RtnlLab } from './rtnl-lab.js';

let lab: RtnlLab;

before(async () => {
  lab = await startRtnlLab();
  await lab.ipPeer('addr', 'add', '198.18.1.2/24', 'dev', 'v1');
});
after(async () => {
  await lab?.destroy();
});

interface IpStats {
  ifindex: number;
  stats64: { rx: { packets: number; multicast: number }; tx: { packets: number } };
}

const ours = async (op: 'linkStats.list' | 'linkStats.listViaLink'): Promise<LinkStats> => (await lab.d.call<LinkStats[]>(op, {})).find((s) => s.ifindex === lab.v0)!;

test('RTM_GETSTATS and RTM_GETLINK read the counters ip -s link shows, and they follow the traffic', async () => {
  // Settle neighbour discovery first, so that no packet of ours is in flight while reading.
  await lab.set.exec('r', ['ping', '-c', '1', '-W', '2', '198.18.1.2']);
  const before = await ours('linkStats.list');
  await lab.set.exec('r', ['ping', '-q', '-c', '50', '-i', '0.01', '198.18.1.2']);
  const a = await ours('linkStats.list');
  const viaLink = await ours('linkStats.listViaLink');
  const [ip] = await lab.ipj<IpStats>('-s', 'link', 'show', 'dev', 'v0');
  const b = await ours('linkStats.list');
  assert.ok(a.txPackets - before.txPackets >= 50, `${a.txPackets - before.txPackets} packets out`);
  assert.ok(a.rxPackets - before.rxPackets >= 50, `${a.rxPackets - before.rxPackets} packets in`);
  // Read in this order, each figure lies between the two RTM_GETSTATS readings around it.
  for (const [what, v] of [
    ['GETLINK tx', viaLink.txPackets],
    ['ip tx', ip!.stats64.tx.packets],
  ] as const)
    assert.ok(a.txPackets <= v && v <= b.txPackets, `${what} ${v} within ${a.txPackets}..${b.txPackets}`);
  for (const [what, v] of [
    ['GETLINK rx', viaLink.rxPackets],
    ['ip rx', ip!.stats64.rx.packets],
  ] as const)
    assert.ok(a.rxPackets <= v && v <= b.rxPackets, `${what} ${v} within ${a.rxPackets}..${b.rxPackets}`);
  assert.ok(a.multicast <= ip!.stats64.rx.multicast && ip!.stats64.rx.multicast <= b.multicast);
});
