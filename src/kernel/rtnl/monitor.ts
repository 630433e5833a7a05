/**
 * RtnlMonitor: the kernel's rtnetlink multicast events, decoded into typed objects.
 *
 * Contract. One socket, joined to the chosen groups, that never sends. Each message becomes one
 * {@link RtnlEvent}, in the order the kernel sent them, delivered synchronously to `onEvent`.
 * Messages of families the adapter does not model (AF_BRIDGE link messages, IPMR/MPLS routes)
 * are skipped; a message that cannot be parsed goes to `onError` and the rest continue. When the
 * kernel drops events because the receive buffer was full (ENOBUFS), `onOverrun` runs: the
 * consumer must re-read (dump) whatever it tracks. Subscribe first, then dump, so no change falls
 * between the two.
 *
 * What the kernel does not tell (observed on 6.18, see docs/architecture.md): no RTM_DELNEXTHOP
 * when a device's nexthops are flushed (admin-down or carrier loss), no RTM_DELROUTE for IPv4
 * routes flushed by admin-down (IPv6 flushes are announced), nothing when a nexthop group
 * shrinks. A link event is the signal to re-read nexthops and routes.
 */
import type { Address } from './address.js';
import * as address from './address.js';
import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV6_RULE,
  RTNLGRP_LINK,
  RTNLGRP_NEXTHOP,
} from './constants.js';
import type { Link } from './link.js';
import * as link from './link.js';
import { parseMessages, type NlMessage } from './netlink.js';
import type { Nexthop } from './nexthop.js';
import * as nexthop from './nexthop.js';
import type { Route } from './route.js';
import * as route from './route.js';
import type { Rule } from './rule.js';
import * as rule from './rule.js';
import { openRouteSocket, type RouteSocket, type SocketFactory } from './socket.js';

const GROUPS = {
  link: RTNLGRP_LINK,
  'ipv4-address': RTNLGRP_IPV4_IFADDR,
  'ipv6-address': RTNLGRP_IPV6_IFADDR,
  'ipv4-route': RTNLGRP_IPV4_ROUTE,
  'ipv6-route': RTNLGRP_IPV6_ROUTE,
  'ipv4-rule': RTNLGRP_IPV4_RULE,
  'ipv6-rule': RTNLGRP_IPV6_RULE,
  nexthop: RTNLGRP_NEXTHOP,
} as const;

export type RtnlGroup = keyof typeof GROUPS;
export const ALL_GROUPS = Object.keys(GROUPS) as RtnlGroup[];

/** `new` covers both creation and change (RTM_NEW*); `del` is deletion. */
export type RtnlOp = 'new' | 'del';

export type RtnlEvent =
  | { kind: 'link'; op: RtnlOp; link: Link }
  | { kind: 'address'; op: RtnlOp; address: Address }
  | { kind: 'route'; op: RtnlOp; route: Route }
  | { kind: 'rule'; op: RtnlOp; rule: Rule }
  | { kind: 'nexthop'; op: RtnlOp; nexthop: Nexthop };

/** One event message → event, or undefined for message types and families not modelled. Pure. */
export function decodeEvent(m: NlMessage): RtnlEvent | undefined {
  switch (m.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (!link.isLinkMessage(m.payload)) return undefined;
      return { kind: 'link', op: m.type === RTM_NEWLINK ? 'new' : 'del', link: link.decode(m.payload) };
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (!address.familyOf(m.payload)) return undefined;
      return { kind: 'address', op: m.type === RTM_NEWADDR ? 'new' : 'del', address: address.decode(m.payload) };
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      if (!route.familyOf(m.payload)) return undefined;
      return { kind: 'route', op: m.type === RTM_NEWROUTE ? 'new' : 'del', route: route.decode(m.payload) };
    case RTM_NEWRULE:
    case RTM_DELRULE:
      if (!rule.familyOf(m.payload)) return undefined;
      return { kind: 'rule', op: m.type === RTM_NEWRULE ? 'new' : 'del', rule: rule.decode(m.payload) };
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
      return { kind: 'nexthop', op: m.type === RTM_NEWNEXTHOP ? 'new' : 'del', nexthop: nexthop.decode(m.payload) };
    default:
      return undefined;
  }
}

export interface RtnlMonitorOptions {
  /** Groups to join (default: all of {@link ALL_GROUPS}). */
  groups?: readonly RtnlGroup[];
  onEvent(ev: RtnlEvent): void;
  /** Events were lost (receive buffer overrun): re-read the state you track. */
  onOverrun(): void;
  /** A message that could not be parsed (skipped), or a socket failure. */
  onError?(err: Error): void;
  /** SO_RCVBUF in bytes (default 8 MiB, capped by the kernel at net.core.rmem_max). */
  recvBufferBytes?: number;
  /** Keep the event loop alive while open (default true). */
  ref?: boolean;
  /** For tests: how to open the socket. */
  socketFactory?: SocketFactory;
}

export class RtnlMonitor {
  private readonly sock: RouteSocket;

  private constructor(private readonly opts: RtnlMonitorOptions) {
    const factory = opts.socketFactory ?? openRouteSocket;
    this.sock = factory(
      {
        message: (d) => this.onDatagram(d),
        error: (e) => (e.code === 'ENOBUFS' ? opts.onOverrun() : opts.onError?.(e)),
      },
      { groups: (opts.groups ?? ALL_GROUPS).map((g) => GROUPS[g]), recvBufferBytes: opts.recvBufferBytes ?? 8 << 20 },
    );
    if (opts.ref === false) this.sock.unref();
  }

  /** Join the groups in the current network namespace; events flow until {@link close}. */
  static open(opts: RtnlMonitorOptions): RtnlMonitor {
    return new RtnlMonitor(opts);
  }

  close(): void {
    this.sock.close();
  }

  private onDatagram(datagram: Buffer): void {
    let msgs: NlMessage[];
    try {
      msgs = parseMessages(datagram);
    } catch (e) {
      this.opts.onError?.(e as Error);
      return;
    }
    for (const m of msgs) {
      let ev: RtnlEvent | undefined;
      try {
        ev = decodeEvent(m);
      } catch (e) {
        this.opts.onError?.(e as Error);
        continue;
      }
      if (ev) this.opts.onEvent(ev);
    }
  }
}
