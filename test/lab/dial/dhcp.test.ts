/**
 * Multi-dial over DHCP with the real daemon (issue 11): four sessions over one port of an ISP that
 * hands one lease per MAC and caps each session; each session becomes a link, traffic balances
 * over them, a lost session is redialled without touching the others, and a stop leaves the router
 * as it was (the parent untouched).
 *
 *  client ── lan0 [router: wanbraid run] eth1 ═╤═ wbm-isp1..4 (macvlans, dhcpcd each)
 *                                               └── acc0 [isp: dnsmasq, htb per session] ── [inet: services]
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DialLab, DIAL_LAB, dialSessionAddress } from '../../../src/lab/dial-isp.js';
import { LAB_PORTS } from '../../../src/lab/addressing.js';
import { sessionMac } from '../../../src/dial/naming.js';
import type { DialStatus } from '../../../src/dial/status.js';
import { DaemonProcess, statusOf, type LogLine } from '../harness/daemon.js';
import { stateLine } from '../harness/router-view.js';
import { HoldFlows } from '../plan/harness.js';
import { exec } from '../../../src/util/exec.js';

const TRAFFIC = fileURLToPath(new URL('../plan/traffic.js', import.meta.url));
const SESSIONS = 4;

const config = `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
dials:
  - name: isp
    parent: eth1
    sessions: ${SESSIONS}
    method: dhcp
    dial: { mode: sync, redial: 1s..8s }
    link:
      probe: { method: tcp, port: ${LAB_PORTS.http}, targets: [${DIAL_LAB.inet[0]}], interval: 200ms, timeout: 600ms, down: 2, up: 2 }
`;

const sessionLine = (link: string, state: string) => (l: LogLine) => l.op === 'session' && l.link === link && l.state === state;

async function dials(d: DaemonProcess): Promise<DialStatus[]> {
  return statusOf(await d.request({ cmd: 'status' })).dials as DialStatus[];
}

/** Router interfaces, addresses and processes; what a stop must leave as it was. */
async function routerState(lab: DialLab) {
  const links = JSON.parse((await lab.exec('router', ['ip', '-j', '-d', 'link', 'show'])).stdout) as { ifname: string; address: string; flags: string[] }[];
  // Addresses as `local/prefixlen` (DAD flags such as `tentative` change on their own).
  const eth1 = (JSON.parse((await lab.exec('router', ['ip', '-j', 'addr', 'show', 'dev', 'eth1'])).stdout) as { addr_info: { local: string; prefixlen: number }[] }[])
    .flatMap((i) => i.addr_info.map((a) => `${a.local}/${a.prefixlen}`))
    .sort();
  const kernel = await lab.exec('router', ['sh', '-c', 'ip rule; ip route show table all proto 87; ip nexthop show; nft list tables']);
  return { links, eth1, kernel: kernel.stdout.split('\n').filter((l) => l.trim() !== '' && !/^\d+:\s+from all lookup (local|main|default)\s*$/.test(l)) };
}

test('four DHCP sessions over one port: links online, balanced; a lost session is redialled alone; stop leaves the parent untouched', async () => {
  const lab = await DialLab.up({ dial: 'isp', sessions: SESSIONS, rateMbit: 20, services: true });
  let d: DaemonProcess | undefined;
  let hold: HoldFlows | undefined;
  try {
    const before = await routerState(lab);
    const eth1Before = before.links.find((l) => l.ifname === 'eth1')!;

    d = await DaemonProcess.start(lab.ns.ns('router'), config);
    for (let i = 1; i <= SESSIONS; i++) await d.waitForLog(stateLine(`isp${i}`, 'online'), 30_000);

    // Status: every session up with the lease the ISP keeps for its MAC, one attempt each.
    let st = await dials(d);
    assert.equal(st.length, 1);
    assert.equal(st[0]!.total, SESSIONS);
    assert.equal(st[0]!.up, SESSIONS);
    for (const s of st[0]!.sessions) {
      assert.equal(s.state, 'up', `${s.link}: ${JSON.stringify(s)}`);
      assert.equal(s.address, `${dialSessionAddress(s.index)}/24`);
      assert.equal(s.router, DIAL_LAB.accessGateway);
      assert.equal(s.mac, sessionMac('isp', s.index));
      assert.equal(s.attempts, 1);
      assert.equal(typeof s.pid, 'number');
    }
    // The macvlans carry the stable MACs; dhcpcd installed no default route and no DNS.
    const macs = JSON.parse((await lab.exec('router', ['ip', '-j', 'link', 'show', 'type', 'macvlan'])).stdout) as { ifname: string; address: string }[];
    assert.deepEqual(
      macs.map((m) => [m.ifname, m.address]).sort(),
      Array.from({ length: SESSIONS }, (_, k) => [`wbm-isp${k + 1}`, sessionMac('isp', k + 1)]).sort(),
    );
    assert.equal((await lab.exec('router', ['ip', 'route', 'show', 'default'])).stdout.trim(), '', 'no default route in main (wanbraid owns routing)');

    // New flows spread over the four sessions (the address the server sees is the session's).
    const census = await lab.exec('client', [process.execPath, TRAFFIC, 'ip', JSON.stringify({ host: DIAL_LAB.inet[0], port: LAB_PORTS.http, count: 200, concurrency: 16 })], { timeoutMs: 60_000 });
    const seen = (JSON.parse(census.stdout.trim().split('\n').pop()!) as { seen: Record<string, number>; failures: string[] });
    assert.deepEqual(seen.failures, []);
    for (let i = 1; i <= SESSIONS; i++) assert.ok((seen.seen[dialSessionAddress(i)] ?? 0) >= 20, `session ${i} carried new flows: ${JSON.stringify(seen.seen)}`);

    // Long-lived flows on every session, then session 2's macvlan is deleted under it.
    hold = new HoldFlows(lab.ns.spawn('client', [process.execPath, TRAFFIC, 'hold', JSON.stringify({ host: DIAL_LAB.inet[0], port: LAB_PORTS.hold, count: 24, intervalMs: 100 })], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const opened = await hold.opened;
    const sessionOf = await lab.flowSessions(LAB_PORTS.hold);
    const lost = dialSessionAddress(2);
    const onOthers = opened.filter((o) => sessionOf.has(o.localPort) && sessionOf.get(o.localPort) !== lost);
    const onLost = opened.filter((o) => sessionOf.get(o.localPort) === lost);
    assert.ok(onOthers.length >= 6 && onLost.length >= 1, `flows on every session: ${JSON.stringify([...sessionOf.values()])}`);

    const mark = d.logs.length;
    await lab.exec('router', ['ip', 'link', 'del', 'dev', 'wbm-isp2']);
    await d.waitForLog(stateLine('isp2', 'offline'), 10_000, mark);
    const failed = await d.waitForLog(sessionLine('isp2', 'failed'), 10_000, mark);
    assert.equal(failed.error, 'the macvlan wbm-isp2 went away');
    await d.waitForLog(sessionLine('isp2', 'up'), 30_000, mark);
    await d.waitForLog(stateLine('isp2', 'online'), 30_000, mark);
    st = await dials(d);
    const s2 = st[0]!.sessions.find((s) => s.link === 'isp2')!;
    assert.equal(s2.attempts, 2);
    assert.equal(s2.lastError, 'the macvlan wbm-isp2 went away');
    for (const s of st[0]!.sessions.filter((x) => x.link !== 'isp2')) assert.equal(s.attempts, 1, `${s.link} was not touched`);
    // No other session changed state while isp2 was lost and redialled.
    const others = d.logs.slice(mark).filter((l) => (l.op === 'session' || typeof l.prev === 'string') && typeof l.link === 'string' && l.link !== 'isp2' && /^isp\d+$/.test(l.link));
    assert.deepEqual(others, [], 'the other sessions were not touched');

    // The flows on the other sessions kept echoing, unbroken; the hold tool does see breaks (positive control: isp2's flows).
    const stats = await hold.stats();
    const brokenIds = new Set(stats.broken);
    const brokenOthers = onOthers.filter((o) => brokenIds.has(o.id));
    assert.deepEqual(brokenOthers, [], `flows on the other sessions broke: ${JSON.stringify(hold.broken)}`);
    assert.ok(onLost.some((o) => brokenIds.has(o.id)), `the lost session's flows broke (positive control): ${JSON.stringify(hold.broken)}`);
    hold.close();
    hold = undefined;

    // A macvlan set down from outside: the session is ended and redialled (the macvlan made anew).
    const mark4 = d.logs.length;
    await lab.exec('router', ['ip', 'link', 'set', 'dev', 'wbm-isp4', 'down']);
    await d.waitForLog(stateLine('isp4', 'offline'), 10_000, mark4);
    const f4 = await d.waitForLog(sessionLine('isp4', 'failed'), 10_000, mark4);
    assert.equal(f4.error, 'the macvlan wbm-isp4 was set down');
    await d.waitForLog(stateLine('isp4', 'online'), 30_000, mark4);
    const isp4 = JSON.parse((await lab.exec('router', ['ip', '-j', 'link', 'show', 'dev', 'wbm-isp4'])).stdout) as { flags: string[] }[];
    assert.ok(isp4[0]!.flags.includes('UP'), 'the new macvlan is up');

    // A client that dies is redialled too, alone.
    const pid3 = st[0]!.sessions.find((s) => s.link === 'isp3')!.pid!;
    const mark3 = d.logs.length;
    process.kill(pid3, 'SIGKILL');
    const f3 = await d.waitForLog(sessionLine('isp3', 'failed'), 10_000, mark3);
    assert.match(String(f3.error), /^the DHCP client exited \(signal SIGKILL\)/);
    await d.waitForLog(sessionLine('isp3', 'up'), 30_000, mark3);

    // Stop: macvlans, clients, routes, rules and nft gone; eth1 exactly as before.
    const clientPids = (await dials(d))[0]!.sessions.map((s) => s.pid!).filter((p) => p !== undefined);
    assert.equal(clientPids.length, SESSIONS);
    assert.equal(await d.stop(), 0);
    d = undefined;
    const after = await routerState(lab);
    assert.deepEqual(after.links.filter((l) => l.ifname.startsWith('wbm-')), [], 'the macvlans are gone');
    assert.deepEqual(after.kernel, [], 'no rule, route, nexthop or nft table of wanbraid is left');
    const eth1After = after.links.find((l) => l.ifname === 'eth1')!;
    assert.deepEqual([eth1After.address, eth1After.flags], [eth1Before.address, eth1Before.flags], 'the parent is untouched');
    assert.deepEqual(after.eth1, before.eth1, "the parent's addresses are untouched");
    for (const p of clientPids) assert.throws(() => process.kill(p, 0), /ESRCH/, `client ${p} ended`);
    const left = (await exec(['ip', 'netns', 'pids', lab.ns.ns('router')])).stdout.trim();
    assert.equal(left, '', 'no process is left in the router namespace');
  } catch (err) {
    // Debugging aid: WANBRAID_TEST_DUMP=FILE keeps the daemon's log lines of a failed run.
    if (process.env.WANBRAID_TEST_DUMP && d) (await import('node:fs')).writeFileSync(process.env.WANBRAID_TEST_DUMP, d.logs.map((l) => JSON.stringify(l)).join("\n") + "\nSTDERR:" + d.stderr.join(""));
    throw err;
  } finally {
    hold?.close();
    if (d) await d.stop().catch(() => null);
    d?.cleanup();
    await lab.destroy();
  }
});

test('a daemon killed outright leaves its clients; the next start ends them by PID and takes the sessions over; its stop leaves no process', async () => {
  const lab = await DialLab.up({ dial: 'isp', sessions: 2, services: true });
  let d: DaemonProcess | undefined;
  try {
    const cfg = config.replace(`sessions: ${SESSIONS}`, 'sessions: 2');
    d = await DaemonProcess.start(lab.ns.ns('router'), cfg);
    for (const l of ['isp1', 'isp2']) await d.waitForLog(sessionLine(l, 'up'), 30_000);
    const first = (await dials(d))[0]!.sessions.map((s) => s.pid!);
    const dir = d.dir;
    await d.kill();
    for (const p of first) assert.doesNotThrow(() => process.kill(p, 0), `client ${p} outlived the crash`);
    // The same runtime directory (same socket path): the pid files of the crashed run are there.
    d = await DaemonProcess.start(lab.ns.ns('router'), cfg, { dir });
    for (const l of ['isp1', 'isp2']) await d.waitForLog(stateLine(l, 'online'), 30_000);
    assert.ok(d.logs.some((l) => l.msg === 'ending the client an earlier run left'), 'the leftovers were ended');
    for (const p of first) assert.throws(() => process.kill(p, 0), /ESRCH/, `leftover client ${p} ended`);
    const managers = (await lab.exec('router', ['ps', '-e', '-o', 'pid=,args='])).stdout.split('\n').filter((l) => /dhcpcd: wbm-isp\d \[ip4\]/.test(l));
    const inNs = (await exec(['ip', 'netns', 'pids', lab.ns.ns('router')])).stdout.split('\n').filter(Boolean);
    assert.equal(managers.filter((m) => inNs.includes(m.trim().split(/\s+/)[0]!)).length, 2, `one dhcpcd per session: ${managers.join(' | ')}`);
    assert.equal(await d.stop(), 0);
    d = undefined;
    assert.equal((await exec(['ip', 'netns', 'pids', lab.ns.ns('router')])).stdout.trim(), '', 'no process is left in the router namespace');
  } finally {
    if (d) await d.stop().catch(() => null);
    d?.cleanup();
    await lab.destroy();
  }
});

test('stagger mode dials one session every `stagger`, in order', async () => {
  const lab = await DialLab.up({ dial: 'isp', sessions: 3, services: true });
  let d: DaemonProcess | undefined;
  try {
    d = await DaemonProcess.start(lab.ns.ns('router'), config.replace(`sessions: ${SESSIONS}`, 'sessions: 3').replace('mode: sync', 'mode: stagger, stagger: 400ms'));
    for (const l of ['isp1', 'isp2', 'isp3']) await d.waitForLog(sessionLine(l, 'up'), 30_000);
    const at = ['isp1', 'isp2', 'isp3'].map((l) => Date.parse(String(d!.logs.find(sessionLine(l, 'dialling'))!.time)));
    // Timers never fire early: session i is dialled (i - 1) × 400 ms or later after session 1 (a
    // few ms of slack for wall-clock log times against the monotonic timers; lateness is not bounded).
    assert.ok(at[1]! - at[0]! >= 390 && at[2]! - at[0]! >= 790, `dialled at +${at[1]! - at[0]!} ms and +${at[2]! - at[0]!} ms`);
    assert.equal(await d.stop(), 0);
    d = undefined;
  } finally {
    if (d) await d.stop().catch(() => null);
    d?.cleanup();
    await lab.destroy();
  }
});
