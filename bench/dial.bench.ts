/**
 * Multi-dial's goals (issue 11), measured in the dial lab (src/lab/dial-isp.ts) with the real
 * daemon:
 *
 *  client ── lan0 [router: wanbraid run] eth1 ═╤═ wbm-isp1..N (dhcpcd each)
 *                                               └── acc0 [isp: dnsmasq, htb per session] ── [inet: iperf3, relay exit]
 *
 * 1. Four sessions, each capped at 20 Mbit/s both ways by the ISP: 32 parallel LAN flows
 *    (iperf3 -P 32, download) against the sum of the caps (80 Mbit/s); the reference in the same
 *    run is one session alone (iperf3 from the router bound to session 1's address, one flow).
 * 2. One TCP flow through the relay striped over the four sessions (a fixed-target entry on the
 *    router, one path per session; an exit-only daemon in inet), download, against the same 80.
 * 3. Sixteen sessions dialled in `sync` mode (no caps): from the daemon's "starting" line to the
 *    last "session up" (and to the last link online).
 *    Then a session lost under 32 long-lived flows (its macvlan deleted): how soon its link is
 *    offline and back online, and how many flows on the other sessions broke (goal 0).
 * 4. The daemon's CPU while idle with those sixteen sessions up and probed (default probe interval):
 *    utime + stime of its process over a window, as a share of one core; the clients' CPU apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DialLab, DIAL_LAB, dialSessionAddress } from '../src/lab/dial-isp.js';
import { HoldFlows } from '../test/lab/plan/harness.js';
import { LAB_PORTS } from '../src/lab/addressing.js';
import { generateKey } from '../src/relay/key.js';
import { DaemonProcess, type LogLine } from '../test/lab/harness/daemon.js';
import { goal, median, type BenchContext, type Benchmark, type Goal } from './harness.js';

const CAP_MBIT = 20;
const TRAFFIC = fileURLToPath(new URL('../test/lab/plan/traffic.js', import.meta.url));
const IPERF_PORT = LAB_PORTS.iperf3[0];

const dialConfig = (sessions: number, extra = '') => `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
dials:
  - name: isp
    parent: eth1
    sessions: ${sessions}
    method: dhcp
    dial: { mode: sync }
    link:
      probe: { method: tcp, port: ${LAB_PORTS.http}, targets: [${DIAL_LAB.inet[0]}] }
${extra}`;

const online = (link: string) => (l: LogLine) => l.link === link && l.state === 'online' && typeof l.prev === 'string';
const sessionUp = (l: LogLine) => l.op === 'session' && l.state === 'up';

async function waitAllOnline(d: DaemonProcess, n: number, timeoutMs = 60_000): Promise<void> {
  for (let i = 1; i <= n; i++) await d.waitForLog(online(`isp${i}`), timeoutMs);
}

/** iperf3 from `node` to `host:port`; received Mbit/s (download with `reverse`). */
async function iperf(lab: DialLab, node: string, args: { host: string; port: number; seconds: number; parallel?: number; reverse?: boolean; bind?: string }): Promise<number> {
  const argv = ['iperf3', '-c', args.host, '-p', String(args.port), '-t', String(args.seconds), '-O', '1', '-J', '-P', String(args.parallel ?? 1)];
  if (args.reverse) argv.push('-R');
  if (args.bind) argv.push('-B', args.bind);
  // iperf3 serves one test at a time: a server still closing the previous test (the relay exit
  // holds its connection a moment after the client is done) answers "busy". Try again then.
  for (let attempt = 1; ; attempt++) {
    const r = await lab.exec(node, argv, { timeoutMs: (args.seconds + 30) * 1000, allowFail: true });
    const j = JSON.parse(r.stdout || '{}') as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
    const bps = j.end?.sum_received?.bits_per_second;
    if (bps !== undefined && !j.error) return bps / 1e6;
    if (attempt >= 3 || !/busy/i.test(j.error ?? '')) throw new Error(`iperf3 ${argv.slice(1).join(' ')} on ${node}: ${j.error ?? r.stderr.trim() ?? `exit ${r.code}`}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
}

async function groupTicks(lab: DialLab, comm: string): Promise<number> {
  const r = await lab.exec('router', ['ip', 'netns', 'pids', lab.ns.ns('router')]);
  let t = 0;
  for (const p of r.stdout.split('\n').filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) t += cpuTicks(p);
    } catch {
      // gone
    }
  }
  return t;
}

/**
 * 32 long-lived flows over the four sessions, then session 2's macvlan deleted under them: how soon
 * its link is offline (from the deletion to the daemon's log line), how soon it is back online after
 * the redial, and how many flows on the other sessions broke meanwhile.
 */
async function sessionLoss(lab: DialLab, d: DaemonProcess): Promise<{ offlineMs: number; onlineMs: number; flowsOthers: number; flowsLost: number; brokenOthers: number }> {
  const hold = new HoldFlows(lab.ns.spawn('client', [process.execPath, TRAFFIC, 'hold', JSON.stringify({ host: DIAL_LAB.inet[0], port: LAB_PORTS.hold, count: 32, intervalMs: 100 })], { stdio: ['pipe', 'pipe', 'pipe'] }));
  try {
    const opened = await hold.opened;
    const sessionOf = await lab.flowSessions(LAB_PORTS.hold);
    const lost = dialSessionAddress(2);
    const others = opened.filter((o) => sessionOf.has(o.localPort) && sessionOf.get(o.localPort) !== lost);
    const mark = d.logs.length;
    const t0 = Date.now();
    await lab.exec('router', ['ip', 'link', 'del', 'dev', 'wbm-isp2']);
    const off = await d.waitForLog((l) => l.link === 'isp2' && l.state === 'offline' && typeof l.prev === 'string', 10_000, mark);
    const on = await d.waitForLog(online('isp2'), 60_000, mark);
    const stats = await hold.stats();
    const broken = new Set(stats.broken);
    return {
      offlineMs: Date.parse(String(off.time)) - t0,
      onlineMs: Date.parse(String(on.time)) - t0,
      flowsOthers: others.length,
      flowsLost: opened.length - others.length,
      brokenOthers: others.filter((o) => broken.has(o.id)).length,
    };
  } finally {
    hold.close();
  }
}

async function throughput(ctx: BenchContext, trials: number, seconds: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const lab = await DialLab.up({ dial: 'isp', sessions: 4, rateMbit: CAP_MBIT, services: true });
  let entry: DaemonProcess | undefined;
  let exit: DaemonProcess | undefined;
  try {
    lab.ns.spawn('inet', ['iperf3', '-s', '-p', String(IPERF_PORT)], { stdio: 'ignore' });
    await lab.waitPort('inet', IPERF_PORT);
    const key = join(lab.dir, 'relay.key');
    writeFileSync(key, generateKey() + '\n', { mode: 0o600 });
    exit = await DaemonProcess.start(
      lab.ns.ns('inet'),
      `status: { socket: "@SOCKET@" }\nrelay:\n  exit:\n    listen: ${DIAL_LAB.inet[1]}:7000\n    keyFile: ${key}\n    allow: ["${DIAL_LAB.inet[0]}:${IPERF_PORT}"]\n`,
    );
    const relay = `relay:\n  entries:\n    - name: striped\n      listen: ${DIAL_LAB.lanRouter}:30010\n      target: ${DIAL_LAB.inet[0]}:${IPERF_PORT}\n      exit: ${DIAL_LAB.inet[1]}:7000\n      keyFile: ${key}\n      paths: [{ link: isp1 }, { link: isp2 }, { link: isp3 }, { link: isp4 }]\n`;
    entry = await DaemonProcess.start(lab.ns.ns('router'), dialConfig(4, relay));
    await waitAllOnline(entry, 4);
    ctx.progress('4 sessions online');
    const single: number[] = [];
    const lan: number[] = [];
    const relayed: number[] = [];
    for (let t = 0; t < trials; t++) {
      single.push(await iperf(lab, 'router', { host: DIAL_LAB.inet[0], port: IPERF_PORT, seconds, reverse: true, bind: '198.18.64.11' }));
      lan.push(await iperf(lab, 'client', { host: DIAL_LAB.inet[0], port: IPERF_PORT, seconds, parallel: 32, reverse: true }));
      relayed.push(await iperf(lab, 'client', { host: DIAL_LAB.lanRouter, port: 30010, seconds, reverse: true }));
      ctx.progress(`trial ${t + 1}/${trials}: single session ${single[t]!.toFixed(1)}, 32 LAN flows ${lan[t]!.toFixed(1)}, one relayed flow ${relayed[t]!.toFixed(1)} Mbit/s`);
    }
    const loss = await sessionLoss(lab, entry);
    ctx.progress(`session 2 lost: offline after ${loss.offlineMs} ms, online again after ${loss.onlineMs} ms; flows broken on the other sessions: ${loss.brokenOthers}/${loss.flowsOthers}`);
    const sum = 4 * CAP_MBIT;
    const lanPct = (100 * median(lan)) / sum;
    const relayPct = (100 * median(relayed)) / sum;
    return {
      goals: [
        goal('4 sessions capped 20 Mbit/s: 32 LAN flows, share of the caps\' sum (80 Mbit/s), median', Math.round(lanPct * 10) / 10, '%', '>=', 90),
        goal('4 sessions capped 20 Mbit/s: one flow through the relay, share of 80 Mbit/s, median', Math.round(relayPct * 10) / 10, '%', '>=', 90),
        goal("a session's macvlan deleted: its link offline after", loss.offlineMs, 'ms', '<=', 1000),
        goal('a session lost and redialled: flows broken on the other sessions', loss.brokenOthers, 'flows', '==', 0),
      ],
      data: { capMbit: CAP_MBIT, seconds, trials, singleSessionMbit: single, lanFlowsMbit: lan, relayedFlowMbit: relayed, sumOfCapsMbit: sum, sessionLoss: loss },
    };
  } finally {
    if (entry) await entry.stop().catch(() => null);
    if (exit) await exit.stop().catch(() => null);
    entry?.cleanup();
    exit?.cleanup();
    await lab.destroy();
  }
}

async function sixteen(ctx: BenchContext, idleSeconds: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const lab = await DialLab.up({ dial: 'isp', sessions: 16, services: true });
  let d: DaemonProcess | undefined;
  try {
    d = await DaemonProcess.start(lab.ns.ns('router'), dialConfig(16));
    const started = d.logs.find((l) => l.msg === 'starting');
    const t0 = Date.parse(String(started?.time));
    for (let i = 1; i <= 16; i++) await d.waitForLog((l) => sessionUp(l) && l.link === `isp${i}`, 60_000);
    const ups = d.logs.filter(sessionUp).map((l) => Date.parse(String(l.time)));
    const allUpMs = Math.max(...ups) - t0;
    await waitAllOnline(d, 16);
    const onlines = Array.from({ length: 16 }, (_, k) => d!.logs.find(online(`isp${k + 1}`))!).map((l) => Date.parse(String(l.time)));
    const allOnlineMs = Math.max(...onlines) - t0;
    ctx.progress(`16 sessions up ${allUpMs} ms after start, online after ${allOnlineMs} ms; idle CPU over ${idleSeconds} s`);
    const hz = 100; // USER_HZ on Linux
    const a0 = cpuTicks(d.pid);
    const c0 = await groupTicks(lab, 'dhcpcd');
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const a1 = cpuTicks(d.pid);
    const c1 = await groupTicks(lab, 'dhcpcd');
    const wall = (performance.now() - w0) / 1000;
    const daemonPct = ((a1 - a0) / hz / wall) * 100;
    const clientsPct = ((c1 - c0) / hz / wall) * 100;
    return {
      goals: [
        goal('16 sessions, sync dial: all sessions up after the daemon started', allUpMs, 'ms', '<=', 5000),
        goal('16 sessions up and probed: daemon CPU while idle, share of one core', Math.round(daemonPct * 100) / 100, '%', '<=', 3),
      ],
      data: { allUpMs, allOnlineMs, sessionUpAtMs: ups.map((u) => u - t0), idleSeconds: wall, daemonCpuPct: daemonPct, dhcpcdCpuPctTotal: clientsPct },
    };
  } finally {
    if (d) await d.stop().catch(() => null);
    d?.cleanup();
    await lab.destroy();
  }
}

export const benchmark: Benchmark = {
  name: 'dial',
  description: 'multi-dial: 4 capped DHCP sessions (32 LAN flows, one relayed flow), 16 sessions sync dial time and idle daemon CPU',
  async run(ctx) {
    const t = await throughput(ctx, ctx.quick ? 1 : 3, ctx.quick ? 4 : 10);
    const s = await sixteen(ctx, ctx.quick ? 5 : 20);
    return { goals: [...t.goals, ...s.goals], data: { throughput: t.data, sixteen: s.data } };
  },
};
