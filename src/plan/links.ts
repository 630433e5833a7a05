/**
 * Links as the planner sees them: config joined with health's {@link LinkView}, each with its
 * index, mark and table, and per family whether the kernel can route through it now.
 *
 * A family is routable when the interface exists and is administratively up, has an address of
 * that family, and has a next hop (a gateway, point-to-point, or a default route straight onto the
 * device as health learned it). A link without a view yet is
 * `probing` with nothing observed. Pure.
 */
import type { Config, LinkConfig } from '../config/schema.js';
import type { Family } from '../config/values.js';
import type { FamilyAddressing, LinkState, LinkView } from '../model.js';
import { linkTable, type MarkLayout } from './ranges.js';
import type { DeviceRef, LinkPlan } from './types.js';

export const FAMILIES: readonly Family[] = [4, 6];

/** A link with everything the planner derives from it. */
export interface ResolvedLink {
  cfg: LinkConfig;
  view: LinkView | undefined;
  plan: LinkPlan;
  /** Per routable family: device and addressing. */
  routes: Partial<Record<Family, { dev: DeviceRef; addressing: FamilyAddressing; pointToPoint: boolean; carrier: boolean }>>;
}

export function resolveLinks(config: Config, views: readonly LinkView[], marks: MarkLayout): ResolvedLink[] {
  const byName = new Map(views.map((v) => [v.name, v]));
  return config.links.map((cfg, i) => {
    const index = i + 1;
    const view = byName.get(cfg.name);
    const obs = view?.observation;
    const routes: ResolvedLink['routes'] = {};
    if (obs && obs.ifindex !== undefined && obs.adminUp) {
      for (const f of FAMILIES) {
        const a = f === 4 ? obs.ipv4 : obs.ipv6;
        if (!a) continue;
        if (a.gateway === undefined && !obs.pointToPoint && a.gatewaySource !== 'device') continue;
        routes[f] = { dev: { name: cfg.interface, ifindex: obs.ifindex }, addressing: a, pointToPoint: obs.pointToPoint, carrier: obs.carrier };
      }
    }
    const state: LinkState = view?.state ?? 'probing';
    return {
      cfg,
      view,
      routes,
      plan: {
        name: cfg.name,
        index,
        interface: cfg.interface,
        ifindex: obs?.ifindex,
        state,
        mark: marks.link(index),
        table: linkTable(config.routing.tableBase, index, cfg.table),
        families: FAMILIES.filter((f) => routes[f] !== undefined),
        weight: view?.weight ?? 0,
      },
    };
  });
}

/** Online or degraded: may carry new flows (at weight 0 only as the last fallback). */
export function isUp(state: LinkState): boolean {
  return state === 'online' || state === 'degraded';
}
