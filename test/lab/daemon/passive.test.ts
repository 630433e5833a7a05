/**
 * The passive signal on the real kernel, through the whole daemon: the interface counters
 * (RTM_GETSTATS) of a link that carries LAN traffic.
 *
 *   client ── lan0 [router: wanbraid run] wan1 ── isp1 ─┐
 *                                         wan2 ── isp2 ─┴── inet (198.19.0.1/.2 track IPs,
 *                                                               198.19.0.10 the LAN flows' server)
 *   LAN traffic to 198.19.0.10 (ICMP, and UDP to port 9999) is steered onto wan2 (wan1 as a
 *   second tier); inet drops UDP to port 9999 silently, so that flow is one-way.
 *
 * 1. `probe.passive: false` on wan2 with a one-way flow running: no suspicion. Then reloaded to
 *    `passive: true` with the same flow (the positive control): suspicions come, every one is
 *    cleared by its burst, the link stays online, and the backoff bounds them.
 * 2. A ping flood from the client through wan2, then wan2's upstream blackholed: wan2 goes offline
 *    through the passive path (reason `traffic-silent`, a suspicion confirmed), and new LAN flows
 *    get through over wan1. Asserted on reasons and events, never on elapsed time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Lab } from '../../../src/lab/lab.js';
import { DaemonProcess, statusOf, type LogLine } from '../harness/daemon.js';
import { stateLine } from '../harness/router-view.js';

const SERVER = '198.19.0.10';

const config = (passive: boolean) => `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
links:
  - name: wan1
    interface: wan1
    gateway: 198.18.1.254
    probe: { targets: [198.19.0.1, 198.19.0.2] }
  - name: wan2
    interface: wan2
    gateway: 198.18.2.254
    probe: { targets: [198.19.0.1, 198.19.0.2], passive: ${passive} }
policies:
  wan2-first:
    links: [{ link: wan2, tier: 1 }, { link: wan1, tier: 2 }]
  balanced: { links: [wan1, wan2] }
rules:
  - { name: flows, match: { dst: [${SERVER}/32] }, policy: wan2-first }
  - { name: default, policy: balanced }
`;

/** A UDP stream of 200 packets/s from the client to SERVER:9999 (dropped in inet: no reply ever). */
const UDP_STREAM = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    s.sendto(b'x' * 64, ('${SERVER}', 9999))
    time.sleep(0.005)
`;

const passiveLine = (link: string, phase: string) => (l: LogLine) => l.link === link && l.op === 'passive' && l.phase === phase;

/** Packets sent through a router interface so far. */
async function txPackets(lab: Lab, dev: string): Promise<number> {
  const r = await lab.exec('router', ['ip', '-j', '-s', 'link', 'show', 'dev', dev]);
  const j = JSON.parse(r.stdout) as { stats64: { tx: { packets: number } } }[];
  return j[0]!.stats64.tx.packets;
}

function end(p: ChildProcess | undefined): void {
  if (p?.pid !== undefined && p.exitCode === null) p.kill('SIGTERM');
}

test('passive signal: off → no suspicion; on → a one-way flow is suspected and cleared, bounded; a busy link blackholed goes offline through it', async (t) => {
  const lab = await Lab.up({ links: 2 });
  let d: DaemonProcess | undefined;
  let udp: ChildProcess | undefined;
  let flood: ChildProcess | undefined;
  try {
    await lab.exec('inet', ['nft', 'add table inet passive_test; add chain inet passive_test in { type filter hook input priority 0; }; add rule inet passive_test in udp dport 9999 drop']);
    d = await DaemonProcess.start(lab.ns('router'), config(false));
    for (const l of ['wan1', 'wan2']) await d.waitForLog(stateLine(l, 'online'), 20_000);

    // 1a. passive off, one-way flow on wan2.
    const tx0 = await txPackets(lab, 'wan2');
    udp = lab.spawn('client', ['python3', '-c', UDP_STREAM]);
    const offMark = d.logs.length;
    // The flow runs through wan2 (a marker: wait for it to have left, then 5 s more).
    for (let i = 0; i < 100 && (await txPackets(lab, 'wan2')) - tx0 < 500; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await txPackets(lab, 'wan2')) - tx0 >= 500, 'the one-way flow leaves through wan2');
    await new Promise((r) => setTimeout(r, 5000));
    assert.deepEqual(d.logs.slice(offMark).filter((l) => l.op === 'passive'), [], 'passive: false makes no suspicion');
    let st = statusOf(await d.request({ cmd: 'status' }));
    const wan2Off = st.links.find((l) => l.name === 'wan2')! as unknown as { passive: { enabled: boolean; suspicions: number } };
    assert.equal(wan2Off.passive.enabled, false);
    assert.equal(wan2Off.passive.suspicions, 0);

    // 1b. The positive control: the same flow with passive on.
    const onMark = d.logs.length;
    d.writeConfig(config(true));
    assert.ok((await d.request({ cmd: 'reload' })).ok);
    await d.waitForLog(passiveLine('wan2', 'suspect'), 15_000, onMark);
    await d.waitForLog(passiveLine('wan2', 'cleared'), 15_000, onMark);
    // Let the pattern persist: the backoff must keep the bursts few.
    await new Promise((r) => setTimeout(r, 10_000));
    const lines = d.logs.slice(onMark);
    const suspects = lines.filter(passiveLine('wan2', 'suspect')).length;
    const cleared = lines.filter(passiveLine('wan2', 'cleared')).length;
    const pending = lines.filter(passiveLine('wan2', 'suspect')).length - cleared;
    assert.ok(pending === 0 || pending === 1, `${suspects} suspicions, ${cleared} cleared`);
    // Base 300 ms, then 600: a probe answers every 500 ms, so with no probe lost one suspicion is
    // the expectation; each lost probe pair could add one more. 4 is a loose bound; without the
    // backoff there would be one per probe interval (about 20 in these 10 s).
    t.diagnostic(`one-way flow, passive on: ${suspects} suspicions, ${cleared} cleared`);
    assert.ok(suspects >= 1 && suspects <= 4, `${suspects} suspicions in about 11 s`);
    assert.equal(lines.filter(passiveLine('wan2', 'confirmed')).length, 0);
    assert.deepEqual(lines.filter((l) => l.link === 'wan2' && typeof l.state === 'string' && typeof l.prev === 'string'), [], 'wan2 never changed state');
    st = statusOf(await d.request({ cmd: 'status' }));
    const wan2On = st.links.find((l) => l.name === 'wan2')! as unknown as { state: string; passive: { enabled: boolean; suspicions: number; cleared: number; backoff: number } };
    assert.equal(wan2On.state, 'online');
    assert.equal(wan2On.passive.enabled, true);
    assert.ok(wan2On.passive.backoff >= 1, 'the threshold is raised while the pattern persists');
    end(udp);

    // 2. A busy link: a ping flood from the client through wan2, then its upstream blackholed.
    flood = lab.spawn('client', ['ping', '-q', '-i', '0.005', SERVER]);
    const tx1 = await txPackets(lab, 'wan2');
    for (let i = 0; i < 100 && (await txPackets(lab, 'wan2')) - tx1 < 500; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    const faultMark = d.logs.length;
    await lab.fault('wan2', { kind: 'blackhole' });
    const off = await d.waitForLog(stateLine('wan2', 'offline'), 15_000, faultMark);
    const reason = off.reason as { kind: string; lost: number; sent: number; silenceMs: number };
    assert.equal(reason.kind, 'traffic-silent', `offline by ${JSON.stringify(off.reason)}`);
    assert.equal(reason.lost, reason.sent);
    t.diagnostic(`blackhole on the busy link: ${String(off.msg)}`);
    assert.match(String(off.msg), /^traffic silent for \d+ ms \(threshold \d+ ms\), 6\/6 burst probes lost$/);
    assert.ok(d.logs.slice(faultMark).some(passiveLine('wan2', 'confirmed')));
    assert.equal(d.logs.slice(faultMark).filter(stateLine('wan1', 'offline')).length, 0, 'wan1 untouched');
    end(flood);
    // New LAN flows to the same server get through over wan1 (once the plan is applied).
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) ok = (await lab.exec('client', ['ping', '-c', '1', '-W', '1', SERVER], { allowFail: true })).code === 0;
    assert.ok(ok, 'a new flow reaches the server over wan1');
    st = statusOf(await d.request({ cmd: 'status' }));
    const wan2Dead = st.links.find((l) => l.name === 'wan2')! as unknown as { passive: { confirmed: number } };
    assert.equal(wan2Dead.passive.confirmed, 1);
    const back = d.logs.length;
    await lab.fault('wan2', { kind: 'clear' });
    await d.waitForLog(stateLine('wan2', 'online'), 15_000, back);
  } finally {
    end(udp);
    end(flood);
    await d?.stop();
    d?.cleanup();
    await lab.down();
  }
});
