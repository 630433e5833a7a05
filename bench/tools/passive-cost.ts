/**
 * The cost of the passive signal's input, run inside a namespace with the links to read
 * (bench/passive-cost.bench.ts builds it):
 *
 *   passive-cost.js reads N        per read of every interface's counters, N times each way, on
 *                                  one kept rtnetlink socket: RTM_GETSTATS (IFLA_STATS_LINK_64,
 *                                  what health uses) and RTM_GETLINK (IFLA_STATS64 inside full
 *                                  link messages); prints {"getstats": {wallMs: [...], cpuUs},
 *                                  "getlink": {...}, "links": n}
 *   passive-cost.js run SECONDS IFNAMES [PERIOD_MS]   the passive signal as the daemon runs it: the sampler
 *                                  every 100 ms over the real source, one tracker per named
 *                                  interface (online, passive on), for SECONDS; then as long
 *                                  again with the sampler stopped (the idle process, the
 *                                  reference); prints {"cpuUs", "idleCpuUs", "wallMs", "reads",
 *                                  "suspicions"}
 */
import { RtnlClient, linkStats } from '../../src/kernel/rtnl/index.js';
import { RtnlTrafficSource } from '../../src/health/rtnl-source.js';
import { TrafficSampler } from '../../src/health/traffic.js';
import { LinkTracker } from '../../src/health/tracker.js';
import { systemClock } from '../../src/health/clock.js';
import { validateConfig } from '../../src/config/load.js';

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function reads(n: number): Promise<void> {
  const c = RtnlClient.open();
  const out: Record<string, { wallMs: number[]; cpuUs: number }> = {};
  let links = 0;
  for (const [name, f] of [
    ['getstats', () => linkStats.list(c)],
    ['getlink', () => linkStats.listViaLink(c)],
  ] as const) {
    for (let i = 0; i < 20; i++) await f(); // warm up
    const wallMs: number[] = [];
    const c0 = cpu();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      links = (await f()).length;
      wallMs.push(performance.now() - t);
    }
    out[name] = { wallMs, cpuUs: (cpu() - c0) / n };
  }
  c.close();
  process.stdout.write(JSON.stringify({ ...out, links }) + '\n');
}

async function run(seconds: number, ifnames: string[], periodMs: number | undefined): Promise<void> {
  const c = RtnlClient.open();
  const all = await (await import('../../src/kernel/rtnl/index.js')).link.list(c);
  c.close();
  const probe = validateConfig({ links: [{ name: 'l', interface: 'l', probe: { targets: ['198.19.0.1', '198.19.0.2'] } }] }).links[0]!.probe!;
  const trackers = new Map<number, LinkTracker>();
  for (const n of ifnames) {
    const l = all.find((x) => x.name === n);
    if (!l) throw new Error(`no interface ${n}`);
    trackers.set(l.ifindex, new LinkTracker({ probe, initialState: 'online' }, { usable: true, reason: { kind: 'initial' } }, systemClock.now()));
  }
  let suspicions = 0;
  const sampler = new TrafficSampler({
    source: new RtnlTrafficSource(),
    clock: systemClock,
    wanted: () => true,
    onSample: (counters, at) => {
      for (const [ifindex, t] of trackers) {
        const x = counters.get(ifindex);
        if (x) suspicions += t.traffic({ at, ...x }).length > 0 ? 1 : 0;
        t.takePassiveEvents();
      }
    },
    onError: (err) => {
      throw err;
    },
    ...(periodMs ? { periodMs } : {}),
  });
  // Warm up (socket opened, code compiled) before measuring.
  sampler.start();
  await new Promise((r) => setTimeout(r, 2000));
  const reads0 = sampler.reads;
  const c0 = cpu();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await sampler.stop();
  const cpuUs = cpu() - c0;
  const wallMs = performance.now() - t0;
  const i0 = cpu();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const idleCpuUs = cpu() - i0;
  process.stdout.write(JSON.stringify({ cpuUs, idleCpuUs, wallMs, reads: sampler.reads - reads0, suspicions, links: trackers.size }) + '\n');
}

const [cmd, a, b, c] = process.argv.slice(2);
if (cmd === 'reads') await reads(Number(a));
else if (cmd === 'run') await run(Number(a), (b ?? '').split(',').filter(Boolean), c ? Number(c) : undefined);
else {
  process.stderr.write('usage: passive-cost.js reads N | run SECONDS IFNAME,... [PERIOD_MS]\n');
  process.exit(2);
}
