/**
 * Netlink attributes (struct nlattr: u16 length, u16 type, value, padded to 4 bytes): a writer that
 * builds them and a reader that indexes a buffer of them. Pure, no I/O.
 *
 * Integers are in host byte order, which is little-endian on every platform the `netlink` package
 * ships binaries for (x64, ia32, arm, arm64). The writer sets NLA_F_NESTED on every nest it builds
 * (the kernel's strict parsers, e.g. for nexthops, require it; the `netlink` package does not set
 * it); the reader masks the flag bits off the type. A duplicate attribute keeps the last value.
 */
import { WanbraidError } from '../../errors.js';

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

/** Round up to the 4-byte netlink alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A message the kernel sent that we cannot parse: a bug on our side or an ABI we do not know. */
export function malformed(where: string, detail: string): WanbraidError {
  return new WanbraidError('WB_INTERNAL', `rtnl: malformed ${where}: ${detail}`);
}

/** Builds a run of attributes; each method appends one and returns the writer. */
export class AttrWriter {
  private readonly parts: Buffer[] = [];

  raw(type: number, value: Uint8Array): this {
    const len = NLA_HDRLEN + value.length;
    if (len > 0xffff) throw new WanbraidError('WB_INTERNAL', `rtnl: attribute ${type} too long (${len} bytes)`);
    const b = Buffer.alloc(align4(len));
    b.writeUInt16LE(len, 0);
    b.writeUInt16LE(type, 2);
    b.set(value, NLA_HDRLEN);
    this.parts.push(b);
    return this;
  }

  u8(type: number, v: number): this {
    return this.raw(type, Buffer.of(v & 0xff));
  }

  u16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v, 0);
    return this.raw(type, b);
  }

  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    return this.raw(type, b);
  }

  u64(type: number, v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v, 0);
    return this.raw(type, b);
  }

  /** A NUL-terminated string (interface names, labels). */
  string(type: number, s: string): this {
    return this.raw(type, Buffer.from(s + '\0', 'utf8'));
  }

  /** An attribute with no value (NLA_FLAG). */
  flag(type: number): this {
    return this.raw(type, Buffer.alloc(0));
  }

  /** A nest of attributes, marked NLA_F_NESTED. */
  nested(type: number, build: (w: AttrWriter) => void): this {
    const inner = new AttrWriter();
    build(inner);
    return this.raw(type | NLA_F_NESTED, inner.bytes());
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The attributes of one message or nest, by type (flag bits masked off). */
export class AttrReader {
  private constructor(
    private readonly map: ReadonlyMap<number, Buffer>,
    private readonly where: string,
  ) {}

  /** Index `buf`, a run of attributes; `where` names the message for error texts. */
  static parse(buf: Buffer, where: string): AttrReader {
    const map = new Map<number, Buffer>();
    let off = 0;
    while (off + NLA_HDRLEN <= buf.length) {
      const len = buf.readUInt16LE(off);
      const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
      if (len < NLA_HDRLEN || off + len > buf.length) {
        throw malformed(where, `attribute ${type} at offset ${off} has length ${len} (${buf.length - off} bytes left)`);
      }
      map.set(type, buf.subarray(off + NLA_HDRLEN, off + len));
      off += align4(len);
    }
    if (off < buf.length) throw malformed(where, `${buf.length - off} trailing bytes`);
    return new AttrReader(map, where);
  }

  has(type: number): boolean {
    return this.map.has(type);
  }

  raw(type: number): Buffer | undefined {
    return this.map.get(type);
  }

  private sized(type: number, size: number): Buffer | undefined {
    const v = this.map.get(type);
    if (v && v.length < size) throw malformed(this.where, `attribute ${type} has ${v.length} bytes, expected ${size}`);
    return v;
  }

  u8(type: number): number | undefined {
    return this.sized(type, 1)?.readUInt8(0);
  }

  u16(type: number): number | undefined {
    return this.sized(type, 2)?.readUInt16LE(0);
  }

  u32(type: number): number | undefined {
    return this.sized(type, 4)?.readUInt32LE(0);
  }

  u64(type: number): bigint | undefined {
    return this.sized(type, 8)?.readBigUInt64LE(0);
  }

  /** A string attribute, without its NUL terminator. */
  string(type: number): string | undefined {
    const v = this.map.get(type);
    if (!v) return undefined;
    const nul = v.indexOf(0);
    return v.toString('utf8', 0, nul < 0 ? v.length : nul);
  }

  nested(type: number): AttrReader | undefined {
    const v = this.map.get(type);
    return v ? AttrReader.parse(v, `${this.where} nest ${type}`) : undefined;
  }
}
