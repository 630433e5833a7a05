/**
 * The Prometheus text format (HELP/TYPE, labels and escaping, special values, extra families from
 * other parts of the daemon) and the tiny endpoint on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { formatMetrics } from '../../../src/status/metrics.js';
import { MetricsServer, METRICS_CONTENT_TYPE } from '../../../src/status/metrics-server.js';
import { silentLogger } from '../../../src/log.js';
import { WanbraidError } from '../../../src/errors.js';

test('families become HELP, TYPE and one line per sample', () => {
  const text = formatMetrics([
    { name: 'wanbraid_link_rtt_seconds', help: 'Mean RTT.', type: 'gauge', samples: [{ labels: { link: 'wan1' }, value: 0.012 }, { labels: { link: 'wan2' }, value: 0.5 }] },
    { name: 'wanbraid_up', help: 'Always 1.', type: 'gauge', samples: [{ value: 1 }] },
    { name: 'wanbraid_empty_total', help: 'Nothing yet.', type: 'counter', samples: [] },
  ]);
  assert.equal(
    text,
    [
      '# HELP wanbraid_link_rtt_seconds Mean RTT.',
      '# TYPE wanbraid_link_rtt_seconds gauge',
      'wanbraid_link_rtt_seconds{link="wan1"} 0.012',
      'wanbraid_link_rtt_seconds{link="wan2"} 0.5',
      '# HELP wanbraid_up Always 1.',
      '# TYPE wanbraid_up gauge',
      'wanbraid_up 1',
      '# HELP wanbraid_empty_total Nothing yet.',
      '# TYPE wanbraid_empty_total counter',
      '',
    ].join('\n'),
  );
});

test('label values and help are escaped; non-finite values are spelled out', () => {
  const text = formatMetrics([
    { name: 'x', help: 'a \\ b\nc', type: 'gauge', samples: [{ labels: { v: 'q"uo\\te\nnl' }, value: NaN }, { labels: { v: 'i' }, value: Infinity }, { labels: { v: 'j' }, value: -Infinity }] },
  ]);
  assert.match(text, /^# HELP x a \\\\ b\\nc$/m);
  assert.match(text, /^x\{v="q\\"uo\\\\te\\nnl"\} NaN$/m);
  assert.match(text, /^x\{v="i"\} \+Inf$/m);
  assert.match(text, /^x\{v="j"\} -Inf$/m);
});

test('bad names and a family contributed twice are programming errors', () => {
  const f = { name: 'ok', help: '', type: 'gauge' as const, samples: [] };
  assert.throws(() => formatMetrics([{ ...f, name: '1bad' }]), WanbraidError);
  assert.throws(() => formatMetrics([{ ...f, samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]), WanbraidError);
  assert.throws(() => formatMetrics([f, f]), /contributed twice/);
});

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the endpoint serves every collector on GET /metrics; 404, 405 and 500 otherwise', async () => {
  // No kept collection (TTL 0): each scrape below sees the collectors as they are now.
  const s = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), renderTtlMs: 0 });
  s.addCollector(() => [{ name: 'wanbraid_link_up', help: 'Up.', type: 'gauge', samples: [{ labels: { link: 'wan1' }, value: 1 }] }]);
  // A second contributor, as the balancer will be.
  let balancerFails = false;
  s.addCollector(() => {
    if (balancerFails) throw new Error('boom');
    return [{ name: 'wanbraid_flows_total', help: 'New flows.', type: 'counter', samples: [{ labels: { link: 'wan1' }, value: 42 }] }];
  });
  // An asynchronous one (reads counters from the kernel): awaited, and a rejection is a 500 too.
  let asyncFails = false;
  s.addCollector(async () => {
    await new Promise((r) => setImmediate(r));
    if (asyncFails) throw new Error('nft gone');
    return [{ name: 'wanbraid_bytes_total', help: 'Bytes.', type: 'counter', samples: [{ labels: { link: 'wan1' }, value: 7 }] }];
  });
  await s.start();
  try {
    const port = s.address()!.port;
    const r = await get(port, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.type, METRICS_CONTENT_TYPE);
    assert.match(r.body, /^wanbraid_link_up\{link="wan1"\} 1$/m);
    assert.match(r.body, /^wanbraid_flows_total\{link="wan1"\} 42$/m);
    assert.match(r.body, /^wanbraid_bytes_total\{link="wan1"\} 7$/m);
    asyncFails = true;
    assert.equal((await get(port, '/metrics')).status, 500);
    asyncFails = false;
    assert.equal((await get(port, '/')).status, 404);
    assert.equal((await get(port, '/metrics', 'POST')).status, 405);
    balancerFails = true;
    assert.equal((await get(port, '/metrics')).status, 500);
  } finally {
    await s.stop();
  }
});

test('listening on a busy port is a clear error', async () => {
  const a = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger() });
  await a.start();
  try {
    const b = new MetricsServer({ host: '127.0.0.1', port: a.address()!.port, logger: silentLogger() });
    await assert.rejects(b.start(), (e: Error & { code?: string }) => e.code === 'WB_METRICS_LISTEN' && /^metrics.listen: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/.test(e.message));
  } finally {
    await a.stop();
  }
});

test('concurrent scrapes share one collection, kept for the TTL; a scrape after it collects again', async () => {
  let clock = 0;
  const s = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), maxConnections: 64, now: () => clock });
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  s.addCollector(async () => {
    runs++;
    await gate;
    return [{ name: 'wanbraid_runs', help: 'Runs.', type: 'gauge', samples: [{ value: runs }] }];
  });
  await s.start();
  try {
    const port = s.address()!.port;
    const all = Array.from({ length: 40 }, () => get(port, '/metrics'));
    // The collection is held open until the first request started it; requests that arrive
    // while it runs share it, and those that arrive after it get its kept text (same clock).
    while (runs === 0) await new Promise((r) => setTimeout(r, 5));
    release();
    const replies = await Promise.all(all);
    assert.ok(replies.every((r) => r.status === 200 && r.body.includes('wanbraid_runs 1')));
    assert.equal(runs, 1, '40 concurrent scrapes, one collection');
    assert.equal((await get(port, '/metrics')).body.includes('wanbraid_runs 1'), true, 'kept within the TTL');
    assert.equal(runs, 1);
    clock += 1000;
    assert.match((await get(port, '/metrics')).body, /^wanbraid_runs 2$/m);
    assert.equal(runs, 2);
    assert.equal(s.collections, 2);
  } finally {
    await s.stop();
  }
});

test('connections beyond maxConnections are closed on accept; the server keeps serving', async () => {
  const s = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), maxConnections: 4 });
  s.addCollector(() => [{ name: 'wanbraid_up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] }]);
  await s.start();
  const held: Socket[] = [];
  try {
    const port = s.address()!.port;
    // Four keep-alive connections, each with one answered request (so the server counts them).
    for (let i = 0; i < 4; i++) {
      const sock = connect(port, '127.0.0.1');
      held.push(sock);
      const answer = await new Promise<string>((resolve, reject) => {
        let buf = '';
        sock.on('data', (b: Buffer) => {
          buf += b.toString();
          if (buf.includes('wanbraid_up 1')) resolve(buf);
        });
        sock.on('error', reject);
        sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 200/);
    }
    // A fifth: closed by the server without an answer.
    const fifth = await new Promise<{ data: string }>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      let data = '';
      sock.on('data', (b: Buffer) => (data += b.toString()));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve({ data }));
      sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    assert.equal(fifth.data, '');
    assert.equal(s.droppedConnections, 1);
    // Positive control: once the held connections are gone, a new scrape is served.
    await Promise.all(held.map((h) => new Promise((r) => { h.once('close', r); h.end(); })));
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await get(port, '/metrics').then((r) => r.status === 200, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(ok, 'served again after the held connections closed');
  } finally {
    held.forEach((h) => h.destroy());
    await s.stop();
  }
});

test('a request whose headers exceed the limit is refused with 431', async () => {
  const s = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger() });
  await s.start();
  try {
    const port = s.address()!.port;
    const reply = await new Promise<string>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      let data = '';
      sock.on('data', (b: Buffer) => (data += b.toString()));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(data));
      sock.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10 * 1024)}\r\n\r\n`);
    });
    assert.match(reply, /^HTTP\/1\.1 431/);
  } finally {
    await s.stop();
  }
});
