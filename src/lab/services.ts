/**
 * The lab's "internet" services, one Node process run inside the services node with
 * `ip netns exec NS node dist/src/lab/services.js [--cert F --key F] [--dns-a A] [--dns-aaaa A]`.
 * It listens on every address of its namespace (dual-stack `::`), ports from addressing.ts:
 *
 * - HTTP 80 and HTTPS 443 (self-signed; only with --cert/--key): `/` 200, `/status/NNN` answers
 *   NNN (200..599), `/slow/MS` answers 200 after MS milliseconds (at most 120000), `/ip` the
 *   client's address as seen here (which link a NATed flow took), `/bytes/N` the first N bytes
 *   of pattern.ts's stream, `/hold` the number of open hold connections (JSON);
 * - DNS 53/udp: dns.ts's {@link answerQuery}, bound per address (answers come from the address asked);
 * - echo 7 (TCP and UDP); hold 9000 (echo, and never closes first); sink 9001 (reads to end of
 *   stream, answers `BYTES SHA256HEX\n`).
 *
 * Every socket has an error handler and every input is bounded: garbage is answered or dropped,
 * it never ends the process. SIGTERM/SIGINT end it at once. Logs are pino JSON lines on stdout.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { LAB_PORTS, INET } from './addressing.js';
import { answerQuery, type ZoneAnswers } from './dns.js';
import { fillPattern } from './pattern.js';
import { createLogger } from '../log.js';

const log = createLogger('info');

const MAX_SLOW_MS = 120_000;
const MAX_BYTES = 1e12;
const CHUNK = 64 * 1024;

const holdSockets = new Set<Socket>();

function plain(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function sendPattern(res: ServerResponse, length: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': length });
  let off = 0;
  const pump = (): void => {
    while (off < length && !res.destroyed) {
      const n = Math.min(CHUNK, length - off);
      const chunk = fillPattern(Buffer.allocUnsafe(n), off);
      off += n;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

/** The HTTP(S) routes. */
function handleHttp(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  let m: RegExpExecArray | null;
  if (path === '/') return plain(res, 200, 'wanbraid lab\n');
  if (path === '/ip') return plain(res, 200, clientAddress(req) + '\n');
  if (path === '/hold') return plain(res, 200, JSON.stringify({ connections: holdSockets.size }) + '\n', 'application/json');
  if ((m = /^\/status\/(\d{3})$/.exec(path))) {
    const status = Number(m[1]);
    if (status >= 200 && status <= 599) return plain(res, status, `status ${status}\n`);
    return plain(res, 400, 'status must be 200..599\n');
  }
  if ((m = /^\/slow\/(\d{1,9})$/.exec(path))) {
    const ms = Math.min(Number(m[1]), MAX_SLOW_MS);
    const t = setTimeout(() => plain(res, 200, `slept ${ms} ms\n`), ms);
    res.once('close', () => clearTimeout(t));
    return;
  }
  if ((m = /^\/bytes\/(\d{1,13})$/.exec(path))) {
    const n = Number(m[1]);
    if (n > MAX_BYTES) return plain(res, 400, `at most ${MAX_BYTES} bytes\n`);
    return sendPattern(res, n);
  }
  plain(res, 404, 'not found\n');
}

function guardHttp(server: HttpServer, name: string): void {
  server.on('clientError', (err, socket) => {
    log.debug({ svc: name, err: err.message }, 'client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('tlsClientError', (err: Error) => log.debug({ svc: name, err: err.message }, 'tls client error'));
}

function tcpService(name: string, onSocket: (s: Socket) => void): TcpServer {
  return createTcpServer((s) => {
    s.on('error', (err) => log.debug({ svc: name, err: err.message }, 'socket error'));
    onSocket(s);
  });
}

function echo(s: Socket): void {
  s.pipe(s);
}

function hold(s: Socket): void {
  holdSockets.add(s);
  s.once('close', () => holdSockets.delete(s));
  s.pipe(s);
}

function sink(s: Socket): void {
  const h = createHash('sha256');
  let bytes = 0;
  s.on('data', (b: Buffer) => {
    bytes += b.length;
    h.update(b);
  });
  s.on('end', () => s.end(`${bytes} ${h.digest('hex')}\n`));
}

function listenTcp(server: TcpServer | HttpServer, name: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '::', port, ipv6Only: false }, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ svc: name, err: err.message }, 'server error'));
      resolve();
    });
  });
}

/**
 * A UDP service bound once per address of this namespace (not to the wildcard): a datagram's
 * answer then leaves from the very address it was sent to, as a real resolver's does (a
 * wildcard-bound socket would answer from the route's preferred source, and a client that checks
 * where its answer came from — the dns prober does — would rightly drop it). Link-local addresses
 * are left out.
 */
async function listenUdp(name: string, port: number, answer: (msg: Buffer) => Buffer | null): Promise<void> {
  const addrs = Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => a !== undefined && !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')));
  await Promise.all(
    addrs.map((a) => {
      const sock = createSocket({ type: a.family === 'IPv4' ? 'udp4' : 'udp6' });
      sock.on('message', (msg, rinfo) => {
        let reply: Buffer | null = null;
        try {
          reply = answer(msg);
        } catch (err) {
          log.warn({ svc: name, err: err instanceof Error ? err.message : String(err) }, 'bad datagram');
        }
        if (reply) sock.send(reply, rinfo.port, rinfo.address, (err) => err && log.debug({ svc: name, err: err.message }, 'send failed'));
      });
      return new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ port, address: a.address }, () => {
          sock.off('error', reject);
          sock.on('error', (err) => log.error({ svc: name, err: err.message }, 'socket error'));
          resolve();
        });
      });
    }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cert: { type: 'string' },
      key: { type: 'string' },
      'dns-a': { type: 'string', default: INET.server4 },
      'dns-aaaa': { type: 'string', default: INET.server6 },
    },
  });
  const zone: ZoneAnswers = { a: values['dns-a'], aaaa: values['dns-aaaa'], ns: 'ns.lab.wanbraid', ttl: 60 };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));

  const http = createHttpServer(handleHttp);
  guardHttp(http, 'http');
  const started: Promise<void>[] = [
    listenTcp(http, 'http', LAB_PORTS.http),
    listenTcp(tcpService('echo', echo), 'echo', LAB_PORTS.echo),
    listenTcp(tcpService('hold', hold), 'hold', LAB_PORTS.hold),
    listenTcp(tcpService('sink', sink), 'sink', LAB_PORTS.sink),
    listenUdp('echo', LAB_PORTS.echo, (m) => m),
    listenUdp('dns', LAB_PORTS.dns, (m) => answerQuery(m, zone)),
  ];
  if (values.cert && values.key) {
    const https = createHttpsServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, handleHttp);
    guardHttp(https, 'https');
    started.push(listenTcp(https, 'https', LAB_PORTS.https));
  }
  await Promise.all(started);
  log.info({ op: 'services', ports: LAB_PORTS }, 'lab services ready');
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'lab services failed to start');
  // Let pino flush before leaving.
  setTimeout(() => process.exit(1), 50);
});
