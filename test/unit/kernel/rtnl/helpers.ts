/**
 * Test helpers for the rtnetlink adapter: a fake kernel behind the socket interface (for
 * RtnlClient and RtnlMonitor without root), and fixture access.
 */
import type { RouteSocket, SocketError, SocketFactory, SocketHandlers } from '../../../../src/kernel/rtnl/socket.js';
import { encodeMessage, parseMessages, type NlMessage } from '../../../../src/kernel/rtnl/netlink.js';

/** The payload of the first message of a hex fixture. */
export function payloadOf(hex: string): Buffer {
  return parseMessages(Buffer.from(hex, 'hex'))[0]!.payload;
}

/** The first message of a hex fixture. */
export function messageOf(hex: string): NlMessage {
  return parseMessages(Buffer.from(hex, 'hex'))[0]!;
}

/** An ACK/ERROR message answering `req` with `errno` (0 = ACK), capped, optionally with an extack text. */
export function ack(req: NlMessage, errno = 0, extack?: string): Buffer {
  const tlv = extack ? Buffer.concat([attrHeader(4 + Buffer.byteLength(extack) + 1, 1), pad(Buffer.from(extack + '\0'))]) : Buffer.alloc(0);
  const p = Buffer.alloc(4 + 16);
  p.writeInt32LE(-errno, 0);
  p.writeUInt32LE(16, 4); // echoed header: length only, the rest does not matter here
  const flags = 0x100 | (extack ? 0x200 : 0); // NLM_F_CAPPED | NLM_F_ACK_TLVS
  return encodeMessage({ type: 2, flags, seq: req.seq, pid: 1, payload: Buffer.concat([p, tlv]) });
}

/** NLMSG_DONE for a dump, with `errno` (0 = success). */
export function done(req: NlMessage, errno = 0, flags = 0x2): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(-errno, 0);
  return encodeMessage({ type: 3, flags, seq: req.seq, pid: 1, payload: p });
}

/** A message of a dump reply (NLM_F_MULTI plus `flags`). */
export function part(req: NlMessage, type: number, payload: Buffer, flags = 0): Buffer {
  return encodeMessage({ type, flags: 0x2 | flags, seq: req.seq, pid: 1, payload });
}

function attrHeader(len: number, type: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  return b;
}

function pad(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
}

/**
 * A fake kernel: every datagram the client sends is parsed and handed to `kernel`, which answers
 * through `reply` (delivered asynchronously, one datagram per call) or not at all.
 */
export class FakeKernel {
  handlers: SocketHandlers | undefined;
  groups: readonly number[] = [];
  sent: NlMessage[] = [];
  closed = false;

  constructor(private readonly kernel: (req: NlMessage, reply: (...datagrams: Buffer[]) => void) => void = () => undefined) {}

  readonly factory: SocketFactory = (handlers, opts) => {
    this.handlers = handlers;
    this.groups = opts.groups;
    const sock: RouteSocket = {
      send: async (datagram) => {
        for (const m of parseMessages(datagram)) {
          this.sent.push(m);
          this.kernel(m, (...ds) => setImmediate(() => ds.forEach((d) => this.handlers!.message(d))));
        }
      },
      ref: () => undefined,
      unref: () => undefined,
      close: () => void (this.closed = true),
    };
    return sock;
  };

  /** Deliver a datagram now, as the kernel would. */
  deliver(datagram: Buffer): void {
    this.handlers!.message(datagram);
  }

  /** Report a socket error, e.g. ENOBUFS. */
  fail(code: string): void {
    const e: SocketError = new Error(code);
    e.code = code;
    this.handlers!.error(e);
  }
}
