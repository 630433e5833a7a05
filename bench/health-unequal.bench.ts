/**
 * Link health on jittery, lossy and long links (issue 10 §3), with the default probe settings (ICMP to
 * 198.19.0.1 and .2, interval 500 ms, timeout 1 s, down/up 3, reliability 1) and the lab's link
 * profiles (src/lab/profiles.ts, the delay element of docs/lab.md):
 *
 *   router ── wan1 ── isp1 (lte: 30 ms ± 10 ms each way, 200 ms stalls about every 20 s, 2 % loss each way)
 *          ── wan2 ── isp2 (geo-satellite: 300 ms ± 10 ms each way, RTT about 600 ms)
 *          ── wan3 ── isp3 (fibre)
 *
 * - a soak (10 minutes; 1 with --quick): every change of state of wan1 and wan2 is a false one (the
 *   links are up throughout): 0 offline, 0 degraded;
 * - then blackhole on the lte link (10 trials; 3 with --quick) → offline, median ≤ 1.5 s.
 */
import type { Benchmark, BenchContext, BenchOutput, Goal } from './harness.js';
import { goal, summary } from './harness.js';
import type { HealthStatus } from '../src/health/status.js';
import { allOnline, healthLab, type HealthLab } from '../test/lab/health/setup.js';
import type { ChangeEvent } from '../test/lab/health/health-ops.js';
import { PROFILES } from '../src/lab/profiles.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function changesOf(h: HealthLab, since: number, link: string): ChangeEvent[] {
  return h.driver.items<ChangeEvent>('change').slice(since).filter((c) => c.view.name === link && c.view.state !== c.prev?.state);
}

async function soak(h: HealthLab, ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const seconds = ctx.quick ? 60 : 600;
  const since = h.driver.cursor('change');
  const before = await h.driver.call<HealthStatus>('health.status');
  const t0 = Date.now();
  for (let elapsed = 0; elapsed < seconds; elapsed += 30) {
    await sleep(Math.min(30, seconds - elapsed) * 1000);
    const st = await h.driver.call<HealthStatus>('health.status');
    const line = ['wan1', 'wan2'].map((n) => {
      const l = st.links.find((x) => x.name === n)!;
      return `${n} ${l.state} rtt ${l.rttMs?.toFixed(0)} ms loss ${l.lossPct?.toFixed(1)} % changes ${changesOf(h, since, n).length}`;
    });
    ctx.progress(`soak ${Math.min(seconds, elapsed + 30)}/${seconds} s: ${line.join('; ')}`);
  }
  const after = await h.driver.call<HealthStatus>('health.status');
  for (const [link, profile] of [['wan1', 'lte'], ['wan2', 'geo-satellite']] as const) {
    const changes = changesOf(h, since, link);
    const b = before.links.find((x) => x.name === link)!;
    const a = after.links.find((x) => x.name === link)!;
    const sent = a.targets.reduce((n, t, i) => n + t.sent - b.targets[i]!.sent, 0);
    const failed = a.targets.reduce((n, t, i) => n + t.failed - b.targets[i]!.failed, 0);
    data[`soak_${profile}`] = {
      link,
      seconds: (Date.now() - t0) / 1000,
      probesSent: sent,
      probesFailed: failed,
      probeLossPct: sent ? (100 * failed) / sent : null,
      rttMs: a.rttMs,
      jitterMs: a.jitterMs,
      stateChanges: changes.map((c) => ({ at: c.at, state: c.view.state, prev: c.prev?.state, reason: c.view.reason })),
    };
    goals.push(goal(`${profile}: false offline in ${seconds / 60} min`, changes.filter((c) => c.view.state === 'offline').length, 'transitions', '==', 0));
    goals.push(goal(`${profile}: false degraded in ${seconds / 60} min`, changes.filter((c) => c.view.state === 'degraded').length, 'transitions', '==', 0));
  }
}

async function blackholeLte(h: HealthLab, ctx: BenchContext, goals: Goal[], data: Record<string, unknown>): Promise<void> {
  const trials = ctx.quick ? 3 : 10;
  const samples: { detectMs: number; reason: string }[] = [];
  for (let i = 0; i < trials; i++) {
    await sleep(1000 + Math.random() * 500);
    const since = h.driver.cursor('change');
    const t0 = Date.now();
    await h.lab.fault('wan1', { kind: 'blackhole' });
    const off = await h.waitState('wan1', 'offline', { since, timeoutMs: 15_000 });
    const back = h.driver.cursor('change');
    // `clear` lifts the blackhole and also takes the profile's delay and loss away: put them back.
    await h.lab.fault('wan1', { kind: 'clear' });
    await h.lab.delay('wan1', PROFILES.lte.delay);
    await h.lab.fault('wan1', { kind: 'loss', pct: PROFILES.lte.lossPct });
    await h.waitState('wan1', 'online', { since: back, timeoutMs: 20_000 });
    samples.push({ detectMs: off.at - t0, reason: off.view.reason.kind });
    ctx.progress(`lte blackhole ${i + 1}/${trials}: offline after ${off.at - t0} ms (${off.view.reason.kind})`);
  }
  const s = summary(samples.map((x) => x.detectMs));
  data.blackholeLte = { trials, summaryMs: s, samples };
  goals.push(goal('lte: blackhole → offline, median', s.median, 'ms', '<=', 1500));
}

export const benchmark: Benchmark = {
  name: 'health-unequal',
  description: 'link health on an lte-like and a geo-satellite link: no false offline or degraded in 10 min, lte blackhole detected',
  async run(ctx: BenchContext): Promise<BenchOutput> {
    const goals: Goal[] = [];
    const data: Record<string, unknown> = { settings: 'defaults: icmp, 2 targets, interval 500ms, timeout 1s, down 3, up 3, reliability 1', profiles: ['lte', 'geo-satellite', 'fibre'] };
    ctx.progress('bringing up a 3-link lab (lte, geo-satellite, fibre)');
    const h = await healthLab({ links: 3, profiles: ['lte', 'geo-satellite', 'fibre'] });
    try {
      await allOnline(h, h.links.map((l) => l.name), 0, 30_000);
      await soak(h, ctx, goals, data);
      await blackholeLte(h, ctx, goals, data);
    } finally {
      await h.down();
    }
    return { goals, data };
  },
};
