/**
 * Failover and reloads that disturb only what must move, in the multi-WAN lab:
 *
 *   client (60 long-lived echo flows) ── lan0 ┐                      ┌ isp1 ─┐
 *                                      router (Balancer) wan1 ┤       │
 *                                                        wan2 ┤ isp2 ─┼── inet hold :9000, /ip :80
 *                                                        wan3 ┘ isp3 ─┘
 *
 * A probe table in the router records which interface each flow leaves on. Positive controls
 * first: plain ECMP (a multipath route, no pinning) does move flows of healthy links when a leg
 * leaves or weights change; with wanbraid's ct-mark pinning none move, and only the dead link's
 * flows are reset (its conntrack entries flushed by mark). Tier failover and lastResort follow.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BalancerLab, labConfig, type HoldFlows } from './harness.js';

let L: BalancerLab;
before(async () => {
  L = await BalancerLab.up({ links: 3 });
  await L.watchEgress(L.addr.ports.hold);
});
after(async () => {
  await L?.down();
});

/**
 * Each flow's egress interfaces (by client port, joined with '+'), over a fresh observation window
 * of at least `windowMs` that lasts until every port in `expect` (a list, or a function read on
 * each poll) has been seen (up to 10 s): a flow that happened to send nothing in a short window
 * must not read as moved.
 */
async function egressNow(expect: number[] | (() => number[]), windowMs = 400): Promise<Map<number, string>> {
  await L.resetEgress();
  await sleep(windowMs);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = new Map<number, string>();
    for (const [port, ifs] of await L.egress()) out.set(port, ifs.join('+'));
    if ((typeof expect === 'function' ? expect() : expect).every((p) => out.has(p)) || Date.now() > deadline) return out;
    await sleep(100);
  }
}

async function openFlows(n: number, v6 = false): Promise<{ flows: HoldFlows; ports: number[] }> {
  const flows = await L.hold(n, { intervalMs: 50, v6 });
  return { flows, ports: (await flows.opened).map((o) => o.localPort) };
}

test('positive control: plain ECMP moves flows of healthy links when a leg leaves or weights change', async () => {
  // No LAN interfaces: nothing is classified or pinned, flows follow the multipath route's hash.
  const cfg = (w: number[]) => ({ ...labConfig(L.addr, w), lan: undefined, routing: { groupType: 'multipath' } });
  await L.applyOk(cfg([1, 1, 1]));
  const { flows, ports } = await openFlows(60);
  try {
    const before = await egressNow(ports);
    assert.equal(ports.filter((p) => before.has(p)).length, 60);
    // Under plain ECMP a moved flow keeps its NAT address on another link and may be reset or
    // stall: a flow absent from a short window counts as moved (this is the control, showing what
    // pinning prevents), so these observations do not wait for every flow.
    // With 60 flows, the chance that a 1:1:1 → 1:2:1 change moves none is (5/6)^60 ≈ 2e-5, yet it
    // was seen twice in about 70 runs on a loaded machine, for a reason not found (every flow
    // echoed on its old link for the whole window after the route was replaced). The control's
    // point is that this observation can see flows move: a second, different change is tried
    // before it fails, and the failure says what the kernel held.
    let moved: number[] = [];
    const seen: string[] = [];
    for (const w of [[1, 2, 1], [1, 1, 4]]) {
      const rw = await L.applyOk(cfg(w));
      const afterWeights = await egressNow([]);
      moved = ports.filter((p) => afterWeights.get(p) !== before.get(p));
      if (moved.length > 0) break;
      const count = (m: Map<number, string>) => JSON.stringify(Object.fromEntries([...new Set(m.values())].map((l) => [l, [...m.values()].filter((x) => x === l).length])));
      const routes = (await L.lab.exec('router', ['ip', 'route', 'show', 'table', 'all', 'proto', 'wanbraid'])).stdout;
      seen.push(`weights ${w.join(':')}: none of ${ports.length} moved; before ${count(before)}, after ${count(afterWeights)}; apply changed ${JSON.stringify(rw.routing.changed)}; routes:\n${routes}`);
    }
    assert.ok(moved.length > 0, `a weight change moves some flows under hash-threshold ECMP:\n${seen.join('\n')}`);
    await L.applyOk(cfg([1, 1, 1]), { wan1: 'offline' });
    const afterLeave = await egressNow([]);
    const healthyMoved = ports.filter((p) => before.get(p) !== 'wan1' && afterLeave.get(p) !== before.get(p));
    assert.ok(healthyMoved.length > 0, 'flows of links that stayed move too when a leg leaves');
  } finally {
    flows.close();
  }
});

test('with pinning, a weight change moves no flow, and a dead link only resets its own flows (flushed by mark)', async () => {
  const cfg = (w: number[]) => labConfig(L.addr, w);
  await L.applyOk(cfg([1, 1, 1]));
  const { flows, ports } = await openFlows(60);
  try {
    const before = await egressNow(ports);
    const on = (l: string) => ports.filter((p) => before.get(p) === l);
    assert.ok(on('wan1').length > 5 && on('wan2').length > 5 && on('wan3').length > 5, JSON.stringify([...before]));

    // Reload with other weights: new flows follow them, running ones stay.
    await L.applyOk(cfg([1, 4, 1]));
    const afterWeights = await egressNow(ports);
    assert.deepEqual(ports.filter((p) => afterWeights.get(p) !== before.get(p)), [], 'no flow moved on a weight change');
    const census = await L.census(60);
    assert.ok((census.byLink.wan2 ?? 0) > 25, `new flows follow the new weights: ${JSON.stringify(census.byLink)}`);

    // wan2 dies upstream; health (here: the test) takes it offline.
    await L.lab.fault('wan2', { kind: 'blackhole' });
    const r = await L.applyOk(cfg([1, 4, 1]), { wan2: 'offline' });
    assert.equal(r.nft.op, 'elements', 'a health change only touches map elements');
    assert.deepEqual(r.conntrack.map((c) => c.link), ['wan2']);
    const marks = [...(await L.flowMarks(L.addr.ports.hold)).values()];
    assert.ok(!marks.includes(2), 'no conntrack entry pinned to wan2 is left');
    // The dead link's flows are reset (their next packet finds no NAT entry); the others live on.
    const dead = new Set(on('wan2'));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && flows.broken.filter((b) => dead.has(ports[b.id]!)).length < dead.size) await sleep(100);
    const brokenPorts = new Set(flows.broken.map((b) => ports[b.id]!));
    const unreset = [...dead].filter((p) => !brokenPorts.has(p));
    if (unreset.length > 0) {
      // Rare on CI and not reproduced here: say what the kernel and the client saw of them.
      const ct = await Promise.all(unreset.map((p) => L.conntrackOf(p)));
      const echoes = (await flows.stats()).echoes;
      assert.fail(`wan2 flows not reset within 10 s: ${unreset.map((p, i) => `port ${p}: echoes ${echoes[ports.indexOf(p)]}, conntrack ${ct[i]}`).join('; ')}`);
    }
    assert.deepEqual([...brokenPorts].filter((p) => !dead.has(p)), [], 'no flow of a healthy link broke');
    const s1 = await flows.stats();
    const alive = ports.map((_, id) => id).filter((id) => !dead.has(ports[id]!));
    let s2 = s1;
    for (const end = Date.now() + 10_000; Date.now() < end && !alive.every((id) => s2.echoes[id]! > s1.echoes[id]!); ) {
      await sleep(100);
      s2 = await flows.stats();
    }
    assert.ok(alive.every((id) => s2.echoes[id]! > s1.echoes[id]!), 'healthy flows keep echoing');
    const afterDeath = await egressNow(alive.map((id) => ports[id]!));
    assert.deepEqual(alive.map((id) => ports[id]!).filter((p) => afterDeath.get(p) !== before.get(p)), [], 'healthy flows did not move');
  } finally {
    flows.close();
    await L.lab.fault('wan2', { kind: 'clear' });
  }
});

test('IPv6: a dead link resets only its own flows', async () => {
  await L.applyOk(labConfig(L.addr, [1, 1, 1]));
  const { flows, ports } = await openFlows(30, true);
  try {
    const before = await egressNow(ports);
    const dead = new Set(ports.filter((p) => before.get(p) === 'wan3'));
    assert.ok(dead.size > 0 && dead.size < 30, JSON.stringify([...before]));
    await L.lab.fault('wan3', { kind: 'blackhole' });
    const r = await L.applyOk(labConfig(L.addr, [1, 1, 1]), { wan3: 'offline' });
    assert.deepEqual(r.conntrack.map((c) => c.link), ['wan3']);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && flows.broken.length < dead.size) await sleep(100);
    assert.deepEqual(flows.broken.map((b) => ports[b.id]!).sort(), [...dead].sort(), 'exactly the wan3 flows were reset');
    const after = await egressNow(ports.filter((p) => !dead.has(p)));
    assert.deepEqual(ports.filter((p) => !dead.has(p) && after.get(p) !== before.get(p)), [], 'the others did not move');
  } finally {
    flows.close();
    await L.lab.fault('wan3', { kind: 'clear' });
  }
});

test('a whole best tier down hands over to the next tier; with nothing up lastResort decides', async () => {
  const tiers = (lastResort?: string) =>
    labConfig(L.addr, [1, 1, 1], {
      policies: { t: { links: [{ link: 'wan1', tier: 1 }, { link: 'wan2', tier: 1 }, { link: 'wan3', tier: 2 }], ...(lastResort ? { lastResort } : {}) } },
      routing: { defaultPolicy: 't' },
    });
  await L.applyOk(tiers());
  assert.deepEqual(Object.keys((await L.census(20)).byLink).sort(), ['wan1', 'wan2']);
  await L.applyOk(tiers(), { wan1: 'offline' });
  assert.deepEqual(Object.keys((await L.census(20)).byLink), ['wan2']);
  await L.applyOk(tiers(), { wan1: 'offline', wan2: 'disabled' });
  assert.deepEqual(Object.keys((await L.census(20)).byLink), ['wan3']);
  // The router's own traffic follows the same tier: its default route is wan3's nexthop alone.
  const route = (await L.lab.exec('router', ['ip', 'route', 'get', L.addr.inet.server4])).stdout;
  assert.match(route, /dev wan3/);

  const dead = { wan1: 'offline', wan2: 'offline', wan3: 'offline' } as const;
  // The kernel rate-limits ICMP errors per destination (6 at once, then 1/s): what ran before in
  // this lab must not decide whether the rejects below are sent. This test is about nft's reject.
  await L.lab.exec('router', ['sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0']);
  await L.applyOk(tiers('unreachable'), dead);
  const p = await L.traffic<{ results: { ok: boolean; ms: number; error?: string }[] }>('probe', { host: L.addr.inet.server4, port: 80, intervalMs: 50, durationMs: 200, timeoutMs: 2000 });
  // Answered (refused or unreachable), not left to the 2 s timeout: the reject was sent.
  assert.ok(p.results.every((x) => !x.ok && x.error !== 'timeout'), `unreachable answers: ${JSON.stringify(p.results)}`);
  await L.applyOk(tiers('blackhole'), dead);
  const q = await L.traffic<{ results: { ok: boolean; error?: string }[] }>('probe', { host: L.addr.inet.server4, port: 80, intervalMs: 50, durationMs: 100, timeoutMs: 500 });
  assert.ok(q.results.every((x) => x.error === 'timeout'), `blackhole drops silently: ${JSON.stringify(q.results)}`);
  await L.lab.ip('router', [`route add default via ${L.addr.links[2]!.gateway4} dev wan3 proto dhcp`]);
  try {
    await L.applyOk(tiers('main'), dead);
    assert.deepEqual(Object.keys((await L.census(10)).byLink), ['wan3'], 'lastResort main: the main table default route');
  } finally {
    await L.lab.ip('router', ['route flush proto dhcp']);
  }
});

test('nexthops the kernel deleted with a lost carrier are recreated when it comes back', async () => {
  const cfg = labConfig(L.addr, [1, 1, 1]);
  await L.applyOk(cfg);
  const nh = async () => (await L.lab.exec('router', ['ip', 'nexthop'])).stdout;
  assert.match(await nh(), /dev wan2/);
  await L.lab.fault('wan2', { kind: 'carrier-down' });
  try {
    await L.applyOk(cfg, { wan2: 'offline' });
    assert.doesNotMatch(await nh(), /dev wan2/);
  } finally {
    await L.lab.fault('wan2', { kind: 'clear' });
  }
  let text = '';
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await L.applyOk(cfg);
    text = await nh();
    if (/dev wan2/.test(text)) break;
    await sleep(100);
  }
  assert.match(text, /id 87000102 via 198\.18\.2\.254 dev wan2/);
  assert.match(text, /id 87000004 group 87000101\/87000102\/87000103 type resilient/);
  assert.deepEqual(Object.keys((await L.census(30)).byLink).sort(), ['wan1', 'wan2', 'wan3']);
});

test('idle flows of a dead link are reset at once by a nudge, IPv4 and IPv6; without nudges they would wait', async () => {
  const cfg = (resetDeadFlows: boolean) => labConfig(L.addr, [1, 1, 1], { routing: { resetDeadFlows } });
  for (const nudges of [false, true]) {
    await L.applyOk(cfg(nudges));
    // Idle: the client never writes, so only the router can make these connections notice.
    const v4 = await L.hold(20, { intervalMs: 3_600_000 });
    const v6 = await L.hold(20, { intervalMs: 3_600_000, v6: true });
    try {
      const ports4 = (await v4.opened).map((o) => o.localPort);
      const ports6 = (await v6.opened).map((o) => o.localPort);
      const marks4 = await L.flowMarks(L.addr.ports.hold, 4);
      const marks6 = await L.flowMarks(L.addr.ports.hold, 6);
      const dead4 = ports4.filter((p) => marks4.get(p) === 2);
      const dead6 = ports6.filter((p) => marks6.get(p) === 2);
      assert.ok(dead4.length > 0 && dead4.length < 20 && dead6.length > 0 && dead6.length < 20, `some flows on wan2: ${dead4.length} + ${dead6.length}`);
      await L.lab.fault('wan2', { kind: 'blackhole' });
      const r = await L.applyOk(cfg(nudges), { wan2: 'offline' });
      assert.deepEqual(r.conntrack.map((c) => c.link), ['wan2']);
      if (!nudges) {
        assert.equal(r.conntrack[0]!.nudged, undefined);
        // Control: nothing provokes an idle connection, so none notices (it would at its next write).
        await sleep(1500);
        assert.equal(v4.broken.length + v6.broken.length, 0, 'without nudges idle flows stay unaware');
        continue;
      }
      assert.equal(r.conntrack[0]!.nudged, dead4.length + dead6.length, 'one nudge per wan2 connection');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (v4.broken.length < dead4.length || v6.broken.length < dead6.length)) await sleep(50);
      // Seen once in 16 whole-suite runs (one IPv6 flow), not reproduced since: on a miss, say
      // what the router's conntrack holds for the flows that were not reset.
      for (const [family, flows, ports, dead] of [[4, v4, ports4, dead4], [6, v6, ports6, dead6]] as const) {
        const reset = new Set(flows.broken.map((b) => ports[b.id]!));
        const missed = dead.filter((p) => !reset.has(p));
        if (missed.length === 0) continue;
        const ct = await Promise.all(missed.map((p) => L.conntrackOf(p, family)));
        assert.fail(`IPv${family} wan2 flows not reset within 5 s of their nudge: ${missed.map((p, i) => `port ${p}: conntrack ${ct[i]}`).join('; ')}`);
      }
      assert.deepEqual(v4.broken.map((b) => ports4[b.id]!).sort(), [...dead4].sort(), 'exactly the IPv4 wan2 flows were reset');
      assert.deepEqual(v6.broken.map((b) => ports6[b.id]!).sort(), [...dead6].sort(), 'exactly the IPv6 wan2 flows were reset');
      for (const b of [...v4.broken, ...v6.broken]) assert.equal(b.error, 'ECONNRESET');
      // The healthy ones still answer.
      const s4 = await v4.stats();
      assert.equal(s4.alive, 20 - dead4.length);
    } finally {
      v4.close();
      v6.close();
      await L.lab.fault('wan2', { kind: 'clear' });
    }
  }
});

test('a port-forwarded connection that came in through the dead link gets no nudge toward the internet; an outbound one on the same link is reset (control)', async () => {
  const wan2 = L.addr.links[1]!;
  // A port forward on every WAN to an echo server in the client (the LAN), and a main-table
  // default route (as a DHCP client would install): an un-NATed nudge would have a way out.
  await L.lab.exec('router', ['nft', '-f', '-'], {
    input: 'table inet portfwd {\n  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n    iifname { "wan1", "wan2", "wan3" } tcp dport 8080 dnat ip to 198.18.100.2:8080\n  }\n}\n',
  });
  await L.lab.ip('router', [`route add default via ${L.addr.links[2]!.gateway4} dev wan3 proto dhcp`]);
  const server = await L.listen('client', 8080, { echo: true });
  const cfg = labConfig(L.addr, [1, 1, 1]);
  await L.applyOk(cfg);
  const inbound = await L.hold(4, { node: 'inet', host: wan2.router4, port: 8080, intervalMs: 3_600_000 });
  const outbound = await L.hold(20, { intervalMs: 3_600_000 });
  try {
    const inPorts = (await inbound.opened).map((o) => o.localPort);
    const outPorts = (await outbound.opened).map((o) => o.localPort);
    const ct = await L.lab.exec('router', ['conntrack', '-L', '-p', 'tcp', '--orig-dst', wan2.router4, '--dport', '8080']);
    const inMarks = [...ct.stdout.matchAll(/mark=(\d+)/g)].map((m) => (Number(m[1]) >>> 16) & 0xff);
    assert.ok(inMarks.length === 4 && inMarks.every((m) => m === 2), `the inbound connections are pinned to wan2: ${ct.stdout}`);
    const outMarks = await L.flowMarks(L.addr.ports.hold);
    const deadOut = outPorts.filter((p) => outMarks.get(p) === 2);
    assert.ok(deadOut.length > 0, 'some outbound connections on wan2');

    // Capture on the WAN side: anything toward the internet clients' ports; and the nudges to the
    // LAN (mark main, leaving lan0) as the capture's positive control.
    const ports = inPorts.join(', ');
    await L.lab.exec('router', ['nft', '-f', '-'], {
      input: [
        'add table inet leakprobe',
        'add chain inet leakprobe post { type filter hook postrouting priority 0; policy accept; }',
        `add rule inet leakprobe post oifname { "wan1", "wan2", "wan3" } tcp dport { ${ports} } counter comment "toward_internet"`,
        `add rule inet leakprobe post oifname "lan0" meta mark 0x00ff0000 tcp flags & (syn | rst | ack) == ack counter comment "nudges_to_lan"`,
      ].join('\n') + '\n',
    });
    const counters = async (): Promise<Record<string, number>> => {
      const doc = JSON.parse((await L.lab.exec('router', ['nft', '-j', 'list', 'table', 'inet', 'leakprobe'])).stdout) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
      const out: Record<string, number> = {};
      for (const o of doc.nftables) if (o.rule?.comment) out[o.rule.comment] = o.rule.expr.find((e) => e.counter)!.counter!.packets;
      return out;
    };

    await L.lab.fault('wan2', { kind: 'blackhole' });
    const r = await L.applyOk(cfg, { wan2: 'offline' });
    assert.equal(r.conntrack[0]!.nudged, deadOut.length, 'only the outbound connections were nudged');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && outbound.broken.length < deadOut.length) await sleep(50);
    assert.deepEqual(outbound.broken.map((b) => outPorts[b.id]!).sort(), [...deadOut].sort(), 'control: the outbound wan2 connections were reset');
    // Every nudge that will ever be sent for this failover has been, once the nudger follows nothing.
    for (let i = 0; i < 100 && (await L.status()).nudges?.following !== 0; i++) await sleep(50);
    assert.equal((await L.status()).nudges?.following, 0);
    const c = await counters();
    assert.ok((c.nudges_to_lan ?? 0) >= deadOut.length, `control: the capture sees the nudges to the LAN: ${JSON.stringify(c)}`);
    assert.equal(c.toward_internet, 0, `nothing went toward the internet clients of the port forward: ${JSON.stringify(c)}`);
    assert.equal(inbound.broken.length, 0, 'the inbound connections were not reset by the router');
  } finally {
    inbound.close();
    outbound.close();
    server.kill();
    await L.lab.fault('wan2', { kind: 'clear' });
    await L.lab.exec('router', ['nft', '-f', '-'], { input: 'add table inet leakprobe\ndelete table inet leakprobe\nadd table inet portfwd\ndelete table inet portfwd\n' });
    await L.lab.ip('router', ['route flush proto dhcp']);
  }
});
