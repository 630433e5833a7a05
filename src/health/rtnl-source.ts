/**
 * The real {@link KernelSource}: kernel/rtnl's monitor (link, IPv4/IPv6 address and route groups)
 * and dumps, translated into health's small kernel vocabulary (kernel.ts). Opens its sockets in
 * the network namespace of the process; `close` ends both. A receive-buffer overrun or an
 * unparsable message is reported through `onError`, and the monitor answers it with a fresh dump.
 */
import {
  IFA_F_DADFAILED,
  IFA_F_DEPRECATED,
  IFA_F_OPTIMISTIC,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  RT_TABLE_MAIN,
  RtnlClient,
  RtnlMonitor,
  address,
  link,
  linkStats,
  route,
  type Address,
  type Link,
  type Route,
  type RtnlEvent,
} from '../kernel/rtnl/index.js';
import { KernelError } from '../errors.js';
import type { KernelAddress, KernelEvent, KernelLink, KernelRoute, KernelSnapshot, KernelSource } from './kernel.js';
import type { InterfaceCounters, TrafficSource } from './traffic.js';

export class RtnlKernelSource implements KernelSource {
  private client: RtnlClient | undefined;
  private monitor: RtnlMonitor | undefined;

  async subscribe(onEvent: (e: KernelEvent) => void, onError: (err: Error) => void): Promise<void> {
    this.monitor = RtnlMonitor.open({
      groups: ['link', 'ipv4-address', 'ipv6-address', 'ipv4-route', 'ipv6-route'],
      onEvent: (ev) => {
        const e = fromRtnl(ev);
        if (e) onEvent(e);
      },
      onOverrun: () => onError(new KernelError('rtnetlink monitor', 'ENOBUFS', 'events were lost')),
      onError: (err) => onError(err),
    });
  }

  async dump(): Promise<KernelSnapshot> {
    this.client ??= RtnlClient.open();
    const [links, addresses, routes] = await Promise.all([link.list(this.client), address.list(this.client), route.list(this.client, { table: RT_TABLE_MAIN })]);
    return { links: links.map(fromLink), addresses: addresses.map(fromAddress), routes: routes.map(fromRoute) };
  }

  async close(): Promise<void> {
    this.monitor?.close();
    this.client?.close();
    this.monitor = undefined;
    this.client = undefined;
  }
}

/**
 * The real {@link TrafficSource}: one RTM_GETSTATS dump (IFLA_STATS_LINK_64) per read, on a
 * socket of its own kept open; received packets are counted less multicast.
 */
export class RtnlTrafficSource implements TrafficSource {
  private client: RtnlClient | undefined;

  async read(): Promise<Map<number, InterfaceCounters>> {
    this.client ??= RtnlClient.open({ timeoutMs: 2000, recvBufferBytes: 1 << 20 });
    const out = new Map<number, InterfaceCounters>();
    for (const s of await linkStats.list(this.client)) out.set(s.ifindex, { txPackets: s.txPackets, rxPackets: s.rxPackets - s.multicast });
    return out;
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }
}

/** One rtnl event in health's terms; undefined for kinds health does not follow (rules, nexthops). */
export function fromRtnl(ev: RtnlEvent): KernelEvent | undefined {
  switch (ev.kind) {
    case 'link':
      return { kind: 'link', op: ev.op, link: fromLink(ev.link) };
    case 'address':
      return { kind: 'address', op: ev.op, address: fromAddress(ev.address) };
    case 'route':
      return { kind: 'route', op: ev.op, route: fromRoute(ev.route) };
    case 'rule':
    case 'nexthop':
      return undefined;
  }
}

export function fromLink(l: Link): KernelLink {
  return { ifindex: l.ifindex, name: l.name, adminUp: l.flags.up, lowerUp: l.flags.lowerUp, pointToPoint: l.flags.pointopoint };
}

export function fromAddress(a: Address): KernelAddress {
  const f = a.flags;
  return {
    ifindex: a.ifindex,
    family: a.family,
    address: a.local,
    prefixLen: a.prefixLen,
    scope: a.scope,
    // IFA_F_SECONDARY is IFA_F_TEMPORARY for IPv6 (the same bit).
    secondary: a.family === 4 && (f & IFA_F_SECONDARY) !== 0,
    temporary: a.family === 6 && (f & IFA_F_SECONDARY) !== 0,
    // An optimistic address (RFC 4429) may be used while DAD runs.
    tentative: (f & IFA_F_TENTATIVE) !== 0 && (f & IFA_F_OPTIMISTIC) === 0,
    dadFailed: (f & IFA_F_DADFAILED) !== 0,
    deprecated: (f & IFA_F_DEPRECATED) !== 0,
  };
}

export function fromRoute(r: Route): KernelRoute {
  return {
    family: r.family,
    table: r.table,
    dst: r.dstLen === 0 ? undefined : r.dst,
    dstLen: r.dstLen,
    gateway: r.gateway,
    oif: r.oif,
    priority: r.metric ?? (r.family === 6 ? 1024 : 0),
    protocol: r.protocol,
    type: r.type,
    multipath: r.multipath !== undefined || r.nhid !== undefined,
  };
}
