/**
 * Reserved ranges: the numbers that let wanbraid tell its own kernel objects from everyone else's.
 *
 * - Routes, rules and nexthops carry the routing protocol {@link RTPROT_WANBRAID} (87;
 *   `/etc/iproute2/rt_protos.d/wanbraid.conf` names it for `ip`).
 * - Tables: `routing.tableBase` is the default-route table, `tableBase + i` the table of link i
 *   (1-based position in `links:`) unless the link sets `table`.
 * - Rule priorities: 128 from `routing.rulePriorityBase` ({@link RULE_SLOTS}).
 * - Marks: the bits of `routing.markMask` (packet and conntrack mark alike) hold a small value:
 *   0 = not classified, 1..64 = link i, the mask's largest value = "main table" (bypass and
 *   lastResort main), the values below it = relay entries. Values are spread into the mask's bits
 *   with {@link depositBits}, so a mask need not be contiguous.
 * - Nexthop ids: {@link NEXTHOP_ID_BASE} + 1000 (per link and family, plus one group per family).
 *
 * Everything here is pure arithmetic; the unit test checks that no two ranges overlap for any
 * link count up to {@link MAX_LINKS}, the way mwan4 asserts its `*_BASE` constants.
 */
import type { Family } from '../config/values.js';

/** Routing protocol number stamped on every route, rule and nexthop wanbraid creates (87). */
export { RTPROT_WANBRAID } from '../kernel/rtnl/constants.js';

/** Upper bound on `links:` (the config check enforces it). */
export const MAX_LINKS = 64;

// ---------------------------------------------------------------------------------------------
// Rule priorities: offsets from routing.rulePriorityBase.

/** Size of the reserved priority range. */
export const RULE_SLOTS = 128;
/** `lookup main suppress_prefixlength 0`: LAN, connected and other specific routes of main win. */
export const RULE_SUPPRESS_MAIN = 0;
/** `fwmark <main>/<mask> lookup main`: bypass destinations and policies falling back to main. */
export const RULE_MARK_MAIN = 1;
/** Link i: `from <addr> lookup <table>` and `fwmark <mark>/<mask> lookup <table>` at offset 1 + i. */
export const RULE_LINK_FIRST = 2;
export const RULE_LINK_LAST = RULE_LINK_FIRST + MAX_LINKS - 1;
/** `lookup <default table>`: whatever no earlier rule decided (the router's own traffic, unclassified flows). */
export const RULE_DEFAULT = 100;

export function linkRulePriority(base: number, linkIndex: number): number {
  checkLinkIndex(linkIndex);
  return base + RULE_LINK_FIRST + linkIndex - 1;
}

// ---------------------------------------------------------------------------------------------
// Tables.

/** The table holding the default route (tableBase itself). */
export function defaultTable(tableBase: number): number {
  return tableBase;
}

/** Table of link i unless it sets its own. */
export function linkTable(tableBase: number, linkIndex: number, configured?: number): number {
  checkLinkIndex(linkIndex);
  return configured ?? tableBase + linkIndex;
}

/** The table ids reserved from tableBase (the default table and one per possible link). */
export function reservedTables(tableBase: number): { first: number; last: number } {
  return { first: tableBase, last: tableBase + MAX_LINKS };
}

// ---------------------------------------------------------------------------------------------
// Nexthop ids: NEXTHOP_ID_BASE .. NEXTHOP_ID_BASE + NEXTHOP_ID_SLOTS - 1.

export const NEXTHOP_ID_BASE = 87_000_000;
export const NEXTHOP_ID_SLOTS = 1000;
/** Default-route group of a family: base + 4 / base + 6. */
const NH_GROUP_OFFSET: Record<Family, number> = { 4: 4, 6: 6 };
/** Link i's nexthop: base + 100 + i (IPv4), base + 200 + i (IPv6). */
const NH_LINK_OFFSET: Record<Family, number> = { 4: 100, 6: 200 };

export function nexthopGroupId(family: Family): number {
  return NEXTHOP_ID_BASE + NH_GROUP_OFFSET[family];
}

export function linkNexthopId(linkIndex: number, family: Family): number {
  checkLinkIndex(linkIndex);
  return NEXTHOP_ID_BASE + NH_LINK_OFFSET[family] + linkIndex;
}

export function isReservedNexthopId(id: number): boolean {
  return id >= NEXTHOP_ID_BASE && id < NEXTHOP_ID_BASE + NEXTHOP_ID_SLOTS;
}

// ---------------------------------------------------------------------------------------------
// Marks.

/** Number of set bits. */
export function popcount(n: number): number {
  let c = 0;
  for (let v = n >>> 0; v; v >>>= 1) c += v & 1;
  return c;
}

/** Largest value the mask can hold (2^bits - 1). */
export function maxMarkValue(mask: number): number {
  return 2 ** popcount(mask) - 1;
}

/**
 * Spread the low bits of `value` into the set bits of `mask`, lowest first (x86 `pdep`): with mask
 * 0x00ff0000, value 3 becomes 0x00030000. Throws when the value does not fit.
 */
export function depositBits(value: number, mask: number): number {
  if (!Number.isInteger(value) || value < 0 || value > maxMarkValue(mask)) {
    throw new RangeError(`mark value ${value} does not fit mask 0x${(mask >>> 0).toString(16)}`);
  }
  let out = 0;
  let v = value;
  for (let bit = 0; bit < 32 && v; bit++) {
    const b = 2 ** bit;
    if (Math.floor((mask >>> 0) / b) % 2 === 1) {
      if (v % 2 === 1) out += b;
      v = Math.floor(v / 2);
    }
  }
  return out >>> 0;
}

/** Inverse of {@link depositBits}: the value held in the mask's bits of `mark`. */
export function extractBits(mark: number, mask: number): number {
  let out = 0;
  let weight = 1;
  for (let bit = 0; bit < 32; bit++) {
    const b = 2 ** bit;
    if (Math.floor((mask >>> 0) / b) % 2 === 1) {
      if (Math.floor((mark >>> 0) / b) % 2 === 1) out += weight;
      weight *= 2;
    }
  }
  return out;
}

/** The mark values in use, already placed in the mask's bits. */
export interface MarkLayout {
  mask: number;
  /** Link i (1-based) → its mark. */
  link(linkIndex: number): number;
  /** Bypass and lastResort main: route by the main table. */
  main: number;
  /** Relay entry k (0-based position in relay.entries) → the mark of flows handed to it. */
  relay(entryIndex: number): number;
}

/** How many relay entries fit beside `links` links in a mask (values 1..links, relays, main). */
export function markCapacity(mask: number, links: number): number {
  return maxMarkValue(mask) - 1 - links;
}

export function markLayout(mask: number, relayEntries = 0): MarkLayout {
  const max = maxMarkValue(mask);
  if (max < 2) throw new RangeError(`mark mask 0x${(mask >>> 0).toString(16)} has too few bits`);
  return {
    mask: mask >>> 0,
    link: (i) => {
      checkLinkIndex(i);
      if (i >= max - relayEntries) throw new RangeError(`link ${i} does not fit mark mask 0x${(mask >>> 0).toString(16)}`);
      return depositBits(i, mask);
    },
    main: depositBits(max, mask),
    relay: (k) => {
      if (!Number.isInteger(k) || k < 0 || k >= relayEntries) throw new RangeError(`relay entry ${k} out of range`);
      return depositBits(max - 1 - k, mask);
    },
  };
}

function checkLinkIndex(i: number): void {
  if (!Number.isInteger(i) || i < 1 || i > MAX_LINKS) throw new RangeError(`link index ${i} outside 1..${MAX_LINKS}`);
}
