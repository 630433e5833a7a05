/**
 * A deterministic, non-repeating byte stream: the lab's HTTP `/bytes/N` sends its first N bytes,
 * and a test can compute the same bytes (or their sha256) locally to check what arrived. Every
 * 4-byte word is a hash of its position, so a swapped, lost or duplicated chunk anywhere changes
 * the digest. Pure.
 */
import { createHash } from 'node:crypto';

function word(w: number): number {
  let x = Math.imul(w ^ 0x9e3779b9, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Fill `buf` with the stream's bytes starting at stream position `offset` (bytes). */
export function fillPattern(buf: Buffer, offset: number): Buffer {
  for (let i = 0; i < buf.length; ) {
    const pos = offset + i;
    const w = word(Math.floor(pos / 4) >>> 0);
    const shift = pos % 4;
    const v = (w >>> (8 * (3 - shift))) & 0xff;
    buf[i++] = v;
    // Aligned: write the rest of this word's bytes without recomputing.
    for (let s = shift + 1; s < 4 && i < buf.length; s++) buf[i++] = (w >>> (8 * (3 - s))) & 0xff;
  }
  return buf;
}

/** The first `length` bytes of the stream. */
export function patternBytes(length: number, offset = 0): Buffer {
  return fillPattern(Buffer.alloc(length), offset);
}

/** sha256 (hex) of the first `length` bytes, computed in 1 MiB steps. */
export function patternSha256(length: number): string {
  const h = createHash('sha256');
  const step = 1 << 20;
  const buf = Buffer.alloc(step);
  for (let off = 0; off < length; off += step) {
    const n = Math.min(step, length - off);
    h.update(fillPattern(n === step ? buf : buf.subarray(0, n), off));
  }
  return h.digest('hex');
}
