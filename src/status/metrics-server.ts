/**
 * The optional Prometheus endpoint (`metrics.listen`): a tiny node:http server answering
 * `GET /metrics` with the text of every registered collector (metrics.ts). Anything else is 404
 * (405 for another method on /metrics). A collector that throws makes that scrape a 500 and is
 * logged; the server keeps running. Listens only where the config says (e.g. 127.0.0.1:9780).
 *
 * Bounded: concurrent scrapes share one collection (the balancer's reads an `nft` process), and
 * its text serves further scrapes for {@link RENDER_TTL_MS}; at most `maxConnections` connections
 * are open at once (more are closed on accept, before a byte is read); a request must send its
 * headers (at most {@link MAX_HEADER_BYTES}) within {@link HEADERS_TIMEOUT_MS} and finish within
 * {@link REQUEST_TIMEOUT_MS}; an idle keep-alive connection closes after {@link KEEP_ALIVE_MS}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { WanbraidError, errorMessage } from '../errors.js';
import { SharedRead } from '../util/shared-read.js';
import { formatMetrics, type MetricsCollector } from './metrics.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Connections open at once (a Prometheus server or two, plus a curl). */
export const MAX_METRICS_CONNECTIONS = 16;
/** How long one collection serves further scrapes (milliseconds). */
export const RENDER_TTL_MS = 1000;
export const MAX_HEADER_BYTES = 8 * 1024;
export const HEADERS_TIMEOUT_MS = 5000;
export const REQUEST_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_MS = 5000;

export class MetricsServer {
  private server: Server | undefined;
  private readonly collectors: MetricsCollector[] = [];
  private readonly shared: SharedRead<string>;
  private dropped = 0;

  constructor(
    private readonly opts: {
      host: string;
      port: number;
      logger: Logger;
      /** Connections open at once (default {@link MAX_METRICS_CONNECTIONS}). */
      maxConnections?: number;
      /** How long one collection is served (milliseconds, default {@link RENDER_TTL_MS}). */
      renderTtlMs?: number;
      /** Clock for that (milliseconds), for tests. */
      now?: () => number;
    },
  ) {
    this.shared = new SharedRead(() => this.collect(), opts.renderTtlMs ?? RENDER_TTL_MS, opts.now);
  }

  /** Add a source of metric families (health, the balancer, ...). */
  addCollector(c: MetricsCollector): void {
    this.collectors.push(c);
  }

  /** The text a scrape returns now: the shared collection in flight, or one at most a TTL old. */
  render(): Promise<string> {
    return this.shared.get();
  }

  /** Collections run so far (each runs every collector once). */
  get collections(): number {
    return this.shared.readCount;
  }

  /** Connections closed on accept because `maxConnections` were open. */
  get droppedConnections(): number {
    return this.dropped;
  }

  private async collect(): Promise<string> {
    const families = await Promise.all(this.collectors.map(async (c) => c()));
    return formatMetrics(families.flat());
  }

  async start(): Promise<void> {
    const server = createServer(
      { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS, connectionsCheckingInterval: 1000 },
      (req, res) => void this.serve(req, res),
    );
    server.maxConnections = this.opts.maxConnections ?? MAX_METRICS_CONNECTIONS;
    server.on('drop', () => {
      // Logged once per 100 drops at most: a flood must not become a flood of log lines.
      if (this.dropped++ % 100 === 0) this.opts.logger.warn({ op: 'metrics', dropped: this.dropped, max: server.maxConnections }, 'metrics endpoint: too many connections, closing new ones');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new WanbraidError('WB_METRICS_LISTEN', `metrics.listen: cannot listen on ${this.opts.host}:${this.opts.port}: ${errorMessage(err)}`, { cause: err })),
      );
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.opts.logger.info({ op: 'metrics', listen: `${this.opts.host}:${this.address()!.port}` }, 'metrics endpoint listening');
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = await this.render();
    } catch (err) {
      this.opts.logger.error({ op: 'metrics', err: errorMessage(err) }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('collection failed\n');
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : body);
  }

  /** Where it listens (the real port when 0 was asked for). */
  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
