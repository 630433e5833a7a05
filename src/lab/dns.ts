/**
 * A tiny DNS codec for the lab's resolver (RFC 1035 wire format), pure: bytes in, bytes out.
 *
 * It reads queries (names with compression pointers, guarded against loops and overlong names),
 * and builds answers: the lab resolver answers every question about every name with one A, AAAA
 * or NS record (an empty NOERROR answer for other types), so DNS probes always have something
 * valid to check. Malformed input never throws out of {@link answerQuery}: garbage with a readable
 * header gets FORMERR, anything shorter is ignored (`null`), as is anything that is a response.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;

export interface Question {
  /** Dot-separated as received (case kept, for 0x20-randomising resolvers), no trailing dot; `''` for the root. */
  name: string;
  type: number;
  class: number;
}

export interface Header {
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

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  /** seconds */
  ttl: number;
  /** A: dotted quad; AAAA: IPv6 text; NS/CNAME/PTR: a name; others: hex of the raw data. */
  data: string;
}

export interface Message {
  header: Header;
  questions: Question[];
  answers: ResourceRecord[];
}

export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

export function decodeHeader(buf: Uint8Array): Header | null {
  if (buf.length < HEADER_BYTES) return null;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const flags = v.getUint16(2);
  return {
    id: v.getUint16(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    qdcount: v.getUint16(4),
    ancount: v.getUint16(6),
    nscount: v.getUint16(8),
    arcount: v.getUint16(10),
  };
}

/** Read a possibly compressed name at `offset`; returns the name and the offset after it. */
export function decodeName(buf: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let total = 1;
  for (let jumps = 0; ; ) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++jumps > 64) throw new DnsFormatError('compression pointer loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type 0x${len.toString(16)}`);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    total += len + 1;
    if (total > MAX_NAME_BYTES) throw new DnsFormatError('name longer than 255 bytes');
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    const label = Buffer.from(buf.subarray(pos + 1, pos + 1 + len)).toString('latin1');
    // A dot inside a label cannot be told apart from a separator in our text form.
    if (label.includes('.')) throw new DnsFormatError('label contains a dot');
    labels.push(label);
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'latin1');
    if (b.length === 0 || b.length > MAX_LABEL_BYTES) throw new DnsFormatError(`bad label "${l}" in "${name}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > MAX_NAME_BYTES) throw new DnsFormatError(`name "${name}" longer than 255 bytes`);
  return out;
}

/** IPv6 text → 16 bytes (accepts `::` and an embedded dotted quad). */
export function ipv6Bytes(text: string): Buffer {
  if (!isIPv6(text)) throw new DnsFormatError(`"${text}" is not an IPv6 address`);
  let s = text;
  let quad: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    s = `${m[1]!}0:0`;
    quad = m[2]!.split('.').map(Number);
  }
  const [l, r] = s.split('::') as [string, string | undefined];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const groups = r === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  if (quad.length) Buffer.from(quad).copy(out, 12);
  return out;
}

function ipv6Text(b: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(':');
}

/** Parse a whole message (queries and simple responses; used by clients and tests). */
export function decodeMessage(buf: Uint8Array): Message {
  const header = decodeHeader(buf);
  if (!header) throw new DnsFormatError('shorter than a DNS header');
  let pos = HEADER_BYTES;
  const questions: Question[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const { name, next } = decodeName(buf, pos);
    if (next + 4 > buf.length) throw new DnsFormatError('question runs past the end of the message');
    questions.push({ name, type: (buf[next]! << 8) | buf[next + 1]!, class: (buf[next + 2]! << 8) | buf[next + 3]! });
    pos = next + 4;
  }
  const answers: ResourceRecord[] = [];
  for (let i = 0; i < header.ancount; i++) {
    const { name, next } = decodeName(buf, pos);
    if (next + 10 > buf.length) throw new DnsFormatError('record runs past the end of the message');
    const v = new DataView(buf.buffer, buf.byteOffset + next, 10);
    const type = v.getUint16(0);
    const rdlen = v.getUint16(8);
    const start = next + 10;
    if (start + rdlen > buf.length) throw new DnsFormatError('record data runs past the end of the message');
    const rdata = buf.subarray(start, start + rdlen);
    let data: string;
    if (type === TYPE.A && rdlen === 4) data = Array.from(rdata).join('.');
    else if (type === TYPE.AAAA && rdlen === 16) data = ipv6Text(rdata);
    else if (type === TYPE.NS || type === TYPE.CNAME || type === TYPE.PTR) data = decodeName(buf, start).name;
    else data = Buffer.from(rdata).toString('hex');
    answers.push({ name, type, class: v.getUint16(2), ttl: v.getUint32(4), data });
    pos = start + rdlen;
  }
  return { header, questions, answers };
}

function headerBytes(h: Omit<Header, 'qdcount' | 'ancount' | 'nscount' | 'arcount'>, counts: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  const flags = (h.qr ? 0x8000 : 0) | ((h.opcode & 0xf) << 11) | (h.aa ? 0x0400 : 0) | (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) | (h.rcode & 0xf);
  b.writeUInt16BE(h.id & 0xffff, 0);
  b.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + i * 2));
  return b;
}

function questionBytes(q: Question): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.type, 0);
  tail.writeUInt16BE(q.class, 2);
  return Buffer.concat([encodeName(q.name), tail]);
}

function rdataBytes(rr: ResourceRecord): Buffer {
  if (rr.type === TYPE.A) {
    if (!isIPv4(rr.data)) throw new DnsFormatError(`"${rr.data}" is not an IPv4 address`);
    return Buffer.from(rr.data.split('.').map(Number));
  }
  if (rr.type === TYPE.AAAA) return ipv6Bytes(rr.data);
  if (rr.type === TYPE.NS || rr.type === TYPE.CNAME || rr.type === TYPE.PTR) return encodeName(rr.data);
  return Buffer.from(rr.data, 'hex');
}

/** A query for `name`/`type` (recursion desired), as a client sends it. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  return Buffer.concat([
    headerBytes({ id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 }, [1, 0, 0, 0]),
    questionBytes({ name, type, class: CLASS_IN }),
  ]);
}

/**
 * A response to `query` with `rcode` and `answers`; the question is echoed (when there is one)
 * and answer names equal to the question's point back at it (offset 12).
 */
export function encodeResponse(query: { id: number; opcode: number; rd: boolean; question?: Question }, rcode: number, answers: readonly ResourceRecord[]): Buffer {
  const q = query.question;
  const parts: Buffer[] = [
    headerBytes({ id: query.id, qr: true, opcode: query.opcode, aa: true, tc: false, rd: query.rd, ra: false, rcode }, [q ? 1 : 0, answers.length, 0, 0]),
  ];
  if (q) parts.push(questionBytes(q));
  for (const rr of answers) {
    const rdata = rdataBytes(rr);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(rr.type, 0);
    fixed.writeUInt16BE(rr.class, 2);
    fixed.writeUInt32BE(rr.ttl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    const name = q && rr.name === q.name ? Buffer.from([0xc0, HEADER_BYTES]) : encodeName(rr.name);
    parts.push(name, fixed, rdata);
  }
  return Buffer.concat(parts);
}

/** What the lab resolver answers with. */
export interface ZoneAnswers {
  a: string;
  aaaa: string;
  /** Name server name for NS questions. */
  ns: string;
  /** seconds */
  ttl: number;
}

/**
 * The lab resolver: the response to one query datagram, or null when there is nothing to answer
 * (shorter than a header, or a response rather than a query). Never throws.
 */
export function answerQuery(buf: Uint8Array, zone: ZoneAnswers): Buffer | null {
  const h = decodeHeader(buf);
  if (!h || h.qr) return null;
  const base = { id: h.id, opcode: h.opcode, rd: h.rd };
  if (h.opcode !== 0) return encodeResponse(base, RCODE.NOTIMP, []);
  if (h.qdcount !== 1) return encodeResponse(base, RCODE.FORMERR, []);
  let question: Question;
  try {
    const { name, next } = decodeName(buf, HEADER_BYTES);
    if (next + 4 > buf.length) return encodeResponse(base, RCODE.FORMERR, []);
    question = { name, type: (buf[next]! << 8) | buf[next + 1]!, class: (buf[next + 2]! << 8) | buf[next + 3]! };
  } catch {
    return encodeResponse(base, RCODE.FORMERR, []);
  }
  const q = { ...base, question };
  const rr = (type: number, data: string): ResourceRecord => ({ name: question.name, type, class: CLASS_IN, ttl: zone.ttl, data });
  const answers: ResourceRecord[] = [];
  if (question.class === CLASS_IN || question.class === TYPE.ANY) {
    if (question.type === TYPE.A || question.type === TYPE.ANY) answers.push(rr(TYPE.A, zone.a));
    if (question.type === TYPE.AAAA || question.type === TYPE.ANY) answers.push(rr(TYPE.AAAA, zone.aaaa));
    if (question.type === TYPE.NS) answers.push(rr(TYPE.NS, zone.ns));
  }
  try {
    return encodeResponse(q, RCODE.NOERROR, answers);
  } catch {
    // A question name we read but cannot write back (e.g. a label with an embedded dot).
    return encodeResponse(base, RCODE.FORMERR, []);
  }
}
