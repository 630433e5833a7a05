/**
 * The control socket server on a temporary unix socket (no root needed): garbage, oversized lines
 * and unknown commands get error replies while the connection stays usable; many clients at once;
 * subscribers receive events; a throwing handler becomes an error reply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { MAX_QUEUED_REQUESTS, MAX_UNREAD_BYTES, StatusServer, socketPeer } from '../../../src/status/server.js';
import { DEFAULT_ADDON_PATH, type PeerCredentials } from '../../../src/native/addon.js';
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
      // This process on both ends: the daemon's own uid may do everything.
      peer: () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups: [] }),
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

async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a client that pipelines 100k requests and never reads: bounded queue and unread replies; others are still served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  // Replies of about 2 KiB, like a real status object: unbounded, 100k of them would be ~200 MiB.
  const pad = 'x'.repeat(2000);
  let answered = 0;
  const server = new StatusServer({
    path,
    logger: silentLogger(),
    peer: () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups: [] }),
    handler: () => {
      answered++;
      return { status: { pad } };
    },
  });
  await server.start();
  const heapBefore = process.memoryUsage().heapUsed;
  // The flooder is another process, so its own send buffer is not counted in this heap.
  const flooder = spawn(
    process.execPath,
    ['-e', `const s=require('net').connect(process.argv[1]);s.on('connect',()=>{s.write('{"cmd":"status"}\\n'.repeat(100000));process.stdout.write('sent\\n')});s.on('error',()=>{});setInterval(()=>{},1e6);`, path],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await waitFor('the flooder to connect', () => server.clientCount === 1);
    const lineBytes = '{"cmd":"status"}\n'.length;
    // One chunk read before the pause can hold at most 64 KiB of lines.
    const maxQueued = MAX_QUEUED_REQUESTS + Math.ceil((64 * 1024) / lineBytes);
    const maxUnread = MAX_UNREAD_BYTES + 4096;
    let worst = { queued: 0, unreadBytes: 0 };
    const check = () => {
      for (const l of server.clientLoads()) {
        worst = { queued: Math.max(worst.queued, l.queued), unreadBytes: Math.max(worst.unreadBytes, l.unreadBytes) };
        assert.ok(l.queued <= maxQueued, `queued ${l.queued} > ${maxQueued}`);
        assert.ok(l.unreadBytes <= maxUnread, `unread ${l.unreadBytes} > ${maxUnread}`);
      }
    };
    // Until the server stops reading from it: it waits for the flooder to read its replies.
    await waitFor('the server to pause the flooder', () => {
      check();
      return server.clientLoads().some((l) => l.paused && l.unreadBytes > MAX_UNREAD_BYTES);
    });
    check();
    const stalledAt = answered;
    // Meanwhile another client is served.
    assert.deepEqual(await request(path, { cmd: 'ping', id: 'other' }), { ok: true, id: 'other', status: { pad } });
    check();
    assert.ok(answered <= stalledAt + 1, 'the flooder got no further while it did not read');
    assert.ok(stalledAt < 100_000 / 10, `answered ${stalledAt} of the flood before stalling`);
    const grewMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    assert.ok(grewMiB < 48, `heap grew by ${grewMiB.toFixed(1)} MiB`);
    assert.ok(worst.unreadBytes > 0 && worst.queued > 0, 'positive control: the bounds were reached');
  } finally {
    flooder.kill('SIGKILL');
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a client that reads slowly still gets every reply, in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  const server = new StatusServer({
    path,
    logger: silentLogger(),
    peer: () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups: [] }),
    maxQueuedRequests: 4,
    maxUnreadBytes: 8 * 1024,
    handler: () => ({ pad: 'y'.repeat(1000) }),
  });
  await server.start();
  try {
    const n = 2000;
    const ids = await new Promise<number[]>((resolve, reject) => {
      const s = connect(path);
      const got: number[] = [];
      let buf = '';
      s.on('error', reject);
      s.on('data', (b: Buffer) => {
        buf += b.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) got.push((JSON.parse(l) as { id: number }).id);
        if (got.length === n) {
          clearInterval(sip);
          s.destroy();
          resolve(got);
        }
      });
      // Read in sips: paused, then resumed for one turn of the event loop every few ms, so the
      // server has to wait for this client again and again.
      s.pause();
      const sip = setInterval(() => {
        s.resume();
        setImmediate(() => s.pause());
      }, 2);
      s.write(Array.from({ length: n }, (_, i) => `{"cmd":"status","id":${i}}\n`).join(''));
    });
    assert.deepEqual(ids, Array.from({ length: n }, (_, i) => i));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('past maxClients a new connection gets a WB_BUSY line and is closed; the others keep working', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  const server = new StatusServer({ path, logger: silentLogger(), maxClients: 2, peer: () => ({ pid: 1, uid: 0, gid: 0, groups: [] }), handler: () => ({ pong: true }) });
  await server.start();
  const held = [connect(path), connect(path)];
  try {
    await waitFor('two clients', () => server.clientCount === 2);
    const third = await new Promise<string>((resolve) => {
      const s = connect(path);
      let data = '';
      s.on('data', (b: Buffer) => (data += b.toString()));
      s.on('error', () => undefined);
      s.on('close', () => resolve(data));
    });
    assert.equal((JSON.parse(third) as { error: { code: string } }).error.code, 'WB_BUSY');
    assert.equal(server.clientCount, 2);
    // Positive control: the held clients are served.
    const reply = await new Promise<string>((resolve) => {
      held[0]!.once('data', (b: Buffer) => resolve(b.toString()));
      held[0]!.write('{"cmd":"ping"}\n');
    });
    assert.deepEqual(JSON.parse(reply), { ok: true, pong: true });
  } finally {
    held.forEach((h) => h.destroy());
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('roles: a client outside the control group can read but not change state; a member can', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  let peer = { pid: 1, uid: 1234, gid: 1234, groups: [100] };
  const calls: string[] = [];
  const server = new StatusServer({
    path,
    controlGroup: '4242',
    logger: silentLogger(),
    peer: () => peer,
    handler: (req) => {
      calls.push(req.cmd === 'set' ? `set ${req.op}` : req.cmd);
      return { done: true };
    },
  });
  await server.start();
  try {
    assert.deepEqual(await request(path, { cmd: 'status' }), { ok: true, done: true });
    assert.deepEqual(await request(path, { cmd: 'set', set: 'cdn', op: 'list' }), { ok: true, done: true });
    for (const req of [{ cmd: 'link', link: 'wan1', action: 'down' }, { cmd: 'reload' }, { cmd: 'set', set: 'cdn', op: 'add', elements: ['198.19.0.1'] }, { cmd: 'set', set: 'cdn', op: 'flush' }]) {
      const r = await request(path, req);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.error.code, 'WB_PERMISSION');
        assert.match(r.error.message, /^permission denied: ".+" changes the daemon's state; allowed for root and members of status\.controlGroup "4242", this client is uid 1234/);
      }
    }
    assert.deepEqual(calls, ['status', 'set list'], 'refused requests never reach the handler');
    // A supplementary member of the control group, then a primary one, then root.
    for (const p of [{ pid: 1, uid: 1234, gid: 1234, groups: [100, 4242] }, { pid: 1, uid: 1234, gid: 4242, groups: [] }, { pid: 1, uid: 0, gid: 0, groups: [] }]) {
      peer = p;
      assert.deepEqual(await request(path, { cmd: 'link', link: 'wan1', action: 'down' }), { ok: true, done: true });
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('roles: credentials that cannot be read refuse control requests (fail closed)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  const server = new StatusServer({
    path,
    logger: silentLogger(),
    peer: () => {
      throw new Error('no addon');
    },
    handler: () => ({ done: true }),
  });
  await server.start();
  try {
    assert.deepEqual(await request(path, { cmd: 'ping' }), { ok: true, done: true });
    const r = await request(path, { cmd: 'reload' });
    assert.ok(!r.ok && r.error.code === 'WB_PERMISSION' && /credentials cannot be read \(no addon\); allowed for root/.test(r.error.message));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('roles: the real peer credentials (native addon) name this process', { skip: !existsSync(DEFAULT_ADDON_PATH) && 'the addon is not built' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  const path = join(dir, 'wanbraid.sock');
  let seen: PeerCredentials | undefined;
  const server = new StatusServer({
    path,
    logger: silentLogger(),
    peer: (sock) => (seen = socketPeer(sock)),
    handler: () => ({ done: true }),
  });
  await server.start();
  try {
    assert.deepEqual(await request(path, { cmd: 'reload' }), { ok: true, done: true });
    const p = seen!;
    assert.equal(p.pid, process.pid);
    assert.equal(p.uid, process.getuid!());
    assert.equal(p.gid, process.getgid!());
    assert.deepEqual([...p.groups].sort(), [...process.getgroups!()].filter((g) => g !== process.getegid!() || p.groups.includes(g)).sort());
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown status.controlGroup refuses the start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-test-'));
  try {
    const server = new StatusServer({ path: join(dir, 's.sock'), controlGroup: 'no-such-group-wb', logger: silentLogger(), handler: () => ({}) });
    await assert.rejects(server.start(), { code: 'WB_CONFIG_INVALID', message: 'status.controlGroup: unknown group "no-such-group-wb"' });
    assert.ok(!existsSync(join(dir, 's.sock')), 'nothing listens');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
