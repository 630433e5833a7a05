/**
 * One path of an entry: keeps a connection to the exit (directly or through a `via` hop, from the
 * link's source address when it names a link) authenticated and handed to the engine; when it
 * fails or dies, retries after a backoff from retryMin doubling to retryMax; when its link goes
 * offline, closes it and waits (state `unused`) until the link is back, then connects at once.
 *
 * The source address only picks the link: the daemon keeps `from <addr> lookup <table>` rules so
 * packets from that address leave through the link's own table.
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import type { Endpoint } from '../config/values.js';
import { formatEndpoint } from '../config/values.js';
import type { Clock } from './core/clock.js';
import { backoffDelay } from './core/backoff.js';
import type { Mux } from './core/mux.js';
import { clientHandshake, type ClientKey } from './net/handshake.js';
import { HandshakeError } from './net/reader.js';
import type { PathConn } from './net/path-conn.js';
import { linkSource, type LinkMap } from './links.js';
import type { PathState } from './status.js';

export interface PathSpecLike {
  name?: string | undefined;
  link?: string | undefined;
  via?: Endpoint | undefined;
}

export interface DialerContext {
  entryName: string;
  exit: Endpoint;
  /** This entry's key and the name the exit knows it by. */
  key: ClientKey;
  session: Buffer;
  /** Our per-flow receive window (bytes), sent in HELLO. */
  window: number;
  retryMin: number;
  retryMax: number;
  /** Connect plus handshake must finish within this (ms). */
  handshakeTimeout: number;
  mux: Mux;
  clock: Clock;
  log: Logger;
  random: () => number;
  /** The exit's WELCOME carried this incarnation; false refuses the path. */
  onWelcome(incarnation: Buffer): void;
}

/** A path up for this long before failing retries at retryMin again (ms). */
const STABLE_MS = 10_000;

export class PathDialer {
  state: PathState = 'down';
  reason: string | undefined = 'not started';
  /** Engine clock time of the last state change. */
  since: number;
  local: string | undefined;
  muxId = -1;
  private attempt = 0;
  private cancelRetry: (() => void) | undefined;
  private socket: net.Socket | undefined;
  private generation = 0;
  private upAt = 0;
  private stopped = false;

  constructor(
    readonly spec: PathSpecLike,
    readonly slot: number,
    readonly name: string,
    private readonly ctx: DialerContext,
  ) {
    this.since = ctx.clock.now();
  }

  get remote(): string {
    return formatEndpoint(this.spec.via ?? this.ctx.exit);
  }

  private set(state: PathState, reason: string | undefined): void {
    if (state !== this.state) this.since = this.ctx.clock.now();
    this.state = state;
    this.reason = reason;
  }

  /** Re-evaluate against the links: connect, stay, or stand down. Call on start and on every link change. */
  evaluate(links: LinkMap): void {
    if (this.stopped) return;
    const dest = this.spec.via ?? this.ctx.exit;
    let local: string | undefined;
    if (this.spec.link) {
      const src = linkSource(links, this.spec.link, dest.family);
      if ('reason' in src) {
        if (this.state !== 'unused') this.ctx.log.info({ path: this.name, reason: src.reason }, 'relay path unused');
        this.abandon(src.reason);
        this.set('unused', src.reason);
        return;
      }
      local = src.address;
    }
    if (this.state === 'unused' || (this.local !== local && this.state !== 'down')) {
      // Back from unused, or the source address changed under a live connection: connect now.
      this.abandon('source address changed');
      this.local = local;
      this.attempt = 0;
      this.connect();
      return;
    }
    this.local = local;
    if (this.state === 'down' && !this.cancelRetry && this.socket === undefined) this.connect();
  }

  /** The engine dropped our path. */
  pathDown(reason: string): void {
    if (this.stopped) return;
    this.muxId = -1;
    this.socket = undefined;
    if (this.ctx.clock.now() - this.upAt >= STABLE_MS) this.attempt = 0;
    this.set('down', reason);
    this.scheduleRetry();
  }

  /** Close for good (reload removed the path, or the entry stops). */
  stop(reason: string): void {
    this.stopped = true;
    this.abandon(reason);
  }

  private abandon(reason: string): void {
    this.generation++;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    if (this.muxId >= 0) {
      const id = this.muxId;
      this.muxId = -1;
      this.ctx.mux.removePath(id, reason);
    }
    this.socket?.destroy();
    this.socket = undefined;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.cancelRetry) return;
    const delay = backoffDelay(this.attempt++, this.ctx.retryMin, this.ctx.retryMax, this.ctx.random());
    this.cancelRetry = this.ctx.clock.after(delay, () => {
      this.cancelRetry = undefined;
      if (this.state === 'down') this.connect();
    });
  }

  private connect(): void {
    const gen = ++this.generation;
    const dest = this.spec.via ?? this.ctx.exit;
    this.set('connecting', undefined);
    const opts: net.NetConnectOpts = { host: dest.host, port: dest.port, family: dest.family };
    if (this.local) opts.localAddress = this.local;
    const sock = net.connect(opts);
    this.socket = sock;
    const deadline = this.ctx.clock.now() + this.ctx.handshakeTimeout;
    const fail = (reason: string) => {
      if (gen !== this.generation) return;
      this.generation++;
      sock.destroy();
      this.socket = undefined;
      if (this.state !== 'down' || this.reason !== reason) this.ctx.log.warn({ path: this.name, reason, attempt: this.attempt }, 'relay path connect failed');
      this.set('down', reason);
      this.scheduleRetry();
    };
    const timer = this.ctx.clock.after(this.ctx.handshakeTimeout, () => fail(`connect timed out after ${this.ctx.handshakeTimeout} ms`));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (this.muxId < 0) fail(`connect failed: ${err.code ?? err.message}`);
    });
    sock.once('connect', () => {
      if (gen !== this.generation) return;
      const hello = { session: this.ctx.session, slot: this.slot, window: this.ctx.window, name: helloName(this.ctx.entryName, this.name) };
      clientHandshake(sock, this.ctx.key, hello, Math.max(1, deadline - this.ctx.clock.now())).then(
        ({ conn, welcome }) => {
          timer();
          if (gen !== this.generation) {
            conn.close('superseded');
            return;
          }
          this.joined(conn, welcome.incarnation, welcome.window);
        },
        (err: unknown) => {
          timer();
          fail(err instanceof HandshakeError ? err.message : `handshake failed: ${(err as Error).message}`);
        },
      );
    });
  }

  private joined(conn: PathConn, incarnation: Buffer, window: number): void {
    this.ctx.onWelcome(incarnation);
    const id = this.ctx.mux.addPath(conn, { slot: this.slot, name: this.name, peerWindow: window });
    this.muxId = id;
    this.upAt = this.ctx.clock.now();
    this.set('up', undefined);
    conn.attach({
      record: (frames, bytes) => this.ctx.mux.pathRecord(id, frames, bytes),
      closed: (reason, error) => {
        if (error) this.ctx.log.warn({ path: this.name, err: error.message }, 'relay path dropped: a record failed authentication or parsing');
        this.ctx.mux.pathClosed(id, reason);
      },
    });
  }
}

/** HELLO's name field: "entry/path", cut to 64 bytes. */
export function helloName(entry: string, path: string): string {
  let s = `${entry}/${path}`;
  while (Buffer.byteLength(s) > 64) s = s.slice(0, -1);
  return s;
}
