/**
 * Conntrack flush by mark, never the whole table: one ctnetlink request (IPCTNL_MSG_CT_DELETE
 * with CTA_MARK and CTA_MARK_MASK and no tuple) makes the kernel walk its table and delete every
 * entry, IPv4 and IPv6, whose `mark & mask == value`. Entries of other links are never touched.
 *
 * Why ctnetlink rather than `conntrack -D --mark`: the filtered flush runs inside the kernel in
 * one request (well under a millisecond in the lab), where the tool costs a process per family
 * and deletes entry by entry from a dump; failover latency is the point. The socket comes from
 * the `netlink` package's raw layer, as the rtnetlink adapter's does. The kernel does not say
 * how many entries it deleted. Runs in the caller's network namespace; needs CAP_NET_ADMIN.
 */
import { constants as osConstants } from 'node:os';
import { RawNetlinkSocket, Protocol } from 'netlink';
import { KernelError, WanbraidError } from '../errors.js';
import { bytesToIp, ipToBytes } from './rtnl/ip.js';
import type { CtFlow } from './tcp-nudge.js';

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const CTA_PROTOINFO = 4;
const CTA_PROTOINFO_TCP = 1;
const CTA_PROTOINFO_TCP_STATE = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const CTA_MARK = 8;
const CTA_MARK_MASK = 21;
const AF_UNSPEC = 0;
const NFNETLINK_V0 = 0;
/** ctnetlink multicast group of destroyed entries. */
const NFNLGRP_CONNTRACK_DESTROY = 3;
const NLA_F_NESTED = 0x8000;

/** What the balancer needs from conntrack. */
export interface ConntrackFlusher {
  /** Delete every entry (both families) with `mark & mask == value & mask`. */
  flushMark(value: number, mask: number): Promise<void>;
  /** The entries (both families) with `mark & mask == value & mask`, original direction. */
  dumpMark?(value: number, mask: number): Promise<CtFlow[]>;
  /** The entry whose original-direction tuple is `flow`'s (family, proto, addresses, ports), if any. */
  getFlow?(flow: CtFlow): Promise<CtFlow | undefined>;
  /** Follow the kernel's destroy events (NFNLGRP_CONNTRACK_DESTROY) until the returned close. */
  watchDestroyed?(onDestroyed: (flow: CtFlow) => void): { close(): void };
  close(): void;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, no]) => [no, name]));

function u32be(type: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8, 0);
  b.writeUInt16LE(type, 2);
  b.writeUInt32BE(v >>> 0, 4);
  return b;
}

function byMark(msgType: number, flags: number, seq: number, value: number, mask: number): Buffer {
  const payload = Buffer.concat([Buffer.from([AF_UNSPEC, NFNETLINK_V0, 0, 0]), u32be(CTA_MARK, value & mask), u32be(CTA_MARK_MASK, mask)]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | msgType, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  h.writeUInt32LE(0, 12);
  return Buffer.concat([h, payload]);
}

/** The request: nlmsghdr + nfgenmsg (family unspec: both) + CTA_MARK + CTA_MARK_MASK (big-endian). Pure. */
export function encodeFlushByMark(seq: number, value: number, mask: number): Buffer {
  return byMark(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, value, mask);
}

/** A dump of the entries with that mark (IPCTNL_MSG_CT_GET, NLM_F_DUMP), both families. Pure. */
export function encodeDumpByMark(seq: number, value: number, mask: number): Buffer {
  return byMark(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, value, mask);
}

/** Attributes of a netlink attribute stream: type (nested flag cleared) → payload. Pure. */
function attrs(b: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= b.length; ) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    out.set(b.readUInt16LE(off + 2) & 0x3fff, b.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

/** A CTA_TUPLE_* nest → addresses, protocol and ports, or undefined when incomplete. Pure. */
function decodeTuple(nest: Buffer | undefined, fam: 4 | 6): { proto: number; src: string; dst: string; sport: number; dport: number } | undefined {
  if (!nest) return undefined;
  const tuple = attrs(nest);
  const ip = attrs(tuple.get(CTA_TUPLE_IP) ?? Buffer.alloc(0));
  const proto = attrs(tuple.get(CTA_TUPLE_PROTO) ?? Buffer.alloc(0));
  const src = ip.get(fam === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC);
  const dst = ip.get(fam === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST);
  const num = proto.get(CTA_PROTO_NUM);
  if (!src || !dst || !num) return undefined;
  const sp = proto.get(CTA_PROTO_SRC_PORT);
  const dp = proto.get(CTA_PROTO_DST_PORT);
  return {
    proto: num[0]!,
    src: bytesToIp(src),
    dst: bytesToIp(dst),
    sport: sp && sp.length >= 2 ? sp.readUInt16BE(0) : 0,
    dport: dp && dp.length >= 2 ? dp.readUInt16BE(0) : 0,
  };
}

/** One IPCTNL_MSG_CT_NEW message body (after nlmsghdr) → its original-direction flow (with the reply tuple), or undefined. Pure. */
export function decodeCtEntry(body: Buffer): CtFlow | undefined {
  if (body.length < 4) return undefined;
  const fam = body[0] === AF_INET ? 4 : body[0] === AF_INET6 ? 6 : undefined;
  if (!fam) return undefined;
  const top = attrs(body.subarray(4));
  const orig = decodeTuple(top.get(CTA_TUPLE_ORIG), fam);
  if (!orig) return undefined;
  const flow: CtFlow = { family: fam, ...orig };
  const reply = decodeTuple(top.get(CTA_TUPLE_REPLY), fam);
  if (reply) flow.reply = { src: reply.src, dst: reply.dst, sport: reply.sport, dport: reply.dport };
  const tcp = attrs(attrs(top.get(CTA_PROTOINFO) ?? Buffer.alloc(0)).get(CTA_PROTOINFO_TCP) ?? Buffer.alloc(0)).get(CTA_PROTOINFO_TCP_STATE);
  if (tcp && tcp.length >= 1) flow.tcpState = tcp[0]!;
  const mark = top.get(CTA_MARK);
  if (mark && mark.length >= 4) flow.mark = mark.readUInt32BE(0);
  return flow;
}

function nest(type: number, children: Buffer[]): Buffer {
  const payload = Buffer.concat(children);
  const b = Buffer.alloc(4);
  b.writeUInt16LE(4 + payload.length, 0);
  b.writeUInt16LE(type | NLA_F_NESTED, 2);
  return Buffer.concat([b, payload]);
}

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

/**
 * A request for the one entry whose original tuple is `flow`'s (IPCTNL_MSG_CT_GET with
 * CTA_TUPLE_ORIG, no dump): the kernel answers with the entry and an ACK, or ENOENT. Pure.
 */
export function encodeGetFlow(seq: number, flow: Pick<CtFlow, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'>): Buffer {
  const port = (v: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v, 0);
    return b;
  };
  const tuple = nest(CTA_TUPLE_ORIG, [
    nest(CTA_TUPLE_IP, [attr(flow.family === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, ipToBytes(flow.src, flow.family)), attr(flow.family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, ipToBytes(flow.dst, flow.family))]),
    nest(CTA_TUPLE_PROTO, [attr(CTA_PROTO_NUM, Buffer.from([flow.proto])), attr(CTA_PROTO_SRC_PORT, port(flow.sport)), attr(CTA_PROTO_DST_PORT, port(flow.dport))]),
  ]);
  const payload = Buffer.concat([Buffer.from([flow.family === 4 ? AF_INET : AF_INET6, NFNETLINK_V0, 0, 0]), tuple]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, 4);
  h.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  h.writeUInt32LE(0, 12);
  return Buffer.concat([h, payload]);
}

export type CtMessage =
  | { seq: number; kind: 'ack'; errno: number }
  | { seq: number; kind: 'done' }
  | { seq: number; kind: 'entry'; flow: CtFlow | undefined }
  | { seq: number; kind: 'destroy'; flow: CtFlow | undefined };

/** Every message of a datagram: acks/errors, dump entries, the end of a dump. Pure. */
export function decodeCtMessages(datagram: Buffer): CtMessage[] {
  const out: CtMessage[] = [];
  for (let off = 0; off + 16 <= datagram.length; ) {
    const len = datagram.readUInt32LE(off);
    if (len < 16 || off + len > datagram.length) break;
    const type = datagram.readUInt16LE(off + 4);
    const seq = datagram.readUInt32LE(off + 8);
    if (type === NLMSG_ERROR && len >= 20) out.push({ seq, kind: 'ack', errno: Math.abs(datagram.readInt32LE(off + 16)) });
    else if (type === NLMSG_DONE) out.push({ seq, kind: 'done' });
    else if (type === ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)) out.push({ seq, kind: 'entry', flow: decodeCtEntry(datagram.subarray(off + 16, off + len)) });
    else if (type === ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE)) out.push({ seq, kind: 'destroy', flow: decodeCtEntry(datagram.subarray(off + 16, off + len)) });
    off += (len + 3) & ~3;
  }
  return out;
}

/** The kernel's answers in a datagram: (seq, errno) of each NLMSG_ERROR (errno 0 is the ACK). Pure. */
export function decodeAcks(datagram: Buffer): { seq: number; errno: number }[] {
  const out: { seq: number; errno: number }[] = [];
  for (let off = 0; off + 16 <= datagram.length; ) {
    const len = datagram.readUInt32LE(off);
    if (len < 16 || off + len > datagram.length) break;
    if (datagram.readUInt16LE(off + 4) === NLMSG_ERROR && len >= 20) out.push({ seq: datagram.readUInt32LE(off + 8), errno: Math.abs(datagram.readInt32LE(off + 16)) });
    off += (len + 3) & ~3;
  }
  return out;
}

export interface ConntrackOptions {
  timeoutMs?: number;
}

export class Conntrack implements ConntrackFlusher {
  private sock: RawNetlinkSocket | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve(): void; reject(e: Error): void; timer: NodeJS.Timeout; op: string; flows?: CtFlow[] }>();
  private readonly timeoutMs: number;

  constructor(opts: ConntrackOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  flushMark(value: number, mask: number): Promise<void> {
    if ((mask >>> 0) === 0) return Promise.reject(new WanbraidError('WB_INTERNAL', 'conntrack: refusing a flush with an empty mask (it would match every entry)'));
    const op = `conntrack flush mark 0x${(value >>> 0).toString(16)}/0x${(mask >>> 0).toString(16)}`;
    const sock = this.socket();
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new WanbraidError('WB_TIMEOUT', `${op}: no answer from the kernel within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(seq, { resolve, reject, timer, op });
      sock.ref();
      sock.send(encodeFlushByMark(seq, value, mask), {}, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(new KernelError(op, err.code ?? 'EIO', undefined, { cause: err }));
      });
    });
  }

  dumpMark(value: number, mask: number): Promise<CtFlow[]> {
    if ((mask >>> 0) === 0) return Promise.reject(new WanbraidError('WB_INTERNAL', 'conntrack: refusing a dump with an empty mask'));
    const op = `conntrack dump mark 0x${(value >>> 0).toString(16)}/0x${(mask >>> 0).toString(16)}`;
    return this.collect(op, (seq) => encodeDumpByMark(seq, value, mask));
  }

  async getFlow(flow: CtFlow): Promise<CtFlow | undefined> {
    const op = `conntrack get ${flow.src}:${flow.sport} > ${flow.dst}:${flow.dport}`;
    try {
      return (await this.collect(op, (seq) => encodeGetFlow(seq, flow)))[0];
    } catch (err) {
      if (err instanceof KernelError && err.errno === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** One request whose answer is entries, then an ACK or NLMSG_DONE: the entries. */
  private collect(op: string, encode: (seq: number) => Buffer): Promise<CtFlow[]> {
    const sock = this.socket();
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    const flows: CtFlow[] = [];
    return new Promise<CtFlow[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new WanbraidError('WB_TIMEOUT', `${op}: no answer from the kernel within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(seq, { resolve: () => resolve(flows), reject, timer, op, flows });
      sock.ref();
      sock.send(encode(seq), {}, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(seq);
        reject(new KernelError(op, err.code ?? 'EIO', undefined, { cause: err }));
      });
    });
  }

  watchDestroyed(onDestroyed: (flow: CtFlow) => void): { close(): void } {
    // A socket of its own: events must not mix with the answers to requests. The buffer is
    // large because a busy router destroys many entries; a lost event costs one more nudge.
    const s = new RawNetlinkSocket(Protocol.NETFILTER, { recvBufferSize: 4 << 20, sendBufferSize: 0 });
    s.addMembership(NFNLGRP_CONNTRACK_DESTROY);
    s.on('message', (d: Buffer) => {
      for (const m of decodeCtMessages(d)) if (m.kind === 'destroy' && m.flow) onDestroyed(m.flow);
    });
    s.on('error', () => undefined);
    s.unref();
    return { close: () => s.close() };
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new WanbraidError('WB_INTERNAL', `${p.op}: socket closed`));
    }
    this.pending.clear();
    this.sock?.close();
    this.sock = undefined;
  }

  private socket(): RawNetlinkSocket {
    if (this.sock) return this.sock;
    const s = new RawNetlinkSocket(Protocol.NETFILTER, { recvBufferSize: 0, sendBufferSize: 0 });
    s.on('message', (d: Buffer) => {
      for (const m of decodeCtMessages(d)) {
        const p = this.pending.get(m.seq);
        if (!p) continue;
        if (m.kind === 'entry') {
          if (m.flow) p.flows?.push(m.flow);
          continue;
        }
        if (m.kind === 'destroy') continue;
        this.pending.delete(m.seq);
        clearTimeout(p.timer);
        if (m.kind === 'done' || m.errno === 0) p.resolve();
        else p.reject(new KernelError(p.op, errnoNames.get(m.errno) ?? `errno ${m.errno}`));
      }
      if (this.pending.size === 0) s.unref();
    });
    s.on('error', (e: Error) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new KernelError(p.op, (e as NodeJS.ErrnoException).code ?? 'EIO', undefined, { cause: e }));
      }
      this.pending.clear();
    });
    s.unref();
    this.sock = s;
    return s;
  }
}
