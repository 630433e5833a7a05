/**
 * Ops for reconcile.test.ts, run by the lab driver inside the namespace: plan from a config and
 * link states (observations read from the kernel), then reconcile through the rtnetlink backend.
 */
import { validateConfig } from '../../../src/config/load.js';
import type { LinkView } from '../../../src/model.js';
import { plan } from '../../../src/plan/planner.js';
import { NO_ROUTING } from '../../../src/kernel/backend.js';
import { RtnlBackend } from '../../../src/kernel/rtnl-backend.js';
import { RtnlClient, address, link } from '../../../src/kernel/rtnl/index.js';

let client: RtnlClient | undefined;
const nl = () => (client ??= RtnlClient.open());

async function views(cfg: ReturnType<typeof validateConfig>, offline: string[]): Promise<LinkView[]> {
  const [links, addrs] = await Promise.all([link.list(nl()), address.list(nl())]);
  return cfg.links.map((l) => {
    const k = links.find((x) => x.name === l.interface)!;
    const fam = (f: 4 | 6) => {
      const a = addrs.find((x) => x.family === f && x.ifindex === k.ifindex && x.scope === 0);
      return a ? { address: a.local, prefixLen: a.prefixLen, gateway: f === 4 ? l.gateway?.ipv4 : l.gateway?.ipv6, gatewaySource: 'config' as const } : undefined;
    };
    return {
      name: l.name,
      interface: l.interface,
      state: offline.includes(l.name) ? ('offline' as const) : ('online' as const),
      since: 0,
      reason: { kind: 'initial' as const },
      weight: l.weight,
      observation: { ifindex: k.ifindex, adminUp: k.flags.up, carrier: k.flags.lowerUp, pointToPoint: k.flags.pointopoint, ipv4: fam(4), ipv6: fam(6) },
    };
  });
}

export const ops = {
  reconcile: async (a: { config: unknown; offline?: string[] }) => {
    const cfg = validateConfig(a.config);
    const d = plan(cfg, await views(cfg, a.offline ?? []));
    return new RtnlBackend(nl()).reconcile(d);
  },
  clear: () => new RtnlBackend(nl()).reconcile(NO_ROUTING),
};

export function close(): void {
  client?.close();
}
