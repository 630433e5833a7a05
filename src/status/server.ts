/**
 * The control socket: a unix stream socket speaking the line protocol of protocol.ts.
 *
 * Contract: any number of clients at once; each request gets exactly one reply line, in order;
 * bad JSON, oversized lines and unknown commands get an error reply and the connection stays
 * open; a handler that throws becomes an error reply (its `code` when it is a WanbraidError).
 * Subscribed connections also receive event lines; a subscriber that stops reading (more than
 * {@link MAX_SUBSCRIBER_BACKLOG} bytes queued) is disconnected so it cannot grow the daemon's
 * memory. The socket file is created with mode 0660 in a directory created if missing; a stale
 * socket file from a crashed daemon is replaced, a live one is an error.
 *
 * Bounded per client, so that one client cannot grow the daemon's memory: its unanswered
 * requests wait in a queue of at most `maxQueuedRequests` (plus the lines of the one chunk that
 * filled it), and its unread replies at most `maxUnreadBytes` (plus one reply): past either
 * bound the server stops reading from that client until it has read its replies ('drain') and
 * the queue has room; the kernel's socket buffer then holds the client back. At most
 * `maxClients` connections are open at once; one more gets a WB_BUSY error line and is closed.
 *
 * Roles (access.ts): connecting is reading; requests that change state (link, set add/delete/
 * flush, reload) are checked against the peer's kernel credentials and `status.controlGroup`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmodSync, chownSync, mkdirSync, unlinkSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Logger } from '../log.js';
import { WanbraidError, errorCode, errorMessage } from '../errors.js';
import { LineSplitter, errorReply, eventLine, okReply, parseRequest, type Request } from './protocol.js';
import { nativeAddon, type PeerCredentials } from '../native/addon.js';
import { refusal, type ControlPolicy } from './access.js';

export const MAX_SUBSCRIBER_BACKLOG = 4 * 1024 * 1024;
/** Connections open at once. */
export const MAX_CLIENTS = 64;
/** Requests read from one client and not yet answered. */
export const MAX_QUEUED_REQUESTS = 32;
/** Reply bytes one client has not read yet, above which it is not read from. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

/** The peer's kernel credentials (SO_PEERCRED + SO_PEERGROUPS), through the native addon. */
export function socketPeer(sock: Socket): PeerCredentials {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new WanbraidError('WB_NATIVE', 'the connection has no file descriptor');
  return nativeAddon().peerCredentials(fd);
}

/** What the server holds for one client, for tests and status. */
export interface ClientLoad {
  /** Requests read and not yet answered. */
  queued: number;
  /** Reply bytes written and not yet read by the client. */
  unreadBytes: number;
  /** The server stopped reading from it until it catches up. */
  paused: boolean;
}

interface Client {
  sock: Socket;
  peer: PeerCredentials | Error;
  queue: (string | null)[];
  busy: boolean;
  paused: boolean;
  /** A refusal was logged for this client (one line per client, not per request). */
  refusalLogged: boolean;
  /** Set while the pump waits for the client to read its replies. */
  wake: (() => void) | undefined;
}

export type Handler = (req: Request) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface StatusServerOptions {
  path: string;
  /** Group allowed to use the socket (name or gid). */
  group?: string | undefined;
  /** Group allowed to change state: link, set add/delete/flush, reload (name or gid); root only when absent. */
  controlGroup?: string | undefined;
  logger: Logger;
  handler: Handler;
  /** How the peer's credentials are read (default {@link socketPeer}; tests inject). */
  peer?: (sock: Socket) => PeerCredentials;
  maxClients?: number;
  maxQueuedRequests?: number;
  maxUnreadBytes?: number;
}

export class StatusServer {
  private server: Server | undefined;
  private readonly clients = new Map<Socket, Client>();
  private readonly subscribers = new Set<Socket>();
  private policy: ControlPolicy | undefined;
  private refusedBusy = 0;

  constructor(private readonly opts: StatusServerOptions) {}

  /** Per open client: queued requests, unread reply bytes, whether reading is paused. */
  clientLoads(): ClientLoad[] {
    return [...this.clients.values()].map((c) => ({ queued: c.queue.length, unreadBytes: c.sock.writableLength, paused: c.paused }));
  }

  get path(): string {
    return this.opts.path;
  }

  async start(): Promise<void> {
    const { path } = this.opts;
    // Resolve the control group first: an unknown group refuses the start before anything listens.
    this.policy = {
      ownUid: process.getuid?.() ?? 0,
      controlGid: this.opts.controlGroup !== undefined ? resolveGid(this.opts.controlGroup, 'status.controlGroup') : undefined,
      controlGroup: this.opts.controlGroup,
    };
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (existsSync(path)) {
      if (await isLive(path)) throw new WanbraidError('WB_SOCKET_CONNECT', `${path}: another daemon is listening on this socket`);
      unlinkSync(path);
    }
    const server = createServer((sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger.error({ err }, 'control socket error'));
    chmodSync(path, 0o660);
    if (this.opts.group !== undefined) {
      const gid = resolveGid(this.opts.group, 'status.group');
      try {
        chownSync(path, process.getuid?.() ?? 0, gid);
      } catch (err) {
        // The shipped unit has no CAP_CHOWN: the daemon may give the socket only to a group it is in.
        const hint = (err as NodeJS.ErrnoException).code === 'EPERM' ? ` (under systemd, add SupplementaryGroups=${this.opts.group} with \`systemctl edit wanbraid\`)` : '';
        await this.stop();
        throw new WanbraidError('WB_CONFIG_INVALID', `status.group: cannot give ${path} to group "${this.opts.group}": ${errorMessage(err)}${hint}`, { cause: err });
      }
    }
  }

  /** Send an event line to every subscribed connection. */
  publish(event: string, body: Record<string, unknown>): void {
    if (this.subscribers.size === 0) return;
    const line = eventLine(event, body);
    for (const s of this.subscribers) {
      if (s.writableLength > MAX_SUBSCRIBER_BACKLOG) {
        this.opts.logger.warn({ backlog: s.writableLength }, 'dropping a subscriber that stopped reading');
        s.destroy();
        continue;
      }
      const c = this.clients.get(s);
      if (c) this.send(c, line);
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.clients.keys()) c.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      /* already gone */
    }
  }

  private accept(sock: Socket): void {
    sock.on('error', () => undefined);
    const max = this.opts.maxClients ?? MAX_CLIENTS;
    if (this.clients.size >= max) {
      // Logged once per 100 refusals: a connection flood must not become a log flood.
      if (this.refusedBusy++ % 100 === 0) this.opts.logger.warn({ clients: this.clients.size, refused: this.refusedBusy }, 'control socket: too many clients, refusing new ones');
      sock.write(errorReply(undefined, { code: 'WB_BUSY', message: `the daemon already serves ${max} control connections; try again later` }), () => sock.destroy());
      return;
    }
    let peer: PeerCredentials | Error;
    try {
      peer = (this.opts.peer ?? socketPeer)(sock);
    } catch (err) {
      peer = err instanceof Error ? err : new Error(String(err));
    }
    const c: Client = { sock, peer, queue: [], busy: false, paused: false, refusalLogged: false, wake: undefined };
    this.clients.set(sock, c);
    const splitter = new LineSplitter();
    const maxQueued = this.opts.maxQueuedRequests ?? MAX_QUEUED_REQUESTS;
    sock.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) c.queue.push(line);
      // Enough waiting: read no more until the queue has room (the kernel holds the rest back).
      if (c.queue.length >= maxQueued) this.pause(c);
      void this.pump(c);
    });
    sock.on('close', () => {
      this.clients.delete(sock);
      this.subscribers.delete(sock);
      c.queue.length = 0;
      c.wake?.();
    });
  }

  private pause(c: Client): void {
    if (c.paused) return;
    c.paused = true;
    c.sock.pause();
  }

  private resumeIfRoom(c: Client): void {
    if (!c.paused || c.sock.destroyed) return;
    if (c.queue.length >= (this.opts.maxQueuedRequests ?? MAX_QUEUED_REQUESTS)) return;
    if (c.sock.writableLength > (this.opts.maxUnreadBytes ?? MAX_UNREAD_BYTES)) return;
    c.paused = false;
    c.sock.resume();
  }

  /** Answer a client's queued requests one at a time, in order, while it reads its replies. */
  private async pump(c: Client): Promise<void> {
    if (c.busy) return;
    c.busy = true;
    const maxUnread = this.opts.maxUnreadBytes ?? MAX_UNREAD_BYTES;
    try {
      while (c.queue.length > 0 && !c.sock.destroyed) {
        if (c.sock.writableLength > maxUnread) {
          // The client is not reading its replies: stop reading its requests until it does.
          this.pause(c);
          // Woken by a write's completion (send) once the unread bytes are back under the bound.
          await new Promise<void>((resolve) => (c.wake = resolve));
          c.wake = undefined;
          continue;
        }
        const line = c.queue.shift()!;
        this.resumeIfRoom(c);
        await this.answer(c, line);
      }
    } finally {
      c.busy = false;
    }
    this.resumeIfRoom(c);
  }

  /** Write a reply; its completion wakes a pump waiting for the client to catch up. */
  private send(c: Client, text: string): void {
    c.sock.write(text, () => {
      if (c.wake && c.sock.writableLength <= (this.opts.maxUnreadBytes ?? MAX_UNREAD_BYTES)) c.wake();
    });
  }

  private async answer(c: Client, line: string | null): Promise<void> {
    const sock = c.sock;
    if (sock.destroyed) return;
    if (line === null) {
      this.send(c, errorReply(undefined, { code: 'WB_REQUEST_INVALID', message: `request line longer than ${64 * 1024} bytes` }));
      return;
    }
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.send(c, errorReply(parsed.id, parsed.error));
      return;
    }
    const denied = refusal(parsed.request, c.peer, this.policy ?? { ownUid: 0, controlGid: undefined, controlGroup: undefined });
    if (denied !== undefined) {
      if (!c.refusalLogged) {
        c.refusalLogged = true;
        this.opts.logger.warn({ op: 'control', cmd: parsed.request.cmd, uid: c.peer instanceof Error ? undefined : c.peer.uid, err: c.peer instanceof Error ? c.peer.message : undefined }, 'control request refused: not allowed for this client');
      }
      this.send(c, errorReply(parsed.id, { code: 'WB_PERMISSION', message: denied }));
      return;
    }
    if (parsed.request.cmd === 'subscribe') {
      this.subscribers.add(sock);
      this.send(c, okReply(parsed.id, { subscribed: true }));
      this.opts.logger.debug({ subscribers: this.subscribers.size }, 'event subscriber added');
      return;
    }
    try {
      const body = await this.opts.handler(parsed.request);
      if (!sock.destroyed) this.send(c, okReply(parsed.id, body));
    } catch (err) {
      if (!(err instanceof WanbraidError)) this.opts.logger.error({ err, cmd: parsed.request.cmd }, 'control request failed');
      if (!sock.destroyed) this.send(c, errorReply(parsed.id, { code: errorCode(err), message: errorMessage(err) }));
    }
  }
}

function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function resolveGid(group: string, field: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    const out = execFileSync('getent', ['group', group], { encoding: 'utf8' });
    const gid = Number(out.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch {
    /* fall through */
  }
  throw new WanbraidError('WB_CONFIG_INVALID', `${field}: unknown group "${group}"`);
}
