/**
 * From what the kernel has to what health knows about each link: a {@link KernelTable} kept from
 * dumps and events, {@link observeLink} (interface, carrier, address and next hop per family) and
 * {@link kernelVerdict} (usable, or not and why). Pure.
 *
 * Source address per family: IPv4 — a primary (not secondary) address of scope global; IPv6 — a
 * global address that has finished duplicate address detection, preferring one that is neither
 * deprecated nor a temporary privacy address. The address chosen before is kept while it stays
 * eligible, so two equal addresses never make the link's source flip.
 *
 * Next hop per family: the configured `gateway`; else the one a dial session's client reported
 * (`lease`, from the dial supervisor); else learned from the link's own default route in
 * the main table (a single-path unicast route with this link as output interface, lowest metric
 * first, not one of wanbraid's own routes) — its gateway, or the device itself when the route has
 * none; else the device on a point-to-point link; else none.
 */
import type { LinkConfig } from '../config/schema.js';
import type { Family, FamilyAddressing, LinkObservation, StateReason } from '../model.js';
import { RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, type KernelAddress, type KernelEvent, type KernelLink, type KernelRoute, type KernelSnapshot } from './kernel.js';
import type { KernelVerdict } from './tracker.js';

const addrKey = (a: KernelAddress) => `${a.ifindex}|${a.family}|${a.address}/${a.prefixLen}`;
const routeKey = (r: KernelRoute) => `${r.family}|${r.table}|${r.dst ?? ''}/${r.dstLen}|${r.priority}|${r.oif ?? ''}|${r.gateway ?? ''}`;
/** Only these routes matter to health: default routes of the main table. */
const relevantRoute = (r: KernelRoute) => r.table === RT_TABLE_MAIN && r.dstLen === 0;

export class KernelTable {
  readonly links = new Map<number, KernelLink>();
  readonly addresses = new Map<string, KernelAddress>();
  readonly routes = new Map<string, KernelRoute>();

  static from(s: KernelSnapshot): KernelTable {
    const t = new KernelTable();
    for (const l of s.links) t.links.set(l.ifindex, l);
    for (const a of s.addresses) t.addresses.set(addrKey(a), a);
    for (const r of s.routes) if (relevantRoute(r)) t.routes.set(routeKey(r), r);
    return t;
  }

  /** Apply one event; false when it cannot matter to health (a route outside the main table's defaults). */
  apply(e: KernelEvent): boolean {
    switch (e.kind) {
      case 'link':
        if (e.op === 'new') {
          this.links.set(e.link.ifindex, e.link);
          // Setting a link down flushes its IPv4 routes without RTM_DELROUTE (IPv6 flushes are announced).
          if (!e.link.adminUp) for (const [k, r] of this.routes) if (r.oif === e.link.ifindex && r.family === 4) this.routes.delete(k);
        } else {
          this.links.delete(e.link.ifindex);
          for (const [k, a] of this.addresses) if (a.ifindex === e.link.ifindex) this.addresses.delete(k);
          for (const [k, r] of this.routes) if (r.oif === e.link.ifindex) this.routes.delete(k);
        }
        return true;
      case 'address':
        if (e.op === 'new') this.addresses.set(addrKey(e.address), e.address);
        else this.addresses.delete(addrKey(e.address));
        return true;
      case 'route':
        if (!relevantRoute(e.route)) return false;
        if (e.op === 'new') this.routes.set(routeKey(e.route), e.route);
        else this.routes.delete(routeKey(e.route));
        return true;
    }
  }

  linkByName(name: string): KernelLink | undefined {
    for (const l of this.links.values()) if (l.name === name) return l;
    return undefined;
  }
}

export interface ObserveOptions {
  /** rtm_protocol of wanbraid's own routes: never learned as a link's gateway. */
  ownProtocol?: number;
  /** The next hop a dial session's client reported (its lease), used when no gateway is configured. */
  lease?: { ipv4?: string; ipv6?: string } | undefined;
}

export function observeLink(t: KernelTable, link: Pick<LinkConfig, 'interface' | 'gateway'>, prev?: LinkObservation, opts: ObserveOptions = {}): LinkObservation {
  const kl = t.linkByName(link.interface);
  if (!kl) return { ifindex: undefined, adminUp: false, carrier: false, pointToPoint: false, ipv4: undefined, ipv6: undefined };
  const fam = (family: Family): FamilyAddressing | undefined => {
    const key = family === 4 ? 'ipv4' : 'ipv6';
    const a = pickAddress(t, kl.ifindex, family, prev?.[key]?.address);
    if (!a) return undefined;
    const configured = link.gateway?.[key];
    if (configured) return { address: a.address, prefixLen: a.prefixLen, gateway: configured, gatewaySource: 'config' };
    const leased = opts.lease?.[key];
    if (leased) return { address: a.address, prefixLen: a.prefixLen, gateway: leased, gatewaySource: 'lease' };
    const r = defaultRoute(t, kl.ifindex, family, opts.ownProtocol);
    if (r) return { address: a.address, prefixLen: a.prefixLen, gateway: r.gateway, gatewaySource: r.gateway ? 'route' : 'device' };
    return { address: a.address, prefixLen: a.prefixLen, gateway: undefined, gatewaySource: kl.pointToPoint ? 'device' : 'none' };
  };
  return { ifindex: kl.ifindex, adminUp: kl.adminUp, carrier: kl.lowerUp, pointToPoint: kl.pointToPoint, ipv4: fam(4), ipv6: fam(6) };
}

function eligible(a: KernelAddress): boolean {
  if (a.scope !== RT_SCOPE_UNIVERSE) return false;
  if (a.family === 4) return !a.secondary;
  return !a.tentative && !a.dadFailed;
}

function pickAddress(t: KernelTable, ifindex: number, family: Family, prevAddress: string | undefined): KernelAddress | undefined {
  let best: KernelAddress | undefined;
  let bestRank = Infinity;
  for (const a of t.addresses.values()) {
    if (a.ifindex !== ifindex || a.family !== family || !eligible(a)) continue;
    // Lower is better: the previous choice while it is preferred, then preferred permanent, then the rest.
    const rank = (a.deprecated ? 4 : 0) + (a.temporary ? 2 : 0) + (a.address === prevAddress ? 0 : 1);
    if (rank < bestRank) {
      best = a;
      bestRank = rank;
    }
  }
  return best;
}

function defaultRoute(t: KernelTable, ifindex: number, family: Family, ownProtocol: number | undefined): KernelRoute | undefined {
  let best: KernelRoute | undefined;
  for (const r of t.routes.values()) {
    if (r.family !== family || r.oif !== ifindex || r.multipath || r.type !== 'unicast') continue;
    if (ownProtocol !== undefined && r.protocol === ownProtocol) continue;
    if (!best || r.priority < best.priority) best = r;
  }
  return best;
}

/** Usable (an up interface with carrier, an address and a next hop in some family), or why not. */
export function kernelVerdict(o: LinkObservation, prev?: KernelVerdict): KernelVerdict {
  const down = ((): StateReason | undefined => {
    if (o.ifindex === undefined) return { kind: 'interface-missing' };
    if (!o.adminUp) return { kind: 'admin-down' };
    if (!o.carrier) return { kind: 'carrier-lost' };
    if (!o.ipv4 && !o.ipv6) return { kind: 'no-address' };
    if (o.ipv4?.gatewaySource !== undefined && o.ipv4.gatewaySource !== 'none') return undefined;
    if (o.ipv6?.gatewaySource !== undefined && o.ipv6.gatewaySource !== 'none') return undefined;
    return { kind: 'no-gateway' };
  })();
  if (down) return { usable: false, reason: down };
  if (prev?.usable) return prev;
  const was = prev?.reason.kind;
  if (was === 'interface-missing' || was === 'admin-down') return { usable: true, reason: { kind: 'interface-up' } };
  if (was === 'no-address' || was === 'no-gateway') return { usable: true, reason: { kind: 'address-changed' } };
  return { usable: true, reason: { kind: 'carrier-up' } };
}

/** Per family: usable for probes and routing (an address and a next hop). */
export function usableFamilies(o: LinkObservation): { ipv4: boolean; ipv6: boolean } {
  return { ipv4: !!o.ipv4 && o.ipv4.gatewaySource !== 'none', ipv6: !!o.ipv6 && o.ipv6.gatewaySource !== 'none' };
}

export function sameObservation(a: LinkObservation | undefined, b: LinkObservation): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
