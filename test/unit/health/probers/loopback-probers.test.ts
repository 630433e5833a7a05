/**
 * Result handling of the socket probers against small servers on 127.0.0.1 / ::1 (no root, no
 * namespace: loopback only). What counts as an answer, what is ignored, and that nothing is
 * left running afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createProber } from '../../../../src/health/probers/index.js';
import { statusAccepted } from '../../../../src/health/probers/http.js';
import { WanbraidError } from '../../../../src/errors.js';

const LOOP = { ipv4: '127.0.0.1', ipv6: '::1' };

async function udpServer(address: string, onQuery: (msg: Buffer, reply: (b: Buffer, fromSocket?: UdpSocket) => void) => void) {
  const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  const other = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (msg, rinfo) => onQuery(msg, (b, from = s) => from.send(b, rinfo.port, rinfo.address)));
  s.bind(0, address);
  other.bind(0, address);
  await Promise.all([once(s, 'listening'), once(other, 'listening')]);
  return { port: s.address().port, other, close: () => (s.close(), other.close()) };
}

function asResponse(q: Buffer, id = q.readUInt16BE(0)): Buffer {
  const r = Buffer.from(q);
  r.writeUInt16BE(id, 0);
  r[2] = 0x80 | q[2]!;
  r[3] = 0x85; // RA, REFUSED: still an answer
  return r;
}

test('dns: the matching response counts even with an error RCODE; wrong ids, ports and non-responses are ignored', async () => {
  const srv = await udpServer('127.0.0.1', (q, reply) => {
    reply(q); // our own query echoed: QR clear
    reply(asResponse(q, q.readUInt16BE(0) ^ 1)); // another id
    reply(asResponse(q), srv.other); // right bytes, wrong source port
    setTimeout(() => reply(asResponse(q)), 20);
  });
  const p = createProber({ method: 'dns', port: srv.port, query: 'example.org' }, LOOP);
  try {
    const results = await Promise.all([1, 2, 3].map(() => p.probe('127.0.0.1', 2000)));
    for (const r of results) assert.equal(r.ok, true, JSON.stringify(r));
  } finally {
    p.close();
    srv.close();
  }
});

test('dns: silence is a timeout; a late answer after it does not count for the next probe', async () => {
  let answer = false;
  const held: Buffer[] = [];
  const srv = await udpServer('::1', (q, reply) => {
    if (answer) {
      for (const old of held) reply(asResponse(old)); // stale answers first
      reply(asResponse(q));
    } else held.push(q);
  });
  const p = createProber({ method: 'dns', port: srv.port }, LOOP);
  try {
    assert.deepEqual(await p.probe('::1', 150), { ok: false, error: 'timeout' });
    answer = true;
    assert.equal((await p.probe('::1', 2000)).ok, true);
  } finally {
    p.close();
    srv.close();
  }
});

test('dns: an invalid query name is a config error when the prober is made', () => {
  assert.throws(() => createProber({ method: 'dns', query: 'a..b' }, LOOP), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_CONFIG_INVALID' && /probe\.query/.test(e.message));
});

test('dns and tcp: a source address that is not on the host fails with the reason', async () => {
  const dns = createProber({ method: 'dns', port: 9 }, { ipv4: '198.18.255.254' });
  const tcp = createProber({ method: 'tcp', port: 9 }, { ipv4: '198.18.255.254' });
  try {
    assert.deepEqual(await dns.probe('127.0.0.1', 1000), { ok: false, error: 'bind 198.18.255.254: EADDRNOTAVAIL' });
    assert.deepEqual(await tcp.probe('127.0.0.1', 1000), { ok: false, error: 'EADDRNOTAVAIL' });
  } finally {
    dns.close();
    tcp.close();
  }
});

test('tcp: an accepted connection and a refused one both count; the connection is reset, not lingering', async () => {
  const server = createTcpServer();
  const closed: string[] = [];
  server.on('connection', (s) => {
    s.on('error', (e: NodeJS.ErrnoException) => closed.push(e.code ?? 'error'));
    s.on('end', () => closed.push('fin'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const open = (server.address() as AddressInfo).port;
  const p = createProber({ method: 'tcp', port: open }, LOOP);
  const refusedPort = createProber({ method: 'tcp', port: 1 }, LOOP);
  try {
    assert.equal((await p.probe('127.0.0.1', 2000)).ok, true);
    assert.equal((await refusedPort.probe('127.0.0.1', 2000)).ok, true);
    for (let i = 0; i < 50 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(closed, ['ECONNRESET']);
  } finally {
    p.close();
    refusedPort.close();
    server.close();
  }
});

test('http: status against expectStatus, the default 200-399', () => {
  assert.equal(statusAccepted(200, undefined), true);
  assert.equal(statusAccepted(399, undefined), true);
  assert.equal(statusAccepted(404, undefined), false);
  assert.equal(statusAccepted(204, [204]), true);
  assert.equal(statusAccepted(200, [204]), false);
});

async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createHttpServer(handler);
  server.listen(0, '::1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

test('http: connections are kept alive between probes, and a reused one that breaks is retried once', async () => {
  const perSocket = new Map<unknown, number>();
  const { server, port } = await httpServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    // The third request on a connection finds it closed, as when a server drops an idle keep-alive.
    if (n === 3) return req.socket.destroy();
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end('x'.repeat(100));
  });
  const p = createProber({ method: 'http', port, path: '/' }, LOOP);
  const missing = createProber({ method: 'http', port, path: '/missing' }, LOOP);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await p.probe('::1', 2000)).ok, true, `probe ${i}`);
    // Probes 1-2 reuse connection A; probe 3 breaks A and is retried on B; probe 4 reuses B;
    // probe 5 breaks B and is retried on C. Every probe succeeded.
    assert.deepEqual([...perSocket.values()], [3, 3, 1]);
    assert.deepEqual(await missing.probe('::1', 2000), { ok: false, error: 'status 404' });
  } finally {
    p.close();
    missing.close();
    server.close();
  }
});

test('http: a server that never answers is a timeout, and closing a prober settles its probes at once', async () => {
  const { server, port } = await httpServer(() => undefined);
  const p = createProber({ method: 'http', port }, LOOP);
  try {
    assert.deepEqual(await p.probe('::1', 150), { ok: false, error: 'timeout' });
    const pending = p.probe('::1', 60_000);
    p.close();
    assert.deepEqual(await pending, { ok: false, error: 'prober closed' });
    assert.deepEqual(await p.probe('::1', 1000), { ok: false, error: 'prober closed' });
  } finally {
    p.close();
    server.closeAllConnections();
    server.close();
  }
});

test('after all of the above, no prober timer or socket is left', async () => {
  await new Promise((r) => setTimeout(r, 50));
  const left = process.getActiveResourcesInfo();
  assert.deepEqual(left.filter((r) => /Timeout|TCP|UDP|Immediate/.test(r)), [], left.join(', '));
});
