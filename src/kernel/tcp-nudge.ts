/**
 * Nudging a dead link's TCP clients so they learn at once that their connection is gone.
 *
 * When a link dies the balancer flushes its conntrack entries, and the LAN client's next segment
 * (no entry any more) is pinned to a healthy link and masqueraded; the server does not know that
 * 4-tuple and answers with a reset, which reaches the client: its application reconnects. But the
 * client only sends again when its retransmission timer fires, and after a blackhole it has backed
 * off (about 0.2, 0.6, 1.4, 3.0 s after the first loss), so that can be seconds after the failover.
 *
 * The nudge makes the client send now: in the server's name, the router sends the client one TCP
 * ACK segment with an arbitrary sequence and acknowledgment number. Whatever those are, the client's
 * stack answers with an ACK of its own (RFC 9293 3.10.7.4: an unacceptable segment is answered with
 * an acknowledgment; RFC 5961 challenge ACKs likewise) and that ACK takes the path above. The nudge
 * carries no data and cannot change the client's connection state. It leaves untracked
 * (`notrack` in the ruleset for the nudge mark), so conntrack never sees it, and the mark routes it
 * by the main table, straight to the LAN.
 *
 * This module is pure: the segment (IP header included, for an IPPROTO_RAW socket) and the choice
 * of which flushed entries get one. The sending is native/raw_send.c.
 */
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
}

const IPPROTO_TCP = 6;
/** TCP conntrack states worth a nudge: SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK. */
const LIVE_TCP_STATES = new Set([2, 3, 4, 5, 6]);

/** The flows to nudge: live TCP connections whose client is not this host (its own sockets learn by themselves). */
export function flowsToNudge(flows: readonly CtFlow[], localAddresses: ReadonlySet<string>): CtFlow[] {
  return flows.filter((f) => f.proto === IPPROTO_TCP && (f.tcpState === undefined || LIVE_TCP_STATES.has(f.tcpState)) && !localAddresses.has(f.src));
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
