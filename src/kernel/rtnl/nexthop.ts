/**
 * Nexthop objects (struct nhmsg + NHA_* attributes, `ip nexthop` in ip(8)): single nexthops,
 * blackholes and groups, plain (hash-threshold) or resilient. The plain object, identity and
 * comparison, the codec and the verbs. Codec and comparisons are pure.
 *
 * Encoded in-project because the `netlink` package cannot: NHA_GROUP (an array of struct
 * nexthop_grp), NHA_GROUP_TYPE, and the NHA_RES_GROUP nest, which the kernel parses strictly
 * and rejects without NLA_F_NESTED. Resilient timers travel in clock_t (1/100 s); here they are
 * milliseconds, compared at 10 ms precision.
 *
 * Kernel behaviour to plan for (observed on 6.18): a nexthop is deleted, without any
 * RTM_DELNEXTHOP event, when its device goes admin-down or loses carrier; groups shrink silently,
 * an emptied group is deleted, and IPv4 routes using it vanish, also without events. The kernel
 * refuses to create a nexthop on a device without carrier (ENETDOWN). So: rebuild on link
 * events, by dumping.
 */
import type { Family } from '../../model.js';
import { AttrReader, AttrWriter, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import { AF_UNSPEC, RTM_DELNEXTHOP, RTM_GETNEXTHOP, RTM_NEWNEXTHOP } from './constants.js';
import { afOf, familyOfAf, ipToBytes, readAddress } from './ip.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from './netlink.js';
import { checkAddress, checkInt, invalid } from './validate.js';

const NHA_ID = 1;
const NHA_GROUP = 2;
const NHA_GROUP_TYPE = 3;
const NHA_BLACKHOLE = 4;
const NHA_OIF = 5;
const NHA_GATEWAY = 6;
const NHA_RES_GROUP = 12;

const NHA_RES_GROUP_BUCKETS = 1;
const NHA_RES_GROUP_IDLE_TIMER = 2;
const NHA_RES_GROUP_UNBALANCED_TIMER = 3;
const NHA_RES_GROUP_UNBALANCED_TIME = 4;

const NEXTHOP_GRP_TYPE_MPATH = 0;
const NEXTHOP_GRP_TYPE_RES = 1;

const NHMSG_LEN = 8;
const NH_GRP_LEN = 8;
/** clock_t is in USER_HZ (100 per second): one tick is 10 ms. */
const MS_PER_TICK = 10;

/** A group member (struct nexthop_grp). */
export interface NexthopMember {
  id: number;
  /** 1..256. */
  weight: number;
}

/** Parameters of a resilient group (`ip nexthop ... type resilient buckets N idle_timer S unbalanced_timer S`). */
export interface ResilientParams {
  /** Number of hash buckets (fixed once created). */
  buckets: number;
  /** A bucket idle this long may move to an underweight member (milliseconds; ip(8) takes seconds). */
  idleTimerMs: number;
  /** After this long unbalanced, buckets move even if busy; 0 = never (milliseconds). */
  unbalancedTimerMs: number;
  /** Read-only, reported by the kernel: how long the group has been unbalanced (milliseconds). Ignored by equals/encode. */
  unbalancedTimeMs?: number;
}

/** The kernel's parameters for a resilient group created without NHA_RES_GROUP values. */
export const RESILIENT_DEFAULTS: Readonly<ResilientParams> = { buckets: 128, idleTimerMs: 120_000, unbalancedTimerMs: 0 };

interface NexthopBase {
  /** 1..2^32-1, chosen by us (wanbraid reserves a range). */
  id: number;
  /** nh_protocol: who owns it. */
  protocol: number;
}

/** `via GATEWAY dev DEV`, or `dev DEV` alone on a point-to-point link. */
export interface SingleNexthop extends NexthopBase {
  kind: 'single';
  family: Family;
  oif: number;
  gateway?: string;
}

/** `blackhole`: drops what is routed to it. */
export interface BlackholeNexthop extends NexthopBase {
  kind: 'blackhole';
  family: Family;
}

/** `group ID[,WEIGHT]/...`: a hash-threshold ('mpath') or 'resilient' group of single nexthops. */
export interface GroupNexthop extends NexthopBase {
  kind: 'group';
  type: 'mpath' | 'resilient';
  members: NexthopMember[];
  /** For type 'resilient'; absent means {@link RESILIENT_DEFAULTS}. Decoded groups always carry it. */
  resilient?: ResilientParams;
}

export type Nexthop = SingleNexthop | BlackholeNexthop | GroupNexthop;

/** Identity: the id. */
export function key(n: Nexthop): string {
  return `nexthop ${n.id}`;
}

function ticks(ms: number): number {
  return Math.round(ms / MS_PER_TICK);
}

function resilientText(p: ResilientParams | undefined): string {
  const r = p ?? RESILIENT_DEFAULTS;
  return `${r.buckets}/${ticks(r.idleTimerMs)}/${ticks(r.unbalancedTimerMs)}`;
}

function membersText(ms: readonly NexthopMember[]): string {
  return [...ms].sort((x, y) => x.id - y.id).map((m) => `${m.id}*${m.weight}`).join(',');
}

/** True when `a` is exactly what `b` asks for (group member order and read-only fields ignored). */
export function equals(a: Nexthop, b: Nexthop): boolean {
  if (a.id !== b.id || a.protocol !== b.protocol) return false;
  switch (a.kind) {
    case 'single':
      return b.kind === 'single' && a.family === b.family && a.oif === b.oif && a.gateway === b.gateway;
    case 'blackhole':
      return b.kind === 'blackhole' && a.family === b.family;
    case 'group':
      return (
        b.kind === 'group' &&
        a.type === b.type &&
        membersText(a.members) === membersText(b.members) &&
        (a.type === 'mpath' || resilientText(a.resilient) === resilientText(b.resilient))
      );
  }
}

/**
 * NLM_F_REPLACE turns `a` into `b` in place when both are groups of the same type with the same
 * bucket count (the kernel refuses other changes to a group), or both are not groups and of the
 * same family.
 */
export function canReplace(a: Nexthop, b: Nexthop): boolean {
  if (a.id !== b.id) return false;
  if (a.kind === 'group' || b.kind === 'group') {
    if (a.kind !== 'group' || b.kind !== 'group' || a.type !== b.type) return false;
    return a.type === 'mpath' || (a.resilient ?? RESILIENT_DEFAULTS).buckets === (b.resilient ?? RESILIENT_DEFAULTS).buckets;
  }
  return a.family === b.family;
}

/** ip(8)-like text for logs and error messages. */
export function describe(n: Nexthop): string {
  const p = [`id ${n.id}`];
  switch (n.kind) {
    case 'single':
      if (n.gateway !== undefined) p.push(`via ${n.gateway}`);
      p.push(`dev #${n.oif}`);
      break;
    case 'blackhole':
      p.push('blackhole');
      break;
    case 'group': {
      p.push(`group ${n.members.map((m) => (m.weight === 1 ? `${m.id}` : `${m.id},${m.weight}`)).join('/')}`);
      if (n.type === 'resilient') {
        const r = n.resilient ?? RESILIENT_DEFAULTS;
        p.push(`type resilient buckets ${r.buckets} idle_timer_ms ${r.idleTimerMs} unbalanced_timer_ms ${r.unbalancedTimerMs}`);
      }
      break;
    }
  }
  p.push(`proto ${n.protocol}`);
  return p.join(' ');
}

function check(n: Nexthop): void {
  const what = `nexthop ${describe(n)}`;
  checkInt(what, 'id', n.id, 1, 0xffffffff);
  checkInt(what, 'protocol', n.protocol, 0, 255);
  if (n.kind === 'single' || n.kind === 'blackhole') {
    if (n.family !== 4 && n.family !== 6) throw invalid(what, `family must be 4 or 6, got ${String(n.family)}`);
  }
  if (n.kind === 'single') {
    checkInt(what, 'oif', n.oif, 1, 0x7fffffff);
    checkAddress(what, 'gateway', n.gateway, n.family);
  }
  if (n.kind === 'group') {
    if (n.type !== 'mpath' && n.type !== 'resilient') throw invalid(what, `unknown group type "${String(n.type)}"`);
    if (n.members.length === 0) throw invalid(what, 'a group needs at least one member');
    for (const [i, m] of n.members.entries()) {
      checkInt(what, `members[${i}].id`, m.id, 1, 0xffffffff);
      checkInt(what, `members[${i}].weight`, m.weight, 1, 256);
    }
    if (n.resilient) {
      checkInt(what, 'resilient.buckets', n.resilient.buckets, 1, 0xffff);
      checkInt(what, 'resilient.idleTimerMs', n.resilient.idleTimerMs, 0, 0xffffffff * MS_PER_TICK);
      checkInt(what, 'resilient.unbalancedTimerMs', n.resilient.unbalancedTimerMs, 0, 0xffffffff * MS_PER_TICK);
    }
  }
}

function header(family: number, protocol: number): Buffer {
  const h = Buffer.alloc(NHMSG_LEN);
  h.writeUInt8(family, 0);
  h.writeUInt8(protocol, 2);
  return h;
}

/** struct nhmsg + attributes, for RTM_NEWNEXTHOP. Throws WB_INTERNAL on an invalid nexthop. */
export function encode(n: Nexthop): Buffer {
  check(n);
  const w = new AttrWriter().u32(NHA_ID, n.id);
  switch (n.kind) {
    case 'single':
      w.u32(NHA_OIF, n.oif);
      if (n.gateway !== undefined) w.raw(NHA_GATEWAY, ipToBytes(n.gateway, n.family));
      return Buffer.concat([header(afOf(n.family), n.protocol), w.bytes()]);
    case 'blackhole':
      w.flag(NHA_BLACKHOLE);
      return Buffer.concat([header(afOf(n.family), n.protocol), w.bytes()]);
    case 'group': {
      const g = Buffer.alloc(NH_GRP_LEN * n.members.length);
      n.members.forEach((m, i) => {
        g.writeUInt32LE(m.id, i * NH_GRP_LEN);
        g.writeUInt8((m.weight - 1) & 0xff, i * NH_GRP_LEN + 4); // weight
        g.writeUInt8((m.weight - 1) >> 8, i * NH_GRP_LEN + 5); // weight_high (kernel 6.12+)
      });
      w.raw(NHA_GROUP, g).u16(NHA_GROUP_TYPE, n.type === 'resilient' ? NEXTHOP_GRP_TYPE_RES : NEXTHOP_GRP_TYPE_MPATH);
      if (n.type === 'resilient') {
        const r = n.resilient ?? RESILIENT_DEFAULTS;
        w.nested(NHA_RES_GROUP, (x) =>
          x
            .u16(NHA_RES_GROUP_BUCKETS, r.buckets)
            .u32(NHA_RES_GROUP_IDLE_TIMER, ticks(r.idleTimerMs))
            .u32(NHA_RES_GROUP_UNBALANCED_TIMER, ticks(r.unbalancedTimerMs)),
        );
      }
      return Buffer.concat([header(AF_UNSPEC, n.protocol), w.bytes()]);
    }
  }
}

function decodeResilient(a: AttrReader): ResilientParams {
  const time = a.u64(NHA_RES_GROUP_UNBALANCED_TIME);
  const r: ResilientParams = {
    buckets: a.u16(NHA_RES_GROUP_BUCKETS) ?? RESILIENT_DEFAULTS.buckets,
    idleTimerMs: (a.u32(NHA_RES_GROUP_IDLE_TIMER) ?? ticks(RESILIENT_DEFAULTS.idleTimerMs)) * MS_PER_TICK,
    unbalancedTimerMs: (a.u32(NHA_RES_GROUP_UNBALANCED_TIMER) ?? 0) * MS_PER_TICK,
  };
  if (time !== undefined) r.unbalancedTimeMs = Number(time) * MS_PER_TICK;
  return r;
}

/** An RTM_NEWNEXTHOP/RTM_DELNEXTHOP payload → Nexthop. Pure. */
export function decode(payload: Buffer): Nexthop {
  if (payload.length < NHMSG_LEN) throw malformed('nexthop', `${payload.length} bytes`);
  const a = AttrReader.parse(payload.subarray(NHMSG_LEN), 'nexthop');
  const id = a.u32(NHA_ID);
  if (id === undefined) throw malformed('nexthop', 'no NHA_ID');
  const protocol = payload.readUInt8(2);
  const group = a.raw(NHA_GROUP);
  if (group) {
    if (group.length % NH_GRP_LEN) throw malformed('nexthop group', `${group.length} bytes`);
    const members: NexthopMember[] = [];
    for (let off = 0; off < group.length; off += NH_GRP_LEN) {
      members.push({ id: group.readUInt32LE(off), weight: ((group.readUInt8(off + 5) << 8) | group.readUInt8(off + 4)) + 1 });
    }
    const res = (a.u16(NHA_GROUP_TYPE) ?? NEXTHOP_GRP_TYPE_MPATH) === NEXTHOP_GRP_TYPE_RES;
    const n: GroupNexthop = { kind: 'group', id, protocol, type: res ? 'resilient' : 'mpath', members };
    if (res) n.resilient = decodeResilient(a.nested(NHA_RES_GROUP) ?? AttrReader.parse(Buffer.alloc(0), 'nexthop'));
    return n;
  }
  const family = familyOfAf(payload.readUInt8(0));
  if (!family) throw malformed('nexthop', `address family ${payload.readUInt8(0)} for id ${id}`);
  if (a.has(NHA_BLACKHOLE)) return { kind: 'blackhole', id, protocol, family };
  const n: SingleNexthop = { kind: 'single', id, protocol, family, oif: a.u32(NHA_OIF) ?? 0 };
  const gw = a.raw(NHA_GATEWAY);
  if (gw) n.gateway = readAddress(gw, family, 'nexthop gateway');
  return n;
}

/** Which nexthops {@link list} returns. */
export interface NexthopFilter {
  protocol?: number;
}

/** Dump every nexthop (the kernel cannot filter by protocol; that is done here). */
export async function list(nl: RtnlTransport, filter: NexthopFilter = {}): Promise<Nexthop[]> {
  const out: Nexthop[] = [];
  for (const m of await nl.dump('nexthop list', RTM_GETNEXTHOP, header(AF_UNSPEC, 0))) {
    if (m.type !== RTM_NEWNEXTHOP) continue;
    const n = decode(m.payload);
    if (filter.protocol !== undefined && n.protocol !== filter.protocol) continue;
    out.push(n);
  }
  return out;
}

/** Read one nexthop; ENOENT if there is none with this id. */
export async function get(nl: RtnlTransport, id: number): Promise<Nexthop> {
  const req = Buffer.concat([header(AF_UNSPEC, 0), new AttrWriter().u32(NHA_ID, id).bytes()]);
  const [m] = await nl.request(`nexthop get id ${id}`, RTM_GETNEXTHOP, 0, req);
  if (!m) throw malformed('nexthop get', `no reply for id ${id}`);
  return decode(m.payload);
}

/** Add; EEXIST if the id is taken. */
export async function add(nl: RtnlTransport, n: Nexthop): Promise<void> {
  await nl.request(`nexthop add ${describe(n)}`, RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL, encode(n));
}

/** Add, or replace the nexthop with this id in place (see {@link canReplace}). */
export async function replace(nl: RtnlTransport, n: Nexthop): Promise<void> {
  await nl.request(`nexthop replace ${describe(n)}`, RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_REPLACE, encode(n));
}

/** Delete by id (the kernel checks nothing else; check ownership first). ENOENT if absent. */
export async function remove(nl: RtnlTransport, n: Pick<Nexthop, 'id'>): Promise<void> {
  const req = Buffer.concat([header(AF_UNSPEC, 0), new AttrWriter().u32(NHA_ID, n.id).bytes()]);
  await nl.request(`nexthop del id ${n.id}`, RTM_DELNEXTHOP, 0, req);
}
