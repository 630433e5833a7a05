/**
 * Weighted distribution of new LAN flows: weights 5:3:2 over 3000 new connections (goal: each
 * link's share within 3 points of 50/30/20). Each connection is a fresh TCP connection from the
 * lab client to the inet server's `/ip`, which answers with the address it saw (the link's
 * masquerade address); the nft new-flow counters are read back as a second witness.
 */
import { goal, type Benchmark } from './harness.js';
import { BalancerLab, labConfig } from '../test/lab/plan/harness.js';

export const benchmark: Benchmark = {
  name: 'balancer-distribution',
  description: 'weights 5:3:2, 3000 new LAN connections: shares within 3 points of 50/30/20',
  async run(ctx) {
    const L = await BalancerLab.up({ links: 3 });
    try {
      await L.applyOk(labConfig(L.addr, [5, 3, 2]));
      const total = ctx.quick ? 600 : 3000;
      const byLink: Record<string, number> = {};
      const failures: string[] = [];
      for (let done = 0; done < total; ) {
        const n = Math.min(500, total - done);
        const r = await L.census(n, { concurrency: 32 });
        for (const [k, v] of Object.entries(r.byLink)) byLink[k] = (byLink[k] ?? 0) + v;
        failures.push(...r.failures);
        done += n;
        ctx.progress(`${done}/${total} connections`);
      }
      const counters = Object.fromEntries((await L.status()).links.map((l) => [l.name, l.newFlows]));
      const want: Record<string, number> = { wan1: 50, wan2: 30, wan3: 20 };
      const ok = total - failures.length;
      const share = (l: string) => (100 * (byLink[l] ?? 0)) / ok;
      const worst = Math.max(...Object.keys(want).map((l) => Math.abs(share(l) - want[l]!)));
      return {
        goals: [
          ...Object.keys(want).map((l) => goal(`${l}: |share - ${want[l]}%| (share ${share(l).toFixed(2)}%)`, Math.abs(share(l) - want[l]!), 'points', '<=', 3)),
          goal('largest deviation from the weights', worst, 'points', '<=', 3),
          goal('failed connections', failures.length, 'connections', '==', 0),
        ],
        data: { total, byLink, sharesPct: Object.fromEntries(Object.keys(want).map((l) => [l, share(l)])), nftNewFlowCounters: counters, failures: failures.slice(0, 20) },
      };
    } finally {
      await L.down();
    }
  },
};
