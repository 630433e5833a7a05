/** The Internet checksum (RFC 1071), shared by the ICMP prober and the failover nudges. Pure. */

/** The 16-bit one's-complement of the one's-complement sum of `buf` (odd length padded with a zero byte). */
export function internetChecksum(buf: Uint8Array): number {
  let sum = 0;
  let i = 0;
  for (; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < buf.length) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
