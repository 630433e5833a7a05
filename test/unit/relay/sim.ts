/**
 * A simulated network for the relay engine: a virtual clock with an event queue, paths made of
 * two one-way links (rate in bytes per second, propagation delay in ms, FIFO like a TCP
 * connection), and applications that produce and consume deterministic byte streams. Frames go
 * through the real codec (encodeFrames/parseFrames) so the engine sees exactly what it would see
 * from a socket, minus encryption. Not a test file: the tests import it.
 */
import { createHash } from 'node:crypto';
import { Mux, type MuxTuning, type MuxEvents } from '../../../src/relay/core/mux.js';
import type { Clock } from '../../../src/relay/core/clock.js';
import type { FlowPort, PathPort } from '../../../src/relay/core/ports.js';
import { encodeDataHeader, encodeFrames, parseFrames, type Frame, type Target } from '../../../src/relay/protocol/frames.js';
import { silentLogger } from '../../../src/log.js';

// ---------------------------------------------------------------------------------------------
// Clock

interface Ev {
  t: number;
  seq: number;
  fn: () => void;
}

export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private heap: Ev[] = [];
  private deferred: (() => void)[] = [];
  events = 0;

  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const ev = this.push(this.t + ms, fn);
    return () => {
      ev.fn = () => undefined;
    };
  }
  every(ms: number, fn: () => void): () => void {
    let cancelled = false;
    const loop = () => {
      if (cancelled) return;
      fn();
      this.push(this.t + ms, loop);
    };
    this.push(this.t + ms, loop);
    return () => {
      cancelled = true;
    };
  }
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  private push(t: number, fn: () => void): Ev {
    const ev = { t, seq: this.seq++, fn };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
    return ev;
  }

  private pop(): Ev | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }

  /** Run until `until` (ms) or until `done()` holds; returns the time reached. */
  run(until: number, done: () => boolean = () => false): number {
    this.drainDeferred();
    while (!done()) {
      const ev = this.pop();
      if (!ev) break;
      if (ev.t > until) {
        this.push(ev.t, ev.fn);
        this.t = until;
        break;
      }
      this.t = ev.t;
      this.events++;
      ev.fn();
      this.drainDeferred();
    }
    return this.t;
  }

  private drainDeferred(): void {
    while (this.deferred.length > 0) {
      const d = this.deferred;
      this.deferred = [];
      for (const fn of d) fn();
    }
  }
}

function less(a: Ev, b: Ev): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

// ---------------------------------------------------------------------------------------------
// Links and paths

/** One direction of a path: a FIFO serializer at `rate` bytes/s, then `delay` ms of propagation. */
export class SimLink {
  private busyUntil = 0;
  /** Records are silently dropped (blackhole: the connection does not notice). */
  cut = false;
  bytes = 0;
  constructor(
    private readonly clock: SimClock,
    public rate: number,
    public delay: number,
  ) {}

  send(bytes: number, deliver: () => void): void {
    if (this.cut) return;
    const now = this.clock.now();
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + (bytes * 1000) / this.rate;
    this.bytes += bytes;
    this.clock.after(this.busyUntil + this.delay - now, () => {
      if (!this.cut) deliver();
    });
  }
}

const WIRE_OVERHEAD = 4 + 16;

class SimPathPort implements PathPort {
  peer: { mux: Mux; id: number; port: SimPathPort } | undefined;
  closed = false;
  dataChunks = 0;
  constructor(
    private readonly link: SimLink,
    private readonly clock: SimClock,
  ) {}

  private deliver(plain: Buffer): number {
    const bytes = plain.length + WIRE_OVERHEAD;
    if (this.closed) return bytes;
    const peer = this.peer!;
    this.link.send(bytes, () => {
      if (peer.port.closed) return;
      peer.mux.pathRecord(peer.id, parseFrames(plain), bytes);
    });
    return bytes;
  }
  sendFrames(frames: readonly Frame[]): number {
    return this.deliver(encodeFrames(frames));
  }
  sendData(flow: number, offset: number, payload: Buffer): number {
    this.dataChunks++;
    return this.deliver(Buffer.concat([encodeDataHeader(flow, offset, payload.length), payload]));
  }
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer!;
    // Like a TCP FIN/RST: the far end learns after the propagation delay, unless the link is cut.
    if (!this.link.cut) this.clock.after(this.link.delay, () => peer.mux.pathClosed(peer.id, `peer closed: ${reason}`));
  }
}

export interface SimPath {
  up: SimLink;
  down: SimLink;
  entryPort: SimPathPort;
  exitPort: SimPathPort;
  entryId: number;
  exitId: number;
  /** Blackhole both directions (carrier loss seen from TCP: nothing arrives, nothing errors). */
  cut(): void;
}

// ---------------------------------------------------------------------------------------------
// Applications

/** Deterministic content: byte i of stream `seed` (cheap, distinguishes offsets and streams). */
export function streamBytes(seed: number, from: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) {
    const x = from + i;
    b[i] = (x * 131 + seed * 7 + (x >>> 8) * 17 + (x >>> 16) * 29) & 0xff;
  }
  return b;
}

export function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** One end of a user flow: writes `total` bytes then FIN, collects what it receives. */
export class SimApp implements FlowPort {
  sentBytes = 0;
  received: Buffer[] = [];
  receivedBytes = 0;
  ended = false;
  resetCalled = false;
  paused = false;
  finSent = false;
  /** Bytes the sink holds before it reports backpressure; Infinity = always writable. */
  sinkLimit = Infinity;
  /** Bytes per second at which a limited sink drains. */
  sinkRate = Infinity;
  private sinkHeld = 0;
  private draining = false;
  onWritable: (() => void) | undefined;
  flowId = -1;
  maxPausedHeld = 0;

  constructor(
    private readonly clock: SimClock,
    readonly seed: number,
    /** Bytes to send, then FIN (0 = send nothing but FIN; -1 = never FIN). */
    public total: number,
    private readonly sink: { data(b: Buffer): void; end(): void },
    /** Bytes per read event. */
    private readonly readSize = 64 * 1024,
  ) {}

  /** Start producing (call once connected). */
  start(): void {
    this.produce();
  }

  private produce(): void {
    if (this.paused || this.resetCalled) return;
    if (this.sentBytes < this.total) {
      const n = Math.min(this.readSize, this.total - this.sentBytes);
      const b = streamBytes(this.seed, this.sentBytes, n);
      this.sentBytes += n;
      this.sink.data(b);
    }
    if (this.sentBytes >= this.total && !this.finSent && this.total >= 0) {
      this.finSent = true;
      this.sink.end();
      return;
    }
    if (this.sentBytes < this.total) this.clock.after(0, () => this.produce());
  }

  write(data: Buffer): boolean {
    this.received.push(Buffer.from(data));
    this.receivedBytes += data.length;
    if (this.sinkLimit === Infinity) return true;
    this.sinkHeld += data.length;
    this.scheduleDrain();
    return this.sinkHeld < this.sinkLimit;
  }
  private scheduleDrain(): void {
    if (this.draining) return;
    this.draining = true;
    const step = 16 * 1024;
    const tick = () => {
      this.sinkHeld = Math.max(0, this.sinkHeld - step);
      if (this.sinkHeld === 0) {
        this.draining = false;
        this.onWritable?.();
        return;
      }
      if (this.sinkHeld < this.sinkLimit) this.onWritable?.();
      this.clock.after((step * 1000) / this.sinkRate, tick);
    };
    this.clock.after((step * 1000) / this.sinkRate, tick);
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {
    this.resetCalled = true;
  }
  /** The source was paused at least once (backpressure reached it). */
  pausedEver = false;
  pause(): void {
    this.paused = true;
    this.pausedEver = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.clock.after(0, () => this.produce());
  }
  get content(): Buffer {
    return Buffer.concat(this.received);
  }
}

// ---------------------------------------------------------------------------------------------
// A whole relay: entry mux, exit mux, paths, flows

export const TUNING: MuxTuning = {
  chunkSize: 16 * 1024,
  pathQueue: 64 * 1024,
  reorderBuffer: 4 * 1024 * 1024,
  pathTimeout: 1500,
  sessionBuffer: 32 * 1024 * 1024,
  openTimeout: 20_000,
};

export interface SimFlow {
  id: number;
  /** The user's application at the entry. */
  user: SimApp;
  /** The target's application behind the exit (set once the exit accepts). */
  target: SimApp | undefined;
  end: { entry?: string; exit?: string };
}

export class SimRelay {
  readonly clock = new SimClock();
  readonly entry: Mux;
  readonly exit: Mux;
  readonly paths: SimPath[] = [];
  readonly flows = new Map<number, SimFlow>();
  private nextSeed = 1;
  /** Bytes each target sends back, per flow (default 0). */
  replyBytes = 0;
  refuse = false;
  entryEvents: string[] = [];

  constructor(readonly tuning: MuxTuning = TUNING) {
    const log = silentLogger();
    const entryEv: MuxEvents = {
      onFlowEnd: (id, e) => {
        const f = this.flows.get(id);
        if (f) f.end.entry = e.how === 'done' ? 'done' : `reset:${e.reason}:${e.by}`;
      },
      onPathDown: (_id, reason) => this.entryEvents.push(reason),
    };
    const exitEv: MuxEvents = {
      onOpen: (id) => this.exitOpen(id),
      onFlowEnd: (id, e) => {
        const f = this.flows.get(id);
        if (f) f.end.exit = e.how === 'done' ? 'done' : `reset:${e.reason}:${e.by}`;
      },
    };
    this.entry = new Mux('entry', tuning, this.clock, log, entryEv);
    this.exit = new Mux('exit', tuning, this.clock, log, exitEv);
  }

  /** Add a path: `rate` bytes/s each way (down defaults to up), `delay` ms one way. */
  addPath(rate: number, delay: number, opts: { downRate?: number; slot?: number } = {}): SimPath {
    const up = new SimLink(this.clock, rate, delay);
    const down = new SimLink(this.clock, opts.downRate ?? rate, delay);
    const entryPort = new SimPathPort(up, this.clock);
    const exitPort = new SimPathPort(down, this.clock);
    const slot = opts.slot ?? this.paths.length;
    // Peers are wired before the engines learn of the path: they may send on it at once.
    const toExit = { mux: this.exit, id: -1, port: exitPort };
    const toEntry = { mux: this.entry, id: -1, port: entryPort };
    entryPort.peer = toExit;
    exitPort.peer = toEntry;
    const window = this.tuning.reorderBuffer;
    const exitId = (toExit.id = this.exit.addPath(exitPort, { slot, name: `p${slot}`, peerWindow: window }));
    const entryId = (toEntry.id = this.entry.addPath(entryPort, { slot, name: `p${slot}`, peerWindow: window }));
    const path: SimPath = {
      up,
      down,
      entryPort,
      exitPort,
      entryId,
      exitId,
      cut: () => {
        up.cut = true;
        down.cut = true;
      },
    };
    this.paths.push(path);
    return path;
  }

  private exitOpen(id: number): void {
    const f = this.flows.get(id)!;
    if (this.refuse) {
      this.exit.refuseFlow(id, 1);
      return;
    }
    const target = new SimApp(this.clock, this.nextSeed++, this.replyBytes, {
      data: (b) => this.exit.flowData(id, b),
      end: () => this.exit.flowEnd(id),
    });
    target.onWritable = () => this.exit.flowDrain(id);
    f.target = target;
    // The exit connects to the target: a short while later it is accepted.
    this.clock.after(1, () => {
      this.exit.acceptFlow(id, target);
      target.start();
    });
  }

  /** A user connects to the entry and will send `bytes` then FIN. */
  openFlow(bytes: number, target: Target = { host: '198.19.0.10', port: 5201, family: 4 }): SimFlow {
    const ref = { id: -1 };
    const user = new SimApp(this.clock, this.nextSeed++, bytes, {
      data: (b) => this.entry.flowData(ref.id, b),
      end: () => this.entry.flowEnd(ref.id),
    });
    user.onWritable = () => this.entry.flowDrain(ref.id);
    const id = (ref.id = this.entry.openFlow(user, target));
    const flow: SimFlow = { id, user, target: undefined, end: {} };
    this.flows.set(id, flow);
    user.start();
    return flow;
  }

  allDone(): boolean {
    for (const f of this.flows.values()) if (!f.end.entry || !f.end.exit) return false;
    return true;
  }
}
