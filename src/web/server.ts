/**
 * The live dashboard (`web.listen`): a small node:http server, read-only, serving the page's
 * static files (web/ and uPlot, read into memory at start), `GET /api/snapshot` (the status
 * object, the last 10 minutes of samples, the event timeline, the last plan) and
 * `GET /api/events`, a server-sent event stream:
 * - `sample` every `sampleMs` (1 s): per link state, weight, RTT, loss, jitter, throughput in/out;
 * - `status` every `statusMs` (2 s) while a page is open: the whole status object (balancing
 *   shares, relay, plan), the same as `wanbraid status --json`;
 * - `event` at once for every daemon event, the same stream as the control socket's `subscribe`
 *   (link changes, plan applications, reloads, errors).
 * The server samples the daemon itself, whether or not a page is open, so a fresh page gets
 * history; memory is bounded by the rings of history.ts.
 *
 * Security: only GET and HEAD (405 otherwise, before anything else: no request changes state);
 * the token (auth.ts) when configured, else loopback Host names only (request.ts); a strict
 * Content-Security-Policy (no inline script or style, nothing from elsewhere) and no framing.
 * Bounded like the metrics endpoint: at most `maxConnections` connections (more are closed on
 * accept), headers of at most {@link MAX_HEADER_BYTES} within {@link HEADERS_TIMEOUT_MS}, request
 * targets of at most 2 KiB, no request bodies, at most {@link MAX_SSE_CLIENTS} event streams each
 * with at most 1 MiB unread (hub.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { WanbraidError, errorMessage } from '../errors.js';
import type { StatusObject } from '../status/types.js';
import { LogLimit } from '../util/log-limit.js';
import { Token, authorize } from './auth.js';
import { History, Timeline, type LinkInput, type TimelineEvent } from './history.js';
import { MAX_SSE_CLIENTS, SseHub } from './hub.js';
import { readNetDev, type IfCounters } from './netdev.js';
import { checkRequest, loopbackHost } from './request.js';
import { sseEvent, sseRetry } from './sse.js';

export const MAX_WEB_CONNECTIONS = 32;
export const MAX_HEADER_BYTES = 8 * 1024;
export const HEADERS_TIMEOUT_MS = 5000;
export const REQUEST_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_MS = 5000;
export const SAMPLE_MS = 1000;
export const STATUS_MS = 2000;

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** What the dashboard reads from the daemon. */
export interface WebSource {
  /** The status object (`wanbraid status --json`). */
  status(): Promise<StatusObject>;
  /** Every configured link now; cheap (called every sample). */
  links(): LinkInput[];
}

export interface WebServerOptions {
  host: string;
  port: number;
  /** Required of every request when set. */
  token?: string | undefined;
  source: WebSource;
  logger: Logger;
  sampleMs?: number;
  statusMs?: number;
  maxConnections?: number;
  maxSseClients?: number;
  /** This namespace's interface counters (default /proc/net/dev; tests inject). */
  counters?: () => Promise<Map<string, IfCounters>>;
  /** The page's files (default the package's web/ directory). */
  staticDir?: string;
}

interface StaticFile {
  body: Buffer;
  type: string;
}

/** The page: every .html/.js/.css/.svg file of `dir` at its name, and uPlot under /vendor/. */
export function loadStatic(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`/${name}`, { body: readFileSync(join(dir, name)), type });
  }
  const require = createRequire(import.meta.url);
  files.set('/vendor/uplot.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')), type: TYPES['.js']! });
  files.set('/vendor/uplot.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')), type: TYPES['.css']! });
  return files;
}

/** The package's web/ directory (beside dist/ in a build, beside src/ in a checkout). */
export const STATIC_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

export class WebServer {
  private server: Server | undefined;
  private readonly token: Token | undefined;
  private readonly history = new History();
  private readonly timeline = new Timeline();
  private readonly hub: SseHub;
  private files = new Map<string, StaticFile>();
  private names = new Set<string>();
  private sampler: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private sampling = false;
  private pushingStatus = false;
  private dropped = 0;
  private readonly errLimit = new LogLimit(60_000, 3);

  constructor(private readonly opts: WebServerOptions) {
    this.token = opts.token !== undefined ? new Token(opts.token) : undefined;
    this.hub = new SseHub({
      maxClients: opts.maxSseClients ?? MAX_SSE_CLIENTS,
      onDrop: (backlog) => this.warn({ backlog }, 'dashboard: dropping an event stream that stopped reading'),
    });
  }

  /** Record a daemon event and send it to every open page at once. */
  publish(event: string, body: Record<string, unknown>): void {
    const e = this.timeline.push(event, body);
    if (this.hub.size > 0) this.hub.broadcast(sseEvent('event', e));
  }

  /** Open event streams. */
  get streams(): number {
    return this.hub.size;
  }

  async start(): Promise<void> {
    this.files = loadStatic(this.opts.staticDir ?? STATIC_DIR);
    this.names = new Set(this.files.keys());
    const server = createServer(
      { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS, connectionsCheckingInterval: 1000 },
      (req, res) => void this.serve(req, res).catch((err: unknown) => this.fail(res, err)),
    );
    server.maxConnections = this.opts.maxConnections ?? MAX_WEB_CONNECTIONS;
    server.on('drop', () => {
      if (this.dropped++ % 100 === 0) this.opts.logger.warn({ op: 'web', dropped: this.dropped, max: server.maxConnections }, 'dashboard: too many connections, closing new ones');
    });
    // Malformed or oversized headers and header timeouts: node's own answer (400, 431, 408) and
    // close, with nothing logged per client.
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new WanbraidError('WB_WEB_LISTEN', `web.listen: cannot listen on ${this.opts.host}:${this.opts.port}: ${errorMessage(err)}`, { cause: err })));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    void this.sample();
    this.sampler = setInterval(() => void this.sample(), this.opts.sampleMs ?? SAMPLE_MS);
    this.sampler.unref();
    this.statusTimer = setInterval(() => void this.pushStatus(), this.opts.statusMs ?? STATUS_MS);
    this.statusTimer.unref();
    const a = this.address()!;
    this.opts.logger.info({ op: 'web', listen: `${a.address}:${a.port}`, token: this.token !== undefined }, 'dashboard listening');
  }

  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.hub.close();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /** What a page loads first. */
  async snapshot(): Promise<{ status: StatusObject; samples: ReturnType<History['samples']>; events: TimelineEvent[]; lastPlan: TimelineEvent | undefined; sampleMs: number; now: number }> {
    return {
      status: await this.opts.source.status(),
      samples: this.history.samples(),
      events: this.timeline.events(),
      lastPlan: this.timeline.lastPlan(),
      sampleMs: this.opts.sampleMs ?? SAMPLE_MS,
      now: Date.now(),
    };
  }

  private warn(fields: Record<string, unknown>, msg: string): void {
    if (this.errLimit.allow(performance.now())) this.opts.logger.warn({ op: 'web', ...fields }, msg);
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const counters = await (this.opts.counters ?? readNetDev)().catch((err: unknown) => {
        this.warn({ err: errorMessage(err) }, 'dashboard: cannot read interface counters');
        return new Map<string, IfCounters>();
      });
      const s = this.history.observe(Date.now(), this.opts.source.links(), counters);
      if (this.hub.size > 0) this.hub.broadcast(sseEvent('sample', s));
    } catch (err) {
      this.warn({ err: errorMessage(err) }, 'dashboard: sampling failed');
    } finally {
      this.sampling = false;
    }
  }

  private async pushStatus(): Promise<void> {
    if (this.pushingStatus || this.hub.size === 0) return;
    this.pushingStatus = true;
    try {
      const st = await this.opts.source.status();
      if (this.hub.size > 0) this.hub.broadcast(sseEvent('status', st));
    } catch (err) {
      this.warn({ err: errorMessage(err) }, 'dashboard: reading the status failed');
    } finally {
      this.pushingStatus = false;
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    this.warn({ err: errorMessage(err) }, 'dashboard: a request failed');
    if (!res.headersSent) this.plain(res, 500, 'internal error');
    else res.destroy();
  }

  private plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }).end(`${text}\n`);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const v = checkRequest(req, this.names);
    if (!v.ok && v.status === 405) return this.plain(res, 405, v.message, { allow: 'GET, HEAD' });
    if (!v.ok && v.status !== 404) return this.plain(res, v.status, v.message, { connection: 'close' });
    const auth = authorize(this.token, req.url ?? '/', req.headers);
    if (auth.kind === 'deny')
      return this.plain(res, 401, 'unauthorized: this dashboard needs its token (open it once as /?token=TOKEN, or send Authorization: Bearer TOKEN)', { 'www-authenticate': 'Bearer realm="wanbraid"' });
    if (auth.kind === 'login') return this.plain(res, 303, 'see other', { location: auth.location, 'set-cookie': auth.cookie });
    if (!this.token && !loopbackHost(req.headers.host)) return this.plain(res, 403, 'forbidden: without web.tokenFile the dashboard answers only to localhost / 127.0.0.1 / [::1] in the Host header');
    if (!v.ok) return this.plain(res, 404, v.message);
    const head = v.head;
    switch (v.route.kind) {
      case 'static': {
        const f = this.files.get(v.route.name)!;
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': f.type, 'content-length': f.body.length, 'cache-control': 'no-cache' });
        res.end(head ? undefined : f.body);
        return;
      }
      case 'snapshot': {
        const body = Buffer.from(JSON.stringify(await this.snapshot()));
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(head ? undefined : body);
        return;
      }
      case 'events': {
        const headers = { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
        if (head) {
          res.writeHead(200, headers).end();
          return;
        }
        if (this.hub.size >= (this.opts.maxSseClients ?? MAX_SSE_CLIENTS)) return this.plain(res, 503, 'too many open dashboards; close one and reload', { 'retry-after': '10' });
        res.writeHead(200, headers);
        // A stream has no request timeout of its own: only the hub's backlog bound and the heartbeat.
        req.socket.setTimeout(0);
        this.hub.add(res, sseRetry(2000));
        return;
      }
    }
  }
}
