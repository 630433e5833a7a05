/**
 * The desired state: everything wanbraid wants in the kernel for one (config, link views) pair,
 * as plain data. The planner produces it, `renderPlan` prints it, the reconciler makes the kernel
 * match it. Objects carry the fields the kernel keys them by; `why` is for people (logs, plans).
 *
 * Units: `idleTimerMs` milliseconds; weights are relative integers.
 */
import type { Family, Prefix } from '../config/values.js';
import type { LinkState } from '../model.js';
import type { NftTableSpec } from '../kernel/nft/table.js';

/** An interface as the kernel addresses it (routes and nexthops use the index). */
export interface DeviceRef {
  name: string;
  ifindex: number;
}

/** A route in one of wanbraid's tables (protocol 87). */
export interface RouteSpec {
  family: Family;
  table: number;
  /** Length 0 is the default route. */
  dst: Prefix;
  /** `ip route` type: unicast, or unreachable / blackhole for lastResort. */
  type: 'unicast' | 'unreachable' | 'blackhole';
  protocol: number;
  /** `scope link` for on-link (connected, point-to-point) routes; universe otherwise. */
  scope: 'universe' | 'link';
  dev?: DeviceRef;
  gateway?: string;
  /** Preferred source (`src` in ip-route(8)). */
  prefsrc?: string;
  /** A nexthop object (`nhid`). */
  nhid?: number;
  /** RTA_MULTIPATH legs (`nexthop via … dev … weight …`). */
  multipath?: MultipathLeg[];
  why: string;
}

export interface MultipathLeg {
  dev: DeviceRef;
  gateway?: string;
  /** 1..256 */
  weight: number;
}

/** An `ip rule` (protocol 87) in wanbraid's priority range. */
export interface RuleSpec {
  family: Family;
  priority: number;
  protocol: number;
  /** `lookup` target; 254 is main. */
  table: number;
  /** `from PREFIX` */
  src?: Prefix;
  /** `fwmark VALUE/MASK` */
  fwmark?: { value: number; mask: number };
  /** `suppress_prefixlength N` */
  suppressPrefixLength?: number;
  why: string;
}

/** A nexthop object: one next hop, or a group of them. */
export type NextHopSpec = NextHopSingle | NextHopGroup;

export interface NextHopSingle {
  kind: 'single';
  id: number;
  family: Family;
  protocol: number;
  dev: DeviceRef;
  /** Absent on a point-to-point link (the device is enough). */
  gateway?: string;
  why: string;
}

export interface NextHopGroup {
  kind: 'group';
  id: number;
  /** The family of its members (groups themselves are AF_UNSPEC). */
  family: Family;
  protocol: number;
  /** Hash buckets that move only when idle (`type resilient` in ip-nexthop(8)). */
  type: 'resilient';
  members: { id: number; weight: number }[];
  buckets: number;
  /** Milliseconds a bucket must be idle before it may move to another member. */
  idleTimerMs: number;
  why: string;
}

/** A sysctl wanbraid sets while it runs (and restores on stop). */
export interface SysctlSpec {
  /** Dotted name, e.g. `net.ipv4.fib_multipath_hash_policy`. */
  key: string;
  value: string;
  why: string;
}

/** One link as planned. */
export interface LinkPlan {
  name: string;
  /** 1-based position in `links:`; fixes its mark and default table. */
  index: number;
  interface: string;
  ifindex: number | undefined;
  state: LinkState;
  /** The link's mark (already in the mask's bits). */
  mark: number;
  table: number;
  /** Families it can carry now (address, device up, gateway or point-to-point). */
  families: Family[];
  /** Weight in effect (the LinkView's). */
  weight: number;
}

/** A policy's choice for one family. */
export interface PolicyChoice {
  family: Family;
  /** Tier in use, 0 when the weight-0 fallbacks are used, undefined when none (lastResort). */
  tier: number | undefined;
  members: { link: string; weight: number }[];
  /** What happens to new flows when `members` is empty. */
  lastResort: 'unreachable' | 'blackhole' | 'main';
}

export interface PolicyPlan {
  name: string;
  sticky: 'none' | 'source' | 'source-dest';
  /**
   * Set for a relay policy: matching TCP flows go to this entry's listen port; with quic
   * `fallback`, the UDP/443 its rules match is rejected (ICMP port unreachable).
   */
  relay?: { entry: string; port: number; quic: 'fallback' | 'pass' };
  choices: PolicyChoice[];
}

/** What wanbraid owns, as data: the reconciler never touches anything outside it. */
export interface Ownership {
  protocol: number;
  /** Table ids: the default table and every link's table. */
  tables: number[];
  rulePriorities: { first: number; last: number };
  nexthopIds: { first: number; last: number };
  markMask: number;
  /** The mark routed by the main table (bypass, lastResort main, failover nudges). */
  mainMark: number;
  nftFamily: 'inet';
  nftTable: string;
}

export interface DesiredState {
  links: LinkPlan[];
  policies: PolicyPlan[];
  /** The policy behind the default route and the LAN catch-all. */
  defaultPolicy: string;
  /** Members first, then groups (creation order). */
  nexthops: NextHopSpec[];
  routes: RouteSpec[];
  rules: RuleSpec[];
  nft: NftTableSpec;
  sysctls: SysctlSpec[];
  ownership: Ownership;
}
