/**
 * The narrow interface between the balancer and the routing subsystem: reconcile the planned
 * nexthops, routes and rules (everything else stays untouched), and say whether resilient
 * nexthop groups exist. The rtnetlink implementation is rtnl-backend.ts; tests use fakes.
 */
import type { Prefix } from '../config/values.js';
import type { NextHopSpec, RouteSpec, RuleSpec } from '../plan/types.js';
import type { ReconcileReport } from './reconcile-run.js';

export interface RoutingDesired {
  nexthops: readonly NextHopSpec[];
  routes: readonly RouteSpec[];
  rules: readonly RuleSpec[];
}

export interface LanScope {
  /** Every address configured on the router (any interface). */
  local: readonly string[];
  /** Networks reached through the LAN interfaces. */
  lan: readonly Prefix[];
}

export const NO_ROUTING: RoutingDesired = { nexthops: [], routes: [], rules: [] };

export interface RoutingBackend {
  /** Make the kernel's owned routing objects match `desired`; stop early when `superseded()` turns true. */
  reconcile(desired: RoutingDesired, superseded?: () => boolean): Promise<ReconcileReport>;
  /**
   * The networks reached through `interfaces` (the LAN): their connected prefixes and the main
   * table's routes through them; and every address of the router. Read-only.
   */
  lanScope?(interfaces: readonly string[]): Promise<LanScope>;
  /** Resilient nexthop groups are available (Linux >= 5.13). */
  resilientGroups(): boolean;
  close(): void;
}
