/**
 * Link state change → kernel state applied, with 8 links (goal: p99 <= 20 ms, issue 14; was <= 50 ms).
 *
 * The Balancer runs in the lab router (as in the daemon); each sample is one `apply` after exactly
 * one link changed state, timed inside the router process from the call until routing (nexthop
 * group), nft (pick-map elements) and conntrack (read by mark for the nudges, flush by mark) all
 * match. The schedule takes one link offline, brings it back, then the next link: every apply in
 * it is a real change (400, i.e. each of the 8 links 25 times down and 25 times up). The config
 * has a random policy, a sticky one (256 buckets per family to rewrite) and a rule.
 *
 * The reference, in the same run: the same schedule with an `nft -j -f` process per change (the
 * transport before issue 14), in blocks alternating with the daemon's transport (a kept
 * libnftables context), each block on a fresh balancer, so both see the same machine load.
 *
 * No-op applies (the same states again, as a periodic re-apply would) are measured apart — one
 * after every fourth change — and never mixed into the goal's figures. Each apply is classified
 * by comparing its states with the previous apply's, and cross-checked against what the balancer
 * says it changed (nft pick-map elements, routing objects).
 */
import { goal, summary, type Benchmark } from './harness.js';
import { BalancerLab, labConfig, type ApplySummary } from '../test/lab/plan/harness.js';

type States = Record<string, 'offline' | 'online'>;
type Transport = 'libnftables' | 'process';

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
  description: 'link state change to kernel state applied, 8 links (p99 <= 20 ms)',
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
      type Acc = { applyMs: number[]; down: number[]; up: number[]; rpcMs: number[]; parts: Record<string, number[]>; nftOps: Record<string, number>; kernelUntouched: number };
      const acc = (): Acc => ({ applyMs: [], down: [], up: [], rpcMs: [], parts: { planMs: [], sysctlMs: [], routingMs: [], nftMs: [], conntrackMs: [] }, nftOps: {}, kernelUntouched: 0 });
      // The daemon's way (a kept libnftables context) and the reference (an nft process per
      // change, as before issue 14), in alternating blocks of the same schedule in the same lab,
      // so both see the same machine load.
      const real: Record<Transport, Acc> = { libnftables: acc(), process: acc() };
      const noop = { applyMs: [] as number[], nftOps: {} as Record<string, number>, kernelTouched: 0, kernelTouchedDetail: [] as string[] };
      const perTransport = ctx.quick ? 40 : 400;
      const block = ctx.quick ? 20 : 50;
      const schedule = changeSchedule(names, block);
      let prev = allOnline;
      const once = async (states: States): Promise<{ r: ApplySummary; rpc: number; changed: string[] }> => {
        const changed = changedLinks(prev, states);
        const t0 = performance.now();
        const r = await L.applyOk(cfg, states);
        const rpc = performance.now() - t0;
        prev = states;
        return { r, rpc, changed };
      };
      let done = 0;
      for (let b = 0; b < (2 * perTransport) / block; b++) {
        const transport: Transport = b % 2 === 0 ? 'libnftables' : 'process';
        const into = real[transport];
        await L.restartBalancer({ nftTransport: transport });
        prev = allOnline;
        await L.applyOk(cfg, allOnline);
        for (let k = 0; k < block; k++) {
          const { r, rpc, changed } = await once(schedule[k]!);
          if (changed.length !== 1) throw new Error(`schedule bug: change ${k} changes ${changed.length} links (${changed.join(', ')})`);
          into.applyMs.push(r.durationMs);
          (schedule[k]![changed[0]!] === 'offline' ? into.down : into.up).push(r.durationMs);
          into.rpcMs.push(rpc);
          into.nftOps[r.nft.op] = (into.nftOps[r.nft.op] ?? 0) + 1;
          for (const [p, v] of Object.entries(r.timings)) into.parts[p]!.push(v);
          if (!kernelChanged(r)) into.kernelUntouched++;
          if (transport === 'libnftables' && (k + 1) % 4 === 0) {
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
        }
        done += block;
        ctx.progress(`${done}/${2 * perTransport} changes; median so far: libnftables ${summary(real.libnftables.applyMs).median.toFixed(1)} ms, process ${real.process.applyMs.length ? summary(real.process.applyMs).median.toFixed(1) : '-'} ms`);
      }
      const view = (a: Acc) => ({
        applyMs: summary(a.applyMs),
        /** The same samples split by the direction of the change (offline also reads and flushes conntrack). */
        byDirection: { offline: summary(a.down), online: summary(a.up) },
        rpcMs: summary(a.rpcMs),
        parts: Object.fromEntries(Object.entries(a.parts).map(([p, v]) => [p, summary(v)])),
        nftOps: a.nftOps,
        /** Real changes after which the balancer reported touching nothing (should be 0). */
        realChangesKernelUntouched: a.kernelUntouched,
        samples: a.applyMs,
      });
      const s = summary(real.libnftables.applyMs);
      const ref = summary(real.process.applyMs);
      return {
        goals: [
          goal('state change → kernel applied, p99 (8 links)', s.p99, 'ms', '<=', 20),
          goal('state change → kernel applied, median', s.median, 'ms', '<=', 20),
        ],
        data: {
          links,
          schedule: 'one link offline, then back online, then the next link; every apply changes exactly one link; blocks of the schedule alternate between the two nft transports, each on a fresh balancer',
          changes: perTransport,
          block,
          ...view(real.libnftables),
          reference: { transport: 'an nft -j -f process per change (before issue 14)', ...view(real.process) },
          ratios: { median: s.median / ref.median, p99: s.p99 / ref.p99 },
          noops: { count: noop.applyMs.length, applyMs: summary(noop.applyMs), nftOps: noop.nftOps, kernelTouched: noop.kernelTouched, kernelTouchedDetail: noop.kernelTouchedDetail, samples: noop.applyMs },
        },
      };
    } finally {
      await L.down();
    }
  },
};
