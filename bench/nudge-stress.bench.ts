/**
 * Failover resets, again and again: the two reset scenarios of test/lab/plan/failover.test.ts run
 * back to back in one lab, `runs` times (200; 20 with --quick), and every miss is counted.
 *
 *   client ── lan0 ┐                      ┌ isp1 ─┐
 *                  router (Balancer) wan1 ┤       │
 *                                    wan2 ┤ isp2 ─┼── inet: hold echo :9000
 *                                    wan3 ┘ isp3 ─┘
 *
 * Per run: (busy) 45 IPv4 connections echoing every 50 ms, wan2 blackholed and taken offline, every
 * wan2 connection must be reset within 10 s and no other one break; (idle) 15 IPv4 + 15 IPv6
 * connections that never write, wan2 blackholed and taken offline, every wan2 connection must be
 * reset within 5 s (only the nudges can do it). The test bounds are the lab tests' bounds.
 *
 * Evidence kept per run: the client's TCP counters that say why a stack stayed silent
 * (`nstat`: TcpExtTCPACKSkippedSeq — an out-of-window ACK suppressed by
 * net.ipv4.tcp_invalid_ratelimit; TcpExtTCPACKSkippedChallenge; TcpExtTCPChallengeACK), the
 * router's conntrack statistics (invalid, insert_failed, drop) and its conntrack-invalid forwarded
 * packets by direction (resets from the WAN apart: the ruleset drops those), and the balancer's nudge counters
 * (sent, confirmed by the flow's new conntrack entry, retried, given up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { goal, summary, type Benchmark } from './harness.js';
import { BalancerLab, labConfig, type HoldFlows } from '../test/lab/plan/harness.js';
import type { BalancerStatus } from '../src/kernel/balancer-status.js';

const NSTAT_KEYS = ['TcpExtTCPACKSkippedSeq', 'TcpExtTCPACKSkippedChallenge', 'TcpExtTCPChallengeACK', 'TcpExtTCPACKSkippedPAWS', 'TcpExtTCPACKSkippedSynRecv', 'TcpExtTCPACKSkippedFinWait2', 'TcpExtTCPACKSkippedTimeWait', 'TcpOutRsts', 'TcpEstabResets'];
const CT_KEYS = ['invalid', 'insert_failed', 'drop', 'early_drop', 'error'];

async function nstat(L: BalancerLab): Promise<Record<string, number>> {
  const r = await L.lab.exec('client', ['nstat', '-asz', ...NSTAT_KEYS]);
  const out: Record<string, number> = Object.fromEntries(NSTAT_KEYS.map((k) => [k, 0]));
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+)\s+(\d+)/.exec(line);
    if (m && m[1]! in out) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function ctStats(L: BalancerLab): Promise<Record<string, number>> {
  const r = await L.lab.exec('router', ['conntrack', '-S']);
  const out: Record<string, number> = Object.fromEntries(CT_KEYS.map((k) => [k, 0]));
  for (const m of r.stdout.matchAll(/(\w+)=(\d+)/g)) if (m[1]! in out) out[m[1]!] = out[m[1]!]! + Number(m[2]);
  return out;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) if (b[k]! !== (a[k] ?? 0)) out[k] = b[k]! - (a[k] ?? 0);
  return out;
}

/** Counters in a probe table of the bench's own: conntrack-invalid packets by direction, resets apart. */
async function watchInvalid(L: BalancerLab): Promise<void> {
  const wans = L.addr.links.map((l) => l.iface).join(', ');
  await L.lab.exec('router', ['nft', '-f', '-'], {
    input: [
      'add table inet labinvalid',
      'add chain inet labinvalid probe { type filter hook forward priority -1; policy accept; }',
      `add rule inet labinvalid probe ct state invalid iifname { ${wans} } tcp flags & rst == rst counter comment "rst_from_wan"`,
      `add rule inet labinvalid probe ct state invalid iifname { ${wans} } tcp flags & rst == 0 counter comment "other_from_wan"`,
      `add rule inet labinvalid probe ct state invalid iifname "${L.addr.lan.iface}" counter comment "from_lan"`,
    ].join('\n') + '\n',
  });
}

async function invalidCounters(L: BalancerLab): Promise<Record<string, number>> {
  const r = await L.lab.exec('router', ['nft', '-j', 'list', 'table', 'inet', 'labinvalid']);
  const doc = JSON.parse(r.stdout) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
  const out: Record<string, number> = {};
  for (const o of doc.nftables) {
    const c = o.rule?.expr.find((e) => e.counter)?.counter;
    if (o.rule?.comment && c) out[`invalid_${o.rule.comment}`] = c.packets;
  }
  return out;
}

async function nudgeCounters(L: BalancerLab): Promise<Record<string, number>> {
  const s: BalancerStatus = await L.status();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s.nudges ?? {})) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Wait until every id in `dead` broke (or `ms` passed); the ids that did not. */
async function waitReset(flows: HoldFlows, dead: readonly number[], ms: number): Promise<{ missed: number[]; lastMs: number }> {
  const t0 = Date.now();
  const want = new Set(dead);
  while (Date.now() - t0 < ms && flows.broken.filter((b) => want.has(b.id)).length < want.size) await sleep(20);
  const broken = new Map(flows.broken.map((b) => [b.id, b.at]));
  return { missed: dead.filter((id) => !broken.has(id)), lastMs: Math.max(0, ...dead.map((id) => (broken.get(id) ?? t0) - t0)) };
}

async function deadIds(L: BalancerLab, flows: HoldFlows, family: 4 | 6): Promise<number[]> {
  const opened = await flows.opened;
  const marks = await L.flowMarks(L.addr.ports.hold, family);
  return opened.filter((o) => marks.get(o.localPort) === 2).map((o) => o.id);
}

interface RunResult {
  run: number;
  busy: { dead: number; missed: number; healthyBroken: number; lastResetMs: number };
  idle: { dead: number; missed: number; healthyBroken: number; lastResetMs: number };
  nstat: Record<string, number>;
  conntrack: Record<string, number>;
  nudges: Record<string, number>;
}

async function oneRun(L: BalancerLab, run: number): Promise<RunResult> {
  const cfg = labConfig(L.addr, [1, 1, 1]);
  const [n0, c0, u0] = [await nstat(L), { ...(await ctStats(L)), ...(await invalidCounters(L)) }, await nudgeCounters(L)];

  // Busy: the lab test "a dead link only resets its own flows".
  await L.applyOk(cfg);
  const busy = await L.hold(45, { intervalMs: 50 });
  let busyR;
  try {
    const dead = await deadIds(L, busy, 4);
    await L.lab.fault('wan2', { kind: 'blackhole' });
    await L.applyOk(cfg, { wan2: 'offline' });
    const w = await waitReset(busy, dead, 10_000);
    const deadSet = new Set(dead);
    busyR = { dead: dead.length, missed: w.missed.length, healthyBroken: busy.broken.filter((b) => !deadSet.has(b.id)).length, lastResetMs: w.lastMs };
  } finally {
    busy.close();
    await L.lab.fault('wan2', { kind: 'clear' });
  }

  // Idle: the lab test "idle flows of a dead link are reset at once by a nudge, IPv4 and IPv6".
  await L.applyOk(cfg);
  const v4 = await L.hold(15, { intervalMs: 3_600_000 });
  const v6 = await L.hold(15, { intervalMs: 3_600_000, v6: true });
  let idleR;
  try {
    const dead4 = await deadIds(L, v4, 4);
    const dead6 = await deadIds(L, v6, 6);
    await L.lab.fault('wan2', { kind: 'blackhole' });
    await L.applyOk(cfg, { wan2: 'offline' });
    const [w4, w6] = await Promise.all([waitReset(v4, dead4, 5000), waitReset(v6, dead6, 5000)]);
    const s4 = new Set(dead4);
    const s6 = new Set(dead6);
    idleR = {
      dead: dead4.length + dead6.length,
      missed: w4.missed.length + w6.missed.length,
      healthyBroken: v4.broken.filter((b) => !s4.has(b.id)).length + v6.broken.filter((b) => !s6.has(b.id)).length,
      lastResetMs: Math.max(w4.lastMs, w6.lastMs),
    };
  } finally {
    v4.close();
    v6.close();
    await L.lab.fault('wan2', { kind: 'clear' });
  }
  const [n1, c1, u1] = [await nstat(L), { ...(await ctStats(L)), ...(await invalidCounters(L)) }, await nudgeCounters(L)];
  return { run, busy: busyR, idle: idleR, nstat: delta(n0, n1), conntrack: delta(c0, c1), nudges: delta(u0, u1) };
}

export const benchmark: Benchmark = {
  name: 'nudge-stress',
  description: 'the failover reset scenarios 200 times in a row (busy IPv4, idle IPv4+IPv6): every dead link flow reset, none other broken',
  async run(ctx) {
    const runsN = Number(process.env.WANBRAID_STRESS_RUNS ?? (ctx.quick ? 20 : 200));
    const L = await BalancerLab.up({ links: 3 });
    const runs: RunResult[] = [];
    try {
      await watchInvalid(L);
      for (let i = 0; i < runsN; i++) {
        const r = await oneRun(L, i + 1);
        runs.push(r);
        if (r.busy.missed + r.idle.missed + r.busy.healthyBroken + r.idle.healthyBroken > 0 || (r.nudges.retried ?? 0) > 0 || (i + 1) % 10 === 0) {
          ctx.progress(`run ${i + 1}/${runsN}: busy ${r.busy.dead} dead ${r.busy.missed} missed; idle ${r.idle.dead} dead ${r.idle.missed} missed; nstat ${JSON.stringify(r.nstat)} ct ${JSON.stringify(r.conntrack)} nudges ${JSON.stringify(r.nudges)}`);
        }
      }
    } finally {
      await L.down();
    }
    const sum = (f: (r: RunResult) => number) => runs.reduce((n, r) => n + f(r), 0);
    const missedRuns = runs.filter((r) => r.busy.missed + r.idle.missed > 0).length;
    const goals = [
      goal(`runs with a dead-link connection not reset (of ${runs.length})`, missedRuns, 'runs', '==', 0),
      goal(`dead-link connections not reset (of ${sum((r) => r.busy.dead + r.idle.dead)})`, sum((r) => r.busy.missed + r.idle.missed), 'connections', '==', 0),
      goal('healthy-link connections broken', sum((r) => r.busy.healthyBroken + r.idle.healthyBroken), 'connections', '==', 0),
    ];
    const totals = (pick: (r: RunResult) => Record<string, number>) => {
      const t: Record<string, number> = {};
      for (const r of runs) for (const [k, v] of Object.entries(pick(r))) t[k] = (t[k] ?? 0) + v;
      return t;
    };
    return {
      goals,
      data: {
        runs: runs.length,
        idleLastResetMs: summary(runs.map((r) => r.idle.lastResetMs)),
        busyLastResetMs: summary(runs.map((r) => r.busy.lastResetMs)),
        nstatTotals: totals((r) => r.nstat),
        conntrackTotals: totals((r) => r.conntrack),
        nudgeTotals: totals((r) => r.nudges),
        perRun: runs,
      },
    };
  },
};
