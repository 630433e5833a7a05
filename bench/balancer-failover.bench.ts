/**
 * Failover under load: 300 long-lived LAN connections over 3 links (1:1:1), wan2 blackholed
 * upstream (carrier and ARP stay up: only probes can tell). Goals: 0 connections broken on the
 * healthy links; wan2's connections reset within its detection time + 1 s; new connections all
 * succeed again within detection time + 0.5 s.
 *
 * Detection belongs to the health subsystem; here the state change is driven by the benchmark,
 * `detectMs` after the blackhole (0, 1000, and 1500 = the default probe settings: 3 rounds of 500 ms),
 * and times are measured from that state change. The long-lived connections echo 8 bytes every
 * 100 ms; a new connection is tried every 20 ms throughout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { goal, summary, type Benchmark, type Goal } from './harness.js';
import { BalancerLab, labConfig } from '../test/lab/plan/harness.js';

interface ProbeResult {
  at: number;
  ok: boolean;
  ms: number;
  error?: string;
}

async function scenario(L: BalancerLab, detectMs: number, flowsN: number, progress: (m: string) => void) {
  const cfg = labConfig(L.addr, [1, 1, 1]);
  await L.applyOk(cfg);
  const flows = await L.hold(flowsN, { intervalMs: 100 });
  const ports = (await flows.opened).map((o) => o.localPort);
  await L.resetEgress();
  await sleep(500);
  const egress = await L.egress();
  const linkOf = ports.map((p) => egress.get(p)?.join('+') ?? '?');
  const probe = L.traffic<{ results: ProbeResult[] }>('probe', { host: L.addr.inet.server4, port: 80, intervalMs: 20, durationMs: detectMs + 4000, timeoutMs: 1500 });
  await sleep(500);
  const tFault = Date.now();
  await L.lab.fault('wan2', { kind: 'blackhole' });
  await sleep(detectMs);
  const tState = Date.now();
  const r = await L.applyOk(cfg, { wan2: 'offline' });
  const s1 = await flows.stats();
  await sleep(3000);
  const s2 = await flows.stats();
  const probes = (await probe).results;
  flows.close();
  await L.lab.fault('wan2', { kind: 'clear' });
  await L.applyOk(cfg);

  const dead = ports.map((_, id) => id).filter((id) => linkOf[id] === 'wan2');
  const healthy = ports.map((_, id) => id).filter((id) => linkOf[id] !== 'wan2');
  const brokenAt = new Map(flows.broken.map((b) => [b.id, b.at]));
  const healthyBroken = healthy.filter((id) => brokenAt.has(id) || !(s2.echoes[id]! > s1.echoes[id]!));
  const deadReset = dead.map((id) => brokenAt.get(id));
  const notReset = deadReset.filter((x) => x === undefined).length;
  const resetAfterState = deadReset.filter((x): x is number => x !== undefined).map((x) => x - tState);
  const failedAfterState = probes.filter((p) => !p.ok && p.at >= tState);
  const lastFailStart = failedAfterState.length ? Math.max(...failedAfterState.map((p) => p.at - tState)) : 0;
  progress(`detect ${detectMs} ms: ${healthy.length} healthy (${healthyBroken.length} broken), ${dead.length} on wan2 (${notReset} not reset), apply ${r.durationMs.toFixed(1)} ms`);
  return {
    detectMs,
    flows: flowsN,
    onLink: Object.fromEntries(['wan1', 'wan2', 'wan3'].map((l) => [l, linkOf.filter((x) => x === l).length])),
    healthyBroken: healthyBroken.length,
    deadNotReset: notReset,
    deadResetAfterStateMs: resetAfterState.length ? summary(resetAfterState) : undefined,
    applyMs: r.durationMs,
    probes: probes.length,
    probesFailedBeforeState: probes.filter((p) => !p.ok && p.at < tState).length,
    probesFailedAfterState: failedAfterState.length,
    lastFailedProbeStartAfterStateMs: lastFailStart,
    faultToStateMs: tState - tFault,
  };
}

export const benchmark: Benchmark = {
  name: 'balancer-failover',
  description: '300 long-lived connections, one of 3 links blackholed: healthy ones untouched, dead ones reset, new ones recover',
  async run(ctx) {
    const L = await BalancerLab.up({ links: 3 });
    try {
      await L.watchEgress(L.addr.ports.hold);
      const n = ctx.quick ? 90 : 300;
      // Where a dead flow's reset lands depends on the phase of its sender's retransmission timer
      // at the state change: every detection time is run three times and the worst run counts.
      const reps = ctx.quick ? 1 : 3;
      const runs = [];
      for (const detectMs of [0, 1000, 1500]) for (let k = 0; k < reps; k++) runs.push(await scenario(L, detectMs, n, (m) => ctx.progress(m)));
      const goals: Goal[] = [];
      for (const detectMs of [0, 1000, 1500]) {
        const rs = runs.filter((r) => r.detectMs === detectMs);
        const tag = `detection ${detectMs} ms (worst of ${rs.length})`;
        const worst = (f: (r: (typeof rs)[number]) => number) => Math.max(...rs.map(f));
        goals.push(goal(`${tag}: connections broken on healthy links (of ~${Math.round((2 * n) / 3)})`, worst((r) => r.healthyBroken), 'connections', '==', 0));
        goals.push(goal(`${tag}: wan2 connections never reset (of ~${Math.round(n / 3)})`, worst((r) => r.deadNotReset), 'connections', '==', 0));
        goals.push(goal(`${tag}: last wan2 reset after the state change`, worst((r) => r.deadResetAfterStateMs?.max ?? Number.NaN), 'ms', '<=', 1000));
        goals.push(goal(`${tag}: last failed new connection started after the state change`, worst((r) => r.lastFailedProbeStartAfterStateMs), 'ms', '<=', 500));
      }
      return { goals, data: { runs } };
    } finally {
      await L.down();
    }
  },
};
