/**
 * The Prometheus text format (HELP/TYPE, labels and escaping, special values, extra families from
 * other parts of the daemon) and the tiny endpoint on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
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
  const s = new MetricsServer({ host: '127.0.0.1', port: 0, logger: silentLogger() });
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
