/**
 * Netlink message framing (struct nlmsghdr) and the kernel's answers: splitting a datagram into
 * messages, building a request, reading an ACK/ERROR (errno and extended-ack text) and the end of
 * a dump. Pure, no I/O; {@link RtnlClient} does the talking.
 *
 * Errno names come from libuv (`util.getSystemErrorName`), so they read as in C (EEXIST, ENOENT,
 * ESRCH, ENETUNREACH); libuv spells EOPNOTSUPP as ENOTSUP. An errno libuv does not know becomes
 * `E<number>`.
 */
import { getSystemErrorName } from 'node:util';
import { KernelError } from '../../errors.js';
import { AttrReader, align4, malformed } from './attr.js';

export const NLMSG_HDRLEN = 16;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
/** Set on dump parts when the dumped table changed while it was being dumped: the dump is inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** On an ERROR message: the original request is not echoed back. */
export const NLM_F_CAPPED = 0x100;
/** On an ERROR/DONE message: extended-ack attributes follow. */
export const NLM_F_ACK_TLVS = 0x200;

const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;

/** One netlink message; `payload` is everything after the 16-byte header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  /** Sender port id: 0 for the kernel's multicast events, our port for replies. */
  pid: number;
  payload: Buffer;
}

/** The kernel's verdict on a request (NLMSG_ERROR) or on a dump (NLMSG_DONE). */
export interface NlStatus {
  /** Positive errno, 0 for success. */
  errno: number;
  /** NLMSGERR_ATTR_MSG: the kernel's explanation, present only on sockets with NETLINK_EXT_ACK set. */
  extack?: string;
  /** NLMSGERR_ATTR_OFFS: byte offset of the offending attribute in the request. */
  extackOffset?: number;
}

export function encodeMessage(m: { type: number; flags: number; seq: number; pid?: number; payload: Uint8Array }): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + align4(m.payload.length));
  b.writeUInt32LE(NLMSG_HDRLEN + m.payload.length, 0);
  b.writeUInt16LE(m.type, 4);
  b.writeUInt16LE(m.flags, 6);
  b.writeUInt32LE(m.seq >>> 0, 8);
  b.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  b.set(m.payload, NLMSG_HDRLEN);
  return b;
}

/** Split one received datagram into its messages. */
export function parseMessages(datagram: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= datagram.length) {
    const len = datagram.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > datagram.length) {
      throw malformed('netlink datagram', `message at offset ${off} has length ${len} (${datagram.length - off} bytes left)`);
    }
    out.push({
      type: datagram.readUInt16LE(off + 4),
      flags: datagram.readUInt16LE(off + 6),
      seq: datagram.readUInt32LE(off + 8),
      pid: datagram.readUInt32LE(off + 12),
      payload: datagram.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < datagram.length) throw malformed('netlink datagram', `${datagram.length - off} trailing bytes`);
  return out;
}

function readTlvs(status: NlStatus, msg: NlMessage, from: number): NlStatus {
  if (!(msg.flags & NLM_F_ACK_TLVS) || from >= msg.payload.length) return status;
  const tlv = AttrReader.parse(msg.payload.subarray(from), 'extended ack');
  const text = tlv.string(NLMSGERR_ATTR_MSG);
  const offs = tlv.u32(NLMSGERR_ATTR_OFFS);
  if (text !== undefined) status.extack = text;
  if (offs !== undefined) status.extackOffset = offs;
  return status;
}

/** Read an NLMSG_ERROR message: errno 0 is an ACK. */
export function parseError(msg: NlMessage): NlStatus {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw malformed('netlink error', `${p.length} bytes`);
  const errno = 0 - p.readInt32LE(0);
  // struct nlmsgerr echoes the request's header, and its body too unless NLM_F_CAPPED.
  const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(p.readUInt32LE(4));
  return readTlvs({ errno }, msg, 4 + echoed);
}

/** Read an NLMSG_DONE message: a dump can end with an error too. */
export function parseDone(msg: NlMessage): NlStatus {
  if (msg.payload.length < 4) return { errno: 0 };
  return readTlvs({ errno: 0 - msg.payload.readInt32LE(0) }, msg, 4);
}

/** The symbolic name of a positive errno: 17 → EEXIST. */
export function errnoName(errno: number): string {
  let name: string;
  try {
    name = getSystemErrorName(-Math.abs(errno));
  } catch {
    name = '';
  }
  return /^E[A-Z0-9]+$/.test(name) ? name : `E${errno}`;
}

/** The error a refused request becomes: `op` says what we asked, e.g. `route add 198.18.0.0/24 table 20101`. */
export function kernelError(op: string, status: NlStatus): KernelError {
  return new KernelError(op, errnoName(status.errno), status.extack);
}
