/**
 * Link state change → kernel state applied, with 8 links (goal: p99 <= 50 ms).
 *
 * The Balancer runs in the lab router (as in the daemon); each sample is one `apply` after one
 * link changes state (offline, then online again), timed inside the router process from the call
 * until routing (nexthop group), nft (pick-map elements) and conntrack (flush by mark) all match.
 * The config has a random policy, a sticky one (256 buckets per family to rewrite) and a rule.
 */
import { goal, summary, type Benchmark } from './harness.js';
import { BalancerLab, labConfig } from '../test/lab/plan/harness.js';

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
      await L.applyOk(cfg);
      const n = ctx.quick ? 40 : 400;
      const samples: number[] = [];
      const rpc: number[] = [];
      const ops = { nft: new Set<string>() };
      const parts: Record<string, number[]> = { planMs: [], sysctlMs: [], routingMs: [], nftMs: [], conntrackMs: [] };
      for (let i = 0; i < n; i++) {
        const link = names[i % links]!;
        const down = Math.floor(i / links) % 2 === 0;
        // Every other round the link goes down, then comes back in the next.
        const states = Object.fromEntries(names.map((x) => [x, x === link && down ? 'offline' : 'online'])) as Record<string, 'offline' | 'online'>;
        const t0 = performance.now();
        const r = await L.applyOk(cfg, states);
        rpc.push(performance.now() - t0);
        samples.push(r.durationMs);
        ops.nft.add(r.nft.op);
        for (const [k, v] of Object.entries(r.timings)) parts[k]!.push(v);
        if ((i + 1) % 50 === 0) ctx.progress(`${i + 1}/${n} changes, median so far ${summary(samples).median.toFixed(1)} ms`);
      }
      const s = summary(samples);
      return {
        goals: [goal('state change → kernel applied, p99 (8 links)', s.p99, 'ms', '<=', 50), goal('state change → kernel applied, median', s.median, 'ms', '<=', 50)],
        data: { links, changes: n, applyMs: s, rpcMs: summary(rpc), parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, summary(v)])), nftOps: [...ops.nft], samples },
      };
    } finally {
      await L.down();
    }
  },
};
