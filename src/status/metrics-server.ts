/**
 * The optional Prometheus endpoint (`metrics.listen`): a tiny node:http server answering
 * `GET /metrics` with the text of every registered collector (metrics.ts). Anything else is 404
 * (405 for another method on /metrics). A collector that throws makes that scrape a 500 and is
 * logged; the server keeps running. Listens only where the config says (e.g. 127.0.0.1:9780).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { WanbraidError, errorMessage } from '../errors.js';
import { formatMetrics, type MetricsCollector } from './metrics.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class MetricsServer {
  private server: Server | undefined;
  private readonly collectors: MetricsCollector[] = [];

  constructor(
    private readonly opts: { host: string; port: number; logger: Logger },
  ) {}

  /** Add a source of metric families (health, the balancer, ...). */
  addCollector(c: MetricsCollector): void {
    this.collectors.push(c);
  }

  /** The text a scrape returns now. */
  async render(): Promise<string> {
    const families = await Promise.all(this.collectors.map(async (c) => c()));
    return formatMetrics(families.flat());
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.serve(req, res));
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
