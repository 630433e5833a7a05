/**
 * Interface counters (struct rtnl_link_stats64, `ip -s link` in ip(8)): packets in and out per
 * interface, for health's passive signal. Read-only; two ways to read them for every interface at
 * once with one dump:
 *
 * - {@link list}: RTM_GETSTATS with filter IFLA_STATS_LINK_64 (struct if_stats_msg + one
 *   attribute of 200 bytes per interface): the kernel builds and we parse nothing else. This is
 *   what health uses.
 * - {@link listViaLink}: RTM_GETLINK without RTEXT_FILTER_SKIP_STATS, IFLA_STATS64 from each full
 *   link message (about 1.5 KiB per interface: name, flags, qdisc, both stats structs, ...).
 *   Kept for the cost comparison in bench/passive-counters.bench.ts.
 *
 * Counters are u64 in the kernel; as JavaScript numbers they are exact up to 2^53 packets.
 * Pure except the verbs.
 */
import { AttrReader, AttrWriter, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from './constants.js';

export const RTM_NEWSTATS = 92;
export const RTM_GETSTATS = 94;
/** IFLA_STATS_LINK_64: struct rtnl_link_stats64 inside an RTM_NEWSTATS message. */
const IFLA_STATS_LINK_64 = 1;
/** IFLA_STATS64 inside an RTM_NEWLINK message. */
const IFLA_STATS64 = 23;
const IFLA_IFNAME = 3;
const IFLA_EXT_MASK = 29;
const IF_STATS_MSG_LEN = 12;
const IFINFOMSG_LEN = 16;
/** rx_packets, tx_packets, ... multicast: the first nine u64 fields of rtnl_link_stats64. */
const STATS64_MIN = 9 * 8;

export interface LinkStats {
  ifindex: number;
  /** Packets received (all, multicast included). */
  rxPackets: number;
  /** Packets sent. */
  txPackets: number;
  /** Multicast packets received (many drivers count broadcast here too). */
  multicast: number;
  rxBytes: number;
  txBytes: number;
}

/** Identity: the interface index. */
export function key(s: Pick<LinkStats, 'ifindex'>): string {
  return `link-stats ${s.ifindex}`;
}

/** struct rtnl_link_stats64 (at least its first nine fields) → counters. */
export function decodeStats64(ifindex: number, b: Buffer, where: string): LinkStats {
  if (b.length < STATS64_MIN) throw malformed(where, `rtnl_link_stats64 of ${b.length} bytes`);
  const n = (off: number) => Number(b.readBigUInt64LE(off));
  return { ifindex, rxPackets: n(0), txPackets: n(8), rxBytes: n(16), txBytes: n(24), multicast: n(64) };
}

/** The struct for tests and round trips: the nine fields we read, the rest zero (200 bytes, as the kernel sends). */
export function encodeStats64(s: LinkStats): Buffer {
  const b = Buffer.alloc(200);
  const w = (off: number, v: number) => b.writeBigUInt64LE(BigInt(v), off);
  w(0, s.rxPackets);
  w(8, s.txPackets);
  w(16, s.rxBytes);
  w(24, s.txBytes);
  w(64, s.multicast);
  return b;
}

/** An RTM_NEWSTATS payload (struct if_stats_msg + IFLA_STATS_LINK_64) → counters; undefined without them. */
export function decode(payload: Buffer): LinkStats | undefined {
  if (payload.length < IF_STATS_MSG_LEN) throw malformed('link stats', `${payload.length} bytes`);
  const ifindex = payload.readInt32LE(4);
  const a = AttrReader.parse(payload.subarray(IF_STATS_MSG_LEN), 'link stats');
  const raw = a.raw(IFLA_STATS_LINK_64);
  return raw ? decodeStats64(ifindex, raw, 'link stats') : undefined;
}

/** An RTM_NEWSTATS payload for these counters (tests). */
export function encode(s: LinkStats): Buffer {
  const h = Buffer.alloc(IF_STATS_MSG_LEN);
  h.writeUInt8(AF_UNSPEC, 0);
  h.writeInt32LE(s.ifindex, 4);
  h.writeUInt32LE(1 << (IFLA_STATS_LINK_64 - 1), 8);
  return Buffer.concat([h, new AttrWriter().raw(IFLA_STATS_LINK_64, encodeStats64(s)).bytes()]);
}

function statsRequest(): Buffer {
  const h = Buffer.alloc(IF_STATS_MSG_LEN);
  h.writeUInt8(AF_UNSPEC, 0);
  h.writeUInt32LE(1 << (IFLA_STATS_LINK_64 - 1), 8);
  return h;
}

const STATS_REQUEST = statsRequest();

/** Counters of every interface of the namespace: one RTM_GETSTATS dump. */
export async function list(nl: RtnlTransport): Promise<LinkStats[]> {
  const msgs = await nl.dump('link stats', RTM_GETSTATS, STATS_REQUEST);
  const out: LinkStats[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWSTATS) continue;
    const s = decode(m.payload);
    if (s) out.push(s);
  }
  return out;
}

/** The same counters from a full RTM_GETLINK dump (IFLA_STATS64), with the names. */
export async function listViaLink(nl: RtnlTransport): Promise<(LinkStats & { name: string })[]> {
  const h = Buffer.alloc(IFINFOMSG_LEN);
  const req = Buffer.concat([h, new AttrWriter().u32(IFLA_EXT_MASK, 0).bytes()]);
  const msgs = await nl.dump('link stats (getlink)', RTM_GETLINK, req);
  const out: (LinkStats & { name: string })[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK || m.payload.length < IFINFOMSG_LEN || m.payload.readUInt8(0) !== AF_UNSPEC) continue;
    const a = AttrReader.parse(m.payload.subarray(IFINFOMSG_LEN), 'link');
    const raw = a.raw(IFLA_STATS64);
    if (raw) out.push({ ...decodeStats64(m.payload.readInt32LE(4), raw, 'link'), name: a.string(IFLA_IFNAME) ?? '' });
  }
  return out;
}
