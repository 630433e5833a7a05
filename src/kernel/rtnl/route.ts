/**
 * Routes (struct rtmsg + RTA_* attributes): the plain object, its identity and comparison, the
 * codec, and the verbs a reconciler needs. Codec and comparisons are pure; the verbs take an
 * {@link RtnlTransport}.
 *
 * Encoded in-project because the `netlink` package cannot: RTA_MULTIPATH (an array of struct
 * rtnexthop, each followed by its own RTA_GATEWAY), RTA_NH_ID, and RTA_TABLE for every table
 * (the header's rtm_table is one byte, so ids above 255 only travel in RTA_TABLE; we always send
 * it, with rtm_table = RT_TABLE_UNSPEC for large ids, as iproute2 does).
 *
 * Decoding normalises what the kernel adds on its own, so a decoded route equals the object it
 * was created from: a route with RTA_NH_ID keeps only `nhid` (the kernel also reports the
 * nexthop's gateway/device, which belong to the nexthop object); reject-type routes
 * (blackhole/unreachable/prohibit/throw) drop the `dev lo` IPv6 attaches to them; IPv6-only
 * extras (RTA_PREF, RTA_CACHEINFO, RTA_EXPIRES) and attributes we do not model (RTA_SRC,
 * RTA_VIA, RTA_ENCAP, RTA_METRICS, tos) are ignored. A one-hop RTA_MULTIPATH is stored by the
 * kernel as a plain route (its weight is lost); {@link equals} treats the two forms alike.
 */
import type { Family } from '../../model.js';
import { AttrReader, AttrWriter, align4, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import { RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_UNSPEC } from './constants.js';
import { afOf, anyAddress, familyOfAf, ipToBytes, readAddress } from './ip.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from './netlink.js';
import { checkAddress, checkInt, checkPrefixLen, invalid } from './validate.js';

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_NH_ID = 30;

const RTMSG_LEN = 12;
const RTNH_LEN = 8;

/** rtm_type, named as ip(8) names them. */
export const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'] as const;
export type RouteType = (typeof ROUTE_TYPES)[number];
/** Types that drop or refuse packets: they have no gateway and no device. */
const REJECT_TYPES: ReadonlySet<RouteType> = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

/** One leg of a multipath route (struct rtnexthop). */
export interface MultipathHop {
  gateway?: string;
  /** Output interface index. */
  oif: number;
  /** 1..256 (rtnh_hops + 1). */
  weight: number;
}

/** A route as the kernel holds it. */
export interface Route {
  family: Family;
  /** Table id, 1..2^32-1 (254 is `main`). */
  table: number;
  /** Destination network address; `0.0.0.0`/`::` with dstLen 0 for the default route. */
  dst: string;
  dstLen: number;
  /** rtm_protocol: who owns it (`RTPROT_WANBRAID` for us). */
  protocol: number;
  /** rtm_scope (RT_SCOPE_*); see {@link defaultScope}. */
  scope: number;
  type: RouteType;
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  /** A nexthop object id (RTA_NH_ID); excludes gateway, oif and multipath. */
  nhid?: number;
  /** Two or more legs (RTA_MULTIPATH); excludes gateway and oif. */
  multipath?: MultipathHop[];
  /** RTA_PRIORITY (`metric` in ip(8)); undefined means the kernel's default: 0 for IPv4, 1024 for IPv6. Decoded routes always carry it. */
  metric?: number;
  /** Preferred source address for locally generated traffic. */
  prefsrc?: string;
}

/** The metric the kernel uses for `r`. */
export function metricOf(r: Pick<Route, 'family' | 'metric'>): number {
  return r.metric ?? (r.family === 6 ? 1024 : 0);
}

/**
 * The scope ip(8) picks and the kernel reports: IPv6 routes are always universe; IPv4 local/nat
 * routes are host, broadcast/multicast/anycast and device-only unicast routes are link, the rest
 * universe.
 */
export function defaultScope(r: Pick<Route, 'family' | 'type' | 'gateway' | 'nhid' | 'multipath'>): number {
  if (r.family === 6) return RT_SCOPE_UNIVERSE;
  if (r.type === 'local' || r.type === 'nat') return RT_SCOPE_HOST;
  if (r.type === 'broadcast' || r.type === 'multicast' || r.type === 'anycast') return RT_SCOPE_LINK;
  if (r.type === 'unicast' && r.gateway === undefined && r.nhid === undefined && !r.multipath?.length) return RT_SCOPE_LINK;
  return RT_SCOPE_UNIVERSE;
}

/**
 * Identity within the kernel: table, destination and metric (IPv4 also has tos, which we do not
 * use). Adding a second route with the same key fails with EEXIST; replace changes it in place.
 */
export function key(r: Route): string {
  return `inet${r.family === 6 ? '6' : ''} ${r.dst}/${r.dstLen} table ${r.table} metric ${metricOf(r)}`;
}

/** The legs of a route in a canonical order; a single-leg route and a plain gateway route look alike. */
function legs(r: Route): string[] {
  if (r.multipath?.length) {
    const w = r.multipath.length === 1;
    return r.multipath.map((h) => `${h.gateway ?? '-'}@${h.oif}*${w ? 1 : h.weight}`).sort();
  }
  if (r.gateway === undefined && r.oif === undefined) return [];
  return [`${r.gateway ?? '-'}@${r.oif ?? '-'}*1`];
}

/** True when `a` is exactly what `b` asks for (kernel defaults filled in). */
export function equals(a: Route, b: Route): boolean {
  if (key(a) !== key(b) || a.protocol !== b.protocol || a.scope !== b.scope || a.type !== b.type || a.prefsrc !== b.prefsrc) return false;
  if (a.nhid !== undefined || b.nhid !== undefined) return a.nhid === b.nhid;
  const la = legs(a);
  const lb = legs(b);
  return la.length === lb.length && la.every((l, i) => l === lb[i]);
}

/** The kernel turns `a` into `b` in place with NLM_F_REPLACE when they share a key. */
export function canReplace(a: Route, b: Route): boolean {
  return key(a) === key(b);
}

/** ip(8)-like text for logs and error messages. */
export function describe(r: Route): string {
  const parts: string[] = [];
  if (r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dstLen === 0 ? 'default' : `${r.dst}/${r.dstLen}`);
  if (r.nhid !== undefined) parts.push(`nhid ${r.nhid}`);
  if (r.gateway !== undefined) parts.push(`via ${r.gateway}`);
  if (r.oif !== undefined) parts.push(`dev #${r.oif}`);
  for (const h of r.multipath ?? []) parts.push(`nexthop${h.gateway ? ` via ${h.gateway}` : ''} dev #${h.oif} weight ${h.weight}`);
  parts.push(`table ${r.table}`, `proto ${r.protocol}`, `metric ${metricOf(r)}`);
  if (r.prefsrc !== undefined) parts.push(`src ${r.prefsrc}`);
  return `${r.family === 6 ? '-6 ' : ''}${parts.join(' ')}`;
}

function check(r: Route): void {
  const what = `route ${describe(r)}`;
  if (r.family !== 4 && r.family !== 6) throw invalid(what, `family must be 4 or 6, got ${String(r.family)}`);
  checkPrefixLen(what, 'dstLen', r.dstLen, r.family);
  checkAddress(what, 'dst', r.dst, r.family);
  checkAddress(what, 'gateway', r.gateway, r.family);
  checkAddress(what, 'prefsrc', r.prefsrc, r.family);
  checkInt(what, 'table', r.table, 1, 0xffffffff);
  checkInt(what, 'protocol', r.protocol, 0, 255);
  checkInt(what, 'scope', r.scope, 0, 255);
  checkInt(what, 'metric', r.metric, 0, 0xffffffff);
  checkInt(what, 'oif', r.oif, 1, 0x7fffffff);
  checkInt(what, 'nhid', r.nhid, 1, 0xffffffff);
  if (!ROUTE_TYPES.includes(r.type)) throw invalid(what, `unknown type "${String(r.type)}"`);
  const hops = r.multipath ?? [];
  if (r.nhid !== undefined && (r.gateway !== undefined || r.oif !== undefined || hops.length)) {
    throw invalid(what, 'nhid excludes gateway, oif and multipath');
  }
  if (hops.length && (r.gateway !== undefined || r.oif !== undefined)) throw invalid(what, 'multipath excludes gateway and oif');
  if (REJECT_TYPES.has(r.type) && (r.gateway !== undefined || r.oif !== undefined || hops.length || r.nhid !== undefined)) {
    throw invalid(what, `a ${r.type} route has no gateway, device or nexthop`);
  }
  for (const [i, h] of hops.entries()) {
    checkAddress(what, `multipath[${i}].gateway`, h.gateway, r.family);
    checkInt(what, `multipath[${i}].oif`, h.oif, 1, 0x7fffffff);
    checkInt(what, `multipath[${i}].weight`, h.weight, 1, 256);
  }
}

function encodeMultipath(hops: readonly MultipathHop[], family: Family): Buffer {
  return Buffer.concat(
    hops.map((h) => {
      const attrs = h.gateway !== undefined ? new AttrWriter().raw(RTA_GATEWAY, ipToBytes(h.gateway, family)).bytes() : Buffer.alloc(0);
      const b = Buffer.alloc(RTNH_LEN + attrs.length);
      b.writeUInt16LE(RTNH_LEN + attrs.length, 0); // rtnh_len
      b.writeUInt8(0, 2); // rtnh_flags
      b.writeUInt8(h.weight - 1, 3); // rtnh_hops
      b.writeInt32LE(h.oif, 4); // rtnh_ifindex
      b.set(attrs, RTNH_LEN);
      return b;
    }),
  );
}

/** struct rtmsg + attributes, for RTM_NEWROUTE/RTM_DELROUTE. Throws WB_INTERNAL on an invalid route. */
export function encode(r: Route): Buffer {
  check(r);
  const h = Buffer.alloc(RTMSG_LEN);
  h.writeUInt8(afOf(r.family), 0);
  h.writeUInt8(r.dstLen, 1);
  h.writeUInt8(r.table <= 255 ? r.table : RT_TABLE_UNSPEC, 4);
  h.writeUInt8(r.protocol, 5);
  h.writeUInt8(r.scope, 6);
  h.writeUInt8(ROUTE_TYPES.indexOf(r.type), 7);
  const w = new AttrWriter().u32(RTA_TABLE, r.table);
  if (r.dstLen > 0) w.raw(RTA_DST, ipToBytes(r.dst, r.family));
  w.u32(RTA_PRIORITY, metricOf(r));
  if (r.prefsrc !== undefined) w.raw(RTA_PREFSRC, ipToBytes(r.prefsrc, r.family));
  if (r.nhid !== undefined) w.u32(RTA_NH_ID, r.nhid);
  if (r.oif !== undefined) w.u32(RTA_OIF, r.oif);
  if (r.gateway !== undefined) w.raw(RTA_GATEWAY, ipToBytes(r.gateway, r.family));
  if (r.multipath?.length) w.raw(RTA_MULTIPATH, encodeMultipath(r.multipath, r.family));
  return Buffer.concat([h, w.bytes()]);
}

function decodeMultipath(v: Buffer, family: Family): MultipathHop[] {
  const hops: MultipathHop[] = [];
  for (let off = 0; off + RTNH_LEN <= v.length; ) {
    const len = v.readUInt16LE(off);
    if (len < RTNH_LEN || off + len > v.length) throw malformed('route multipath', `rtnexthop of length ${len} at offset ${off}`);
    const hop: MultipathHop = { oif: v.readInt32LE(off + 4), weight: v.readUInt8(off + 3) + 1 };
    const gw = AttrReader.parse(v.subarray(off + RTNH_LEN, off + len), 'route multipath').raw(RTA_GATEWAY);
    if (gw) hop.gateway = readAddress(gw, family, 'route multipath gateway');
    hops.push(hop);
    off += align4(len);
  }
  return hops;
}

/** The family of a route message, or undefined for one the adapter does not model (IPMR, MPLS, ...). */
export function familyOf(payload: Buffer): Family | undefined {
  return payload.length >= 1 ? familyOfAf(payload.readUInt8(0)) : undefined;
}

/** An RTM_NEWROUTE/RTM_DELROUTE payload (after the netlink header) → Route. Pure. */
export function decode(payload: Buffer): Route {
  if (payload.length < RTMSG_LEN) throw malformed('route', `${payload.length} bytes`);
  const family = familyOf(payload);
  if (!family) throw malformed('route', `address family ${payload.readUInt8(0)}`);
  const typeNo = payload.readUInt8(7);
  const type = ROUTE_TYPES[typeNo];
  if (!type) throw malformed('route', `route type ${typeNo}`);
  const a = AttrReader.parse(payload.subarray(RTMSG_LEN), 'route');
  const dstLen = payload.readUInt8(1);
  const dst = a.raw(RTA_DST);
  const r: Route = {
    family,
    table: a.u32(RTA_TABLE) ?? payload.readUInt8(4),
    dst: dst ? readAddress(dst, family, 'route dst') : anyAddress(family),
    dstLen,
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type,
    metric: a.u32(RTA_PRIORITY) ?? 0,
  };
  const prefsrc = a.raw(RTA_PREFSRC);
  if (prefsrc) r.prefsrc = readAddress(prefsrc, family, 'route prefsrc');
  const nhid = a.u32(RTA_NH_ID);
  if (nhid !== undefined) {
    r.nhid = nhid;
    return r;
  }
  if (REJECT_TYPES.has(type)) return r;
  const oif = a.u32(RTA_OIF);
  if (oif !== undefined) r.oif = oif;
  const gw = a.raw(RTA_GATEWAY);
  if (gw) r.gateway = readAddress(gw, family, 'route gateway');
  const mp = a.raw(RTA_MULTIPATH);
  if (mp) r.multipath = decodeMultipath(mp, family);
  return r;
}

/** Which routes {@link list} returns; every field narrows. */
export interface RouteFilter {
  family?: Family;
  table?: number;
  protocol?: number;
  type?: RouteType;
}

/**
 * Dump routes. Without NETLINK_GET_STRICT_CHK (see socket.ts) the kernel ignores dump filters,
 * so everything but the family is filtered here.
 */
export async function list(nl: RtnlTransport, filter: RouteFilter = {}): Promise<Route[]> {
  const out: Route[] = [];
  for (const family of filter.family ? [filter.family] : ([4, 6] as const)) {
    const req = Buffer.alloc(RTMSG_LEN);
    req.writeUInt8(afOf(family), 0);
    for (const m of await nl.dump(`route list inet${family === 6 ? '6' : ''}`, RTM_GETROUTE, req)) {
      if (m.type !== RTM_NEWROUTE || familyOf(m.payload) !== family) continue;
      const r = decode(m.payload);
      if (filter.table !== undefined && r.table !== filter.table) continue;
      if (filter.protocol !== undefined && r.protocol !== filter.protocol) continue;
      if (filter.type !== undefined && r.type !== filter.type) continue;
      out.push(r);
    }
  }
  return out;
}

/** Add; EEXIST if a route with the same {@link key} exists. */
export async function add(nl: RtnlTransport, r: Route): Promise<void> {
  await nl.request(`route add ${describe(r)}`, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, encode(r));
}

/** Add, or replace the route with the same {@link key} in place. */
export async function replace(nl: RtnlTransport, r: Route): Promise<void> {
  await nl.request(`route replace ${describe(r)}`, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, encode(r));
}

/** Delete exactly this route (type, protocol, scope, nexthops must match); ESRCH if there is none. */
export async function remove(nl: RtnlTransport, r: Route): Promise<void> {
  await nl.request(`route del ${describe(r)}`, RTM_DELROUTE, 0, encode(r));
}
