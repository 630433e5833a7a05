/**
 * The striping relay's goals (issue 5), measured in the relay lab:
 *
 *   user ── entry ═╦═ hop1 (tbf) ═╗
 *                  ╚═ hop2 (tbf) ═╩═ exit ── target
 *
 * One TCP download per case (bench/tools/bulk.py, ≥ 8 s of measurement after a 1 s warm-up), in
 * the same run and over the same two shaped paths: through the relay (user → entry → hops →
 * exit → target), in-kernel MPTCP (entry → target with one subflow per hop) and the best single
 * link (entry → target through hop1). Medians over the trials; the relay as a ratio to the nominal
 * sum of the link rates, to MPTCP and to the best single link.
 *
 * Then a path cut mid-download (carrier-down, then blackhole, on path2): sha256 of what arrived,
 * the longest delivery stall, how soon the download is back to 90% of the surviving link's own
 * rate, and how soon the path carries data again once restored.
 *
 * Then, on loopback in a namespace with no rate limit, with encryption: iperf3 through entry and
 * exit (both directions), against iperf3 directly in the same run, with each relay process's CPU
 * cost per GB; and 200 concurrent flows with the relay processes' peak memory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RelayLab } from '../src/lab/lab.js';
import { NamespaceSet } from '../src/lab/netns.js';
import { RelayProcess, type StandaloneStatus } from '../src/relay/standalone-process.js';
import { generateKey } from '../src/relay/key.js';
import { goal, median, type BenchContext, type Benchmark, type Goal } from './harness.js';

const BULK = fileURLToPath(new URL('../../bench/tools/bulk.py', import.meta.url));
const FLOWS = fileURLToPath(new URL('./tools/flows.js', import.meta.url));
const MBIT = 1e6;
const WARMUP_MS = 1000;

interface Fetch {
  bytes: number;
  seconds: number;
  sha256: string;
  ticks: [number, number][];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Goodput (bit/s) after the warm-up, from a fetch's ticks. */
function goodput(f: Fetch): number {
  const t = f.ticks;
  const start = t.find(([ms]) => ms >= WARMUP_MS) ?? t[0]!;
  const end = t[t.length - 1]!;
  return ((end[1] - start[1]) * 8 * 1000) / Math.max(1, end[0] - start[0]);
}

function write(dir: string, name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

class RelayBench {
  port = 6000;
  constructor(
    readonly lab: RelayLab,
    readonly ctx: BenchContext,
    readonly seconds: number,
  ) {}

  /** One download: a bulk.py server in `target`, a fetch from `node` to host:port. */
  async fetch(node: string, host: string, port: number, serverPort: number, mptcp: boolean, during?: (t0: number) => Promise<void>): Promise<{ fetch: Fetch; sent: { sent: number; sha256: string } }> {
    const srvArgs = ['python3', BULK, 'serve', String(serverPort), String(this.seconds + WARMUP_MS / 1000), ...(mptcp ? ['--mptcp'] : [])];
    const srv = this.lab.spawn('target', srvArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    srv.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    while (lines.length === 0) await sleep(20);
    const t0 = Date.now();
    const side = during ? during(t0) : Promise.resolve();
    const r = await this.lab.exec(node, ['python3', BULK, 'fetch', host, String(port), ...(mptcp ? ['--mptcp'] : [])], { timeoutMs: (this.seconds + 60) * 1000 });
    await side;
    while (lines.length < 2 && srv.exitCode === null) await sleep(20);
    const sent = JSON.parse(lines[1] ?? '{"sent":0,"sha256":""}') as { sent: number; sha256: string };
    return { fetch: JSON.parse(r.stdout) as Fetch, sent };
  }
}

async function setupRoutes(lab: RelayLab): Promise<void> {
  const [p1, p2] = lab.addr.paths;
  const t = lab.addr.relay;
  // Entry → target directly through hop1 (single link) and, for the second MPTCP subflow, from
  // the entry's hop2 address through hop2.
  await lab.ip('entry', [
    `route add ${t.targetPrefix4} via ${p1!.hop4} dev ${p1!.hop}`,
    `route add ${t.targetPrefix4} via ${p2!.hop4} dev ${p2!.hop} table 12`,
    `rule add from ${p2!.entry4} lookup 12 priority 1000`,
    `mptcp limits set subflow 2 add_addr_accepted 2`,
    `mptcp endpoint add ${p2!.entry4} dev ${p2!.hop} subflow`,
  ]);
  await lab.ip('target', ['mptcp limits set subflow 2 add_addr_accepted 2']);
}

async function startRelayRoles(lab: RelayLab, serverPort: number, tuning = ''): Promise<{ entry: RelayProcess; exit: RelayProcess }> {
  const a = lab.addr;
  const key = write(lab.dir, 'relay.key', generateKey() + '\n');
  const spawnIn = (node: string) => (argv: string[]) => lab.spawn(node, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exit = await RelayProcess.start(spawnIn('exit'), write(lab.dir, 'exit.yaml', `relay:\n  exit: { listen: 0.0.0.0:7000, keyFile: ${key}, allow: [${a.relay.target4}:${serverPort}] }\n${tuning}`));
  for (const p of a.paths) await RelayProcess.start(spawnIn(p.hop), write(lab.dir, `${p.hop}.yaml`, `forwards:\n  - { listen: 0.0.0.0:7001, to: ${a.relay.exit4}:7000 }\n`));
  const paths = a.paths.map((p) => `{ name: ${p.name}, via: ${p.hop4}:7001 }`).join(', ');
  const entry = await RelayProcess.start(
    spawnIn('entry'),
    write(lab.dir, 'entry.yaml', `relay:\n  entries:\n    - { name: bulk, listen: ${a.relay.entryUser4}:30000, target: ${a.relay.target4}:${serverPort}, exit: ${a.relay.exit4}:7000, keyFile: ${key}, paths: [${paths}] }\n${tuning}`),
  );
  for (let i = 0; i < 200; i++) {
    const st = await entry.status();
    if (st.status.entries[0]!.paths.every((p) => p.state === 'up')) break;
    await sleep(50);
  }
  return { entry, exit };
}

interface RateCase {
  label: string;
  rates: [string, string];
  nominal: number;
}

async function rateCase(c: RateCase, ctx: BenchContext, trials: number, seconds: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  ctx.progress(`${c.label}: bringing up the relay lab (${c.rates.join(' + ')})`);
  const lab = await RelayLab.up({ paths: 2, rates: c.rates, services: false });
  try {
    await setupRoutes(lab);
    const SERVER = 5400;
    await startRelayRoles(lab, SERVER);
    const b = new RelayBench(lab, ctx, seconds);
    const target = lab.addr.relay.target4;
    const samples = { relay: [] as number[], mptcp: [] as number[], single: [] as number[] };
    const shaOk: boolean[] = [];
    for (let i = 0; i < trials; i++) {
      for (const kind of ['relay', 'mptcp', 'single'] as const) {
        ctx.progress(`${c.label}: trial ${i + 1}/${trials}, ${kind} (${seconds} s)`);
        const r =
          kind === 'relay'
            ? await b.fetch('user', lab.addr.relay.entryUser4, 30000, SERVER, false)
            : await b.fetch('entry', target, SERVER + 1, SERVER + 1, kind === 'mptcp');
        const g = goodput(r.fetch);
        samples[kind].push(g);
        if (kind === 'relay') shaOk.push(r.fetch.sha256 === r.sent.sha256 && r.fetch.bytes === r.sent.sent);
        ctx.progress(`${c.label}: ${kind} ${(g / MBIT).toFixed(1)} Mbit/s`);
      }
    }
    const relay = median(samples.relay);
    const mptcp = median(samples.mptcp);
    const single = median(samples.single);
    const goals = [
      goal(`${c.label}: relay / sum of link rates (${c.nominal / MBIT} Mbit)`, relay / c.nominal, 'ratio', '>=', c.label.startsWith('equal') ? 0.9 : 0.85),
      goal(`${c.label}: relay / best single link`, relay / single, 'ratio', '>=', 1),
      goal(`${c.label}: sha256 of every relayed download matches`, shaOk.filter(Boolean).length, 'downloads', '==', trials),
    ];
    const data = {
      rates: c.rates,
      nominalBps: c.nominal,
      medianBps: { relay, mptcp, single },
      relayToMptcp: relay / mptcp,
      relayToSingle: relay / single,
      relayToNominal: relay / c.nominal,
      samplesBps: samples,
    };
    ctx.progress(`${c.label}: relay ${(relay / MBIT).toFixed(1)}, MPTCP ${(mptcp / MBIT).toFixed(1)}, single ${(single / MBIT).toFixed(1)} Mbit/s`);
    return { goals, data };
  } finally {
    await lab.down();
  }
}

async function cutCase(fault: 'carrier-down' | 'blackhole', ctx: BenchContext, singleBps: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const label = `cut ${fault}`;
  ctx.progress(`${label}: bringing up the relay lab (40mbit + 40mbit)`);
  const lab = await RelayLab.up({ paths: 2, rates: ['40mbit', '40mbit'], services: false });
  try {
    const SERVER = 5500;
    const { exit } = await startRelayRoles(lab, SERVER);
    const seconds = 20;
    const b = new RelayBench(lab, ctx, seconds - 1);
    const cutAt = 6000;
    const restoreAt = 12_000;
    let restoredAt = 0;
    let usedAgainAt: number | undefined;
    const pathBytes = async () => {
      const st: StandaloneStatus = await exit.status();
      const p = st.status.exit!.sessions[0]?.paths.find((x) => x.name === 'path2');
      return p ? p.txBytes : -1;
    };
    const r = await b.fetch('user', lab.addr.relay.entryUser4, 30000, SERVER, false, async (t0) => {
      await sleep(cutAt - (Date.now() - t0));
      ctx.progress(`${label}: cutting path2`);
      await lab.fault('path2', { kind: fault });
      await sleep(restoreAt - (Date.now() - t0));
      ctx.progress(`${label}: restoring path2`);
      await lab.fault('path2', { kind: fault === 'carrier-down' ? 'carrier-up' : 'clear' });
      restoredAt = Date.now() - t0;
      let last = await pathBytes();
      while (Date.now() - t0 < (seconds - 1) * 1000) {
        await sleep(100);
        const now = await pathBytes();
        if (now > 0 && last >= 0 && now > last) {
          usedAgainAt = Date.now() - t0;
          break;
        }
        if (last < 0) last = now;
      }
    });
    // The fetch's clock starts at its first byte, a few ms after t0: close enough at 100 ms ticks.
    const ticks = r.fetch.ticks;
    let stall = 0;
    let run = 0;
    for (let i = 1; i < ticks.length; i++) {
      if (ticks[i]![0] < cutAt) continue;
      run = ticks[i]![1] === ticks[i - 1]![1] ? run + (ticks[i]![0] - ticks[i - 1]![0]) : 0;
      stall = Math.max(stall, run);
    }
    // First 1 s window after the cut at >= 90% of the surviving link's own rate.
    let recoverMs = Infinity;
    for (const [ms, bytes] of ticks) {
      if (ms < cutAt || ms > restoreAt - 1000) continue;
      const later = ticks.find(([m]) => m >= ms + 1000);
      if (!later) break;
      const rate = ((later[1] - bytes) * 8 * 1000) / (later[0] - ms);
      if (rate >= 0.9 * singleBps) {
        recoverMs = ms + 1000 - cutAt;
        break;
      }
    }
    const back = usedAgainAt === undefined ? Infinity : usedAgainAt - restoredAt;
    const ok = r.fetch.sha256 === r.sent.sha256 && r.fetch.bytes === r.sent.sent;
    ctx.progress(`${label}: sha ${ok ? 'ok' : 'MISMATCH'}, stall ${stall} ms, survivor at 90% after ${recoverMs} ms, path used again ${back} ms after restore`);
    return {
      goals: [
        goal(`${label}: sha256 of the download matches`, ok ? 1 : 0, 'bool', '==', 1),
        goal(`${label}: longest delivery stall`, stall, 'ms', '<=', 2000),
        goal(`${label}: survivor at >= 90% of its rate (1 s window) after the cut`, recoverMs, 'ms', '<=', 3000),
        goal(`${label}: path used again after it came back`, back, 'ms', '<=', 5000),
      ],
      data: { fault, cutAtMs: cutAt, restoreAtMs: restoreAt, stallMs: stall, recoverMs, usedAgainMs: back, singleBps, bytes: r.fetch.bytes, ticks },
    };
  } finally {
    await lab.down();
  }
}

async function loopbackCase(ctx: BenchContext, seconds: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  ctx.progress('loopback: namespace with entry, exit, iperf3');
  const set = await NamespaceSet.create(['lo']);
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'wb-relay-bench-'));
  try {
    const key = write(dir, 'relay.key', generateKey() + '\n');
    const spawnIn = (argv: string[]) => set.spawn('lo', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const exit = await RelayProcess.start(spawnIn, write(dir, 'exit.yaml', 'relay:\n  exit: { listen: 127.0.0.1:7000, keyFile: ' + key + ', allow: [127.0.0.1:5201, 127.0.0.1:5300] }\n'));
    const entry = await RelayProcess.start(
      spawnIn,
      write(dir, 'entry.yaml', `relay:\n  entries:\n    - { name: lo, listen: 127.0.0.1:30000, target: 127.0.0.1:5201, exit: 127.0.0.1:7000, keyFile: ${key}, paths: [{ name: a, via: 127.0.0.1:7000 }, { name: b, via: 127.0.0.1:7000 }] }\n    - { name: flows, listen: 127.0.0.1:30001, target: 127.0.0.1:5300, exit: 127.0.0.1:7000, keyFile: ${key}, paths: [{ name: a, via: 127.0.0.1:7000 }, { name: b, via: 127.0.0.1:7000 }] }\n`),
    );
    set.spawn('lo', ['iperf3', '-s', '-p', '5201'], { stdio: 'ignore' });
    await sleep(500);
    const iperf = async (port: number, reverse: boolean) => {
      const r = await set.exec('lo', ['iperf3', '-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-O', '1', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: (seconds + 30) * 1000 });
      const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
      return j.end.sum_received.bits_per_second;
    };
    const cpuOf = (s: StandaloneStatus) => (s.cpu.user + s.cpu.system) / 1e6;
    const results: Record<string, { bps: number; entryCpuPerGB: number; exitCpuPerGB: number }> = {};
    for (const [name, reverse] of [['upload', false], ['download', true]] as const) {
      ctx.progress(`loopback: relay ${name} (${seconds} s)`);
      const [e0, x0] = [await entry.status(), await exit.status()];
      const bps = await iperf(30000, reverse);
      const [e1, x1] = [await entry.status(), await exit.status()];
      const gb = (bps * seconds) / 8 / 1e9;
      results[name] = { bps, entryCpuPerGB: (cpuOf(e1) - cpuOf(e0)) / gb, exitCpuPerGB: (cpuOf(x1) - cpuOf(x0)) / gb };
      ctx.progress(`loopback: relay ${name} ${(bps / 1e9).toFixed(2)} Gbit/s, CPU entry ${results[name].entryCpuPerGB.toFixed(2)} s/GB, exit ${results[name].exitCpuPerGB.toFixed(2)} s/GB`);
    }
    ctx.progress(`loopback: iperf3 directly (${seconds} s), the reference`);
    const direct = await iperf(5201, true);

    ctx.progress('loopback: 200 concurrent flows (4 MiB down, 256 KiB up each)');
    const srv = set.spawn('lo', [process.execPath, FLOWS, 'serve', '5300', String(4 * 2 ** 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((r) => srv.stdout!.once('data', () => r()));
    const base = { entry: (await entry.status()).rss, exit: (await exit.status()).rss };
    let peak = { entryRss: 0, exitRss: 0, unacked: 0, reorder: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [e, x] = [await entry.status(), await exit.status()];
        const es = e.status.entries.find((s) => s.name === 'flows')!;
        const xs = x.status.exit!.sessions;
        peak = {
          entryRss: Math.max(peak.entryRss, e.rss),
          exitRss: Math.max(peak.exitRss, x.rss),
          unacked: Math.max(peak.unacked, es.unackedBytes, ...xs.map((s) => s.unackedBytes)),
          reorder: Math.max(peak.reorder, es.reorderBytes, ...xs.map((s) => s.reorderBytes)),
        };
        await sleep(100);
      }
    })();
    const fr = await set.exec('lo', [process.execPath, FLOWS, 'run', '127.0.0.1', '30001', '200', String(4 * 2 ** 20), String(256 * 1024)], { timeoutMs: 300_000 });
    sampling = false;
    await sampler;
    const flows = JSON.parse(fr.stdout) as { ok: boolean; flows: number; bytes: number; seconds: number; bad: number };
    ctx.progress(`loopback: 200 flows ${flows.ok ? 'all exact' : `${flows.bad} bad`} in ${flows.seconds.toFixed(1)} s; peak RSS entry ${(peak.entryRss / 2 ** 20).toFixed(0)} MiB, exit ${(peak.exitRss / 2 ** 20).toFixed(0)} MiB`);
    const MiB = 2 ** 20;
    return {
      goals: [
        goal('loopback: relay download with encryption', results.download!.bps / 1e9, 'Gbit/s', '>=', 1),
        goal('loopback: relay upload with encryption', results.upload!.bps / 1e9, 'Gbit/s', '>=', 1),
        goal('200 concurrent flows: every download exact', flows.bad, 'bad flows', '==', 0),
        goal('200 concurrent flows: peak RSS of the busier relay process', Math.max(peak.entryRss, peak.exitRss) / MiB, 'MiB', '<=', 256),
      ],
      data: { relay: results, directBps: direct, relayToDirect: results.download!.bps / direct, flows, baseRss: base, peak, sessionBuffer: 32 * MiB },
    };
  } finally {
    await set.destroy();
    (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'relay',
  description: 'striping relay: 2 shaped paths vs in-kernel MPTCP and the best single link, path cuts, loopback throughput, 200 flows',
  async run(ctx) {
    const trials = ctx.quick ? 1 : 3;
    const seconds = ctx.quick ? 8 : 10;
    const goals: Goal[] = [];
    const data: Record<string, unknown> = { trials, seconds, warmupMs: WARMUP_MS };
    const equal = await rateCase({ label: 'equal 2 x 40 Mbit', rates: ['40mbit', '40mbit'], nominal: 80 * MBIT }, ctx, trials, seconds);
    goals.push(...equal.goals);
    data.equal = equal.data;
    const unequal = await rateCase({ label: 'unequal 40 + 8 Mbit', rates: ['40mbit', '8mbit'], nominal: 48 * MBIT }, ctx, trials, seconds);
    goals.push(...unequal.goals);
    data.unequal = unequal.data;
    const singleBps = (equal.data.medianBps as { single: number }).single;
    for (const fault of ['carrier-down', 'blackhole'] as const) {
      const c = await cutCase(fault, ctx, singleBps);
      goals.push(...c.goals);
      data[`cut-${fault}`] = c.data;
    }
    const lo = await loopbackCase(ctx, seconds);
    goals.push(...lo.goals);
    data.loopback = lo.data;
    return { goals, data };
  },
};
