/**
 * Ops module (see ../harness/README.md) running the {@link Balancer} inside the lab's router
 * namespace, fed with link states by the test instead of the health subsystem. `apply` builds
 * each LinkView's observation from the kernel (ifindex, flags, addresses via rtnetlink; gateways
 * from the config), as health would.
 */
import { pino } from 'pino';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import type { LinkState, LinkView } from '../../../src/model.js';
import { Balancer, type SetOp } from '../../../src/kernel/balancer.js';
import { RtnlClient, address, link } from '../../../src/kernel/rtnl/index.js';

let nl: RtnlClient | undefined;
let balancer: Balancer | undefined;

export interface LinkInput {
  state: LinkState;
  weight?: number;
}

async function observe(cfg: Config, states: Record<string, LinkInput>): Promise<LinkView[]> {
  const [links, addrs] = await Promise.all([link.list(nl!), address.list(nl!)]);
  return cfg.links.map((l) => {
    const k = links.find((x) => x.name === l.interface);
    const fam = (f: 4 | 6) => {
      const a = addrs.find((x) => x.family === f && x.ifindex === k?.ifindex && x.scope === 0);
      if (!a) return undefined;
      return { address: a.local, prefixLen: a.prefixLen, gateway: f === 4 ? l.gateway?.ipv4 : l.gateway?.ipv6, gatewaySource: 'config' as const };
    };
    const s = states[l.name] ?? { state: 'online' as const };
    return {
      name: l.name,
      interface: l.interface,
      state: s.state,
      since: Date.now(),
      reason: { kind: 'initial' as const },
      weight: s.weight ?? (s.state === 'degraded' ? (l.degraded.action === 'remove' ? 0 : l.degraded.action === 'keep' ? l.weight : l.degraded.weight) : l.weight),
      observation: {
        ifindex: k?.ifindex,
        adminUp: k?.flags.up ?? false,
        carrier: k?.flags.lowerUp ?? false,
        pointToPoint: k?.flags.pointopoint ?? false,
        ipv4: fam(4),
        ipv6: fam(6),
      },
    };
  });
}

export const ops = {
  start: (a: { stateDir: string; level?: string; nftTransport?: 'libnftables' | 'process' }) => {
    nl = RtnlClient.open();
    // As the daemon builds it: rtnetlink in this namespace, nft, ctnetlink, /proc/sys, stateDir.
    // Counters read fresh on every status call: these tests compare readings taken moments apart
    // (the daemon shares one reading for a second; that sharing is unit-tested).
    balancer = Balancer.open({ logger: pino({ level: a.level ?? 'warn' }, pino.destination(2)), rtnl: nl, stateDir: a.stateDir, countersTtlMs: 0, ...(a.nftTransport ? { nftTransport: a.nftTransport } : {}) });
    return { pid: process.pid };
  },
  apply: async (a: { config: unknown; states: Record<string, LinkInput> }) => {
    const cfg = validateConfig(a.config);
    const r = await balancer!.apply(cfg, await observe(cfg, a.states));
    return {
      ok: r.ok,
      superseded: r.superseded,
      durationMs: r.durationMs,
      timings: r.timings,
      nft: r.nft,
      failures: r.failures,
      conntrack: r.conntrack,
      routing: { changed: r.routing.results.map((x) => `${x.op} ${x.object}`), unchanged: r.routing.unchanged },
    };
  },
  setElements: (a: { set: string; op: SetOp; prefixes: string[] }) => balancer!.setElements(a.set, a.op, a.prefixes),
  status: () => balancer!.status(),
  stop: async () => {
    const r = await balancer!.stop();
    nl?.close();
    nl = undefined;
    return r;
  },
};

export function close(): void {
  nl?.close();
}
