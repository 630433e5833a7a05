/**
 * The balancing lab, shared by the tests in this directory and by bench/: the multi-WAN lab with
 * the Balancer running in the router namespace (balancer-ops.ts through the lab driver), link
 * states fed by the test, traffic from the client namespace (traffic.ts), and snapshots of
 * everything routing-related in the router for before/after comparisons.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Lab } from '../../../src/lab/lab.js';
import type { RateSpec } from '../../../src/lab/rate.js';
import type { LabAddressing } from '../../../src/lab/addressing.js';
import { Driver, opsModulePath } from '../harness/remote.js';
import { softwareRoutes6 } from '../harness/ip.js';
import type { LinkInput } from './balancer-ops.js';
import type { BalancerStatus } from '../../../src/kernel/balancer-status.js';

const TRAFFIC = fileURLToPath(new URL('./traffic.js', import.meta.url));

export interface ApplySummary {
  ok: boolean;
  superseded: boolean;
  durationMs: number;
  timings: { planMs: number; sysctlMs: number; routingMs: number; nftMs: number; conntrackMs: number };
  nft: { op: string; ok: boolean; changed: string[]; detail?: string };
  failures: string[];
  conntrack: { link: string; mark: number; ok: boolean; nudged?: number }[];
  routing: { changed: string[]; unchanged: number };
}

/** A config for the lab: every WAN link with its gateways, LAN lan0, plus `extra` sections. */
export function labConfig(addr: LabAddressing, weights: readonly number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    lan: { interfaces: [addr.lan.iface] },
    links: addr.links.map((l, i) => ({ name: l.name, interface: l.iface, gateway: [l.gateway4, l.gateway6], weight: weights[i] ?? 1 })),
    ...extra,
  };
}

export class BalancerLab {
  private stateDir = mkdtempSync(join(tmpdir(), 'wanbraid-balancer-'));
  driver!: Driver;

  private constructor(readonly lab: Lab) {}

  static async up(opts: { links?: number; rates?: readonly RateSpec[] } = {}): Promise<BalancerLab> {
    const lab = await Lab.up({ links: opts.links ?? 3, ...(opts.rates ? { rates: opts.rates } : {}) });
    const b = new BalancerLab(lab);
    try {
      // veth hands the sender's skb hash over; a lossy flow could change ECMP legs (DESIGN.md).
      await lab.exec('client', ['sysctl', '-qw', 'net.core.txrehash=0']);
      await b.startDriver();
    } catch (err) {
      await b.down();
      throw err;
    }
    return b;
  }

  get addr(): LabAddressing {
    return this.lab.addr;
  }

  /** (Re)start the balancer's process in the router (after a crash test killed it). */
  async startDriver(): Promise<number> {
    this.driver = await Driver.start(this.lab.namespaces, 'router', opsModulePath(import.meta.url, './balancer-ops.js'));
    const r = await this.driver.call<{ pid: number }>('start', { stateDir: this.stateDir });
    return r.pid;
  }

  /** Stop the balancer (removing what it installed) and start a fresh one in the same process (benchmarks: another nft transport). */
  async restartBalancer(opts: { nftTransport?: 'libnftables' | 'process' } = {}): Promise<void> {
    const r = await this.stop();
    if (!r.ok) throw new Error(`balancer stop failed: ${r.failures.join('; ')}`);
    await this.driver.call('start', { stateDir: this.stateDir, ...opts });
  }

  apply(config: Record<string, unknown>, states: Record<string, LinkInput | LinkInput['state']> = {}): Promise<ApplySummary> {
    const s = Object.fromEntries(Object.entries(states).map(([k, v]) => [k, typeof v === 'string' ? { state: v } : v]));
    return this.driver.call<ApplySummary>('apply', { config, states: s });
  }

  async applyOk(config: Record<string, unknown>, states: Record<string, LinkInput | LinkInput['state']> = {}): Promise<ApplySummary> {
    const r = await this.apply(config, states);
    if (!r.ok) throw new Error(`apply failed: ${r.failures.join('; ')}`);
    return r;
  }

  setElements(set: string, op: 'add' | 'delete' | 'flush', prefixes: string[]): Promise<unknown> {
    return this.driver.call('setElements', { set, op, prefixes });
  }

  status(): Promise<BalancerStatus> {
    return this.driver.call<BalancerStatus>('status', {});
  }

  stop(): Promise<{ ok: boolean; failures: string[] }> {
    return this.driver.call<{ ok: boolean; failures: string[] }>('stop', {});
  }

  /** Run a one-shot traffic mode in the client; resolves with its last JSON line. */
  async traffic<T>(mode: 'ip' | 'probe' | 'greet', args: Record<string, unknown>, opts: { node?: string; timeoutMs?: number } = {}): Promise<T> {
    const r = await this.lab.exec(opts.node ?? 'client', [process.execPath, TRAFFIC, mode, JSON.stringify(args)], { timeoutMs: opts.timeoutMs ?? 60_000 });
    const lines = r.stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]!) as T;
  }

  /** New flows to the inet server's /ip: which router address (link) each one took. */
  async census(count: number, opts: { concurrency?: number; source?: string; v6?: boolean } = {}): Promise<{ byLink: Record<string, number>; failures: string[] }> {
    const host = opts.v6 ? this.addr.inet.server6 : this.addr.inet.server4;
    const r = await this.traffic<{ seen: Record<string, number>; failures: string[] }>('ip', {
      host,
      port: this.addr.ports.http,
      count,
      concurrency: opts.concurrency ?? 16,
      ...(opts.source ? { source: opts.source } : {}),
    });
    const byLink: Record<string, number> = {};
    for (const [ip, n] of Object.entries(r.seen)) {
      const l = this.addr.links.find((x) => x.router4 === ip || x.router6 === ip);
      byLink[l ? l.name : ip] = (byLink[l ? l.name : ip] ?? 0) + n;
    }
    return { byLink, failures: r.failures };
  }

  /** A greeting (or, with `echo`, echoing) TCP listener in `node` on `port` (traffic.ts `listen`); ended with the lab. */
  async listen(node: string, port: number, opts: { echo?: boolean } = {}): Promise<ChildProcess> {
    const child = this.lab.spawn(node, [process.execPath, TRAFFIC, 'listen', JSON.stringify({ port, ...opts })], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`listener in ${node}:${port} not up`)), 10_000);
      createInterface({ input: child.stdout! }).once('line', () => {
        clearTimeout(t);
        resolve();
      });
    });
    return child;
  }

  /** Long-lived echo connections from the client (or `node`, to `host`) (see traffic.ts `hold`). */
  async hold(count: number, opts: { intervalMs?: number; v6?: boolean; port?: number; node?: string; host?: string } = {}): Promise<HoldFlows> {
    const child = this.lab.spawn(
      opts.node ?? 'client',
      [process.execPath, TRAFFIC, 'hold', JSON.stringify({ host: opts.host ?? (opts.v6 ? this.addr.inet.server6 : this.addr.inet.server4), port: opts.port ?? this.addr.ports.hold, count, intervalMs: opts.intervalMs ?? 100 })],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const h = new HoldFlows(child);
    await h.opened;
    return h;
  }

  /** The router's conntrack entries (`conntrack -L` lines) of a client's TCP source port, or 'none'; for failure messages. */
  async conntrackOf(sport: number, family: 4 | 6 = 4): Promise<string> {
    const r = await this.lab.exec('router', ['conntrack', '-L', '-f', family === 4 ? 'ipv4' : 'ipv6', '-p', 'tcp', '--sport', String(sport)], { allowFail: true });
    return r.stdout.trim() || 'none';
  }

  /** Router conntrack entries of our `proto` flows to `dport`: client source port → link mark value. */
  async flowMarks(dport: number, family: 4 | 6 = 4, proto: 'tcp' | 'udp' = 'tcp'): Promise<Map<number, number>> {
    const r = await this.lab.exec('router', ['conntrack', '-L', '-f', family === 4 ? 'ipv4' : 'ipv6', '-p', proto, '--dport', String(dport)], { allowFail: true });
    const out = new Map<number, number>();
    for (const line of r.stdout.split('\n')) {
      const sport = /sport=(\d+)/.exec(line);
      const mark = /mark=(\d+)/.exec(line);
      if (sport && mark) out.set(Number(sport[1]), (Number(mark[1]) >>> 16) & 0xff);
    }
    return out;
  }

  /**
   * Which interface each flow to `dport` leaves the router on, seen by a probe table of the test
   * (a dynamic set filled in postrouting before NAT): client source port → interfaces since the
   * last {@link resetEgress}.
   */
  async watchEgress(dport: number): Promise<void> {
    const t = 'table inet labprobe';
    await this.lab.exec('router', ['nft', '-f', '-'], {
      input: [
        `add ${t}`,
        `add set inet labprobe seen { type ifname . inet_service; flags dynamic; }`,
        `add chain inet labprobe post { type filter hook postrouting priority 0; policy accept; }`,
        `add rule inet labprobe post tcp dport ${dport} add @seen { oifname . tcp sport }`,
      ].join('\n') + '\n',
    });
  }

  async resetEgress(): Promise<void> {
    await this.lab.exec('router', ['nft', 'flush', 'set', 'inet', 'labprobe', 'seen']);
  }

  async egress(): Promise<Map<number, string[]>> {
    const r = await this.lab.exec('router', ['nft', '-j', 'list', 'set', 'inet', 'labprobe', 'seen']);
    const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: { concat: [string, number] }[] } }[] };
    const out = new Map<number, string[]>();
    for (const o of doc.nftables) for (const e of o.set?.elem ?? []) out.set(e.concat[1], [...(out.get(e.concat[1]) ?? []), e.concat[0]].sort());
    return out;
  }

  async unwatchEgress(): Promise<void> {
    await this.lab.exec('router', ['nft', '-f', '-'], { input: 'add table inet labprobe\ndelete table inet labprobe\n' });
  }

  /** Everything routing-related in the router, as text, for before/after comparisons. */
  async snapshot(): Promise<Record<string, string>> {
    const ns = this.lab.ns('router');
    const run = async (argv: string[]) => (await this.lab.exec('router', argv)).stdout;
    const ip = async (args: string[]) => (await this.lab.exec('router', ['ip', ...args])).stdout;
    return {
      rules4: await ip(['-4', 'rule']),
      rules6: await ip(['-6', 'rule']),
      // Kernel-made local/link-local entries come and go with DAD; compare what software installs.
      routes4: (await ip(['-4', 'route', 'show', 'table', 'all'])).split('\n').filter((l) => !/ table local /.test(l)).join('\n'),
      routes6: softwareRoutes6(await ip(['-6', 'route', 'show', 'table', 'all'])),
      nexthops: await ip(['nexthop']),
      nft: await run(['nft', 'list', 'ruleset']),
      sysctl: await run(['sysctl', 'net.ipv4.fib_multipath_hash_policy', 'net.ipv6.fib_multipath_hash_policy', 'net.ipv4.conf.all.src_valid_mark']),
      ns,
    };
  }

  async down(): Promise<void> {
    try {
      await this.driver?.stop();
    } catch {
      /* the lab teardown ends it anyway */
    }
    await this.lab.down();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Long-lived connections in the client, with their breakages as they happen. */
export class HoldFlows {
  readonly opened: Promise<{ id: number; localPort: number }[]>;
  readonly broken: { id: number; at: number; error: string }[] = [];
  private statsWaiter: ((s: { alive: number; broken: number[]; echoes: number[] }) => void) | undefined;

  constructor(private readonly child: ChildProcess) {
    let resolveOpened!: (v: { id: number; localPort: number }[]) => void;
    let rejectOpened!: (e: Error) => void;
    this.opened = new Promise((res, rej) => {
      resolveOpened = res;
      rejectOpened = rej;
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => rejectOpened(new Error(`hold connections not open after 15 s; stderr: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { opened?: { id: number; localPort: number }[]; broken?: { id: number; at: number; error: string }; stats?: { alive: number; broken: number[]; echoes: number[] } };
      if (m.opened) {
        clearTimeout(timer);
        resolveOpened(m.opened);
      }
      if (m.broken) this.broken.push(m.broken);
      if (m.stats) this.statsWaiter?.(m.stats);
    });
    child.on('exit', () => rejectOpened(new Error(`hold exited; stderr: ${stderr}`)));
  }

  stats(): Promise<{ alive: number; broken: number[]; echoes: number[] }> {
    return new Promise((resolve) => {
      this.statsWaiter = resolve;
      this.child.stdin!.write('stats\n');
    });
  }

  close(): void {
    this.child.stdin!.end();
  }
}
