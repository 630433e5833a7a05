/**
 * What the passive signal costs (issue 14: "CPU for the passive signal, 16 busy links < 1 % of a
 * core"), and which input to read: in a namespace of its own with 16 veth links, each carrying a
 * ping flow of 100 packets/s to a peer namespace,
 *
 *   - per read of every link's counters: RTM_GETSTATS (what health uses) against RTM_GETLINK
 *     (IFLA_STATS64 in full link messages), both in node on one kept rtnetlink socket; and the
 *     balancer-style alternative, per-link nft counters, read through a kept libnftables context
 *     (no process), through one `nft -j` process per read (reference), with RTM_GETSTATS in the
 *     same language beside them (bench/tools/nft-counters.py);
 *   - the passive signal as the daemon runs it: the sampler every 100 ms and one tracker per link
 *     (bench/tools/passive-cost.ts run): all the process's CPU over the run (after a 2 s warm-up),
 *     with the same process idle as long beside it as a reference.
 *
 *   ns a: v0..v15 198.18.(100+i).1/24 ══ veth ══ ns b: p0..p15 198.18.(100+i).2/24
 */
import { fileURLToPath } from 'node:url';
import { NamespaceSet } from '../src/lab/netns.js';
import { goal, summary, type Benchmark } from './harness.js';

const TOOL = fileURLToPath(new URL('./tools/passive-cost.js', import.meta.url));
const NFT_TOOL = fileURLToPath(new URL('../../bench/tools/nft-counters.py', import.meta.url));
const LINKS = 16;

interface Reads {
  wallMs: number[];
  cpuUs: number;
}

export const benchmark: Benchmark = {
  name: 'passive-cost',
  description: 'the passive signal: reading 16 links’ counters (rtnetlink vs nft counters) and its CPU with 16 busy links',
  async run(ctx) {
    const n = ctx.quick ? 100 : 1000;
    const seconds = ctx.quick ? 5 : 60;
    const set = await NamespaceSet.create(['a', 'b']);
    try {
      const names = Array.from({ length: LINKS }, (_, i) => `v${i}`);
      await set.ip(
        'a',
        names.flatMap((v, i) => [`link add ${v} type veth peer name p${i} netns ${set.ns('b')}`, `addr add 198.18.${100 + i}.1/24 dev ${v}`, `link set ${v} up`]),
      );
      await set.ip('b', names.flatMap((_, i) => [`addr add 198.18.${100 + i}.2/24 dev p${i}`, `link set p${i} up`]));
      for (let i = 0; i < LINKS; i++) set.spawn('a', ['ping', '-q', '-i', '0.01', `198.18.${100 + i}.2`]);
      ctx.progress(`${LINKS} links, a ping flow of 100 packets/s on each; ${n} reads each way`);

      const node = JSON.parse((await set.exec('a', [process.execPath, TOOL, 'reads', String(n)], { timeoutMs: 300_000 })).stdout) as { getstats: Reads; getlink: Reads; links: number };
      const py = JSON.parse((await set.exec('a', ['python3', NFT_TOOL, String(n), names.join(',')], { timeoutMs: 600_000 })).stdout) as { context: Reads; process: Reads; rtnl: Reads; counters: number };
      const row = (r: Reads) => ({ wallMs: summary(r.wallMs), cpuUsPerRead: r.cpuUs });
      const reads = {
        'node RTM_GETSTATS (health)': row(node.getstats),
        'node RTM_GETLINK + IFLA_STATS64': row(node.getlink),
        'python RTM_GETSTATS': row(py.rtnl),
        'python libnftables context, list counters': row(py.context),
        'nft -j list counters, a process per read': row(py.process),
      };
      for (const [k, v] of Object.entries(reads)) ctx.progress(`${k}: median ${v.wallMs.median.toFixed(3)} ms, p99 ${v.wallMs.p99.toFixed(3)} ms, ${v.cpuUsPerRead.toFixed(0)} µs CPU per read`);

      ctx.progress(`the passive signal for ${seconds} s over ${LINKS} busy links, then idle as long`);
      const r = JSON.parse((await set.exec('a', [process.execPath, TOOL, 'run', String(seconds), names.join(',')], { timeoutMs: (4 * seconds + 60) * 1000 })).stdout) as {
        cpuUs: number;
        idleCpuUs: number;
        wallMs: number;
        reads: number;
        suspicions: number;
      };
      // All the process's CPU over the run (conservative: nothing subtracted); the idle figure is kept as a reference.
      const pct = (r.cpuUs / 1000 / r.wallMs) * 100;
      const idlePct = (r.idleCpuUs / 1000 / r.wallMs) * 100;
      ctx.progress(`passive signal: ${pct.toFixed(3)} % of a core (${r.reads} reads, ${r.suspicions} suspicions); the same process idle: ${idlePct.toFixed(3)} %`);
      return {
        goals: [
          goal('CPU of the passive signal, 16 busy links (sampler every 100 ms + 16 trackers), whole process, % of a core', pct, '%', '<=', 1),
          goal('a read of 16 links’ counters, RTM_GETSTATS, median', reads['node RTM_GETSTATS (health)'].wallMs.median, 'ms', '<=', 1),
          goal('busy answered links: suspicions', r.suspicions, 'count', '==', 0),
        ],
        data: { links: LINKS, readsEachWay: n, reads, run: { ...r, seconds, pctOfCore: pct, idlePctOfCore: idlePct } },
      };
    } finally {
      await set.destroy();
    }
  },
};
