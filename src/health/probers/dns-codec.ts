/**
 * The little DNS (RFC 1035) a health probe needs: encode a one-question query, decode a message
 * header and its first question, and decide whether a datagram answers a query. Pure.
 *
 * A probe succeeds on any well-formed response to its query, whatever the RCODE: SERVFAIL or
 * REFUSED still proves that the resolver was reached and answered through the link.
 */
import { WanbraidError } from '../../errors.js';

export const DNS_TYPE_NS = 2;
export const DNS_CLASS_IN = 1;
const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;

export interface DnsHeader {
  id: number;
  /** true for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  /** Lower-case, without the trailing dot; "" for the root. */
  name: string;
  type: number;
  class: number;
}

/** The labels of `name` ("." or "" is the root), or why it is not a valid DNS name. */
export function nameLabels(name: string): string[] | { problem: string } {
  const trimmed = name === '.' ? '' : name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return [];
  const labels = trimmed.split('.');
  let wire = 1;
  for (const label of labels) {
    if (!/^[\x21-\x7e]*$/.test(label)) return { problem: `"${name}" has characters outside printable ASCII (use the punycode form)` };
    const bytes = Buffer.byteLength(label);
    if (bytes === 0) return { problem: `empty label in "${name}"` };
    if (bytes > MAX_LABEL_BYTES) return { problem: `label "${label}" is longer than ${MAX_LABEL_BYTES} bytes` };
    wire += 1 + bytes;
  }
  if (wire > MAX_NAME_BYTES) return { problem: `"${name}" is longer than ${MAX_NAME_BYTES} bytes on the wire` };
  return labels;
}

/** A standard query (opcode 0, RD set) for `name` of `type`, class IN. Throws WB_CONFIG_INVALID for a bad name. */
export function encodeQuery(id: number, name: string, type: number = DNS_TYPE_NS): Buffer {
  const labels = nameLabels(name);
  if (!Array.isArray(labels)) throw new WanbraidError('WB_CONFIG_INVALID', `dns probe query: ${labels.problem}`);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  parts.push(header);
  for (const label of labels) {
    const b = Buffer.from(label);
    parts.push(Buffer.from([b.length]), b);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt8(0, 0);
  tail.writeUInt16BE(type, 1);
  tail.writeUInt16BE(DNS_CLASS_IN, 3);
  parts.push(tail);
  return Buffer.concat(parts);
}

export function decodeHeader(msg: Uint8Array): DnsHeader | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = b.readUInt16BE(2);
  return {
    id: b.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0x000f,
    qdcount: b.readUInt16BE(4),
    ancount: b.readUInt16BE(6),
    nscount: b.readUInt16BE(8),
    arcount: b.readUInt16BE(10),
  };
}

/**
 * A domain name at `offset`, following compression pointers (each must point backwards, which
 * also rules out loops). Returns the name and the offset just after it in the original position,
 * or undefined if it runs past the end or is malformed.
 */
export function decodeName(msg: Buffer, offset: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let next: number | undefined;
  let wire = 1;
  for (;;) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos]!;
    if (len === 0) {
      next ??= pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return undefined;
      const target = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (target >= pos) return undefined;
      next ??= pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return undefined; // 0x40 and 0x80 label types are not in use
    if (pos + 1 + len > msg.length) return undefined;
    wire += 1 + len;
    if (wire > MAX_NAME_BYTES) return undefined;
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** The first question of a message, or undefined if it has none or it is malformed. */
export function decodeFirstQuestion(msg: Buffer): DnsQuestion | undefined {
  const header = decodeHeader(msg);
  if (!header || header.qdcount === 0) return undefined;
  const name = decodeName(msg, HEADER_BYTES);
  if (!name || name.next + 4 > msg.length) return undefined;
  return { name: name.name, type: msg.readUInt16BE(name.next), class: msg.readUInt16BE(name.next + 2) };
}

/**
 * Whether `msg` is a well-formed response to the query with this id, name and type: QR set,
 * opcode QUERY, the same id, and — when the response repeats a question, as nearly all do — the
 * same question (names compared case-insensitively: resolvers may echo 0x20-mixed case).
 */
export function isResponseTo(msg: Buffer, query: { id: number; name: string; type: number }): boolean {
  const header = decodeHeader(msg);
  if (!header || !header.qr || header.opcode !== 0 || header.id !== (query.id & 0xffff)) return false;
  if (header.qdcount === 0) return true;
  const q = decodeFirstQuestion(msg);
  if (!q) return false;
  const labels = nameLabels(query.name);
  const wanted = Array.isArray(labels) ? labels.join('.').toLowerCase() : undefined;
  return q.name === wanted && q.type === query.type && q.class === DNS_CLASS_IN;
}
