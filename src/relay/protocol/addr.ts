/**
 * IP addresses as bytes and back, for the OPEN frame and for allow-list matching. Pure. IPv6 text
 * is produced in the RFC 5952 canonical form (lower case, longest zero run compressed).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes for IPv4, 16 for IPv6, undefined for anything else. */
export function ipToBytes(addr: string): Buffer | undefined {
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  if (!isIPv6(addr)) return undefined;
  let text = addr;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = Buffer.alloc(16);
  // A trailing dotted quad (::ffff:198.18.0.1) becomes the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipToBytes(tail)!;
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, rest] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  if (groups.length !== 8) return undefined;
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`an IP address is 4 or 16 bytes, got ${b.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(i * 2));
  // Longest run of two or more zero groups, first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Whether `addr` lies in `prefix/len` (same family only). */
export function prefixContains(prefix: string, len: number, addr: string): boolean {
  const p = ipToBytes(prefix);
  const a = ipToBytes(addr);
  if (!p || !a || p.length !== a.length || len < 0 || len > p.length * 8) return false;
  const full = len >> 3;
  for (let i = 0; i < full; i++) if (p[i] !== a[i]) return false;
  const bits = len & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (p[full]! & mask) === (a[full]! & mask);
}
