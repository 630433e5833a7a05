/**
 * The control socket server on a temporary unix socket (no root needed): garbage, oversized lines
 * and unknown commands get error replies while the connection stays usable; many clients at once;
 * subscribers receive events; a throwing handler becomes an error reply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { StatusServer } from '../../../src/status/server.js';
import { request, subscribe } from '../../../src/status/client.js';
import { silentLogger } from '../../../src/log.js';
import { WanbraidError } from '../../../src/errors.js';

function withServer(fn: (server: StatusServer, path: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
    const path = join(dir, 'sub', 'wanbraid.sock');
    const server = new StatusServer({
      path,
      logger: silentLogger(),
      handler: async (req) => {
        if (req.cmd === 'status') return { status: { links: [] } };
        if (req.cmd === 'link') throw new WanbraidError('WB_REQUEST_INVALID', `unknown link "${req.link}"`);
        if (req.cmd === 'reload') throw new Error('boom');
        return { pong: true };
      },
    });
    await server.start();
    try {
      await fn(server, path);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Send raw bytes and collect `n` reply lines. */
function raw(path: string, bytes: Buffer | string, n: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= n) {
        s.destroy();
        resolve(lines.map((l) => JSON.parse(l) as Record<string, unknown>));
      }
    });
    s.on('error', reject);
    s.write(bytes);
  });
}

test(
  'socket file is created with mode 0660 in a new directory',
  withServer(async (_s, path) => {
    assert.equal(statSync(path).mode & 0o777, 0o660);
  }),
);

test(
  'garbage, oversized lines and unknown commands get error replies; the connection keeps working',
  withServer(async (_s, path) => {
    const big = 'x'.repeat(200 * 1024);
    const replies = await raw(path, `garbage\n${big}\n{"cmd":"fly"}\n\u0000\u00ff\n{"cmd":"ping","id":9}\n`, 5);
    assert.equal(replies.length, 5);
    assert.deepEqual(
      replies.map((r) => r.ok),
      [false, false, false, false, true],
    );
    assert.match(String((replies[1]!.error as { message: string }).message), /longer than/);
    assert.match(String((replies[2]!.error as { message: string }).message), /unknown command "fly"/);
    assert.equal(replies[4]!.id, 9);
  }),
);

test(
  'handler errors become error replies with their code; unexpected errors too',
  withServer(async (_s, path) => {
    const r1 = await request(path, { cmd: 'link', link: 'wan9', action: 'down' });
    assert.deepEqual(r1, { ok: false, error: { code: 'WB_REQUEST_INVALID', message: 'unknown link "wan9"' } });
    const r2 = await request(path, { cmd: 'reload' });
    assert.equal(r2.ok, false);
    const r3 = await request(path, { cmd: 'status' });
    assert.deepEqual(r3, { ok: true, status: { links: [] } });
  }),
);

test(
  'many clients at once each get their own replies',
  withServer(async (server, path) => {
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => raw(path, `{"cmd":"ping","id":${i}}\n{"cmd":"status","id":${i}}\n`, 2)));
    replies.forEach((pair, i) => {
      assert.deepEqual(
        pair.map((r) => r.id),
        [i, i],
      );
      assert.equal(pair[1]!.ok, true);
    });
    assert.ok(server.clientCount <= 50);
  }),
);

test(
  'subscribers receive published events',
  withServer(async (server, path) => {
    const ac = new AbortController();
    const got: Record<string, unknown>[] = [];
    const it = subscribe(path, ac.signal);
    const first = await it.next();
    assert.deepEqual(first.value, { ok: true, subscribed: true });
    server.publish('link', { link: 'wan1', state: 'offline', prev: 'online' });
    const ev = await it.next();
    got.push(ev.value as Record<string, unknown>);
    ac.abort();
    await it.return(undefined);
    assert.equal(got[0]!.event, 'link');
    assert.equal(got[0]!.state, 'offline');
    assert.match(String(got[0]!.time), /^\d{4}-\d\d-\d\dT/);
  }),
);

test('a second server on a live socket is refused; a stale socket file is replaced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 's.sock');
  const mk = () => new StatusServer({ path, logger: silentLogger(), handler: () => ({}) });
  const a = mk();
  await a.start();
  try {
    await assert.rejects(mk().start(), /another daemon is listening/);
  } finally {
    await a.stop();
  }
  // Simulate a crash: a socket file left behind that nobody listens on.
  const { spawnSync } = await import('node:child_process');
  spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  assert.ok(statSync(path).isSocket(), 'a stale socket file exists');
  const b = mk();
  await b.start();
  assert.deepEqual(await request(path, { cmd: 'ping' }), { ok: true });
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});
