/**
 * Issue 14's failover goals with the passive signal, through the whole daemon (`wanbraid run`,
 * default probe settings, passive on):
 *
 *   client ── lan0 [router: wanbraid run] wan1 ── isp1 ─┐
 *                                         wan2 ── isp2 ─┼── inet (track IPs 198.19.0.1/.2; the
 *                                         wan3 ── isp3 ─┘    LAN flows' servers 198.19.0.11-.13,
 *                                         (lte profile)      TCP listener on port 9100)
 *   LAN traffic to 198.19.0.1K is steered onto wanK (the other links as a second tier).
 *
 * 1. Failover, alternating on wan1 and wan2, faults landing at random points of the probe cadence:
 *    - busy: a ping flow of 200 packets/s from the client through the link, then its upstream
 *      blackholed: fault → `link` event offline, → `plan` event (kernel re-planned), → the first
 *      new LAN connection (bench/tools/newconn.py, a new TCP connection every 10 ms to the same
 *      server) that completes;
 *    - idle (the reference, same run): no LAN traffic, the same blackhole → offline.
 * 2. Soak, both at once for 10 minutes: wan2 busy with 10 % random loss each way, and wan3 (the
 *    lab's lte profile: RTT 40-80 ms, ±10 ms jitter each way, 200 ms stalls, 2 % loss each way)
 *    busy: offline transitions (goal 0) and suspicions with their outcomes.
 * `--quick`: 3 trials of each kind, 20 s of soak.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { goal, summary, type Benchmark } from './harness.js';
import { Events } from './daemon-failover.bench.js';
import { Lab } from '../src/lab/lab.js';
import { DaemonProcess, statusOf } from '../test/lab/harness/daemon.js';

const NEWCONN = fileURLToPath(new URL('../../bench/tools/newconn.py', import.meta.url));
const server = (k: number) => `198.19.0.${10 + k}`;
const PORT = 9100;

const LISTENER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', ${PORT})); s.listen(1024)
while True:
    c, _ = s.accept(); c.close()
`;

const CONFIG = `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
links:
${[1, 2, 3].map((k) => `  - { name: wan${k}, interface: wan${k}, gateway: 198.18.${k}.254, probe: { targets: [198.19.0.1, 198.19.0.2] } }`).join('\n')}
policies:
${[1, 2, 3].map((k) => `  p${k}: { links: [{ link: wan${k}, tier: 1 }, ${[1, 2, 3].filter((x) => x !== k).map((x) => `{ link: wan${x}, tier: 2 }`).join(', ')}] }`).join('\n')}
  balanced: { links: [wan1, wan2, wan3] }
rules:
${[1, 2, 3].map((k) => `  - { name: to${k}, match: { dst: [${server(k)}/32] }, policy: p${k} }`).join('\n')}
  - { name: default, policy: balanced }
`;

interface PassiveCounts {
  suspicions: number;
  confirmed: number;
  cleared: number;
}

export const benchmark: Benchmark = {
  name: 'passive-failover',
  description: 'the passive signal: busy link blackholed → offline and new connections through others; idle reference; 10 % loss and lte soaks',
  async run(ctx) {
    const trials = ctx.quick ? 3 : 20;
    const soakMs = ctx.quick ? 20_000 : 600_000;
    const lab = await Lab.up({ links: 3, services: false, profiles: [null, null, 'lte'] });
    let d: DaemonProcess | undefined;
    let ev: Events | undefined;
    const floods: ChildProcess[] = [];
    const end = (p: ChildProcess | undefined) => {
      if (p?.pid !== undefined && p.exitCode === null) p.kill('SIGTERM');
    };
    try {
      await lab.ip('inet', [1, 2, 3].map((k) => `addr add ${server(k)}/32 dev lo`));
      lab.spawn('inet', ['python3', '-c', LISTENER]);
      d = await DaemonProcess.start(lab.ns('router'), CONFIG, { env: { WANBRAID_LOG_LEVEL: 'info' } });
      const daemon = d;
      ev = new Events(d.socketPath);
      const events = ev;
      const isLink = (name: string, state: string) => (e: Record<string, unknown>) => e.event === 'link' && e.link === name && e.state === state;
      for (const l of ['wan1', 'wan2', 'wan3']) await daemon.waitForLog((x) => x.link === l && x.state === 'online' && typeof x.prev === 'string', 30_000);
      await sleep(1000);

      const busy = { detect: [] as number[], applied: [] as number[], newConn: [] as number[], reasons: [] as string[] };
      const idle = { detect: [] as number[], applied: [] as number[], reasons: [] as string[] };
      for (let i = 0; i < 2 * trials; i++) {
        const kind = i % 2 === 0 ? 'busy' : 'idle';
        const k = (Math.floor(i / 2) % 2) + 1;
        const link = `wan${k}`;
        let flood: ChildProcess | undefined;
        let conn: ChildProcess | undefined;
        let connOut: Promise<string> | undefined;
        if (kind === 'busy') {
          flood = lab.spawn('client', ['ping', '-q', '-i', '0.005', server(k)]);
          floods.push(flood);
          conn = lab.spawn('client', ['python3', NEWCONN, server(k), String(PORT)], { stdio: ['pipe', 'pipe', 'pipe'] });
          let out = '';
          conn.stdout!.on('data', (b: Buffer) => (out += b.toString()));
          const c = conn;
          connOut = new Promise((resolve) => c.on('close', () => resolve(out)));
        }
        // Land faults at different points of the probe cadence (and let the flow run a while).
        await sleep(1000 + Math.random() * 500);
        const from = events.list.length;
        const t0 = performance.now();
        await lab.fault(link, { kind: 'blackhole' });
        const tGo = performance.now();
        conn?.stdin!.write('go\n');
        const off = await events.wait(`${link} offline`, isLink(link, 'offline'), from);
        const applied = await events.wait(`plan after ${link} offline`, (e) => e.event === 'plan' && e.why === `link ${link}`, events.list.indexOf(off));
        const reason = String(off.e.reasonKind);
        const rec = kind === 'busy' ? busy : idle;
        rec.detect.push(off.at - t0);
        rec.applied.push(applied.at - t0);
        rec.reasons.push(reason);
        let connMs: number | undefined;
        if (connOut) {
          const r = JSON.parse(await connOut) as { okMs: number | null };
          if (r.okMs !== null) {
            connMs = r.okMs + (tGo - t0);
            busy.newConn.push(connMs);
          }
        }
        end(flood);
        ctx.progress(
          `${kind} ${link}: offline after ${(off.at - t0).toFixed(0)} ms (${reason}), re-planned after ${(applied.at - t0).toFixed(0)} ms${kind === 'busy' ? `, new connection through another link after ${connMs === undefined ? 'never (5 s)' : `${connMs.toFixed(0)} ms`}` : ''}`,
        );
        const back = events.list.length;
        await lab.fault(link, { kind: 'clear' });
        await events.wait(`${link} online again`, isLink(link, 'online'), back);
      }

      // 2. Soak: wan2 busy under 10 % loss each way, wan3 (lte) busy, at the same time.
      const counts = async (): Promise<Record<string, PassiveCounts>> => {
        const st = statusOf(await daemon.request({ cmd: 'status' }));
        return Object.fromEntries(st.links.map((l) => [l.name, (l as unknown as { passive: PassiveCounts }).passive]));
      };
      ctx.progress(`soak: wan2 busy with 10 % loss each way, wan3 (lte) busy, ${soakMs / 1000} s`);
      await lab.fault('wan2', { kind: 'loss', pct: 10 });
      await sleep(1000);
      const before = await counts();
      const from = events.list.length;
      for (const k of [2, 3]) floods.push(lab.spawn('client', ['ping', '-q', '-i', '0.005', server(k)]));
      for (let t = 0; t < soakMs; t += 60_000) {
        await sleep(Math.min(60_000, soakMs - t));
        const c = await counts();
        ctx.progress(`soak ${Math.round((t + Math.min(60_000, soakMs - t)) / 1000)} s: wan2 ${c.wan2!.suspicions - before.wan2!.suspicions} suspicions, wan3 ${c.wan3!.suspicions - before.wan3!.suspicions}`);
      }
      const after = await counts();
      for (const f of floods) end(f);
      await lab.fault('wan2', { kind: 'clear' });
      const soakEvents = events.list.slice(from);
      const offline = (l: string) => soakEvents.filter((x) => isLink(l, 'offline')(x.e)).length;
      const delta = (l: string) => ({
        suspicions: after[l]!.suspicions - before[l]!.suspicions,
        confirmed: after[l]!.confirmed - before[l]!.confirmed,
        cleared: after[l]!.cleared - before[l]!.cleared,
      });
      const lossSoak = { offline: offline('wan2'), ...delta('wan2') };
      const lteSoak = { offline: offline('wan3'), ...delta('wan3') };

      const b = summary(busy.detect);
      const nc = summary(busy.newConn.length > 0 ? busy.newConn : [Number.NaN]);
      const i = summary(idle.detect);
      const viaPassive = busy.reasons.filter((r) => r === 'traffic-silent').length;
      return {
        goals: [
          goal('busy link blackholed → offline, median', b.median, 'ms', '<=', 500),
          goal('busy link blackholed → offline, worst', b.max, 'ms', '<=', 800),
          goal('busy link blackholed → a new LAN connection completes through another link, median', nc.median, 'ms', '<=', 600),
          goal('busy link blackholed → offline through the passive path (traffic-silent), share', viaPassive / busy.reasons.length, 'ratio', '==', 1),
          goal('busy trials where a new connection got through within 5 s, share', busy.newConn.length / trials, 'ratio', '==', 1),
          goal('idle link blackholed → offline (reference, unchanged), median', i.median, 'ms', '<=', 1500),
          goal(`busy link with 10 % loss each way, ${soakMs / 1000} s: offline transitions`, lossSoak.offline, 'count', '==', 0),
          goal(`busy lte-profile link, ${soakMs / 1000} s: offline transitions`, lteSoak.offline, 'count', '==', 0),
        ],
        data: {
          trials,
          busy: { detectMs: b, appliedMs: summary(busy.applied), newConnectionMs: nc, reasons: busy.reasons, samples: busy },
          idle: { detectMs: i, appliedMs: summary(idle.applied), reasons: idle.reasons, samples: idle },
          soak: { seconds: soakMs / 1000, loss10EachWay: lossSoak, lte: lteSoak },
        },
      };
    } finally {
      for (const f of floods) end(f);
      ev?.close();
      await d?.stop();
      d?.cleanup();
      await lab.down();
    }
  },
};
