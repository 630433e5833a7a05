/**
 * The routing half of the plan: per-link tables, the ip rules, nexthop objects and the default
 * route, for IPv4 and IPv6 alike. Pure.
 *
 * Rule layout (offsets from routing.rulePriorityBase, see ranges.ts):
 *   +0    lookup main suppress_prefixlength 0   LAN, connected and other specific routes of main
 *   +1    fwmark <main>/<mask> lookup main       bypass destinations, lastResort main
 *   +1+i  from <link i address> lookup <table i>, fwmark <mark i>/<mask> lookup <table i>
 *   +100  lookup <default table>                 the default route over the default policy
 *
 * Why the suppress rule instead of copying connected routes into every table: main keeps
 * deciding everything it knows specifically (LAN subnets, VPNs, container bridges, routes other
 * daemons add later) without wanbraid following each change, and only main's default route is
 * shadowed by ours.
 *
 * Link tables hold the link's default route (via its gateway, or on-link over a point-to-point
 * device) and its connected prefix; they stay while the link is offline, because probes leave
 * through them. The default table holds one route per family: over a nexthop group of the
 * default policy's chosen links (a resilient group: a flow's bucket moves only when it has been
 * idle, so a returning link does not reshuffle running flows), or an RTA_MULTIPATH route when
 * routing.groupType is multipath (or auto and the kernel lacks resilient groups), or the
 * lastResort route (none for `main`: the lookup falls through to the main table).
 */
import type { Config } from '../config/schema.js';
import type { Family, Prefix } from '../config/values.js';
import { networkOf } from './addr.js';
import { FAMILIES, type ResolvedLink } from './links.js';
import {
  RTPROT_WANBRAID,
  RULE_DEFAULT,
  RULE_MARK_MAIN,
  RULE_SUPPRESS_MAIN,
  defaultTable,
  linkNexthopId,
  linkRulePriority,
  nexthopGroupId,
  type MarkLayout,
} from './ranges.js';
import type { NextHopSpec, PolicyChoice, RouteSpec, RuleSpec } from './types.js';

export const MAIN_TABLE = 254;
/** Kernel limit on a nexthop weight in a group or an RTA_MULTIPATH leg. */
export const MAX_NEXTHOP_WEIGHT = 256;

export interface RoutingInput {
  config: Config;
  links: readonly ResolvedLink[];
  marks: MarkLayout;
  /** The default policy's choice per family. */
  defaultChoice: Record<Family, PolicyChoice>;
  /** Resilient nexthop groups available (kernel >= 5.13). */
  resilientGroups: boolean;
}

export interface RoutingPlan {
  nexthops: NextHopSpec[];
  routes: RouteSpec[];
  rules: RuleSpec[];
}

const defaultDst = (family: Family): Prefix => ({ address: family === 4 ? '0.0.0.0' : '::', len: 0, family });

export function planRouting(input: RoutingInput): RoutingPlan {
  const { config, links, marks } = input;
  const r = config.routing;
  const base = r.rulePriorityBase;
  const dTable = defaultTable(r.tableBase);
  const rules: RuleSpec[] = [];
  const routes: RouteSpec[] = [];
  const nexthops: NextHopSpec[] = [];
  const groups: NextHopSpec[] = [];
  const common = { protocol: RTPROT_WANBRAID };
  const useObjects = r.groupType === 'resilient' || (r.groupType === 'auto' && input.resilientGroups);

  for (const family of FAMILIES) {
    rules.push({ ...common, family, priority: base + RULE_SUPPRESS_MAIN, table: MAIN_TABLE, suppressPrefixLength: 0, why: 'main decides what it knows specifically' });
    rules.push({ ...common, family, priority: base + RULE_MARK_MAIN, table: MAIN_TABLE, fwmark: { value: marks.main, mask: marks.mask }, why: 'bypass and lastResort main' });

    for (const l of links) {
      const route = l.routes[family];
      const prio = linkRulePriority(base, l.plan.index);
      const table = l.plan.table;
      rules.push({ ...common, family, priority: prio, table, fwmark: { value: l.plan.mark, mask: marks.mask }, why: `flows pinned to ${l.plan.name}` });
      if (!route) continue;
      const { dev, addressing: a, pointToPoint } = route;
      const host: Prefix = { address: a.address, len: family === 4 ? 32 : 128, family };
      rules.push({ ...common, family, priority: prio, table, src: host, why: `traffic from ${l.plan.name}'s address` });
      if (!pointToPoint && a.prefixLen < host.len) {
        routes.push({
          ...common,
          family,
          table,
          dst: networkOf(a.address, a.prefixLen),
          type: 'unicast',
          // IPv6 routes have no scope: the kernel keeps every one as universe.
          scope: family === 4 ? 'link' : 'universe',
          dev,
          ...(family === 4 ? { prefsrc: a.address } : {}),
          why: `${l.plan.name} connected`,
        });
      }
      routes.push({
        ...common,
        family,
        table,
        dst: defaultDst(family),
        type: 'unicast',
        scope: family === 4 && (pointToPoint || a.gateway === undefined) ? 'link' : 'universe',
        dev,
        ...(a.gateway !== undefined && !pointToPoint ? { gateway: a.gateway } : {}),
        ...(family === 4 ? { prefsrc: a.address } : {}),
        why: `${l.plan.name} default`,
      });
      // The kernel refuses a nexthop object on a device without carrier, and deletes it when
      // carrier goes: it exists only while the link has carrier.
      if (useObjects && route.carrier) {
        nexthops.push({
          kind: 'single',
          id: linkNexthopId(l.plan.index, family),
          family,
          ...common,
          dev,
          ...(a.gateway !== undefined && !pointToPoint ? { gateway: a.gateway } : {}),
          why: `${l.plan.name} next hop`,
        });
      }
    }

    rules.push({ ...common, family, priority: base + RULE_DEFAULT, table: dTable, why: 'default route' });
    const choice = input.defaultChoice[family];
    const byName = new Map(links.map((l) => [l.plan.name, l]));
    const legs = choice.members.flatMap((m) => {
      const l = byName.get(m.link);
      const route = l?.routes[family];
      if (!l || !route || (useObjects && !route.carrier)) return [];
      return [{ link: l, route, weight: m.weight }];
    });
    const weights = scaleWeights(legs.map((x) => x.weight));
    if (legs.length === 0) {
      if (choice.lastResort !== 'main') {
        routes.push({ ...common, family, table: dTable, dst: defaultDst(family), type: choice.lastResort, scope: 'universe', why: `lastResort ${choice.lastResort}` });
      }
    } else if (useObjects) {
      const gid = nexthopGroupId(family);
      groups.push({
        kind: 'group',
        id: gid,
        family,
        ...common,
        type: 'resilient',
        members: legs.map((x, i) => ({ id: linkNexthopId(x.link.plan.index, family), weight: weights[i]! })),
        buckets: r.buckets,
        idleTimerMs: r.idleTimer,
        why: `default policy, tier ${choice.tier}`,
      });
      routes.push({ ...common, family, table: dTable, dst: defaultDst(family), type: 'unicast', scope: 'universe', nhid: gid, why: 'default route over the group' });
    } else {
      routes.push({
        ...common,
        family,
        table: dTable,
        dst: defaultDst(family),
        type: 'unicast',
        scope: 'universe',
        multipath: legs.map((x, i) => ({
          dev: x.route.dev,
          ...(x.route.addressing.gateway !== undefined && !x.route.pointToPoint ? { gateway: x.route.addressing.gateway } : {}),
          weight: weights[i]!,
        })),
        why: `default policy, tier ${choice.tier} (multipath)`,
      });
    }
  }
  return { nexthops: [...nexthops, ...groups], routes, rules };
}

/**
 * Weights scaled into the kernel's 1..256: divided by their greatest common divisor, then, if
 * still too large, scaled proportionally (never below 1).
 */
export function scaleWeights(weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const g = weights.reduce((acc, w) => gcd(acc, w), 0) || 1;
  const reduced = weights.map((w) => w / g);
  const max = Math.max(...reduced);
  if (max <= MAX_NEXTHOP_WEIGHT) return reduced;
  return reduced.map((w) => Math.max(1, Math.round((w * MAX_NEXTHOP_WEIGHT) / max)));
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
