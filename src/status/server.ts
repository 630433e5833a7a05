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
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmodSync, chownSync, mkdirSync, unlinkSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Logger } from '../log.js';
import { WanbraidError, errorCode, errorMessage } from '../errors.js';
import { LineSplitter, errorReply, eventLine, okReply, parseRequest, type Request } from './protocol.js';

export const MAX_SUBSCRIBER_BACKLOG = 4 * 1024 * 1024;

export type Handler = (req: Request) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface StatusServerOptions {
  path: string;
  /** Group allowed to use the socket (name or gid). */
  group?: string | undefined;
  logger: Logger;
  handler: Handler;
}

export class StatusServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  private readonly subscribers = new Set<Socket>();

  constructor(private readonly opts: StatusServerOptions) {}

  get path(): string {
    return this.opts.path;
  }

  async start(): Promise<void> {
    const { path } = this.opts;
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
    if (this.opts.group !== undefined) chownSync(path, process.getuid?.() ?? 0, resolveGid(this.opts.group));
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
      s.write(line);
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.clients) c.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.opts.path);
    } catch {
      /* already gone */
    }
  }

  private accept(sock: Socket): void {
    this.clients.add(sock);
    const splitter = new LineSplitter();
    // Requests on one connection are answered in order: chain them.
    let chain: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) {
        chain = chain.then(() => this.answer(sock, line));
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.clients.delete(sock);
      this.subscribers.delete(sock);
    });
  }

  private async answer(sock: Socket, line: string | null): Promise<void> {
    if (sock.destroyed) return;
    if (line === null) {
      sock.write(errorReply(undefined, { code: 'WB_REQUEST_INVALID', message: `request line longer than ${64 * 1024} bytes` }));
      return;
    }
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      sock.write(errorReply(parsed.id, parsed.error));
      return;
    }
    if (parsed.request.cmd === 'subscribe') {
      this.subscribers.add(sock);
      sock.write(okReply(parsed.id, { subscribed: true }));
      this.opts.logger.debug({ subscribers: this.subscribers.size }, 'event subscriber added');
      return;
    }
    try {
      const body = await this.opts.handler(parsed.request);
      if (!sock.destroyed) sock.write(okReply(parsed.id, body));
    } catch (err) {
      if (!(err instanceof WanbraidError)) this.opts.logger.error({ err, cmd: parsed.request.cmd }, 'control request failed');
      if (!sock.destroyed) sock.write(errorReply(parsed.id, { code: errorCode(err), message: errorMessage(err) }));
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

function resolveGid(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    const out = execFileSync('getent', ['group', group], { encoding: 'utf8' });
    const gid = Number(out.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch {
    /* fall through */
  }
  throw new WanbraidError('WB_CONFIG_INVALID', `status.group: unknown group "${group}"`);
}
