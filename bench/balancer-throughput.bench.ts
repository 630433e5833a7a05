/**
 * Forwarding throughput with wanbraid's rules against the same path without them (goal: within
 * 5%). One TCP stream (iperf3, client → inet server) over wan1, links unlimited so the router's
 * forwarding is the bottleneck. Reference: a plain default route via wan1 and one masquerade rule.
 * With wanbraid: the Balancer's full ruleset and policy routing, the policy pinned to wan1. The
 * two alternate in the same run; medians are compared.
 */
import { goal, median, type Benchmark } from './harness.js';
import { BalancerLab, labConfig } from '../test/lab/plan/harness.js';

const BASE_NFT = 'table inet bench_base {\n chain post {\n  type nat hook postrouting priority srcnat; policy accept;\n  oifname "wan1" masquerade\n }\n}\n';

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
      const iperf = async (): Promise<number> => {
        const r = await L.lab.exec('client', ['iperf3', '-c', L.addr.inet.server4, '-p', String(L.addr.ports.iperf3[0]), '-t', ctx.quick ? '2' : '4', '-O', '1', '-J'], { timeoutMs: 30_000 });
        const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
        return j.end.sum_received.bits_per_second;
      };
      const base: number[] = [];
      const wb: number[] = [];
      const rounds = ctx.quick ? 2 : 8;
      await L.stop();
      for (let i = 0; i < rounds; i++) {
        await L.lab.ip('router', [`route add default via ${gw} dev wan1`]);
        await L.lab.exec('router', ['nft', '-f', '-'], { input: BASE_NFT });
        base.push(await iperf());
        await L.lab.ip('router', ['route del default']);
        await L.lab.exec('router', ['nft', 'delete', 'table', 'inet', 'bench_base']);

        await L.startDriver();
        await L.applyOk(cfg);
        wb.push(await iperf());
        await L.stop();
        ctx.progress(`round ${i + 1}/${rounds}: reference ${(base.at(-1)! / 1e9).toFixed(2)} Gbit/s, wanbraid ${(wb.at(-1)! / 1e9).toFixed(2)} Gbit/s`);
      }
      const ratio = median(wb) / median(base);
      return {
        goals: [goal('throughput with wanbraid / without (medians)', ratio * 100, '%', '>=', 95)],
        data: { referenceBitsPerSecond: base, wanbraidBitsPerSecond: wb, referenceMedian: median(base), wanbraidMedian: median(wb), ratio },
      };
    } finally {
      await L.down();
    }
  },
};
