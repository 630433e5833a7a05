/**
 * A forwarding hop: plain TCP from `listen` to `to`, byte for byte, nothing decrypted (the relay's
 * paths are end-to-end encrypted between entry and exit). Half-close passes through (each side's
 * FIN becomes a FIN on the other); an error or reset on one side resets the other, so a dead path
 * is seen at both ends.
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import type { ForwardConfig } from '../config/schema.js';
import { formatEndpoint } from '../config/values.js';
import { closeServer, listen } from './entry.js';
import type { ForwardStatus } from './status.js';

/** Give up on the upstream connect after this long (ms). */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * TCP keepalive idle time on both sides (ms). The relay's own pings detect a dead path in
 * seconds, but a connection left half-dead here by a blackhole (the far end's close never
 * arrived) would otherwise stay open for ever.
 */
const KEEPALIVE_MS = 30_000;

export class ForwardHop {
  private server: net.Server | undefined;
  private readonly live = new Set<net.Socket>();
  private bytes = 0;
  private readonly log: Logger;

  constructor(
    readonly cfg: ForwardConfig,
    readonly name: string,
    logger: Logger,
  ) {
    this.log = logger.child({ forward: name });
  }

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onConnection(s));
    this.server = server;
    await listen(server, this.cfg.listen, `forwards ${this.name}`);
    this.log.info({ listen: formatEndpoint(this.cfg.listen), to: formatEndpoint(this.cfg.to) }, 'forwarding hop listening');
  }

  private onConnection(down: net.Socket): void {
    const up = net.connect({ host: this.cfg.to.host, port: this.cfg.to.port, family: this.cfg.to.family, allowHalfOpen: true, noDelay: true });
    this.live.add(down);
    this.live.add(up);
    down.setKeepAlive(true, KEEPALIVE_MS);
    up.setKeepAlive(true, KEEPALIVE_MS);
    const timer = setTimeout(() => up.destroy(new Error('connect timed out')), CONNECT_TIMEOUT_MS);
    up.once('connect', () => clearTimeout(timer));
    const count = (b: Buffer) => {
      this.bytes += b.length;
    };
    down.on('data', count);
    up.on('data', count);
    down.pipe(up);
    up.pipe(down);
    const abort = (other: net.Socket) => () => {
      clearTimeout(timer);
      if (!other.destroyed) other.resetAndDestroy();
    };
    down.on('error', abort(up));
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code && err.code !== 'ECONNRESET') this.log.debug({ to: formatEndpoint(this.cfg.to), err: err.code }, 'forward upstream error');
      abort(down)();
    });
    // A side that closes without both FINs exchanged takes the other down too.
    down.on('close', () => {
      this.live.delete(down);
      if (!up.destroyed && !(down.readableEnded && down.writableFinished)) up.resetAndDestroy();
    });
    up.on('close', () => {
      this.live.delete(up);
      clearTimeout(timer);
      if (!down.destroyed && !(up.readableEnded && up.writableFinished)) down.resetAndDestroy();
    });
  }

  status(): ForwardStatus {
    return { name: this.name, listen: formatEndpoint(this.cfg.listen), to: formatEndpoint(this.cfg.to), connections: Math.floor(this.live.size / 2), bytes: this.bytes };
  }

  async stop(): Promise<void> {
    const done = closeServer(this.server);
    for (const s of this.live) s.destroy();
    await done;
  }
}
