/**
 * One nftables transaction, two ways (issue 14: state change → kernel applied, p99 ≤ 20 ms with
 * 8 links). The daemon applies each plan change as one `nft -j -f` process today; this measures
 * what that process costs against a libnftables context kept open for the same transactions, on
 * the same balancer-shaped ruleset, in a namespace of its own (bench/tools/nft-latency.py: a
 * policy's mark → verdict map re-pointed, flushed and refilled with 8 ranges, N times each way).
 * The goal row is the persistent context's p99 against the 20 ms; the process figures are
 * the reference measured in the same run.
 */
import { fileURLToPath } from 'node:url';
import { NamespaceSet } from '../src/lab/netns.js';
import { goal, summary, type Benchmark } from './harness.js';

const TOOL = fileURLToPath(new URL('../../bench/tools/nft-latency.py', import.meta.url));

export const benchmark: Benchmark = {
  name: 'nft-latency',
  description: 'one nftables transaction: an nft process per change (today) vs a persistent libnftables context, same ruleset',
  async run(ctx) {
    const n = ctx.quick ? 40 : 300;
    const set = await NamespaceSet.create(['nft']);
    try {
      ctx.progress(`${n} transactions each way`);
      const r = await set.exec('nft', ['python3', TOOL, String(n)], { timeoutMs: 300_000 });
      const out = JSON.parse(r.stdout) as { ok: boolean; elements: number; process: number[]; context: number[] };
      const p = summary(out.process);
      const c = summary(out.context);
      ctx.progress(`process: median ${p.median.toFixed(2)} ms, p99 ${p.p99.toFixed(2)}; context: median ${c.median.toFixed(2)} ms, p99 ${c.p99.toFixed(2)}`);
      return {
        goals: [
          goal('both ways leave the map as written (8 elements)', out.ok ? 1 : 0, 'bool', '==', 1),
          goal('persistent libnftables context, p99 per transaction', c.p99, 'ms', '<=', 20),
          goal('nft process per transaction (today), p99, reference', p.p99, 'ms', '<=', 20),
        ],
        data: { transactions: n, process: p, context: c, ratioOfMedians: p.median / c.median, samplesMs: { process: out.process, context: out.context } },
      };
    } finally {
      await set.destroy();
    }
  },
};
