/**
 * The whole daemon, fault to kernel: `wanbraid run` with the shipped example config in the lab's
 * router (3 links, default probe settings), one link at a time blackholed inside its ISP or
 * losing carrier. Measured from just before the fault is applied to the arrival, on the control
 * socket, of the `link` event (state offline) and of the `plan` event that follows it (the kernel
 * no longer balances onto the link and its flows were flushed and nudged). The goals are the sum
 * of issue 3's detection goals and issue 4's apply goal (p99 50 ms): no new reference applies.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { goal, summary, type BenchContext, type Benchmark, type Goal } from './harness.js';
import { Lab } from '../src/lab/lab.js';
import { subscribe } from '../src/status/client.js';
import { DaemonProcess } from '../test/lab/harness/daemon.js';

const EXAMPLE = readFileSync(new URL('../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');

interface Ev {
  at: number;
  e: Record<string, unknown>;
}

export class Events {
  readonly list: Ev[] = [];
  private wake: (() => void) | undefined;
  private readonly ac = new AbortController();
  constructor(sock: string) {
    void (async () => {
      for await (const e of subscribe(sock, this.ac.signal)) {
        this.list.push({ at: performance.now(), e });
        this.wake?.();
      }
    })().catch(() => undefined);
  }
  async wait(what: string, pred: (e: Record<string, unknown>) => boolean, from: number, timeoutMs = 15_000): Promise<Ev> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.list.slice(from).find((x) => pred(x.e));
      if (hit) return hit;
      if (performance.now() > end) throw new Error(`daemon-failover: no ${what} within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => (this.wake = r)), sleep(100)]);
    }
  }
  close(): void {
    this.ac.abort();
  }
}

/** A server in inet that sends random bytes on every connection until the client closes it. */
const SOURCE = `const net = require('node:net'); const buf = require('node:crypto').randomBytes(65536);
net.createServer((s) => { s.on('error', () => {}); const pump = () => { while (s.writable && s.write(buf)); }; s.on('drain', pump); pump(); })
  .listen(Number(process.argv[1]), process.argv[2], () => console.log('ready'));`;
/** In the client: WORKERS loops, each downloading from the source for 1 s per connection (new flows all the time), until SECONDS. */
const DOWNLOADS = `const net = require('node:net'); const [host, port, workers, seconds] = process.argv.slice(1); const end = Date.now() + Number(seconds) * 1000;
const loop = () => { if (Date.now() > end) return; const s = net.connect(Number(port), host); let done = false; const next = () => { if (done) return; done = true; s.destroy(); setTimeout(loop, 20); };
  s.on('data', () => {}); s.on('error', next); s.on('close', next); setTimeout(next, 1000); };
for (let i = 0; i < Number(workers); i++) loop();`;

/**
 * Each link's throughput, seen from the LAN (bytes the router received on wanN, every 200 ms), while
 * the client keeps downloading over new connections and wan1 is blackholed at 6 s and cleared at 14 s
 * (3 × 20 Mbit/s links): how the traffic leaves the dead link and comes back. Its own lab (rate-limited,
 * unlike the detection trials'), same daemon config.
 */
async function throughputThroughFailover(ctx: BenchContext): Promise<Record<string, unknown>> {
  const seconds = 20;
  const faultAt = 6000;
  const clearAt = 14_000;
  ctx.progress('throughput: lab with 3 × 20 Mbit/s links, the daemon, downloads on new connections');
  const lab = await Lab.up({ links: 3, rates: ['20mbit', '20mbit', '20mbit'], services: false });
  let d: DaemonProcess | undefined;
  const src = lab.spawn('inet', [process.execPath, '-e', SOURCE, '5600', lab.addr.inet.server4], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((r) => src.stdout!.once('data', () => r()));
    d = await DaemonProcess.start(lab.ns('router'), EXAMPLE, { env: { WANBRAID_LOG_LEVEL: 'info' } });
    const daemon = d;
    for (const l of ['wan1', 'wan2', 'wan3']) await daemon.waitForLog((x) => x.link === l && x.state === 'online' && typeof x.prev === 'string', 20_000);
    const links = ['wan1', 'wan2', 'wan3'];
    const rx = async (): Promise<Record<string, number>> => {
      const r = await lab.exec('router', ['ip', '-j', '-s', 'link', 'show']);
      const list = JSON.parse(r.stdout) as { ifname: string; stats64?: { rx?: { bytes?: number } } }[];
      return Object.fromEntries(links.map((l) => [l, list.find((x) => x.ifname === l)?.stats64?.rx?.bytes ?? 0]));
    };
    const client = lab.spawn('client', [process.execPath, '-e', DOWNLOADS, lab.addr.inet.server4, '5600', '6', String(seconds)], { stdio: 'ignore' });
    const t0 = performance.now();
    const ticks: [number, Record<string, number>][] = [];
    let faulted = false;
    let cleared = false;
    let offlineAt: number | undefined;
    while (performance.now() - t0 < seconds * 1000) {
      const ms = performance.now() - t0;
      if (!faulted && ms >= faultAt) {
        faulted = true;
        ctx.progress('throughput: blackholing wan1');
        await lab.fault('wan1', { kind: 'blackhole' });
        void daemon.waitForLog((x) => x.link === 'wan1' && x.state === 'offline', 10_000).then(() => (offlineAt = performance.now() - t0), () => undefined);
      }
      if (!cleared && ms >= clearAt) {
        cleared = true;
        ctx.progress('throughput: clearing wan1');
        await lab.fault('wan1', { kind: 'clear' });
      }
      ticks.push([Math.round(performance.now() - t0), await rx()]);
      await sleep(200);
    }
    client.kill('SIGTERM');
    return { rates: '3 × 20mbit', workers: 6, connectionMs: 1000, faultAtMs: faultAt, clearAtMs: clearAt, offlineAtMs: offlineAt ?? null, ticks };
  } finally {
    src.kill('SIGTERM');
    await d?.stop();
    d?.cleanup();
    await lab.down();
  }
}

export const benchmark: Benchmark = {
  name: 'daemon-failover',
  description: 'the whole daemon: blackhole or carrier loss to the link offline and the kernel re-planned; each link\'s throughput through a failover',
  async run(ctx) {
    const r = await detectionTrials(ctx);
    r.data.throughput = await throughputThroughFailover(ctx);
    return r;
  },
};

async function detectionTrials(ctx: BenchContext): Promise<{ goals: Goal[]; data: Record<string, unknown> }> {
  const lab = await Lab.up({ links: 3, services: false });
  let d: DaemonProcess | undefined;
  let ev: Events | undefined;
  try {
    d = await DaemonProcess.start(lab.ns('router'), EXAMPLE, { env: { WANBRAID_LOG_LEVEL: 'info' } });
    ev = new Events(d.socketPath);
    const events = ev;
    const isLink = (name: string, state: string) => (e: Record<string, unknown>) => e.event === 'link' && e.link === name && e.state === state;
    const daemon = d;
    for (const l of ['wan1', 'wan2', 'wan3']) await daemon.waitForLog((x) => x.link === l && x.state === 'online' && typeof x.prev === 'string', 20_000);
    await sleep(1000);
    const trials = ctx.quick ? 3 : 20;
    const out: Record<'blackhole' | 'carrier', { detect: number[]; applied: number[] }> = { blackhole: { detect: [], applied: [] }, carrier: { detect: [], applied: [] } };
    for (const kind of ['blackhole', 'carrier'] as const) {
      const n = kind === 'blackhole' ? trials : Math.max(3, trials / 2);
      for (let i = 0; i < n; i++) {
        const link = `wan${(i % 3) + 1}`;
        // Land faults at different points of the probe cadence.
        await sleep(1000 + Math.random() * 500);
        const from = events.list.length;
        const t0 = performance.now();
        await lab.fault(link, { kind: kind === 'blackhole' ? 'blackhole' : 'carrier-down' });
        const off = await events.wait(`${link} offline`, isLink(link, 'offline'), from);
        const applied = await events.wait(`plan after ${link} offline`, (e) => e.event === 'plan' && e.why === `link ${link}`, events.list.indexOf(off));
        out[kind].detect.push(off.at - t0);
        out[kind].applied.push(applied.at - t0);
        ctx.progress(`${kind} ${link}: offline after ${(off.at - t0).toFixed(0)} ms, kernel re-planned after ${(applied.at - t0).toFixed(0)} ms`);
        const back = events.list.length;
        await lab.fault(link, { kind: kind === 'blackhole' ? 'clear' : 'carrier-up' });
        await events.wait(`${link} online again`, isLink(link, 'online'), back);
      }
    }
    const b = summary(out.blackhole.applied);
    const c = summary(out.carrier.applied);
    return {
      goals: [
        goal('blackhole → kernel re-planned, median (detection ≤ 1500 + apply ≤ 50)', b.median, 'ms', '<=', 1550),
        goal('blackhole → kernel re-planned, worst (detection ≤ 2000 + apply ≤ 50)', b.max, 'ms', '<=', 2050),
        goal('carrier loss → kernel re-planned, worst (detection ≤ 200 + apply ≤ 50)', c.max, 'ms', '<=', 250),
      ],
      data: {
        blackhole: { detectMs: summary(out.blackhole.detect), appliedMs: b, samples: out.blackhole },
        carrier: { detectMs: summary(out.carrier.detect), appliedMs: c, samples: out.carrier },
      },
    };
  } finally {
    ev?.close();
    await d?.stop();
    d?.cleanup();
    await lab.down();
  }
}
