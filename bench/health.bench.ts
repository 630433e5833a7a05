/**
 * Link health (issue 3's goals), on the lab with the manager running in the router through the lab
 * driver, default settings (ICMP to 198.19.0.1 and .2, interval 500 ms, timeout 1 s, down/up 3,
 * reliability 1):
 *
 * - blackhole → offline over 20 trials (median ≤ 1.5 s, worst ≤ 2 s), measured from just before the
 *   fault is applied (the nft batch in the ISP) to the manager's change event;
 * - carrier loss → offline (≤ 200 ms), from just before the ISP's interface is set down;
 * - 10 % random loss (each way) on one link for 5 minutes → no false offline transition;
 * - 16 links × 2 targets at 500 ms → CPU of the manager's process (process.cpuUsage over a minute,
 *   the lab driver's own overhead included) < 3 % of one core.
 *
 * Trials start at a random moment (1.0–1.5 s after the link came back), so the fault does not fall
 * at the same point of the probe cadence every time. Parts: WANBRAID_BENCH_HEALTH=blackhole,carrier,
 * loss,cpu (default all); `--quick` runs fewer trials and shorter soaks.
 */
import { loadavg } from 'node:os';
import type { Benchmark, BenchContext, BenchOutput, Goal } from './harness.js';
import { goal, summary } from './harness.js';
import type { HealthStatus } from '../src/health/status.js';
import { allOnline, healthLab, type HealthLab } from '../test/lab/health/setup.js';
import type { ChangeEvent } from '../test/lab/health/health-ops.js';

const PARTS = ['blackhole', 'carrier', 'loss', 'cpu'] as const;
type Part = (typeof PARTS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

function parts(): Part[] {
  const env = process.env.WANBRAID_BENCH_HEALTH;
  if (!env) return [...PARTS];
  const chosen = env.split(',').map((s) => s.trim());
  const bad = chosen.filter((c) => !(PARTS as readonly string[]).includes(c));
  if (bad.length) throw new Error(`WANBRAID_BENCH_HEALTH: unknown part ${bad.join(', ')} (parts: ${PARTS.join(', ')})`);
  return chosen as Part[];
}

async function faultToOffline(h: HealthLab, link: string, fault: 'blackhole' | 'carrier-down'): Promise<{ detectMs: number; applyMs: number; reason: string }> {
  const since = h.driver.cursor('change');
  const t0 = Date.now();
  await h.lab.fault(link, { kind: fault });
  const applyMs = Date.now() - t0;
  const off = await h.waitState(link, 'offline', { since, timeoutMs: 15_000 });
  const back = h.driver.cursor('change');
  await h.lab.fault(link, { kind: fault === 'blackhole' ? 'clear' : 'carrier-up' });
  await h.waitState(link, 'online', { since: back, timeoutMs: 15_000 });
  return { detectMs: off.at - t0, applyMs, reason: off.view.reason.kind };
}

async function blackhole(h: HealthLab, ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const trials = ctx.quick ? 5 : 20;
  const samples: { link: string; detectMs: number; applyMs: number; reason: string }[] = [];
  for (let i = 0; i < trials; i++) {
    const link = h.links[i % h.links.length]!.name;
    await sleep(jitter(1000, 1500));
    const r = await faultToOffline(h, link, 'blackhole');
    samples.push({ link, ...r });
    ctx.progress(`blackhole ${i + 1}/${trials} on ${link}: offline after ${r.detectMs} ms (${r.reason})`);
  }
  const s = summary(samples.map((x) => x.detectMs));
  data.blackhole = { trials, summaryMs: s, samples, applyMs: summary(samples.map((x) => x.applyMs)) };
  goals.push(goal('blackhole → offline, median', s.median, 'ms', '<=', 1500));
  goals.push(goal('blackhole → offline, worst', s.max, 'ms', '<=', 2000));
}

async function carrier(h: HealthLab, ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const trials = ctx.quick ? 3 : 10;
  const samples: { link: string; detectMs: number; applyMs: number; reason: string }[] = [];
  for (let i = 0; i < trials; i++) {
    const link = h.links[i % h.links.length]!.name;
    await sleep(jitter(1000, 1500));
    const r = await faultToOffline(h, link, 'carrier-down');
    samples.push({ link, ...r });
    ctx.progress(`carrier ${i + 1}/${trials} on ${link}: offline after ${r.detectMs} ms (${r.reason})`);
  }
  const s = summary(samples.map((x) => x.detectMs));
  data.carrier = { trials, summaryMs: s, samples };
  goals.push(goal('carrier loss → offline, worst', s.max, 'ms', '<=', 200));
}

async function loss(h: HealthLab, ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const seconds = ctx.quick ? 30 : 300;
  const link = h.links[1]!.name;
  const idx = 1;
  const before = (await h.driver.call<HealthStatus>('health.status')).links[idx]!;
  const since = h.driver.cursor('change');
  await h.lab.fault(link, { kind: 'loss', pct: 10 });
  const t0 = Date.now();
  for (let elapsed = 0; elapsed < seconds; elapsed += 30) {
    await sleep(Math.min(30, seconds - elapsed) * 1000);
    const st = (await h.driver.call<HealthStatus>('health.status')).links[idx]!;
    const offline = h.driver.items<ChangeEvent>('change').slice(since).filter((c) => c.view.name === link && c.view.state === 'offline' && c.prev?.state !== 'offline').length;
    ctx.progress(`loss 10% on ${link}: ${Math.min(seconds, elapsed + 30)}/${seconds} s, state ${st.state}, window loss ${st.lossPct?.toFixed(1)}%, false offline so far ${offline}`);
  }
  const after = (await h.driver.call<HealthStatus>('health.status')).links[idx]!;
  await h.lab.fault(link, { kind: 'clear' });
  const changes = h.driver.items<ChangeEvent>('change').slice(since).filter((c) => c.view.name === link && c.view.state !== c.prev?.state);
  const offline = changes.filter((c) => c.view.state === 'offline').length;
  const sent = after.targets.reduce((n, t, i) => n + t.sent - before.targets[i]!.sent, 0);
  const failed = after.targets.reduce((n, t, i) => n + t.failed - before.targets[i]!.failed, 0);
  data.loss = {
    link,
    lossPctEachWay: 10,
    seconds: (Date.now() - t0) / 1000,
    probesSent: sent,
    probesFailed: failed,
    measuredProbeLossPct: sent ? (100 * failed) / sent : null,
    stateChanges: changes.map((c) => ({ at: c.at, state: c.view.state, reason: c.view.reason })),
  };
  goals.push(goal(`false offline transitions, 10% loss for ${seconds / 60} min`, offline, 'transitions', '==', 0));
}

async function cpu(ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const seconds = ctx.quick ? 15 : 60;
  ctx.progress('bringing up a 16-link lab');
  const h = await healthLab({ links: 16, onProgress: (s) => ctx.progress(`lab: ${s}`) });
  try {
    await allOnline(h, h.links.map((l) => l.name), 0, 20_000);
    await sleep(2000);
    type Cpu = { user: number; system: number; wallMs: number };
    const a = await h.driver.call<Cpu>('health.cpu');
    const load0 = loadavg()[0];
    ctx.progress(`16 links online; measuring CPU for ${seconds} s`);
    await sleep(seconds * 1000);
    const b = await h.driver.call<Cpu>('health.cpu');
    const st = await h.driver.call<HealthStatus>('health.status');
    const cpuMs = (b.user - a.user + b.system - a.system) / 1000;
    const pct = (100 * cpuMs) / (b.wallMs - a.wallMs);
    const probes = st.links.reduce((n, l) => n + l.targets.reduce((m, t) => m + t.sent, 0), 0);
    data.cpu = {
      links: 16,
      targetsPerLink: 2,
      seconds: (b.wallMs - a.wallMs) / 1000,
      cpuMs,
      userMs: (b.user - a.user) / 1000,
      systemMs: (b.system - a.system) / 1000,
      pctOfOneCore: pct,
      probesSentTotal: probes,
      statesAtEnd: st.links.map((l) => l.state),
      loadavg1Before: load0,
      loadavg1After: loadavg()[0],
    };
    ctx.progress(`CPU ${pct.toFixed(2)}% of one core (${cpuMs.toFixed(0)} ms in ${((b.wallMs - a.wallMs) / 1000).toFixed(1)} s)`);
    goals.push(goal('CPU, 16 links × 2 targets at 500 ms', pct, '% of one core', '<=', 3));
  } finally {
    await h.down();
  }
}

export const benchmark: Benchmark = {
  name: 'health',
  description: 'link health: blackhole and carrier-loss detection, no flapping under 10% loss, CPU with 16 links',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const chosen = parts();
    const goals: Goal[] = [];
    const data: Record<string, unknown> = { parts: chosen, settings: 'defaults: icmp, 2 targets, interval 500ms, timeout 1s, down 3, up 3, reliability 1' };
    if (chosen.some((p) => p !== 'cpu')) {
      ctx.progress('bringing up a 3-link lab');
      const h = await healthLab({ links: 3 });
      try {
        await allOnline(h, h.links.map((l) => l.name));
        if (chosen.includes('blackhole')) await blackhole(h, ctx, goals, data);
        if (chosen.includes('carrier')) await carrier(h, ctx, goals, data);
        if (chosen.includes('loss')) await loss(h, ctx, goals, data);
      } finally {
        await h.down();
      }
    }
    if (chosen.includes('cpu')) await cpu(ctx, goals, data);
    return { goals, data };
  },
};
