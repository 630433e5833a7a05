/**
 * The small view of rtnetlink that health needs, as an interface: links, addresses and the main
 * table's default routes, by dump and by event. kernel/rtnl/ provides the real source (adapted in
 * rtnl-source.ts); tests feed fakes. Names follow the kernel: `ifindex`, IFF_UP is `adminUp`,
 * IFF_LOWER_UP is `lowerUp` (`ip link` prints it as LOWER_UP), IFF_POINTOPOINT is `pointToPoint`.
 */
import type { Family } from '../model.js';

export interface KernelLink {
  ifindex: number;
  name: string;
  /** IFF_UP. */
  adminUp: boolean;
  /** IFF_LOWER_UP: carrier. */
  lowerUp: boolean;
  /** IFF_POINTOPOINT. */
  pointToPoint: boolean;
}

/** rtm_scope values (`ip` prints them as global, site, link, host). */
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;

export interface KernelAddress {
  ifindex: number;
  family: Family;
  address: string;
  prefixLen: number;
  scope: number;
  /** IFA_F_SECONDARY (IPv4 secondary; `ip` prints "secondary"). */
  secondary: boolean;
  /** IFA_F_TENTATIVE: IPv6 duplicate address detection not finished. */
  tentative: boolean;
  /** IFA_F_DADFAILED. */
  dadFailed: boolean;
  /** IFA_F_DEPRECATED: preferred lifetime over. */
  deprecated: boolean;
  /** IFA_F_TEMPORARY: an IPv6 privacy address. */
  temporary: boolean;
}

export const RT_TABLE_MAIN = 254;

export interface KernelRoute {
  family: Family;
  table: number;
  /** Destination; undefined for a default route (dstLen 0). */
  dst: string | undefined;
  dstLen: number;
  gateway: string | undefined;
  /** RTA_OIF; undefined for multipath or nexthop-object routes. */
  oif: number | undefined;
  /** RTA_PRIORITY (`ip` says "metric"). */
  priority: number;
  /** rtm_protocol (`ip` says "proto"). */
  protocol: number;
  /** rtm_type as ip(8) names it: `unicast`, `blackhole`, `unreachable`, ... */
  type: string;
  /** RTA_MULTIPATH or RTA_NH_ID: several next hops, not one link's own route. */
  multipath: boolean;
}

export type KernelEvent =
  | { kind: 'link'; op: 'new' | 'del'; link: KernelLink }
  | { kind: 'address'; op: 'new' | 'del'; address: KernelAddress }
  | { kind: 'route'; op: 'new' | 'del'; route: KernelRoute };

export interface KernelSnapshot {
  links: KernelLink[];
  addresses: KernelAddress[];
  routes: KernelRoute[];
}

/** What health needs from rtnetlink. */
export interface KernelSource {
  /**
   * Start delivering link, address and route events (RTNLGRP_LINK, IPV4/IPV6_IFADDR,
   * IPV4/IPV6_ROUTE). `onError` reports a lost event stream (e.g. ENOBUFS on overrun): the monitor
   * then dumps again.
   */
  subscribe(onEvent: (e: KernelEvent) => void, onError: (err: Error) => void): Promise<void>;
  /** Everything now: links, addresses, routes (at least the main table's). */
  dump(): Promise<KernelSnapshot>;
  close(): Promise<void>;
}
