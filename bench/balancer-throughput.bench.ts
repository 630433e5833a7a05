/**
 * Forwarding throughput with wanbraid's rules against the same path without them (goal: within
 * 5%). One TCP stream (iperf3, client → inet server) over wan1, links unlimited so the router's
 * forwarding is the bottleneck. Reference: a plain default route via wan1 and one masquerade rule.
 * With wanbraid: the Balancer's full ruleset and policy routing, the policy pinned to wan1.
 *
 * A single round varies by about ±10 % on a shared 2-core machine, against a 5 % goal, so the two
 * sides alternate over many rounds (15 each, WANBRAID_BENCH_ROUNDS=N for more; the side that goes
 * first alternates too, so a drift over the run does not favour either) and the goal is the ratio
 * of the two medians. Reported: min / median / max of each side, and the per-round ratio
 * (wanbraid / reference of the same round) with a distribution-free 95 % confidence interval of
 * its median, which says whether the run resolved the 5 % question: `verdict` is "resolved: met"
 * (the interval lies at or above 0.95), "resolved: missed" (below) or "unresolved" (it straddles
 * 0.95: the machine was too noisy for this many rounds, whatever the ratio of medians says).
 * The balancer's driver process is ended after each wanbraid round (and checked gone), so nothing
 * of wanbraid runs during a reference measurement.
 */
import { goal, median, medianCi, type Benchmark } from './harness.js';
import { BalancerLab, labConfig } from '../test/lab/plan/harness.js';

const BASE_NFT = 'table inet bench_base {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n  oifname "wan1" masquerade\n }\n}\n';

function spread(xs: readonly number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

function roundsFromEnv(quick: boolean): number {
  const v = process.env.WANBRAID_BENCH_ROUNDS;
  if (v === undefined || v === '') return quick ? 3 : 15;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`WANBRAID_BENCH_ROUNDS: expected an integer 1..200, got "${v}"`);
  return n;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export const benchmark: Benchmark = {
  name: 'balancer-throughput',
  description: 'forwarding throughput with wanbraid rules vs the same path without (within 5%)',
  async run(ctx) {
    const L = await BalancerLab.up({ links: 3 });
    try {
      const gw = L.addr.links[0]!.gateway4;
      const cfg = labConfig(L.addr, [1, 1, 1], {
        policies: { one: { links: ['wan1'] } },
        rules: [{ name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'one' }, { name: 'rest', policy: 'one' }],
        routing: { defaultPolicy: 'one' },
      });
      const seconds = ctx.quick ? 2 : 4;
      const iperf = async (): Promise<number> => {
        const r = await L.lab.exec('client', ['iperf3', '-c', L.addr.inet.server4, '-p', String(L.addr.ports.iperf3[0]), '-t', String(seconds), '-O', '1', '-J'], { timeoutMs: 30_000 });
        const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
        return j.end.sum_received.bits_per_second;
      };
      // End the balancer (its state removed) and its driver process, and make sure it is gone.
      const endDriver = async (pid: number): Promise<void> => {
        const r = await L.stop();
        if (!r.ok) throw new Error(`balancer stop failed: ${r.failures.join('; ')}`);
        await L.driver.stop();
        if (!gone(pid)) throw new Error(`the balancer's driver (pid ${pid}) is still running after its stop`);
      };
      const reference = async (): Promise<number> => {
        await L.lab.ip('router', [`route add default via ${gw} dev wan1`]);
        await L.lab.exec('router', ['nft', '-f', '-'], { input: BASE_NFT });
        try {
          return await iperf();
        } finally {
          await L.lab.ip('router', ['route del default']);
          await L.lab.exec('router', ['nft', 'delete', 'table', 'inet', 'bench_base']);
        }
      };
      const withWanbraid = async (): Promise<number> => {
        const pid = await L.startDriver();
        try {
          await L.applyOk(cfg);
          return await iperf();
        } finally {
          await endDriver(pid);
        }
      };

      const base: number[] = [];
      const wb: number[] = [];
      const order: string[] = [];
      const rounds = roundsFromEnv(ctx.quick);
      // The lab came up with a balancer and its driver running: end both before the first
      // reference (Driver.stop waits for the process to exit).
      await L.stop();
      await L.driver.stop();
      for (let i = 0; i < rounds; i++) {
        if (i % 2 === 0) {
          base.push(await reference());
          wb.push(await withWanbraid());
          order.push('reference first');
        } else {
          wb.push(await withWanbraid());
          base.push(await reference());
          order.push('wanbraid first');
        }
        ctx.progress(`round ${i + 1}/${rounds}: reference ${(base.at(-1)! / 1e9).toFixed(2)} Gbit/s, wanbraid ${(wb.at(-1)! / 1e9).toFixed(2)} Gbit/s`);
      }
      const ratio = median(wb) / median(base);
      const paired = wb.map((w, i) => w / base[i]!);
      const ci = medianCi(paired, 0.95);
      const verdict = ci === null ? 'unresolved' : ci.lo >= 0.95 ? 'resolved: met' : ci.hi < 0.95 ? 'resolved: missed' : 'unresolved';
      ctx.progress(`paired ratio median ${median(paired).toFixed(3)}, 95 % CI ${ci ? `${ci.lo.toFixed(3)}..${ci.hi.toFixed(3)}` : 'n/a (too few rounds)'}: ${verdict}`);
      return {
        goals: [goal('throughput with wanbraid / without (medians)', ratio * 100, '%', '>=', 95)],
        data: {
          rounds,
          secondsPerMeasurement: seconds,
          order,
          reference: spread(base),
          wanbraid: spread(wb),
          ratio,
          pairedRatio: { ...spread(paired), ci95: ci },
          verdict,
          referenceBitsPerSecond: base,
          wanbraidBitsPerSecond: wb,
          referenceMedian: median(base),
          wanbraidMedian: median(wb),
        },
      };
    } finally {
      await L.down();
    }
  },
};
