/**
 * The rtnetlink adapter: everything wanbraid does to routing state, and the events health reacts
 * to. Import from here:
 *
 *   import { RtnlClient, RtnlMonitor, route, rule, nexthop, link, address, RTPROT_WANBRAID } from '../kernel/rtnl/index.js';
 *   const nl = RtnlClient.open();
 *   await route.replace(nl, { family: 4, table: 20101, dst: '0.0.0.0', dstLen: 0, ... });
 *
 * Each object kind has one module with the same verbs: key, equals, canReplace, describe, encode,
 * decode (pure) and list/add/replace/remove (through an {@link RtnlTransport}).
 */
export * from './constants.js';
export { RtnlClient, type RtnlClientOptions, type RtnlTransport } from './client.js';
export { RtnlMonitor, ALL_GROUPS, decodeEvent, type RtnlEvent, type RtnlGroup, type RtnlMonitorOptions, type RtnlOp } from './monitor.js';
export * as address from './address.js';
export * as link from './link.js';
export * as linkStats from './link-stats.js';
export * as nexthop from './nexthop.js';
export * as route from './route.js';
export * as rule from './rule.js';
export type { Address } from './address.js';
export type { Link, LinkFlags, OperState } from './link.js';
export type { LinkStats } from './link-stats.js';
export type { Nexthop, SingleNexthop, BlackholeNexthop, GroupNexthop, NexthopMember, ResilientParams } from './nexthop.js';
export type { Route, RouteType, MultipathHop } from './route.js';
export type { Rule, RuleAction } from './rule.js';
export type { NlMessage } from './netlink.js';
