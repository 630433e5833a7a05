/**
 * UDP through the per-flow balancer, in the multi-WAN lab:
 *
 *   client (connected UDP sockets) ── lan0 ┐                      ┌ isp1 ─┐
 *                                          router (Balancer) wan1 ┤       │
 *                                                            wan2 ┤ isp2 ─┼── inet: UDP whoami :9100
 *                                                            wan3 ┘ isp3 ─┘   (answers with the sender's address)
 *
 * UDP has no connection, but conntrack gives each (addresses, ports) flow an entry, and nothing in
 * the balancer's ruleset looks at the protocol: the first packet of a UDP flow is weighed like a
 * TCP SYN and the rest follow its ct mark. The whoami server's answer names the address a flow
 * arrived from, that is the masquerade address of the link it took. When a link dies its conntrack
 * entries (UDP included) are flushed by mark, so its UDP flows move at their next packet; the
 * control shows that without the flush they stay on the dead link.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { WanLinkAddressing } from '../../../src/lab/addressing.js';
import { BalancerLab, labConfig } from './harness.js';
import { UdpFlows, udpCensus, udpServe, type UdpFlowStats } from './udp-flows.js';

const PORT = 9100;

let L: BalancerLab;
before(async () => {
  L = await BalancerLab.up({ links: 3 });
  await udpServe(L.lab, 'inet', [L.addr.inet.server4, L.addr.inet.server6], PORT);
});
after(async () => {
  await L?.down();
});

/** The link whose router address `addr` is. */
function linkOf(addr: string): string {
  return L.addr.links.find((l) => l.router4 === addr || l.router6 === addr)?.name ?? addr;
}

/** Router conntrack entries of UDP flows to PORT: client source port → link mark value. */
function udpMarks(family: 4 | 6): Promise<Map<number, number>> {
  return L.flowMarks(PORT, family, 'udp');
}

test('new UDP flows spread roughly by weight, IPv4 and IPv6, and are counted as new flows of their link', async () => {
  await L.applyOk(labConfig(L.addr, [5, 3, 2]));
  const before = (await L.status()).links.reduce((s, l) => s + l.newFlows, 0);
  for (const v6 of [false, true]) {
    const { seen, failures } = await udpCensus(L.lab, v6 ? L.addr.inet.server6 : L.addr.inet.server4, PORT, 300);
    assert.deepEqual(failures, []);
    const byLink: Record<string, number> = {};
    for (const [a, n] of Object.entries(seen)) byLink[linkOf(a)] = (byLink[linkOf(a)] ?? 0) + n;
    const share = (l: string) => (byLink[l] ?? 0) / 300;
    // Same loose bounds as the TCP distribution test (distribution.test.ts).
    assert.deepEqual(Object.keys(byLink).sort(), ['wan1', 'wan2', 'wan3'], JSON.stringify(byLink));
    assert.ok(Math.abs(share('wan1') - 0.5) < 0.12, `v${v6 ? 6 : 4} wan1 ${JSON.stringify(byLink)}`);
    assert.ok(Math.abs(share('wan2') - 0.3) < 0.12, `v${v6 ? 6 : 4} wan2 ${JSON.stringify(byLink)}`);
    assert.ok(Math.abs(share('wan3') - 0.2) < 0.12, `v${v6 ? 6 : 4} wan3 ${JSON.stringify(byLink)}`);
  }
  const after = (await L.status()).links.reduce((s, l) => s + l.newFlows, 0);
  assert.equal(after - before, 600, 'the new-flow counters saw every UDP flow once');
});

test('a long-lived UDP flow on a dead link moves at its next packet once its entries are flushed; without the flush it stays (control); flows of healthy links keep their link and address', async (t) => {
  const cfg = (flushConntrack: boolean) => labConfig(L.addr, [1, 1, 1], { routing: { flushConntrack } });
  await L.applyOk(cfg(true));
  const v4 = await UdpFlows.open(L.lab, L.addr.inet.server4, PORT, 30, 50);
  const v6 = await UdpFlows.open(L.lab, L.addr.inet.server6, PORT, 30, 50);
  const families = [
    { name: 'IPv4', flows: v4, family: 4 as const, routerAddr: (l: WanLinkAddressing) => l.router4 },
    { name: 'IPv6', flows: v6, family: 6 as const, routerAddr: (l: WanLinkAddressing) => l.router6 },
  ];
  try {
    // Where each flow is: the one address its server saw so far, and the router's ct mark agrees.
    const start = new Map<number, UdpFlowStats[]>();
    for (const f of families) {
      const s = await f.flows.stats();
      start.set(f.family, s);
      for (const x of s) assert.equal(x.addrs.length, 1, `${f.name} flow ${x.id} stays on one address before any failover: ${JSON.stringify(x.addrs)}`);
      const marks = await udpMarks(f.family);
      for (const x of s) assert.equal(marks.get(x.localPort), Number(linkOf(x.addrs[0]!.addr).slice(3)), `${f.name} flow ${x.id}: ct mark matches the link its server sees`);
      const onWan2 = s.filter((x) => linkOf(x.addrs[0]!.addr) === 'wan2').length;
      assert.ok(onWan2 > 0 && onWan2 < s.length, `${f.name}: some flows on wan2, not all: ${onWan2}`);
    }
    const deadIds = (family: 4 | 6) => new Set(start.get(family)!.filter((x) => linkOf(x.addrs[0]!.addr) === 'wan2').map((x) => x.id));
    const wan2 = L.addr.links[1]!;

    // Control: wan2 dies upstream and leaves the pick, but its entries are not flushed. Its flows
    // keep their ct mark and go on into the blackhole; the others keep answering.
    await L.applyOk(cfg(false));
    await L.lab.fault('wan2', { kind: 'blackhole' });
    const c = await L.applyOk(cfg(false), { wan2: 'offline' });
    assert.deepEqual(c.conntrack, [], 'nothing flushed');
    for (const f of families) {
      const dead = deadIds(f.family);
      const s0 = await f.flows.stats();
      // Ten more datagrams answered on every healthy flow: the dead ones had the same chances.
      const s1 = await f.flows.until((s) => s.every((x) => dead.has(x.id) || x.replies >= s0[x.id]!.replies + 10));
      for (const x of s1) {
        if (dead.has(x.id)) {
          assert.equal(x.replies, s0[x.id]!.replies, `${f.name} flow ${x.id} on the dead wan2 gets no answer without the flush`);
          assert.deepEqual(x.addrs.map((a) => a.addr), [f.routerAddr(wan2)], `${f.name} flow ${x.id} did not move without the flush`);
        } else assert.ok(x.replies >= s0[x.id]!.replies + 10, `${f.name} healthy flow ${x.id} kept answering`);
      }
      const marks = await udpMarks(f.family);
      assert.ok([...dead].every((id) => marks.get(start.get(f.family)![id]!.localPort) === 2), `${f.name}: the dead flows are still pinned to wan2 (mark 2)`);
    }

    // wan2 back (its flows answer there again), then dead again, now with the flush.
    await L.lab.fault('wan2', { kind: 'clear' });
    await L.applyOk(cfg(true));
    for (const f of families) {
      const s0 = await f.flows.stats();
      const s1 = await f.flows.until((s) => s.every((x) => x.replies > s0[x.id]!.replies));
      assert.ok(s1.every((x) => x.replies > s0[x.id]!.replies && x.addrs.length === 1), `${f.name}: every flow answers again on its own link`);
    }
    await L.lab.fault('wan2', { kind: 'blackhole' });
    const r = await L.applyOk(cfg(true), { wan2: 'offline' });
    assert.deepEqual(r.conntrack.map((x) => x.link), ['wan2'], 'wan2 flushed by mark');
    // Read right after the flush: every datagram a flow sends from here on was sent after it.
    const atFlush = new Map<number, UdpFlowStats[]>();
    for (const f of families) atFlush.set(f.family, await f.flows.stats());
    for (const f of families) {
      const dead = deadIds(f.family);
      const s0 = atFlush.get(f.family)!;
      const survivors = new Set([L.addr.links[0]!, L.addr.links[2]!].map(f.routerAddr));
      const s1 = await f.flows.until((s) => s.every((x) => (dead.has(x.id) ? x.addrs.length === 2 : x.replies >= s0[x.id]!.replies + 10)));
      for (const x of s1) {
        const was = start.get(f.family)![x.id]!.addrs[0]!.addr;
        if (dead.has(x.id)) {
          assert.equal(x.addrs.length, 2, `${f.name} flow ${x.id} of wan2 moved: ${JSON.stringify(x.addrs)}`);
          const [old, moved] = x.addrs;
          assert.equal(old!.addr, was);
          assert.ok(survivors.has(moved!.addr), `${f.name} flow ${x.id} moved to a surviving link: ${moved!.addr}`);
          // At its next packet: the first datagram sent after the flush (or an earlier one) was answered there.
          assert.ok(moved!.firstSeq <= s0[x.id]!.sent, `${f.name} flow ${x.id}: first answer from the new link is datagram ${moved!.firstSeq}, ${s0[x.id]!.sent} had been sent at the flush`);
        } else {
          assert.deepEqual(x.addrs.map((a) => a.addr), [was], `${f.name} flow ${x.id} of a healthy link kept its link and source address`);
          assert.ok(x.replies >= s0[x.id]!.replies + 10, `${f.name} healthy flow ${x.id} kept answering`);
        }
        assert.deepEqual(x.errors, [], `${f.name} flow ${x.id}: no socket errors`);
      }
      const marks = await udpMarks(f.family);
      for (const x of s1) assert.notEqual(marks.get(x.localPort), 2, `${f.name} flow ${x.id}: no entry pinned to wan2 left`);
      const firsts = s1.filter((x) => dead.has(x.id)).map((x) => x.addrs[1]!.firstSeq - s0[x.id]!.sent);
      t.diagnostic(`${f.name}: ${dead.size} of ${s1.length} flows moved off wan2; first answer on the new link, in datagrams after the one due next at the flush: ${firsts.join(' ')}`);
    }
  } finally {
    v4.close();
    v6.close();
    await L.lab.fault('wan2', { kind: 'clear' });
  }
});
