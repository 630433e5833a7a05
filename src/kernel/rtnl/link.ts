/**
 * Links (struct ifinfomsg + IFLA_* attributes, `ip link` in ip(8)): what health needs to know
 * about an interface — index, name, administrative state, carrier, point-to-point, operstate.
 * wanbraid never creates or changes links, so the verbs are read-only (`list`, `get`); the codec
 * is complete so that requests and round trips use the same code. Pure except the verbs.
 *
 * `up` is IFF_UP (set by the administrator), `lowerUp` is IFF_LOWER_UP (carrier), `running` is
 * IFF_RUNNING (operationally up: carrier and not dormant). Link messages of other families
 * (AF_BRIDGE port events) are not links in this sense; {@link isLinkMessage} tells them apart.
 */
import { AttrReader, AttrWriter, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import { AF_UNSPEC, IFF_LOOPBACK, IFF_LOWER_UP, IFF_POINTOPOINT, IFF_RUNNING, IFF_UP, RTM_GETLINK, RTM_NEWLINK } from './constants.js';
import { checkInt, invalid } from './validate.js';

const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_SKIP_STATS = 1 << 3;

const IFINFOMSG_LEN = 16;

/** RFC 2863 operational state (IF_OPER_*), as ip(8) prints it in lower case. */
export const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPER_STATES)[number];

/** The interface flags health uses. */
export interface LinkFlags {
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING: operationally up. */
  running: boolean;
  /** IFF_LOWER_UP: carrier present. */
  lowerUp: boolean;
  /** IFF_POINTOPOINT: PPP, tun; routes go via the device. */
  pointopoint: boolean;
  loopback: boolean;
}

export interface Link {
  ifindex: number;
  name: string;
  flags: LinkFlags;
  operstate: OperState;
  /** Bytes. */
  mtu?: number;
  /** IFLA_INFO_KIND: `veth`, `wireguard`, `ppp`, ...; absent for physical NICs. */
  kind?: string;
}

const FLAG_BITS: [keyof LinkFlags, number][] = [
  ['up', IFF_UP],
  ['running', IFF_RUNNING],
  ['lowerUp', IFF_LOWER_UP],
  ['pointopoint', IFF_POINTOPOINT],
  ['loopback', IFF_LOOPBACK],
];

/** Identity: the interface index. */
export function key(l: Pick<Link, 'ifindex'>): string {
  return `link ${l.ifindex}`;
}

export function equals(a: Link, b: Link): boolean {
  return (
    a.ifindex === b.ifindex &&
    a.name === b.name &&
    a.operstate === b.operstate &&
    a.mtu === b.mtu &&
    a.kind === b.kind &&
    FLAG_BITS.every(([f]) => a.flags[f] === b.flags[f])
  );
}

/** wanbraid does not change links. */
export function canReplace(_a: Link, _b: Link): boolean {
  return false;
}

export function describe(l: Link): string {
  const flags = FLAG_BITS.filter(([f]) => l.flags[f]).map(([f]) => f);
  return `${l.ifindex}: ${l.name} <${flags.join(',')}> state ${l.operstate}${l.mtu !== undefined ? ` mtu ${l.mtu}` : ''}`;
}

/** struct ifinfomsg + IFLA_IFNAME/IFLA_MTU (what RTM_GETLINK/RTM_NEWLINK carry for these fields). */
export function encode(l: Link): Buffer {
  const what = `link ${l.name}`;
  checkInt(what, 'ifindex', l.ifindex, 0, 0x7fffffff);
  checkInt(what, 'mtu', l.mtu, 0, 0xffffffff);
  if (!OPER_STATES.includes(l.operstate)) throw invalid(what, `unknown operstate "${String(l.operstate)}"`);
  const h = Buffer.alloc(IFINFOMSG_LEN);
  h.writeUInt8(AF_UNSPEC, 0);
  h.writeInt32LE(l.ifindex, 4);
  h.writeUInt32LE(FLAG_BITS.reduce((acc, [f, bit]) => (l.flags[f] ? acc | bit : acc), 0) >>> 0, 8);
  const w = new AttrWriter().string(IFLA_IFNAME, l.name).u8(IFLA_OPERSTATE, OPER_STATES.indexOf(l.operstate));
  if (l.mtu !== undefined) w.u32(IFLA_MTU, l.mtu);
  if (l.kind !== undefined) w.nested(IFLA_LINKINFO, (x) => x.string(IFLA_INFO_KIND, l.kind!));
  return Buffer.concat([h, w.bytes()]);
}

/** True for an interface message (ifi_family AF_UNSPEC), false for e.g. AF_BRIDGE port messages. */
export function isLinkMessage(payload: Buffer): boolean {
  return payload.length >= 1 && payload.readUInt8(0) === AF_UNSPEC;
}

/** An RTM_NEWLINK/RTM_DELLINK payload → Link. Pure. */
export function decode(payload: Buffer): Link {
  if (payload.length < IFINFOMSG_LEN) throw malformed('link', `${payload.length} bytes`);
  const a = AttrReader.parse(payload.subarray(IFINFOMSG_LEN), 'link');
  const bits = payload.readUInt32LE(8);
  const flags = Object.fromEntries(FLAG_BITS.map(([f, bit]) => [f, (bits & bit) !== 0])) as unknown as LinkFlags;
  const l: Link = {
    ifindex: payload.readInt32LE(4),
    name: a.string(IFLA_IFNAME) ?? '',
    flags,
    operstate: OPER_STATES[a.u8(IFLA_OPERSTATE) ?? 0] ?? 'unknown',
  };
  const mtu = a.u32(IFLA_MTU);
  if (mtu !== undefined) l.mtu = mtu;
  const kind = a.nested(IFLA_LINKINFO)?.string(IFLA_INFO_KIND);
  if (kind !== undefined) l.kind = kind;
  return l;
}

function request(ifindex: number, name?: string): Buffer {
  const h = Buffer.alloc(IFINFOMSG_LEN);
  h.writeInt32LE(ifindex, 4);
  const w = new AttrWriter().u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (name !== undefined) w.string(IFLA_IFNAME, name);
  return Buffer.concat([h, w.bytes()]);
}

/** Every interface of the namespace. */
export async function list(nl: RtnlTransport): Promise<Link[]> {
  const msgs = await nl.dump('link list', RTM_GETLINK, request(0));
  return msgs.filter((m) => m.type === RTM_NEWLINK && isLinkMessage(m.payload)).map((m) => decode(m.payload));
}

/** One interface by index or name; ENODEV if there is none. */
export async function get(nl: RtnlTransport, which: number | string): Promise<Link> {
  const req = typeof which === 'number' ? request(which) : request(0, which);
  const [m] = await nl.request(`link get ${which}`, RTM_GETLINK, 0, req);
  if (!m) throw malformed('link get', `no reply for ${which}`);
  return decode(m.payload);
}
