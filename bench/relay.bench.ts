/**
 * The striping relay's goals (issues 5 and 10 §2), measured in the relay lab:
 *
 *   user ── entry ═╦═ hop1 (tbf, delay) ═╗
 *                  ╚═ hop2 (tbf, delay) ═╩═ exit ── target
 *
 * One TCP flow per transfer (bench/tools/bulk.py, `seconds` measured after a 1 s warm-up, from the
 * receiver's 100 ms ticks), in three directions: download (target → user), upload (user →
 * target), and both at once (an upload and a download through the same entry, hence the same
 * relay session and paths, to one bulk.py server; each measured on its own). Each case is one lab
 * (rates, one-way delays per path, loss on path2) in which every direction is measured, each
 * trial in the same order, by three methods over the same two shaped paths: through the relay
 * (user → entry → hops → exit → target), in-kernel MPTCP (entry ↔ target with one subflow per
 * hop; the entry is the MPTCP client in both directions) and the best single link (plain TCP
 * entry ↔ target through hop1, the fastest and shortest path in every case; download and upload
 * alone, in the first trial only). Medians over the trials; the relay as a ratio to the nominal sum of the link rates, to MPTCP and to the single
 * link. Every relayed transfer is checked end to end (byte count and sha256 of what was sent
 * against what arrived).
 *
 * MPTCP's subflows are confirmed per transfer from the bytes each hop forwarded in the data
 * direction (`ip -s link` in the hop namespaces, before and after: tx toward the entry for a
 * download, toward the exit for an upload) and the MPJoin* counters of the entry and target
 * namespaces (/proc/net/netstat); goal rows fail when any MPTCP transfer left a hop with less
 * than 0.5 % of the data bytes (a single subflow), or when the target did not complete one
 * MP_JOIN per connection (MPJoinAckRx).
 *
 * During each relayed transfer the entry's and exit's status is polled every 100 ms: peak reorder
 * bytes, unacknowledged bytes (per flow: session figure / flows) and RSS of each process.
 *
 * Then path cuts mid-download (carrier-down, then blackhole, on path2), with no added delay and on
 * unequal RTTs (10 / 60 ms): sha256 of what arrived, the longest delivery stall, how soon the
 * download is back to 90% of the surviving link's own rate, and how soon the path carries data
 * again once restored.
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
const MiB = 2 ** 20;
const WARMUP_MS = 1000;
/** A hop below this share of an MPTCP transfer's data bytes carried no subflow of its own. */
const MIN_SUBFLOW_SHARE = 0.005;

/** What a receiver reports (bulk.py fetch, or serve's upload). */
interface Received {
  bytes: number;
  seconds: number;
  sha256: string;
  ticks: [number, number][];
}

/** What a sender reports. */
interface Sent {
  sent: number;
  sha256: string;
  error?: string;
}

/** One direction of a transfer: the receiver's and the sender's account. */
interface Leg {
  recv: Received;
  sent: Sent;
}

type Direction = 'download' | 'upload' | 'both';
type Way = 'download' | 'upload';
type Method = 'relay' | 'mptcp' | 'single';

interface Transfer {
  download?: Leg;
  upload?: Leg;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Goodput (bit/s) after the warm-up, from a receiver's ticks. */
function goodput(f: Received): number {
  const t = f.ticks;
  const start = t.find(([ms]) => ms >= WARMUP_MS) ?? t[0]!;
  const end = t[t.length - 1]!;
  return ((end[1] - start[1]) * 8 * 1000) / Math.max(1, end[0] - start[0]);
}

/** The leg arrived whole: as many bytes as were sent, the same digest. */
function exact(l: Leg): boolean {
  return l.sent.error === undefined && l.recv.sha256 === l.sent.sha256 && l.recv.bytes === l.sent.sent && l.sent.sent > 0;
}

function ways(d: Direction): Way[] {
  return d === 'both' ? ['download', 'upload'] : [d];
}

function write(dir: string, name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

const mbit = (bps: number) => (bps / MBIT).toFixed(1);

class RelayBench {
  constructor(
    readonly lab: RelayLab,
    readonly ctx: BenchContext,
    readonly seconds: number,
  ) {}

  /**
   * One transfer: a bulk.py server in `target` on `serverPort`, and from `node` to host:port a
   * fetch (download), a push (upload) or both at once.
   */
  async transfer(node: string, host: string, port: number, serverPort: number, mptcp: boolean, direction: Direction, during?: (t0: number) => Promise<void>): Promise<Transfer> {
    const secs = String(this.seconds + WARMUP_MS / 1000);
    const conns = direction === 'both' ? 2 : 1;
    const mp = mptcp ? ['--mptcp'] : [];
    const srv = this.lab.spawn('target', ['python3', BULK, 'serve', String(serverPort), secs, '--conns', String(conns), ...mp], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    srv.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    try {
      for (let i = 0; lines.length === 0; i++) {
        if (srv.exitCode !== null || i > 500) throw new Error(`bulk.py serve on port ${serverPort} did not start (exit ${srv.exitCode})`);
        await sleep(20);
      }
      const t0 = Date.now();
      const opts = { timeoutMs: (this.seconds + 90) * 1000 };
      const [down, up] = await Promise.all([
        direction !== 'upload' ? this.lab.exec(node, ['python3', BULK, 'fetch', host, String(port), ...mp], opts) : undefined,
        direction !== 'download' ? this.lab.exec(node, ['python3', BULK, 'push', host, String(port), secs, ...mp], opts) : undefined,
        during ? during(t0) : undefined,
      ]);
      for (let i = 0; lines.length < 1 + conns && srv.exitCode === null && i < 1500; i++) await sleep(20);
      const reports = lines.slice(1).map((l) => JSON.parse(l) as { mode: Way | null } & Partial<Received & Sent>);
      const none: Sent = { sent: 0, sha256: '', error: 'no report from the server' };
      const out: Transfer = {};
      if (down) {
        const s = reports.find((r) => r.mode === 'download');
        out.download = { recv: JSON.parse(down.stdout) as Received, sent: s ? { sent: s.sent ?? 0, sha256: s.sha256 ?? '', ...(s.error ? { error: s.error } : {}) } : none };
      }
      if (up) {
        const r = reports.find((x) => x.mode === 'upload');
        const recv: Received = r?.ticks ? { bytes: r.bytes ?? 0, seconds: r.seconds ?? 0, sha256: r.sha256 ?? '', ticks: r.ticks } : { bytes: 0, seconds: 0, sha256: '', ticks: [[0, 0]] };
        out.upload = { recv, sent: JSON.parse(up.stdout) as Sent };
      }
      return out;
    } finally {
      if (srv.exitCode === null) srv.kill();
    }
  }

  /** Per hop, bytes sent so far toward the entry (down) and toward the exit (up). */
  async hopBytes(): Promise<{ hop: string; down: number; up: number }[]> {
    const out = [];
    for (const t of this.lab.plan.faults) {
      const r = await this.lab.exec(t.node, ['ip', '-j', '-s', 'link', 'show']);
      const links = JSON.parse(r.stdout) as { ifname: string; stats64?: { tx: { bytes: number } } }[];
      const tx = (dev: string) => links.find((l) => l.ifname === dev)?.stats64?.tx.bytes ?? 0;
      out.push({ hop: t.node, down: tx(t.carrierDev), up: tx(t.farDev) });
    }
    return out;
  }

  /** The MPJoin* counters of a node's namespace (/proc/net/netstat). */
  async mpJoins(node: string): Promise<Record<string, number>> {
    const r = await this.lab.exec(node, ['cat', '/proc/net/netstat']);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
    if (rows.length < 2) return {};
    const names = rows[0]!.split(/\s+/).slice(1);
    const values = rows[1]!.split(/\s+/).slice(1).map(Number);
    const out: Record<string, number> = {};
    names.forEach((n, i) => {
      if (n.startsWith('MPJoin')) out[n] = values[i] ?? 0;
    });
    return out;
  }
}

/** Peak buffers and memory of the relay processes while a transfer runs (status every 100 ms). */
interface MemoryPeak {
  samples: number;
  flows: number;
  entry: { rss: number; reorderBytes: number; unackedBytes: number; perFlowBytes: number };
  exit: { rss: number; reorderBytes: number; unackedBytes: number; perFlowBytes: number };
}

function sampleMemory(entry: RelayProcess, exit: RelayProcess): { stop(): Promise<MemoryPeak> } {
  const side = () => ({ rss: 0, reorderBytes: 0, unackedBytes: 0, perFlowBytes: 0 });
  const peak: MemoryPeak = { samples: 0, flows: 0, entry: side(), exit: side() };
  let running = true;
  const note = (p: MemoryPeak['entry'], rss: number, c: { flows: number; reorderBytes: number; unackedBytes: number } | undefined) => {
    p.rss = Math.max(p.rss, rss);
    if (!c) return;
    p.reorderBytes = Math.max(p.reorderBytes, c.reorderBytes);
    p.unackedBytes = Math.max(p.unackedBytes, c.unackedBytes);
    p.perFlowBytes = Math.max(p.perFlowBytes, (c.reorderBytes + c.unackedBytes) / Math.max(1, c.flows));
    peak.flows = Math.max(peak.flows, c.flows);
  };
  const loop = (async () => {
    while (running) {
      const [e, x] = await Promise.all([entry.status(), exit.status()]);
      note(peak.entry, e.rss, e.status.entries[0]);
      note(peak.exit, x.rss, x.status.exit?.sessions[0]);
      peak.samples++;
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
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

/** One lab setting of the goal table, measured in every listed direction. */
interface RateCase {
  key: string;
  label: string;
  rates: [string, string];
  /** One-way delay per path, each direction (RTT = 2 ×). */
  delays?: [string, string];
  /** Random loss on path2 (percent of the packets entering hop2, each direction). */
  lossPct2?: number;
  nominal: number;
  directions: Direction[];
  /** Goal for download and upload alone: relay / sum of the link rates. */
  sumGoal?: number;
  /** Goal for both at once, each way: relay / sum of the link rates. */
  bothGoal?: number;
  /** Relay ≥ MPTCP (download and upload alone). */
  vsMptcp?: boolean;
  /** Relay ≥ this × the single link (download and upload alone). */
  vsSingle?: number;
  /** Sample the relay processes' buffers and RSS, and report the peak as a goal row. */
  memoryRow?: boolean;
}

type Medians = Partial<Record<Method, number>>;

async function rateCase(c: RateCase, ctx: BenchContext, trials: number, seconds: number): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const setting = `${c.rates.join(' + ')}${c.delays ? `, one-way delays ${c.delays.join(' / ')}` : ''}${c.lossPct2 ? `, ${c.lossPct2}% loss on path2` : ''}`;
  ctx.progress(`${c.label}: bringing up the relay lab (${setting})`);
  const lab = await RelayLab.up({ paths: 2, rates: c.rates, ...(c.delays ? { delays: c.delays } : {}), services: false });
  try {
    if (c.lossPct2) await lab.fault('path2', { kind: 'loss', pct: c.lossPct2 });
    await setupRoutes(lab);
    const SERVER = 5400;
    const { entry, exit } = await startRelayRoles(lab, SERVER);
    const b = new RelayBench(lab, ctx, seconds);
    const target = lab.addr.relay.target4;
    // samples[direction][way][method]: bit/s per trial.
    const samples: Partial<Record<Direction, Partial<Record<Way, Partial<Record<Method, number[]>>>>>> = {};
    const exactLegs: { direction: Direction; way: Way; trial: number; exact: boolean; bytes: number }[] = [];
    const mptcpSplit: { direction: Direction; trial: number; hops: { hop: string; down: number; up: number }[]; share: number[]; joins: Record<string, Record<string, number>> }[] = [];
    const memory: Partial<Record<Direction, MemoryPeak[]>> = {};
    for (let i = 0; i < trials; i++) {
      for (const d of c.directions) {
        // The single link (plain TCP through one tbf) is measured in the first trial only: its
        // trials agree within 0.3 % (bench/results/relay.json), and it saves a fifth of the run.
        const methods: Method[] = d === 'both' || i > 0 ? ['relay', 'mptcp'] : ['relay', 'mptcp', 'single'];
        for (const m of methods) {
          ctx.progress(`${c.label}: trial ${i + 1}/${trials}, ${d}, ${m} (${seconds} s)`);
          let r: Transfer;
          if (m === 'relay') {
            const mem = sampleMemory(entry, exit);
            try {
              r = await b.transfer('user', lab.addr.relay.entryUser4, 30000, SERVER, false, d);
            } finally {
              (memory[d] ??= []).push(await mem.stop());
            }
          } else {
            const [h0, je0, jt0] = await Promise.all([b.hopBytes(), b.mpJoins('entry'), b.mpJoins('target')]);
            r = await b.transfer('entry', target, SERVER + 1, SERVER + 1, m === 'mptcp', d);
            if (m === 'mptcp') {
              const [h1, je1, jt1] = await Promise.all([b.hopBytes(), b.mpJoins('entry'), b.mpJoins('target')]);
              const hops = h1.map((h, k) => ({ hop: h.hop, down: h.down - h0[k]!.down, up: h.up - h0[k]!.up }));
              // The data direction(s): toward the entry for a download, toward the exit for an upload.
              const data = hops.map((h) => (d !== 'upload' ? h.down : 0) + (d !== 'download' ? h.up : 0));
              const total = data.reduce((s, x) => s + x, 0);
              const delta = (a: Record<string, number>, z: Record<string, number>) => Object.fromEntries(Object.keys(a).filter((k) => a[k] !== z[k]).map((k) => [k, a[k]! - (z[k] ?? 0)]));
              mptcpSplit.push({ direction: d, trial: i + 1, hops, share: data.map((x) => (total > 0 ? x / total : 0)), joins: { entry: delta(je1, je0), target: delta(jt1, jt0) } });
            }
          }
          const parts: string[] = [];
          for (const w of ways(d)) {
            const leg = r[w]!;
            const g = goodput(leg.recv);
            (((samples[d] ??= {})[w] ??= {})[m] ??= []).push(g);
            if (m === 'relay') exactLegs.push({ direction: d, way: w, trial: i + 1, exact: exact(leg), bytes: leg.recv.bytes });
            parts.push(`${d === 'both' ? `${w} ` : ''}${mbit(g)} Mbit/s${m === 'relay' && !exact(leg) ? ' (NOT EXACT)' : ''}`);
          }
          const last = mptcpSplit[mptcpSplit.length - 1];
          const split = m === 'mptcp' && last ? `, hop shares ${last.share.map((s) => `${(s * 100).toFixed(1)}%`).join(' / ')}, joins ${last.joins.target!.MPJoinAckRx ?? 0}` : '';
          ctx.progress(`${c.label}: ${d}, ${m}: ${parts.join(', ')}${split}`);
        }
      }
    }
    const medians: Partial<Record<Direction, Partial<Record<Way, Medians>>>> = {};
    for (const [d, byWay] of Object.entries(samples) as [Direction, Partial<Record<Way, Partial<Record<Method, number[]>>>>][]) {
      for (const [w, byMethod] of Object.entries(byWay) as [Way, Partial<Record<Method, number[]>>][]) {
        const med: Medians = {};
        for (const [m, xs] of Object.entries(byMethod) as [Method, number[]][]) med[m] = median(xs);
        (medians[d] ??= {})[w] = med;
      }
    }
    const goals: Goal[] = [];
    const sumLabel = `sum of link rates (${c.nominal / MBIT} Mbit)`;
    for (const d of c.directions) {
      for (const w of ways(d)) {
        const med = medians[d]![w]!;
        const relay = med.relay!;
        const what = d === 'both' ? `both at once, ${w}` : w;
        ctx.progress(`${c.label}: ${what}: relay ${mbit(relay)}, MPTCP ${mbit(med.mptcp!)}${med.single !== undefined ? `, single ${mbit(med.single)}` : ''} Mbit/s; relay / sum ${(relay / c.nominal).toFixed(3)}`);
        if (d === 'both') {
          if (c.bothGoal !== undefined) goals.push(goal(`${c.label}, ${what}: relay / ${sumLabel}`, relay / c.nominal, 'ratio', '>=', c.bothGoal));
          continue;
        }
        if (c.sumGoal !== undefined) goals.push(goal(`${c.label}, ${what}: relay / ${sumLabel}`, relay / c.nominal, 'ratio', '>=', c.sumGoal));
        if (c.vsMptcp) goals.push(goal(`${c.label}, ${what}: relay / MPTCP`, relay / med.mptcp!, 'ratio', '>=', 1));
        if (c.vsSingle !== undefined) goals.push(goal(`${c.label}, ${what}: relay / best single link (path1 alone)`, relay / med.single!, 'ratio', '>=', c.vsSingle));
      }
    }
    goals.push(goal(`${c.label}: every relayed transfer exact (bytes and sha256)`, exactLegs.filter((l) => l.exact).length, 'transfers', '==', exactLegs.length));
    const minShare = Math.min(...mptcpSplit.map((s) => Math.min(...s.share)));
    goals.push(goal(`${c.label}: MPTCP ran on both subflows (smallest hop share of the data bytes, lowest transfer)`, minShare, 'ratio', '>=', MIN_SUBFLOW_SHARE));
    const joined = mptcpSplit.filter((s) => (s.joins.target!.MPJoinAckRx ?? 0) >= (s.direction === 'both' ? 2 : 1)).length;
    goals.push(goal(`${c.label}: MPTCP transfers whose every connection joined its second subflow (MPJoinAckRx at the target)`, joined, 'transfers', '==', mptcpSplit.length));
    const memoryPeak = Object.fromEntries(
      (Object.entries(memory) as [Direction, MemoryPeak[]][]).map(([d, ps]) => [
        d,
        {
          flows: Math.max(...ps.map((p) => p.flows)),
          perFlowBytes: Math.max(...ps.map((p) => Math.max(p.entry.perFlowBytes, p.exit.perFlowBytes))),
          entry: { rss: Math.max(...ps.map((p) => p.entry.rss)), reorderBytes: Math.max(...ps.map((p) => p.entry.reorderBytes)), unackedBytes: Math.max(...ps.map((p) => p.entry.unackedBytes)) },
          exit: { rss: Math.max(...ps.map((p) => p.exit.rss)), reorderBytes: Math.max(...ps.map((p) => p.exit.reorderBytes)), unackedBytes: Math.max(...ps.map((p) => p.exit.unackedBytes)) },
        },
      ]),
    ) as Record<Direction, { flows: number; perFlowBytes: number; entry: { rss: number; reorderBytes: number; unackedBytes: number }; exit: { rss: number; reorderBytes: number; unackedBytes: number } }>;
    const perFlow = Math.max(...Object.values(memoryPeak).map((p) => p.perFlowBytes));
    const rss = Math.max(...Object.values(memoryPeak).map((p) => Math.max(p.entry.rss, p.exit.rss)));
    ctx.progress(`${c.label}: peak relay buffers per flow (reorder + unacked, busier side) ${(perFlow / MiB).toFixed(2)} MiB; peak RSS ${(rss / MiB).toFixed(0)} MiB`);
    if (c.memoryRow) {
      // The bound is the session's (relay.tuning.sessionBuffer, 32 MiB by default): reported per flow.
      goals.push(goal(`${c.label}: peak relay buffers per flow (reorder + unacked, busier of entry/exit)`, perFlow / MiB, 'MiB', '<=', 32));
      goals.push(goal(`${c.label}: peak RSS of the busier relay process`, rss / MiB, 'MiB', '<=', 256));
    }
    const ratios = Object.fromEntries(
      (Object.entries(medians) as [Direction, Partial<Record<Way, Medians>>][]).map(([d, byWay]) => [
        d,
        Object.fromEntries(
          (Object.entries(byWay) as [Way, Medians][]).map(([w, m]) => [
            w,
            { relayToNominal: m.relay! / c.nominal, relayToMptcp: m.relay! / m.mptcp!, ...(m.single !== undefined ? { relayToSingle: m.relay! / m.single } : {}) },
          ]),
        ),
      ]),
    );
    const data = {
      rates: c.rates,
      delays: c.delays ?? null,
      lossPct2: c.lossPct2 ?? 0,
      nominalBps: c.nominal,
      directions: c.directions,
      medianBps: medians,
      ratios,
      samplesBps: samples,
      exact: exactLegs,
      mptcpSubflows: { minShare, transfers: mptcpSplit },
      memoryPeak,
    };
    return { goals, data };
  } finally {
    await lab.down();
  }
}

async function cutCase(fault: 'carrier-down' | 'blackhole', ctx: BenchContext, singleBps: number, delays?: [string, string]): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const label = `cut ${fault}${delays ? ', RTT 10 / 60 ms' : ''}`;
  ctx.progress(`${label}: bringing up the relay lab (40mbit + 40mbit${delays ? `, one-way delays ${delays.join(' / ')}` : ''})`);
  const lab = await RelayLab.up({ paths: 2, rates: ['40mbit', '40mbit'], ...(delays ? { delays } : {}), services: false });
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
    // Each path's bytes sent by the exit, every 100 ms (the per-path share through the cut; a path
    // that reconnects starts again from 0).
    const pathTicks: [number, Record<string, number>][] = [];
    let polling = true;
    let poller: Promise<void> = Promise.resolve();
    const t = await b.transfer('user', lab.addr.relay.entryUser4, 30000, SERVER, false, 'download', async (t0) => {
      poller = (async () => {
        while (polling) {
          const st: StandaloneStatus = await exit.status();
          const paths = st.status.exit!.sessions[0]?.paths ?? [];
          pathTicks.push([Date.now() - t0, Object.fromEntries(paths.map((p) => [p.name, p.txBytes]))]);
          await sleep(100);
        }
      })();
      await sleep(cutAt - (Date.now() - t0));
      ctx.progress(`${label}: cutting path2`);
      await lab.fault('path2', { kind: fault });
      await sleep(restoreAt - (Date.now() - t0));
      ctx.progress(`${label}: restoring path2`);
      await lab.fault('path2', { kind: fault === 'carrier-down' ? 'carrier-up' : 'clear' });
      if (fault === 'blackhole' && delays) await lab.delay('path2', delays[1]); // `clear` takes the delay away too
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
    polling = false;
    await poller;
    const r = t.download!;
    // The fetch's clock starts at its first byte, a few ms after t0: close enough at 100 ms ticks.
    const ticks = r.recv.ticks;
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
    const ok = exact(r);
    ctx.progress(`${label}: sha ${ok ? 'ok' : 'MISMATCH'}, stall ${stall} ms, survivor at 90% after ${recoverMs} ms, path used again ${back} ms after restore`);
    return {
      goals: [
        goal(`${label}: sha256 of the download matches`, ok ? 1 : 0, 'bool', '==', 1),
        goal(`${label}: longest delivery stall`, stall, 'ms', '<=', 2000),
        goal(`${label}: survivor at >= 90% of its rate (1 s window) after the cut`, recoverMs, 'ms', '<=', 3000),
        goal(`${label}: path used again after it came back`, back, 'ms', '<=', 5000),
      ],
      data: { fault, delays: delays ?? null, cutAtMs: cutAt, restoreAtMs: restoreAt, stallMs: stall, recoverMs, usedAgainMs: back, singleBps, bytes: r.recv.bytes, ticks, pathTicks },
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

const RTT_10_60: [string, string] = ['5ms', '30ms±5ms'];

/** The goal table of issue 10 §2 (and the no-delay rows of issue 5), one lab each. */
const CASES: RateCase[] = [
  { key: 'equal', label: 'equal 2 x 40 Mbit', rates: ['40mbit', '40mbit'], nominal: 80 * MBIT, directions: ['download', 'upload', 'both'], sumGoal: 0.95, bothGoal: 0.88, vsSingle: 1 },
  { key: 'unequal', label: 'unequal 40 + 8 Mbit', rates: ['40mbit', '8mbit'], nominal: 48 * MBIT, directions: ['download', 'upload'], sumGoal: 0.92, vsSingle: 1 },
  { key: 'rtt', label: '2 x 40 Mbit, RTT 10 / 60 ms', rates: ['40mbit', '40mbit'], delays: RTT_10_60, nominal: 80 * MBIT, directions: ['download', 'upload', 'both'], sumGoal: 0.92, bothGoal: 0.88, vsMptcp: true, memoryRow: true },
  { key: 'rtt-unequal', label: '40 + 8 Mbit, RTT 10 / 60 ms', rates: ['40mbit', '8mbit'], delays: RTT_10_60, nominal: 48 * MBIT, directions: ['download', 'upload'], sumGoal: 0.92, vsMptcp: true, memoryRow: true },
  { key: 'long', label: '40 Mbit / 10 ms + 40 Mbit / 300 ms', rates: ['40mbit', '40mbit'], delays: ['5ms', '150ms±25ms'], nominal: 80 * MBIT, directions: ['download', 'upload'], sumGoal: 0.85, vsSingle: 1, memoryRow: true },
  { key: 'bad', label: '40 Mbit / 10 ms + 2 Mbit / 200 ms 3% loss', rates: ['40mbit', '2mbit'], delays: ['5ms', '100ms'], lossPct2: 3, nominal: 42 * MBIT, directions: ['download', 'upload'], vsSingle: 0.95, memoryRow: true },
];

export const benchmark: Benchmark = {
  name: 'relay',
  description: 'striping relay: 2 shaped paths (equal and unequal rates and RTTs, a lossy path) vs in-kernel MPTCP and the best single link, each direction and both at once; path cuts; loopback throughput, 200 flows',
  async run(ctx) {
    const trials = ctx.quick ? 1 : 3;
    const seconds = ctx.quick ? 6 : 10;
    const goals: Goal[] = [];
    const data: Record<string, unknown> = { trials, seconds, warmupMs: WARMUP_MS };
    const singles: Record<string, number> = {};
    for (const c of CASES) {
      const r = await rateCase(c, ctx, trials, seconds);
      goals.push(...r.goals);
      data[c.key] = r.data;
      singles[c.key] = ((r.data.medianBps as Record<string, Record<string, Medians>>).download!.download!.single)!;
    }
    for (const fault of ['carrier-down', 'blackhole'] as const) {
      const c = await cutCase(fault, ctx, singles.equal!);
      goals.push(...c.goals);
      data[`cut-${fault}`] = c.data;
    }
    for (const fault of ['carrier-down', 'blackhole'] as const) {
      const c = await cutCase(fault, ctx, singles.rtt!, RTT_10_60);
      goals.push(...c.goals);
      data[`cut-${fault}-rtt`] = c.data;
    }
    const lo = await loopbackCase(ctx, seconds);
    goals.push(...lo.goals);
    data.loopback = lo.data;
    return { goals, data };
  },
};
