/**
 * HTTP and HTTPS prober: GET `path` from target:port with the link's source address; success on
 * a status in `expectStatus` (default 200-399).
 *
 * Contract:
 * - One keep-alive agent per prober, so a probe every 500 ms reuses its connection (for HTTPS
 *   that saves a TLS handshake per probe, the dominant CPU cost). RTT is measured to the
 *   response headers: a request round trip on a reused connection, plus the handshakes on a new
 *   one. A request that fails on a reused connection before any response (the server closed it
 *   as we sent: ECONNRESET, EPIPE) is retried once on a new connection within the same deadline.
 * - On timeout the request and its connection are destroyed; the next probe connects afresh.
 * - The body is drained (for reuse) after the result is known; a body over 64 KiB, or one still
 *   arriving after the probe's timeout, ends the connection instead.
 * - Host header: `host` if configured, else the target (bracketed for IPv6). HTTPS sends `host`
 *   as SNI when it is a name. Certificates are NOT verified unless `verifyCertificate` is set:
 *   the probe asks "does the link carry traffic", and a probe target is often an address whose
 *   certificate names something else. Verification (against Node's CA bundle, for `host`)
 *   catches captive portals and intercepting proxies that answer in the ISP's stead.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Attempt, errorText, failed } from './attempt.js';
import { chooseSource } from './source.js';
import type { ProbeResult, ProbeSource, Prober } from './types.js';

export const HTTP_DEFAULT_PORT = 80;
export const HTTPS_DEFAULT_PORT = 443;
/** Body bytes drained to keep a connection; more ends it. */
export const MAX_DRAIN_BYTES = 64 * 1024;
/** How long an idle kept-alive connection stays open, in milliseconds. */
const IDLE_SOCKET_MS = 15_000;

export interface HttpProberOptions {
  tls: boolean;
  port?: number | undefined;
  path?: string | undefined;
  host?: string | undefined;
  expectStatus?: readonly number[] | undefined;
  verifyCertificate?: boolean | undefined;
}

/** Whether `status` counts as an answer: one of `expect`, or 200-399 when none is configured. */
export function statusAccepted(status: number, expect: readonly number[] | undefined): boolean {
  return expect && expect.length > 0 ? expect.includes(status) : status >= 200 && status <= 399;
}

const RETRYABLE_ON_REUSED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class HttpProber implements Prober {
  private readonly agent: HttpAgent;
  private readonly attempts = new Set<Attempt>();
  private closed = false;
  private readonly options: HttpProberOptions;
  private readonly port: number;

  constructor(
    private readonly source: ProbeSource,
    options: HttpProberOptions,
  ) {
    this.options = options;
    this.port = options.port ?? (options.tls ? HTTPS_DEFAULT_PORT : HTTP_DEFAULT_PORT);
    const agentOptions = { keepAlive: true, maxFreeSockets: 2, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
    this.agent = options.tls ? new HttpsAgent({ ...agentOptions, rejectUnauthorized: options.verifyCertificate === true }) : new HttpAgent(agentOptions);
  }

  probe(target: string, timeoutMs: number): Promise<ProbeResult> {
    if (this.closed) return failed('prober closed');
    const choice = chooseSource(target, this.source);
    if ('error' in choice) return failed(choice.error);
    let req: ClientRequest | undefined;
    let responded = false;
    const attempt: Attempt = new Attempt(timeoutMs, () => {
      this.attempts.delete(attempt);
      // Timed out or closed while waiting: drop the request and its connection.
      if (req && !req.destroyed && !responded) req.destroy();
    });
    this.attempts.add(attempt);
    const send = (retry: boolean): void => {
      const r = this.request(target, choice.address, choice.family);
      req = r;
      r.on('response', (res) => {
        responded = true;
        if (statusAccepted(res.statusCode ?? 0, this.options.expectStatus)) attempt.succeed();
        else attempt.fail(`status ${res.statusCode ?? 'none'}`);
        this.drain(r, res, timeoutMs);
      });
      r.on('error', (err: NodeJS.ErrnoException) => {
        if (attempt.settled || responded) return;
        if (!retry && r.reusedSocket && RETRYABLE_ON_REUSED.has(err.code ?? '')) send(true);
        else attempt.fail(errorText(err));
      });
      r.end();
    };
    send(false);
    return attempt.promise;
  }

  private request(target: string, localAddress: string, family: 4 | 6): ClientRequest {
    const { host, path, tls, verifyCertificate } = this.options;
    const headers: Record<string, string> = { 'user-agent': 'wanbraid-probe', accept: '*/*' };
    if (host) headers.host = host;
    const common = { agent: this.agent, host: target, port: this.port, path: path ?? '/', method: 'GET', localAddress, family, headers };
    if (!tls) return httpRequest(common);
    // SNI carries names only; an address as SNI is not allowed (RFC 6066).
    const servername = host && isIP(host) === 0 ? host : '';
    return httpsRequest({ ...common, servername, rejectUnauthorized: verifyCertificate === true });
  }

  /** Read the body so the connection can be reused; give up on a large or slow one. */
  private drain(req: ClientRequest, res: IncomingMessage, timeoutMs: number): void {
    let bytes = 0;
    const guard = setTimeout(() => req.destroy(), Math.max(timeoutMs, 1));
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_DRAIN_BYTES) req.destroy();
    });
    res.on('close', () => clearTimeout(guard));
    res.on('error', () => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of [...this.attempts]) a.fail('prober closed');
    this.agent.destroy();
  }
}
