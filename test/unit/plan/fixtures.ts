/** Shared fixtures for planner tests: configs from plain objects, link views from a compact spec. */
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import type { LinkState, LinkView } from '../../../src/model.js';

export function config(doc: Record<string, unknown>): Config {
  return validateConfig(doc);
}

/** Three links wan1..wan3 (weights 5:3:2) on 198.18.I.0/24 and 2001:db8:I::/64, LAN lan0. */
export function threeLinks(extra: Record<string, unknown> = {}): Config {
  return config({
    lan: { interfaces: ['lan0'] },
    links: [
      { name: 'wan1', interface: 'wan1', weight: 5 },
      { name: 'wan2', interface: 'wan2', weight: 3 },
      { name: 'wan3', interface: 'wan3', weight: 2 },
    ],
    ...extra,
  });
}

export interface ViewSpec {
  state?: LinkState;
  weight?: number;
  v4?: boolean;
  v6?: boolean;
  adminUp?: boolean;
  carrier?: boolean;
  p2p?: boolean;
  ifindex?: number | undefined;
  gateway4?: string | undefined;
}

/** A view of link `name` (index i from 1 gives its addresses) with overrides. */
export function view(name: string, i: number, weight: number, spec: ViewSpec = {}): LinkView {
  const p2p = spec.p2p ?? false;
  return {
    name,
    interface: name,
    state: spec.state ?? 'online',
    since: 0,
    reason: { kind: 'initial' },
    weight: spec.weight ?? weight,
    observation: {
      ifindex: 'ifindex' in spec ? spec.ifindex : 10 + i,
      adminUp: spec.adminUp ?? true,
      carrier: spec.carrier ?? true,
      pointToPoint: p2p,
      ipv4:
        spec.v4 === false
          ? undefined
          : { address: `198.18.${i}.1`, prefixLen: p2p ? 32 : 24, gateway: p2p ? undefined : 'gateway4' in spec ? spec.gateway4 : `198.18.${i}.254`, gatewaySource: p2p ? 'device' : 'gateway4' in spec && spec.gateway4 === undefined ? 'none' : 'config' },
      ipv6: spec.v6 === false ? undefined : { address: `2001:db8:${i}::1`, prefixLen: 64, gateway: p2p ? undefined : `fe80::${i}`, gatewaySource: p2p ? 'device' : 'config' },
    },
  };
}

/** Views for every link of a config, online at their weights, with per-link overrides. */
export function views(c: Config, over: Record<string, ViewSpec> = {}): LinkView[] {
  return c.links.map((l, i) => view(l.name, i + 1, l.weight, over[l.name] ?? {}));
}
