/**
 * The dashboard server in-process on 127.0.0.1 (no root): headers, read-only, token, Host
 * check, request limits, snapshot and the event stream, with a fake daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { silentLogger } from '../../../src/log.js';
import { WebServer, type WebSource } from '../../../src/web/server.js';
import type { StatusObject } from '../../../src/status/types.js';
import type { LinkInput } from '../../../src/web/history.js';
import { parseSse } from '../../../src/web/sse.js';

const T = 'f3a9c2e1b7d84a6e9c0b5d2f1a8e7c64';

function fakeSource() {
  let statusCalls = 0;
  const links: LinkInput[] = [
    { name: 'wan1', interface: 'eth1', state: 'online', reason: 'probes answer', weight: 5, rttMs: 12, lossPct: 0, jitterMs: 1 },
    { name: 'wan2', interface: 'eth2', state: 'online', reason: 'probes answer', weight: 3, rttMs: 30, lossPct: 1, jitterMs: 2 },
  ];
  const source: WebSource = {
    status: async () => {
      statusCalls++;
      return { version: 'test', pid: 1, startedAt: '', config: { file: 'x', loadedAt: '' }, links: links.map((l) => ({ name: l.name, interface: l.interface, state: l.state, since: '', reason: l.reason, reasonKind: 'x', weight: l.weight, configuredWeight: l.weight })) };
    },
    links: () => links.map((l) => ({ ...l })),
  };
  return { source, links, statusCalls: () => statusCalls };
}

let rx = 0;
async function withServer(opts: { token?: string; maxSseClients?: number; sampleMs?: number }, fn: (port: number, w: WebServer, f: ReturnType<typeof fakeSource>) => Promise<void>): Promise<void> {
  const f = fakeSource();
  const w = new WebServer({
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger(),
    source: f.source,
    token: opts.token,
    sampleMs: opts.sampleMs ?? 50,
    statusMs: 100,
    maxSseClients: opts.maxSseClients,
    counters: async () => {
      rx += 125_000;
      return new Map([
        ['eth1', { rxBytes: rx, txBytes: rx / 2 }],
        ['eth2', { rxBytes: 0, txBytes: 0 }],
      ]);
    },
  });
  await w.start();
  try {
    await fn(w.address()!.port, w, f);
  } finally {
    await w.stop();
  }
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with full control over the method, path and headers (Host included). */
function req(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Open the event stream and collect frames until `until` holds for them. */
function stream(port: number, headers: Record<string, string>, until: (frames: ReturnType<typeof parseSse>) => boolean): Promise<{ status: number; frames: ReturnType<typeof parseSse>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, path: '/api/events', headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      const close = () => r.destroy();
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, frames: [], close });
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        const frames = parseSse(text.slice(0, text.lastIndexOf('\n\n') + 2));
        if (until(frames)) resolve({ status: 200, frames, close });
      });
    });
    r.on('error', reject);
    r.end();
  });
}

test('web server: the page with a strict CSP and no framing; HEAD has no body; unknown paths 404', async () => {
  await withServer({}, async (port) => {
    const r = await req(port, 'GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.body, /<script type="module" src="\/app\.js"><\/script>/);
    assert.doesNotMatch(r.body, /<script>|<style>|\sstyle=|\son[a-z]+=/i, 'no inline script or style in the page');
    const csp = String(r.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), d);
    assert.doesNotMatch(csp, /unsafe|http:|https:|\*/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    const js = await req(port, 'GET', '/vendor/uplot.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(js.body, /export \{ uPlot as default \}|export default uPlot/);
    assert.equal((await req(port, 'GET', '/vendor/uplot.css')).status, 200);
    const head = await req(port, 'HEAD', '/app.js');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(Number(head.headers['content-length']) > 1000);
    for (const p of ['/nope', '/../package.json', '/web/app.js', '/model.d.ts']) assert.equal((await req(port, 'GET', p)).status, 404, p);
  });
});

test('web server: every method but GET/HEAD is 405 and reaches nothing (the source is not even read)', async () => {
  await withServer({}, async (port, _w, f) => {
    const before = f.statusCalls();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const p of ['/', '/api/snapshot', '/api/events']) {
        const r = await req(port, method, p, { 'content-type': 'application/json' }, method === 'DELETE' || method === 'OPTIONS' ? undefined : '{"cmd":"reload"}');
        assert.equal(r.status, 405, `${method} ${p}`);
        assert.equal(r.headers.allow, 'GET, HEAD');
      }
    }
    assert.equal(f.statusCalls(), before, 'nothing was asked of the daemon');
    // The control: a GET of the snapshot does read it.
    assert.equal((await req(port, 'GET', '/api/snapshot')).status, 200);
    assert.equal(f.statusCalls(), before + 1);
  });
});

test('web server: without a token only loopback Host names are answered (no DNS rebinding)', async () => {
  await withServer({}, async (port) => {
    assert.equal((await req(port, 'GET', '/', { host: `localhost:${port}` })).status, 200);
    assert.equal((await req(port, 'GET', '/', { host: 'localhost:9999' })).status, 200, 'an SSH tunnel on another port');
    const r = await req(port, 'GET', '/api/snapshot', { host: `evil.example:${port}` });
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.body, /wan1/);
  });
});

test('web server: with a token, 401 without it; bearer and cookie work; ?token= sets the cookie and redirects', async () => {
  await withServer({ token: T }, async (port) => {
    for (const p of ['/', '/app.js', '/vendor/uplot.js', '/api/snapshot', '/api/events', '/nope']) {
      const r = await req(port, 'GET', p);
      assert.equal(r.status, 401, p);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="wanbraid"');
    }
    assert.equal((await req(port, 'GET', '/api/snapshot', { authorization: `Bearer ${T}` })).status, 200);
    assert.equal((await req(port, 'GET', '/api/snapshot', { authorization: `Bearer ${T}`, host: 'router.lan:8787' })).status, 200, 'any Host with the token');
    assert.equal((await req(port, 'GET', '/', { cookie: `wanbraid_token=${T}` })).status, 200);
    const login = await req(port, 'GET', `/?token=${T}`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/');
    assert.deepEqual(login.headers['set-cookie'], [`wanbraid_token=${T}; Path=/; HttpOnly; SameSite=Strict`]);
    assert.equal((await req(port, 'GET', '/?token=aaaaaaaaaaaaaaaaaaaa')).status, 401);
    assert.equal((await req(port, 'POST', '/api/snapshot')).status, 405, 'the method is refused before the token is asked for');
  });
});

test('web server: limits on the target, bodies, headers and open streams', async () => {
  await withServer({ maxSseClients: 2 }, async (port) => {
    assert.equal((await req(port, 'GET', '/?' + 'a'.repeat(3000))).status, 414);
    assert.equal((await req(port, 'GET', '/', { 'content-length': '5' }, 'hello')).status, 413);
    // Headers over 8 KiB: node answers 431 and closes, before any handler.
    const big = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    assert.match(big, /^HTTP\/1\.1 431/);
    const a = await stream(port, {}, () => true);
    const b = await stream(port, {}, () => true);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await stream(port, {}, () => true);
    assert.equal(c.status, 503, 'a third stream is refused');
    a.close();
    // Room again once one closed (the server sees the close asynchronously: wait for it).
    for (;;) {
      const d = await stream(port, {}, () => true);
      d.close();
      if (d.status === 200) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    b.close();
  });
});

test('web server: the snapshot holds history; the stream carries samples, status and events', async () => {
  await withServer({ sampleMs: 30 }, async (port, w, f) => {
    // History accumulates without any page open.
    let snap: { samples: { t: number; links: Record<string, { inBps: number | null; state: string }> }[]; events: unknown[]; status: StatusObject };
    do {
      snap = JSON.parse((await req(port, 'GET', '/api/snapshot')).body) as typeof snap;
    } while (snap.samples.length < 3);
    assert.deepEqual(Object.keys(snap.samples.at(-1)!.links), ['wan1', 'wan2']);
    assert.ok((snap.samples.at(-1)!.links.wan1!.inBps ?? 0) > 0, 'wan1 has throughput');
    assert.equal(snap.samples.at(-1)!.links.wan2!.inBps, 0);
    assert.equal(snap.status.links.length, 2);

    w.publish('plan', { ok: true, why: 'start', durationMs: 3 });
    const got = stream(port, {}, (fr) => fr.some((x) => x.event === 'event' && (JSON.parse(x.data) as { event: string }).event === 'link') && fr.some((x) => x.event === 'status') && fr.some((x) => x.event === 'sample' && (JSON.parse(x.data) as { links: Record<string, { state: string }> }).links.wan1!.state === 'offline'));
    // Once the stream is open (the server counts it), the link goes offline and is published.
    while (w.streams === 0) await new Promise((r) => setTimeout(r, 5));
    f.links[0]!.state = 'offline';
    w.publish('link', { link: 'wan1', state: 'offline', prev: 'online', reason: '3 probe rounds failed' });
    const s = await got;
    s.close();
    const ev = s.frames.filter((x) => x.event === 'event').map((x) => JSON.parse(x.data) as { seq: number; event: string; link?: string });
    assert.deepEqual(
      ev.map((e) => [e.seq, e.event, e.link]),
      [[2, 'link', 'wan1']],
      'only events after the stream opened; the plan before it is in the snapshot',
    );
    const snap2 = JSON.parse((await req(port, 'GET', '/api/snapshot')).body) as { events: { seq: number; event: string }[]; lastPlan: { why: string } };
    assert.deepEqual(snap2.events.map((e) => [e.seq, e.event]), [[1, 'plan'], [2, 'link']]);
    assert.equal(snap2.lastPlan.why, 'start');
  });
});
