/**
 * IP addresses between text and the kernel's network-order bytes, and families between wanbraid's
 * `4 | 6` and the kernel's AF_INET/AF_INET6. Text output is what iproute2 prints (glibc
 * inet_ntop: RFC 5952 zero compression, an embedded IPv4 tail for `::ffff:a.b.c.d` and
 * `::a.b.c.d`), so decoded objects compare equal to `ip -j` output. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { WanbraidError } from '../../errors.js';
import type { Family } from '../../model.js';
import { AF_INET, AF_INET6 } from './constants.js';
import { malformed } from './attr.js';

export type { Family };

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** The family of an AF_* number, or undefined for families the adapter does not model. */
export function familyOfAf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Bytes of an address: 4 for IPv4, 16 for IPv6. */
export function addressLength(family: Family): number {
  return family === 4 ? 4 : 16;
}

/** The all-zero address of a family (`0.0.0.0`, `::`): the destination of a default route. */
export function anyAddress(family: Family): string {
  return family === 4 ? '0.0.0.0' : '::';
}

function invalid(addr: string, family: Family | undefined): WanbraidError {
  const want = family === 4 ? 'an IPv4 address' : family === 6 ? 'an IPv6 address' : 'an IP address';
  return new WanbraidError('WB_INTERNAL', `rtnl: expected ${want}, got "${addr}"`);
}

/** Encode `addr`; with `family`, the address must be of that family. */
export function ipToBytes(addr: string, family?: Family): Buffer {
  if (isIPv4(addr) && family !== 6) return Buffer.from(addr.split('.').map(Number));
  if (isIPv6(addr) && !addr.includes('%') && family !== 4) return ipv6ToBytes(addr);
  throw invalid(addr, family);
}

function ipv6ToBytes(addr: string): Buffer {
  let text = addr;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail.push(((v4[0]! << 8) | v4[1]!) >>> 0, ((v4[2]! << 8) | v4[3]!) >>> 0);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let words = groups(head);
  if (rest !== undefined) {
    const right = groups(rest);
    words = [...words, ...new Array<number>(8 - words.length - right.length).fill(0), ...right];
  }
  if (tail.length) words.splice(6, 2, ...tail);
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** Text of a 4- or 16-byte address as iproute2 prints it. */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return ipv6Text(b);
  throw malformed('address', `${b.length} bytes`);
}

function ipv6Text(b: Buffer): string {
  const w = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  // Longest run of zero words (at least two), leftmost on a tie.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  // glibc prints an IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d.
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = (from: number, to: number) => w.slice(from, to).map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** Read an address attribute of a known family, checking its length. */
export function readAddress(v: Buffer, family: Family, where: string): string {
  if (v.length !== addressLength(family)) throw malformed(where, `IPv${family} address of ${v.length} bytes`);
  return bytesToIp(v);
}
