/**
 * Link state change → kernel state applied, with 8 links (goal: p99 <= 50 ms).
 *
 * The Balancer runs in the lab router (as in the daemon); each sample is one `apply` after exactly
 * one link changed state, timed inside the router process from the call until routing (nexthop
 * group), nft (pick-map elements) and conntrack (read by mark for the nudges, flush by mark) all
 * match. The schedule takes one link offline, brings it back, then the next link: every apply in
 * it is a real change (400, i.e. each of the 8 links 25 times down and 25 times up). The config
 * has a random policy, a sticky one (256 buckets per family to rewrite) and a rule.
 *
 * No-op applies (the same states again, as a periodic re-apply would) are measured apart — one
 * after every fourth change — and never mixed into the goal's figures. Each apply is classified
 * by comparing its states with the previous apply's, and cross-checked against what the balancer
 * says it changed (nft pick-map elements, routing objects).
 */
import { goal, summary, type Benchmark } from './harness.js';
import { BalancerLab, labConfig, type ApplySummary } from '../test/lab/plan/harness.js';

type States = Record<string, 'offline' | 'online'>;

/** The real-change schedule: change k takes link k/2 mod N offline (k even) or back online (k odd). */
export function changeSchedule(names: readonly string[], n: number): States[] {
  return Array.from({ length: n }, (_, k) => {
    const link = names[Math.floor(k / 2) % names.length]!;
    const down = k % 2 === 0;
    return Object.fromEntries(names.map((x): [string, 'offline' | 'online'] => [x, x === link && down ? 'offline' : 'online']));
  });
}

/** Links whose state differs between two applies. */
function changedLinks(prev: States, next: States): string[] {
  return Object.keys(next).filter((k) => prev[k] !== next[k]);
}

/** What the balancer reports having touched in the kernel. */
function kernelChanged(r: ApplySummary): boolean {
  return r.nft.changed.length > 0 || r.routing.changed.length > 0 || r.nft.op !== 'none';
}

export const benchmark: Benchmark = {
  name: 'balancer-apply',
  description: 'link state change to kernel state applied, 8 links (p99 <= 50 ms)',
  async run(ctx) {
    const links = 8;
    const L = await BalancerLab.up({ links });
    try {
      const names = L.addr.links.map((l) => l.name);
      const cfg = labConfig(L.addr, [5, 3, 2, 1, 1, 1, 1, 1], {
        policies: { sticky: { links: names, sticky: 'source' } },
        rules: [{ name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'sticky' }],
      });
      const allOnline: States = Object.fromEntries(names.map((x): [string, 'online'] => [x, 'online']));
      await L.applyOk(cfg, allOnline);
      const n = ctx.quick ? 40 : 400;
      const schedule = changeSchedule(names, n);
      const real = { applyMs: [] as number[], down: [] as number[], up: [] as number[], rpcMs: [] as number[], parts: { planMs: [], sysctlMs: [], routingMs: [], nftMs: [], conntrackMs: [] } as Record<string, number[]>, nftOps: {} as Record<string, number>, kernelUntouched: 0 };
      const noop = { applyMs: [] as number[], nftOps: {} as Record<string, number>, kernelTouched: 0, kernelTouchedDetail: [] as string[] };
      let prev = allOnline;
      const once = async (states: States): Promise<{ r: ApplySummary; rpc: number; changed: string[] }> => {
        const changed = changedLinks(prev, states);
        const t0 = performance.now();
        const r = await L.applyOk(cfg, states);
        const rpc = performance.now() - t0;
        prev = states;
        return { r, rpc, changed };
      };
      for (let k = 0; k < n; k++) {
        const { r, rpc, changed } = await once(schedule[k]!);
        if (changed.length !== 1) throw new Error(`schedule bug: change ${k} changes ${changed.length} links (${changed.join(', ')})`);
        real.applyMs.push(r.durationMs);
        (schedule[k]![changed[0]!] === 'offline' ? real.down : real.up).push(r.durationMs);
        real.rpcMs.push(rpc);
        real.nftOps[r.nft.op] = (real.nftOps[r.nft.op] ?? 0) + 1;
        for (const [p, v] of Object.entries(r.timings)) real.parts[p]!.push(v);
        if (!kernelChanged(r)) real.kernelUntouched++;
        if ((k + 1) % 4 === 0) {
          // The same states again: a no-op, kept apart.
          const again = await once(schedule[k]!);
          if (again.changed.length !== 0) throw new Error(`no-op ${k} changed ${again.changed.join(', ')}`);
          noop.applyMs.push(again.r.durationMs);
          noop.nftOps[again.r.nft.op] = (noop.nftOps[again.r.nft.op] ?? 0) + 1;
          if (kernelChanged(again.r)) {
            noop.kernelTouched++;
            if (noop.kernelTouchedDetail.length < 5) noop.kernelTouchedDetail.push(`nft ${again.r.nft.op} [${again.r.nft.changed.join(', ')}], routing [${again.r.routing.changed.join(', ')}]`);
          }
        }
        if ((k + 1) % 50 === 0) ctx.progress(`${k + 1}/${n} changes, median so far ${summary(real.applyMs).median.toFixed(1)} ms (${noop.applyMs.length} no-ops apart)`);
      }
      const s = summary(real.applyMs);
      return {
        goals: [goal('state change → kernel applied, p99 (8 links)', s.p99, 'ms', '<=', 50), goal('state change → kernel applied, median', s.median, 'ms', '<=', 50)],
        data: {
          links,
          schedule: 'one link offline, then back online, then the next link; every apply changes exactly one link',
          changes: n,
          applyMs: s,
          /** The same samples split by the direction of the change (offline also reads and flushes conntrack). */
          byDirection: { offline: summary(real.down), online: summary(real.up) },
          rpcMs: summary(real.rpcMs),
          parts: Object.fromEntries(Object.entries(real.parts).map(([p, v]) => [p, summary(v)])),
          nftOps: real.nftOps,
          /** Real changes after which the balancer reported touching nothing (should be 0). */
          realChangesKernelUntouched: real.kernelUntouched,
          noops: { count: noop.applyMs.length, applyMs: summary(noop.applyMs), nftOps: noop.nftOps, kernelTouched: noop.kernelTouched, kernelTouchedDetail: noop.kernelTouchedDetail, samples: noop.applyMs },
          samples: real.applyMs,
        },
      };
    } finally {
      await L.down();
    }
  },
};
