/**
 * The multi-dial lab: one line dialled several times (issue 11). An ISP that accepts several
 * sessions on one access port, hands one DHCP lease per MAC (dnsmasq, authoritative, a fixed
 * address per known session MAC) and caps each session's rate in both directions (htb with one
 * class per session address: on the access port toward the router by destination, on the uplink
 * toward the internet by source).
 *
 * ```
 *  client ── lan0 [router: wanbraid] eth1 ═╤═ wbm-isp1..N (macvlans the daemon creates)
 *    198.18.200.2   198.18.200.1           │
 *                                     acc0 [isp: dnsmasq, htb] up0 ── up0 [inet: services, iperf3]
 *                                198.18.64.1/24    198.18.65.1/30   198.18.65.2   198.19.0.1, .2
 * ```
 * Session i of dial NAME gets 198.18.64.(10 + i) (its MAC from src/dial/naming.ts); any other
 * client gets one from 198.18.64.100-250. Everything lives in namespaces named with the run id
 * and is removed by {@link DialLab.destroy}, also when a test fails (netns.ts's exit hook).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionMac } from '../dial/naming.js';
import { NamespaceSet, tcBatch } from './netns.js';

export const DIAL_LAB = {
  lanRouter: '198.18.200.1',
  lanClient: '198.18.200.2',
  accessGateway: '198.18.64.1',
  uplinkIsp: '198.18.65.1',
  uplinkInet: '198.18.65.2',
  /** Track IPs and the services' addresses in inet. */
  inet: ['198.19.0.1', '198.19.0.2'] as const,
} as const;

/** The address the lab ISP leases to session `index` (1-based). */
export function dialSessionAddress(index: number): string {
  return `198.18.64.${10 + index}`;
}

export interface DialLabOptions {
  /** Dial name whose session MACs get fixed leases. */
  dial: string;
  /** Sessions with a fixed lease and a rate class (at most 64). */
  sessions: number;
  /** Per-session cap, both directions (Mbit/s); undefined = no cap. */
  rateMbit?: number;
  /** Start the lab services (HTTP /ip, hold, sink) in inet. */
  services?: boolean;
}

export class DialLab {
  readonly dir: string;

  private constructor(
    readonly ns: NamespaceSet,
    readonly opts: DialLabOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'wanbraid-dial-lab-'));
  }

  static async up(opts: DialLabOptions): Promise<DialLab> {
    const set = await NamespaceSet.create(['client', 'router', 'isp', 'inet']);
    const lab = new DialLab(set, opts);
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  exec(node: string, argv: readonly string[], o?: Parameters<NamespaceSet['exec']>[2]) {
    return this.ns.exec(node, argv, o);
  }

  private async build(): Promise<void> {
    const { ns } = this;
    const R = ns.ns('router');
    const I = ns.ns('isp');
    const N = ns.ns('inet');
    await ns.ip('client', [`link add eth0 type veth peer name lan0 netns ${R}`, `addr add ${DIAL_LAB.lanClient}/24 dev eth0`, 'link set eth0 up', `route add default via ${DIAL_LAB.lanRouter}`]);
    await ns.ip('router', [`addr add ${DIAL_LAB.lanRouter}/24 dev lan0`, 'link set lan0 up', `link add eth1 type veth peer name acc0 netns ${I}`, 'link set eth1 up']);
    await ns.ip('isp', [
      `addr add ${DIAL_LAB.accessGateway}/24 dev acc0`,
      'link set acc0 up',
      `link add up0 type veth peer name up0 netns ${N}`,
      `addr add ${DIAL_LAB.uplinkIsp}/30 dev up0`,
      'link set up0 up',
      `route add default via ${DIAL_LAB.uplinkInet}`,
    ]);
    await ns.ip('inet', [`addr add ${DIAL_LAB.uplinkInet}/30 dev up0`, 'link set up0 up', ...DIAL_LAB.inet.map((a) => `addr add ${a}/32 dev lo`), `route add 198.18.64.0/24 via ${DIAL_LAB.uplinkIsp}`]);
    await ns.exec('router', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await ns.exec('isp', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // veth hands the sender's skb hash over; keep a flow on its ECMP leg (DESIGN.md).
    await ns.exec('client', ['sysctl', '-qw', 'net.core.txrehash=0']);
    if (this.opts.rateMbit !== undefined) await tcBatch(I, this.rateLines(this.opts.rateMbit));
    const hosts = Array.from({ length: this.opts.sessions }, (_, k) => `--dhcp-host=${sessionMac(this.opts.dial, k + 1)},${dialSessionAddress(k + 1)}`);
    ns.spawn('isp', [
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--port=0',
      '--interface=acc0',
      '--bind-interfaces',
      '--dhcp-authoritative',
      '--no-ping',
      `--dhcp-range=198.18.64.100,198.18.64.250,255.255.255.0,1h`,
      `--dhcp-option=3,${DIAL_LAB.accessGateway}`,
      '--dhcp-option=6',
      `--dhcp-leasefile=${join(this.dir, 'dnsmasq.leases')}`,
      '--pid-file=',
      '--user=root',
      '--group=root',
      `--log-facility=${join(this.dir, 'dnsmasq.log')}`,
      '--log-dhcp',
      ...hosts,
    ], { stdio: 'ignore' });
    if (this.opts.services) {
      const services = fileURLToPath(new URL('./services.js', import.meta.url));
      ns.spawn('inet', [process.execPath, services], { stdio: 'ignore' });
      await this.waitPort('inet', 80);
    }
  }

  /** htb per session address, both directions; everything else unshaped. */
  rateLines(mbit: number): string[] {
    const lines: string[] = [];
    for (const [dev, dir] of [['acc0', 'dst'], ['up0', 'src']] as const) {
      lines.push(`qdisc add dev ${dev} root handle 1: htb default ffff r2q 100`);
      lines.push(`class add dev ${dev} parent 1: classid 1:ffff htb rate 10gbit`);
      for (let i = 1; i <= this.opts.sessions; i++) {
        const cls = (0x100 + i).toString(16);
        lines.push(`class add dev ${dev} parent 1: classid 1:${cls} htb rate ${mbit}mbit ceil ${mbit}mbit burst 32k cburst 32k`);
        lines.push(`filter add dev ${dev} parent 1: protocol ip prio 1 u32 match ip ${dir} ${dialSessionAddress(i)}/32 flowid 1:${cls}`);
      }
    }
    return lines;
  }

  /** Wait (bounded) until something listens on TCP `port` in `node`. */
  /** Which session address each LAN TCP flow to `dport` leaves by (router's conntrack): client port → address. */
  async flowSessions(dport: number): Promise<Map<number, string>> {
    const ct = (await this.exec('router', ['conntrack', '-L', '-p', 'tcp', '--dport', String(dport)])).stdout;
    const out = new Map<number, string>();
    for (const line of ct.split('\n')) {
      const m = /sport=(\d+) dport=\d+ .*src=\S+ dst=(198\.18\.64\.\d+)/.exec(line);
      if (m) out.set(Number(m[1]), m[2]!);
    }
    return out;
  }

  async waitPort(node: string, port: number, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.exec(node, ['ss', '-Hltn', `sport = :${port}`], { allowFail: true });
      if (r.stdout.trim() !== '') return;
      if (Date.now() > end) throw new Error(`nothing listens on :${port} in ${node} after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async destroy(): Promise<void> {
    await this.ns.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
