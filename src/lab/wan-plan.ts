/**
 * The multi-WAN lab as a {@link TopologyPlan}: client ── router ── isp1..N ── inet, numbers from
 * addressing.ts. Pure: options and namespace names in, batch lines out.
 *
 * The router gets forwarding (IPv4 and IPv6) and its addresses, but no default route and no
 * nftables: the daemon under test provides those. Each ISP shapes both directions with tbf:
 * egress toward the router is the download, egress toward inet the upload.
 */
import { labAddressing, LAN, INET, MAX_LINKS, type LabAddressing } from './addressing.js';
import { addressLines, CLIENT_SYSCTLS, emptyNode, FORWARDING_SYSCTLS, vethLine, type TopologyPlan } from './plan.js';
import { tbfLine, type LinkRate } from './rate.js';
import type { FaultTarget } from './faults.js';
import { WanbraidError } from '../errors.js';

export interface WanPlanOptions {
  /** Number of WAN links, 1..16. */
  links: number;
  /** One per link (resolved; see rate.ts). */
  rates: readonly LinkRate[];
}

export function checkLinkCount(links: number): number {
  if (!Number.isInteger(links) || links < 1 || links > MAX_LINKS) {
    throw new WanbraidError('WB_LAB', `links: ${links} is not a number of links from 1 to ${MAX_LINKS}`);
  }
  return links;
}

/** Node names of a lab with `links` links, in creation order. */
export function wanNodes(links: number): string[] {
  return ['client', 'router', ...Array.from({ length: links }, (_, k) => `isp${k + 1}`), 'inet'];
}

export function planWanLab(opts: WanPlanOptions, ns: (node: string) => string): { plan: TopologyPlan; addr: LabAddressing } {
  const n = checkLinkCount(opts.links);
  if (opts.rates.length !== n) throw new WanbraidError('WB_INTERNAL', `planWanLab: ${opts.rates.length} rates for ${n} links`);
  const addr = labAddressing(n);

  const client = emptyNode('client', CLIENT_SYSCTLS);
  client.address.push(...addressLines(LAN.iface, `${LAN.client4}/24`, `${LAN.client6}/64`));
  client.route.push(`route add default via ${LAN.router4} dev ${LAN.iface}`, `route add ::/0 via ${LAN.router6} dev ${LAN.iface}`);

  const router = emptyNode('router', FORWARDING_SYSCTLS);
  router.create.push(vethLine(LAN.iface, LAN.iface, ns('client')));
  router.address.push(...addressLines(LAN.iface, `${LAN.router4}/24`, `${LAN.router6}/64`, false));

  const inet = emptyNode('inet', []);
  // The "internet" addresses sit on loopback: this kernel has no dummy device.
  for (const a of [...INET.track4, INET.server4, INET.relayExit4]) inet.address.push(`addr add ${a}/32 dev lo`);
  for (const a of [...INET.track6, INET.server6, INET.relayExit6]) inet.address.push(`addr add ${a}/128 dev lo nodad`);

  const isps = addr.links.map((l, k) => {
    const rate = opts.rates[k]!;
    router.create.push(vethLine(l.iface, 'router', ns(l.isp)));
    router.address.push(...addressLines(l.iface, `${l.router4}/24`, `${l.router6}/64`, false));

    const isp = emptyNode(l.isp, FORWARDING_SYSCTLS);
    isp.create.push(vethLine('inet', l.isp, ns('inet')));
    isp.address.push(...addressLines('router', `${l.gateway4}/24`, `${l.gateway6}/64`), ...addressLines('inet', `${l.ispUp4}/24`, `${l.ispUp6}/64`, false));
    isp.route.push(`route add default via ${l.inetSide4} dev inet`, `route add ::/0 via ${l.inetSide6} dev inet`);
    for (const line of [tbfLine('router', rate.down), tbfLine('inet', rate.up)]) if (line) isp.tc.push(line);

    inet.address.push(...addressLines(l.isp, `${l.inetSide4}/24`, `${l.inetSide6}/64`));
    inet.route.push(`route add ${l.prefix4} via ${l.ispUp4} dev ${l.isp}`, `route add ${l.prefix6} via ${l.ispUp6} dev ${l.isp}`);
    return isp;
  });

  const faults: FaultTarget[] = addr.links.map((l) => ({ link: l.name, index: l.index, node: l.isp, carrierDev: 'router', farDev: 'inet', blackholeScope: 'forward' }));
  const plan: TopologyPlan = {
    kind: 'wan',
    nodes: [client, router, ...isps, inet],
    servicesNode: 'inet',
    certIps: [...INET.track4, INET.server4, INET.relayExit4, ...INET.track6, INET.server6, INET.relayExit6],
    faults,
  };
  return { plan, addr };
}
