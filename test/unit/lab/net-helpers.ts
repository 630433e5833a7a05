/** Prefix arithmetic for the lab tests (an independent oracle, not the code under test). */
import { isIPv4 } from 'node:net';
import { ipv6Bytes } from '../../../src/lab/dns.js';

function bits(addr: string): { family: 4 | 6; value: bigint; width: number } {
  if (isIPv4(addr)) return { family: 4, value: addr.split('.').reduce((v, o) => (v << 8n) | BigInt(Number(o)), 0n), width: 32 };
  return { family: 6, value: [...ipv6Bytes(addr)].reduce((v, b) => (v << 8n) | BigInt(b), 0n), width: 128 };
}

export function parseCidr(cidr: string): { family: 4 | 6; network: bigint; len: number; width: number } {
  const [a, l] = cidr.split('/') as [string, string | undefined];
  const b = bits(a);
  const len = l === undefined ? b.width : Number(l);
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(b.width - len);
  return { family: b.family, network: b.value & mask, len, width: b.width };
}

export function contains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o.family !== i.family || i.len < o.len) return false;
  const mask = o.len === 0 ? 0n : ((1n << BigInt(o.len)) - 1n) << BigInt(o.width - o.len);
  return (i.network & mask) === o.network;
}

export function prefixesOverlap(a: string, b: string): boolean {
  return contains(a, b) || contains(b, a);
}

export function inAllowedRange(cidr: string): boolean {
  return contains('198.18.0.0/15', cidr) || contains('2001:db8::/32', cidr);
}
