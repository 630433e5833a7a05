/**
 * The rtnetlink routing backend: binds the planner's route, rule and nexthop specs to rtnl's
 * typed objects and runs the reconciler with rtnl's per-kind verbs (key, equals, canReplace,
 * list, add, replace, remove) over one netns-local socket.
 *
 * Ownership is data: an object is ours when it carries protocol {@link RTPROT_WANBRAID}, the
 * kernel's when it carries RTPROT_KERNEL (the default rules, connected routes), foreign
 * otherwise — whatever table or priority it sits in.
 */
import { release } from 'node:os';
import type { NextHopSpec, RouteSpec, RuleSpec } from '../plan/types.js';
import type { LanScope, RoutingBackend, RoutingDesired } from './backend.js';
import { networkOf } from '../plan/addr.js';
import type { ObjectKind, Owner } from './reconcile.js';
import { reconcileRouting, type KindIO, type ReconcileReport } from './reconcile-run.js';
import {
  RTPROT_KERNEL,
  RTPROT_WANBRAID,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  address,
  link,
  nexthop,
  route,
  rule,
  type Nexthop,
  type Route,
  type Rule,
  type RtnlTransport,
} from './rtnl/index.js';

function owner(o: { protocol: number }): Owner {
  return o.protocol === RTPROT_WANBRAID ? 'ours' : o.protocol === RTPROT_KERNEL ? 'kernel' : 'foreign';
}

export const routeKind: ObjectKind<Route> = {
  name: 'route',
  key: route.key,
  equals: route.equals,
  canReplace: route.canReplace,
  describe: route.describe,
  owner,
  coexist: false,
};

export const ruleKind: ObjectKind<Rule> = {
  name: 'rule',
  key: rule.key,
  equals: rule.equals,
  canReplace: rule.canReplace,
  describe: rule.describe,
  owner,
  coexist: true,
};

export const nexthopKind: ObjectKind<Nexthop> = {
  name: 'nexthop',
  key: nexthop.key,
  equals: nexthop.equals,
  canReplace: nexthop.canReplace,
  describe: nexthop.describe,
  owner,
  coexist: false,
  rank: (n) => (n.kind === 'group' ? 1 : 0),
};

export function toRoute(r: RouteSpec): Route {
  const out: Route = {
    family: r.family,
    table: r.table,
    dst: r.dst.address,
    dstLen: r.dst.len,
    protocol: r.protocol,
    scope: r.scope === 'link' ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
    type: r.type,
  };
  if (r.nhid !== undefined) out.nhid = r.nhid;
  else if (r.multipath?.length) out.multipath = r.multipath.map((l) => ({ oif: l.dev.ifindex, weight: l.weight, ...(l.gateway !== undefined ? { gateway: l.gateway } : {}) }));
  else if (r.dev) {
    out.oif = r.dev.ifindex;
    if (r.gateway !== undefined) out.gateway = r.gateway;
  }
  if (r.prefsrc !== undefined) out.prefsrc = r.prefsrc;
  return out;
}

export function toRule(r: RuleSpec): Rule {
  const out: Rule = { family: r.family, priority: r.priority, action: 'table', table: r.table, protocol: r.protocol };
  if (r.src) {
    out.src = r.src.address;
    out.srcLen = r.src.len;
  }
  if (r.fwmark) {
    out.fwmark = r.fwmark.value;
    out.fwmask = r.fwmark.mask;
  }
  if (r.suppressPrefixLength !== undefined) out.suppressPrefixlen = r.suppressPrefixLength;
  return out;
}

export function toNexthop(n: NextHopSpec): Nexthop {
  if (n.kind === 'single') {
    return { kind: 'single', id: n.id, protocol: n.protocol, family: n.family, oif: n.dev.ifindex, ...(n.gateway !== undefined ? { gateway: n.gateway } : {}) };
  }
  return {
    kind: 'group',
    id: n.id,
    protocol: n.protocol,
    type: 'resilient',
    members: n.members.map((m) => ({ id: m.id, weight: m.weight })),
    resilient: { buckets: n.buckets, idleTimerMs: n.idleTimerMs, unbalancedTimerMs: 0 },
  };
}

/** Resilient nexthop groups arrived in Linux 5.13. */
export function kernelHasResilientGroups(rel: string = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 5 || (maj === 5 && min >= 13);
}

export interface RtnlBackendOptions {
  /** Override the kernel-version check (tests). */
  resilientGroups?: boolean;
}

export class RtnlBackend implements RoutingBackend {
  private readonly resilient: boolean;

  constructor(
    private readonly nl: RtnlTransport & { close?: () => void },
    opts: RtnlBackendOptions = {},
  ) {
    this.resilient = opts.resilientGroups ?? kernelHasResilientGroups();
  }

  resilientGroups(): boolean {
    return this.resilient;
  }

  async lanScope(interfaces: readonly string[]): Promise<LanScope> {
    const [links, addrs, routes] = await Promise.all([link.list(this.nl), address.list(this.nl), route.list(this.nl, { table: 254 })]);
    const lanIfs = new Set(links.filter((l) => interfaces.includes(l.name)).map((l) => l.ifindex));
    const lan = addrs.filter((a) => lanIfs.has(a.ifindex)).map((a) => networkOf(a.local, a.prefixLen));
    for (const r of routes) {
      // The main table's unicast routes through a LAN device (a routed network behind a LAN router); not a default route.
      if (r.table !== 254 || r.type !== 'unicast' || r.dstLen === 0) continue;
      const via = r.oif !== undefined ? [r.oif] : (r.multipath ?? []).map((h) => h.oif);
      if (via.length > 0 && via.every((i) => i !== undefined && lanIfs.has(i))) lan.push(networkOf(r.dst, r.dstLen));
    }
    return { local: addrs.map((a) => a.local), lan };
  }

  reconcile(desired: RoutingDesired, superseded?: () => boolean): Promise<ReconcileReport> {
    const nl = this.nl;
    const routes: KindIO<Route> = {
      list: () => route.list(nl),
      add: (o) => route.add(nl, o),
      replace: (o) => route.replace(nl, o),
      remove: (o) => route.remove(nl, o),
    };
    const rules: KindIO<Rule> = {
      list: () => rule.list(nl),
      add: (o) => rule.add(nl, o),
      // Rules have no in-place replace (canReplace is always false): never called.
      replace: (o) => rule.add(nl, o),
      remove: (o) => rule.remove(nl, o),
    };
    const nexthops: KindIO<Nexthop> = {
      list: () => nexthop.list(nl),
      add: (o) => nexthop.add(nl, o),
      replace: (o) => nexthop.replace(nl, o),
      remove: (o) => nexthop.remove(nl, o),
    };
    return reconcileRouting(
      {
        nexthops: { kind: nexthopKind, io: nexthops, desired: desired.nexthops.map(toNexthop) },
        routes: { kind: routeKind, io: routes, desired: desired.routes.map(toRoute) },
        rules: { kind: ruleKind, io: rules, desired: desired.rules.map(toRule) },
      },
      superseded,
    );
  }

  close(): void {
    this.nl.close?.();
  }
}
