/**
 * RtnlClient: requests and dumps over one rtnetlink socket, promise-based.
 *
 * Contract. `request` sends one message with NLM_F_REQUEST|NLM_F_ACK and resolves with the reply
 * messages that came before the ACK (none for a plain ACK; the object for a GET); `dump` sends
 * NLM_F_DUMP and resolves with every message up to NLMSG_DONE. Any refusal by the kernel rejects
 * with a {@link KernelError} carrying the caller's `op`, the errno name and the extended-ack text
 * when the kernel sent one (it does not here: see socket.ts). Callers may issue requests
 * concurrently: replies are matched by sequence number, at most `maxInflight` are outstanding
 * (the rest wait, so replies cannot overrun the receive buffer), and dumps run one at a time
 * because the kernel allows one dump per socket. A dump the kernel marks NLM_F_DUMP_INTR (the
 * table changed underneath) is retried, up to `dumpRetries` times. A request without an answer
 * within `timeoutMs` rejects with WB_TIMEOUT. The socket joins no multicast group (events are
 * RtnlMonitor's), and does not keep the event loop alive while idle.
 */
import { KernelError, WanbraidError } from '../../errors.js';
import {
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_OVERRUN,
  encodeMessage,
  kernelError,
  parseDone,
  parseError,
  parseMessages,
  type NlMessage,
} from './netlink.js';
import { openRouteSocket, type RouteSocket, type SocketError, type SocketFactory } from './socket.js';

/** What the per-kind modules (route.ts, rule.ts, ...) need from a socket: two verbs. */
export interface RtnlTransport {
  /** Send `payload` as message `type` with `flags` | REQUEST | ACK; resolve with the replies before the ACK. */
  request(op: string, type: number, flags: number, payload: Buffer): Promise<NlMessage[]>;
  /** Dump: resolve with every message of the reply. */
  dump(op: string, type: number, payload: Buffer): Promise<NlMessage[]>;
}

export interface RtnlClientOptions {
  /** Reject a request the kernel has not answered within this many milliseconds (default 10000). */
  timeoutMs?: number;
  /** Requests outstanding at once (default 64). */
  maxInflight?: number;
  /** Retries of a dump the kernel marked inconsistent (default 3). */
  dumpRetries?: number;
  /** SO_RCVBUF in bytes (default 4 MiB, capped by the kernel at net.core.rmem_max). */
  recvBufferBytes?: number;
  /** For tests: how to open the socket. */
  socketFactory?: SocketFactory;
}

interface Pending {
  op: string;
  msgs: NlMessage[];
  interrupted: boolean;
  timer: NodeJS.Timeout;
  resolve(r: { msgs: NlMessage[]; interrupted: boolean }): void;
  reject(e: Error): void;
}

export class RtnlClient implements RtnlTransport {
  private readonly sock: RouteSocket;
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: (() => void)[] = [];
  private inflight = 0;
  private seq = 0;
  private dumps: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly timeoutMs: number;
  private readonly maxInflight: number;
  private readonly dumpRetries: number;

  private constructor(opts: RtnlClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxInflight = Math.max(1, opts.maxInflight ?? 64);
    this.dumpRetries = opts.dumpRetries ?? 3;
    const factory = opts.socketFactory ?? openRouteSocket;
    this.sock = factory(
      { message: (d) => this.onDatagram(d), error: (e) => this.onSocketError(e) },
      { groups: [], recvBufferBytes: opts.recvBufferBytes ?? 4 << 20 },
    );
    this.sock.unref();
  }

  /** Open a socket in the current network namespace. */
  static open(opts: RtnlClientOptions = {}): RtnlClient {
    return new RtnlClient(opts);
  }

  request(op: string, type: number, flags: number, payload: Buffer): Promise<NlMessage[]> {
    return this.exchange(op, type, flags | NLM_F_REQUEST | NLM_F_ACK, payload).then((r) => r.msgs);
  }

  dump(op: string, type: number, payload: Buffer): Promise<NlMessage[]> {
    const run = async (): Promise<NlMessage[]> => {
      for (let attempt = 0; ; attempt++) {
        const r = await this.exchange(op, type, NLM_F_REQUEST | NLM_F_DUMP, payload);
        if (!r.interrupted) return r.msgs;
        if (attempt >= this.dumpRetries) {
          throw new KernelError(op, 'EINTR', `dump interrupted by concurrent changes ${attempt + 1} times`);
        }
      }
    };
    const result = this.dumps.then(run, run);
    this.dumps = result.catch(() => undefined);
    return result;
  }

  /** Close the socket; outstanding requests reject. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new WanbraidError('WB_INTERNAL', 'rtnl: socket closed with the request outstanding'));
    for (const w of this.waiting.splice(0)) w();
    this.sock.close();
  }

  private nextSeq(): number {
    do this.seq = (this.seq % 0xffffffff) + 1;
    while (this.pending.has(this.seq));
    return this.seq;
  }

  private async slot(): Promise<void> {
    if (this.inflight < this.maxInflight) {
      this.inflight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inflight++;
  }

  private release(): void {
    this.inflight--;
    this.waiting.shift()?.();
  }

  private async exchange(op: string, type: number, flags: number, payload: Buffer): Promise<{ msgs: NlMessage[]; interrupted: boolean }> {
    if (this.closed) throw new WanbraidError('WB_INTERNAL', `${op}: rtnl socket is closed`);
    await this.slot();
    try {
      if (this.closed) throw new WanbraidError('WB_INTERNAL', `${op}: rtnl socket is closed`);
      return await new Promise((resolve, reject) => {
        const seq = this.nextSeq();
        const timer = setTimeout(() => {
          this.settle(seq, new WanbraidError('WB_TIMEOUT', `${op}: no answer from the kernel within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        this.pending.set(seq, { op, msgs: [], interrupted: false, timer, resolve, reject });
        this.sock.ref();
        this.sock.send(encodeMessage({ type, flags, seq, payload })).catch((e: SocketError) => {
          this.settle(seq, new KernelError(op, e.code ?? 'EIO', undefined, { cause: e }));
        });
      });
    } finally {
      this.release();
      if (this.pending.size === 0 && !this.closed) this.sock.unref();
    }
  }

  private settle(seq: number, outcome: Error | undefined): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (outcome) p.reject(outcome);
    else p.resolve({ msgs: p.msgs, interrupted: p.interrupted });
  }

  private failAll(err: Error): void {
    for (const seq of [...this.pending.keys()]) this.settle(seq, err);
  }

  private onDatagram(datagram: Buffer): void {
    let msgs: NlMessage[];
    try {
      msgs = parseMessages(datagram);
    } catch (e) {
      this.failAll(e as Error);
      return;
    }
    for (const m of msgs) {
      const p = this.pending.get(m.seq);
      if (!p) continue; // the answer to a request that timed out
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
        const status = m.type === NLMSG_ERROR ? parseError(m) : parseDone(m);
        this.settle(m.seq, status.errno ? kernelError(p.op, status) : undefined);
      } else if (m.type === NLMSG_OVERRUN) {
        this.settle(m.seq, new KernelError(p.op, 'EOVERFLOW', 'netlink overrun'));
      } else {
        if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
        p.msgs.push(m);
      }
    }
  }

  private onSocketError(err: SocketError): void {
    // ENOBUFS: the kernel dropped replies; which ones is unknowable, so every outstanding request fails.
    for (const [seq, p] of [...this.pending]) {
      this.settle(seq, new KernelError(p.op, err.code ?? 'EIO', err.code === 'ENOBUFS' ? 'receive buffer overrun: the reply was lost' : err.message, { cause: err }));
    }
  }
}
