/**
 * Nudging a dead link's TCP clients so they learn at once that their connection is gone.
 *
 * When a link dies the balancer flushes its conntrack entries, and the LAN client's next segment
 * (no entry any more) is pinned to a healthy link and masqueraded; the server does not know that
 * 4-tuple and answers with a reset, which reaches the client: its application reconnects. But the
 * client only sends again when its retransmission timer fires, and after a blackhole it has backed
 * off (about 0.2, 0.6, 1.4, 3.0 s after the first loss), so that can be seconds after the failover.
 *
 * The nudge makes the client send now: in the server's name, the router sends the client a TCP
 * ACK segment whose sequence number is outside the client's receive window. The client's stack
 * answers an unacceptable segment with an ACK of its own (RFC 9293 3.10.7.4) and that ACK takes
 * the path above. The nudge carries no data and cannot change the client's connection state. It
 * leaves untracked (`notrack` in the ruleset for the nudge mark), so conntrack never sees it; the
 * mark routes it by the main table, and the ruleset drops it unless it leaves by a LAN interface.
 *
 * One nudge is not certain to be answered, for two reasons the stress benchmark
 * (bench/nudge-stress.bench.ts) showed in the client's counters:
 * - Linux answers out-of-window segments at most once per `net.ipv4.tcp_invalid_ratelimit`
 *   (500 ms) per socket (TcpExtTCPACKSkippedSeq counts the ones it skipped);
 * - a sequence number that happens to fall inside the window is processed as an acceptable pure
 *   ACK, and one whose acknowledgment number is beyond what the client sent is dropped silently
 *   (RFC 9293: "If the ACK acks something not yet sent ... drop the segment").
 * So every nudged flow is watched (see {@link nudgeVerdict}) through its new conntrack entry: the
 * client's answer creates one, and the server's reset closes it. A flow that shows no reset is
 * nudged again, after the rate limit has passed and with a sequence number half the number space
 * away from the previous one (a receive window is at most 2^30, so two such numbers cannot both
 * fall inside it), up to {@link NUDGE_SCHEDULE}'s bound.
 *
 * Only outbound LAN flows get nudges: the original source must be a LAN client (an address
 * reachable through a LAN interface) and the destination not the router itself. A connection
 * that came in through the dead link (a port forward) is never answered in its LAN server's name.
 *
 * This module is pure: the segment (IP header included, for an IPPROTO_RAW socket), the choice of
 * which flushed entries get one, their sequence numbers and the retry schedule. The sending is
 * native/raw_send.c; the timers and conntrack reads are kernel/nudger.ts.
 */
import type { Prefix } from '../config/values.js';
import { covers } from '../plan/addr.js';
import { internetChecksum } from '../util/checksum.js';
import { ipToBytes } from './rtnl/ip.js';

/** A flushed conntrack entry, as the original direction saw it (client → server). */
export interface CtFlow {
  family: 4 | 6;
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP conntrack state number (3 = ESTABLISHED), when known. */
  tcpState?: number;
  /** The reply direction's tuple (after NAT: its destination is the masquerade address), when known. */
  reply?: { src: string; dst: string; sport: number; dport: number };
  /** The entry's ct mark, when known. */
  mark?: number;
}

/** A flow's original tuple as a string key (family, protocol, addresses, ports). */
export function flowKey(f: Pick<CtFlow, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'>): string {
  return `${f.family}/${f.proto}/${f.src}/${f.sport}/${f.dst}/${f.dport}`;
}

/** Where LAN clients are and what the router's own addresses are, for {@link flowsToNudge}. */
export interface NudgeScope {
  /** Every address of the router (a flow from one is its own; a flow to one came in from outside). */
  local: ReadonlySet<string>;
  /** Networks reached through a LAN interface: connected prefixes and routes via a LAN device. */
  lan: readonly Prefix[];
}

const IPPROTO_TCP = 6;
/** TCP conntrack states worth a nudge: SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK. */
const LIVE_TCP_STATES = new Set([2, 3, 4, 5, 6]);
/** TCP conntrack states a reset leaves: TIME_WAIT (7), CLOSE (8). */
const CLOSED_TCP_STATES = new Set([7, 8]);

function onLan(addr: string, family: 4 | 6, lan: readonly Prefix[]): boolean {
  const host: Prefix = { address: addr, len: family === 4 ? 32 : 128, family };
  return lan.some((p) => covers(p, host));
}

/**
 * The flows to nudge: live TCP connections that a LAN client opened toward the outside. Not the
 * router's own (its sockets learn by themselves), not connections that came in from the outside
 * (a port forward: the original source is not on the LAN, or the original destination is the
 * router), not destination-NATed ones (the reply's source is not the original destination).
 */
export function flowsToNudge(flows: readonly CtFlow[], scope: NudgeScope): CtFlow[] {
  return flows.filter(
    (f) =>
      f.proto === IPPROTO_TCP &&
      (f.tcpState === undefined || LIVE_TCP_STATES.has(f.tcpState)) &&
      !scope.local.has(f.src) &&
      !scope.local.has(f.dst) &&
      (f.reply === undefined || f.reply.src === f.dst) &&
      onLan(f.src, f.family, scope.lan),
  );
}

/**
 * What a nudged flow's conntrack entry, read after the nudge, says:
 * - `reset`: the entry is closed (TIME_WAIT or CLOSE): the server's reset went through to the client;
 * - `unanswered`: a live entry: the client spoke (a new entry was made for its answer or its own
 *   retransmission) but no reset has come back yet;
 * - `silent`: no entry: the client has not sent anything since the flush.
 */
export type NudgeVerdict = 'reset' | 'unanswered' | 'silent';

export function nudgeVerdict(entry: CtFlow | undefined): NudgeVerdict {
  if (!entry) return 'silent';
  return entry.tcpState !== undefined && CLOSED_TCP_STATES.has(entry.tcpState) ? 'reset' : 'unanswered';
}

/**
 * When each nudged flow is checked (milliseconds after its first nudge); a flow not yet `reset` at
 * a check is nudged again then, except at the last check, after which it counts as unconfirmed.
 * The first check comes soon (a sequence number that fell inside the window was dropped in
 * silence, and the next one cannot be inside it); the later ones are more than
 * tcp_invalid_ratelimit (500 ms) apart, so a client that answered an earlier nudge may answer again.
 */
export const NUDGE_SCHEDULE: readonly number[] = [150, 700, 1300, 2000];

/**
 * The sequence number of attempt `n` (0-based): attempts alternate between two numbers 2^31
 * apart, starting from a random `base`, so no two consecutive ones can both fall inside a receive
 * window (at most 2^30 bytes, RFC 7323).
 */
export function nudgeSeq(base: number, attempt: number): number {
  return (base + (attempt % 2) * 0x80000000) >>> 0;
}

/**
 * The nudge for `flow`: a packet from its server (`dst:dport`) to its client (`src:sport`), TCP
 * flags ACK, window 0, no payload, with `seq` and `ack`; IPv4 (20-byte header, DF) or IPv6 header
 * included, every checksum filled.
 */
export function nudgeSegment(flow: CtFlow, seq: number, ack: number): Buffer {
  const src = ipToBytes(flow.dst, flow.family);
  const dst = ipToBytes(flow.src, flow.family);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(flow.dport, 0);
  tcp.writeUInt16BE(flow.sport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4; // data offset: 5 words
  tcp[13] = 0x10; // ACK
  tcp.writeUInt16BE(0, 14); // window
  const pseudo =
    flow.family === 4
      ? Buffer.concat([src, dst, Buffer.from([0, IPPROTO_TCP, 0, tcp.length])])
      : Buffer.concat([src, dst, Buffer.from([0, 0, 0, tcp.length, 0, 0, 0, IPPROTO_TCP])]);
  tcp.writeUInt16BE(internetChecksum(Buffer.concat([pseudo, tcp])), 16);
  if (flow.family === 4) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcp.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ip.writeUInt16BE(internetChecksum(ip), 10);
    return Buffer.concat([ip, tcp]);
  }
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(tcp.length, 4);
  ip[6] = IPPROTO_TCP;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return Buffer.concat([ip, tcp]);
}
