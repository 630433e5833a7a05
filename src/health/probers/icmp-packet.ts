/**
 * ICMP and ICMPv6 echo messages (RFC 792, RFC 4443): build requests, parse replies, the Internet
 * checksum (RFC 1071). Pure.
 *
 * Layout of an echo message: type (1 byte), code (1), checksum (2), identifier (2), sequence (2),
 * then the payload, all in network byte order. For IPv4 we compute the checksum; for ICMPv6 it
 * covers a pseudo-header the kernel knows and we do not, so we leave it 0 and the kernel fills it
 * in (raw ICMPv6 sockets always do). A raw IPv4 socket delivers the IP header in front of the
 * ICMP message and {@link parseEchoReply} strips it; a raw IPv6 socket delivers the ICMPv6
 * message alone.
 */
import type { Family } from '../../config/values.js';
import { internetChecksum } from '../../util/checksum.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
const IPPROTO_ICMP = 1;
const ECHO_HEADER_BYTES = 8;

export interface EchoMessage {
  /** 16-bit identifier. */
  id: number;
  /** 16-bit sequence number. */
  seq: number;
  payload: Buffer;
}

export { internetChecksum };

/** An echo request for `family`: with its checksum for IPv4, with 0 (the kernel's job) for IPv6. */
export function buildEchoRequest(family: Family, msg: EchoMessage): Buffer {
  const buf = Buffer.alloc(ECHO_HEADER_BYTES + msg.payload.length);
  buf.writeUInt8(family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST, 0);
  buf.writeUInt8(0, 1);
  buf.writeUInt16BE(msg.id & 0xffff, 4);
  buf.writeUInt16BE(msg.seq & 0xffff, 6);
  msg.payload.copy(buf, ECHO_HEADER_BYTES);
  if (family === 4) buf.writeUInt16BE(internetChecksum(buf), 2);
  return buf;
}

/**
 * The echo reply in a datagram from a raw socket of `family`, or undefined when it is anything
 * else: not an echo reply, truncated, an IPv4 packet that is not ICMP or is a fragment, or an
 * IPv4 ICMP checksum that does not verify (the kernel checks ICMPv6 checksums itself).
 */
export function parseEchoReply(family: Family, datagram: Buffer): EchoMessage | undefined {
  let icmp = datagram;
  if (family === 4) {
    if (datagram.length < 20 || datagram[0]! >> 4 !== 4) return undefined;
    const headerBytes = (datagram[0]! & 0x0f) * 4;
    const totalBytes = datagram.readUInt16BE(2);
    const fragment = datagram.readUInt16BE(6) & 0x3fff; // MF flag or a fragment offset
    if (headerBytes < 20 || datagram[9] !== IPPROTO_ICMP || fragment !== 0) return undefined;
    if (totalBytes < headerBytes || totalBytes > datagram.length) return undefined;
    icmp = datagram.subarray(headerBytes, totalBytes);
    if (icmp.length < ECHO_HEADER_BYTES || icmp[0] !== ICMP_ECHO_REPLY || internetChecksum(icmp) !== 0) return undefined;
  } else {
    if (icmp.length < ECHO_HEADER_BYTES || icmp[0] !== ICMP6_ECHO_REPLY) return undefined;
  }
  if (icmp[1] !== 0) return undefined;
  return { id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6), payload: icmp.subarray(ECHO_HEADER_BYTES) };
}
