/**
 * The exit's test stream and its bounds, over loopback (no root): a real {@link RelayExit} and
 * the entry's speed-test runner, with the exit's test limits lowered so the tests are short.
 * Off unless `relay.exit.speedtest`; a download stops at the exit's byte (and time) cap whatever
 * the entry asks; an upload that outlives its capped time is reset; one test beyond the exit's
 * concurrent limit is refused, and served again once the slot is free (positive control).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseConfigText } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/log.js';
import { realClock } from '../../../src/relay/core/clock.js';
import { Mux } from '../../../src/relay/core/mux.js';
import { RelayExit, type TestLimits } from '../../../src/relay/exit.js';
import { muxTuning } from '../../../src/relay/entry.js';
import { ExitKeys, generateKey, parseKey, peerKey } from '../../../src/relay/key.js';
import { PathDialer } from '../../../src/relay/path-dialer.js';
import { runSpeedTest, type SpeedTestContext } from '../../../src/relay/speedtest.js';
import { TestStreamPort } from '../../../src/relay/test-stream.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const by = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > by) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(speedtest: boolean, limits: TestLimits, paths = 1) {
  const port = await freePort();
  const relay = parseConfigText(`relay:\n  exit:\n    listen: 127.0.0.1:${port}\n    keyFile: /unused\n    allow: ["127.0.0.1:9"]\n    speedtest: ${speedtest}\n`).relay!;
  const psk = parseKey(generateKey()) as Buffer;
  const exit = new RelayExit(relay.exit!, relay.tuning, new ExitKeys(new Map([['e', peerKey(psk)]]), undefined), { logger: silentLogger(), clock: realClock, testLimits: limits });
  await exit.start();
  const ep = { host: '127.0.0.1', port, family: 4 as const };
  const ctx: SpeedTestContext = {
    entryName: 'e',
    exit: ep,
    key: { name: 'e', ...peerKey(psk) },
    tuning: relay.tuning,
    paths: Array.from({ length: paths }, (_, i) => ({ name: `p${i + 1}`, spec: { via: ep } })),
    links: () => new Map(),
    clock: realClock,
    log: silentLogger(),
  };
  return { exit, ctx };
}

const LIMITS: TestLimits = { max: 2, ms: 300, bytes: 256 * 1024, graceMs: 400 };

test('an exit without relay.exit.speedtest refuses the test stream, and the runner says so for every phase', async () => {
  const { exit, ctx } = await setup(false, LIMITS, 2);
  try {
    const r = await runSpeedTest(ctx, 1);
    for (const p of r.paths) {
      for (const d of ['down', 'up'] as const) {
        assert.equal(p[d].bps, undefined);
        assert.match(p[d].error ?? '', /the exit does not serve speed tests \(relay\.exit\.speedtest is off there\)/);
      }
    }
    assert.equal(r.striped?.down.error, 'fewer than two paths worked alone');
    assert.deepEqual(exit.status().tests, { running: 0, served: 0, enabled: false });
  } finally {
    await exit.stop();
  }
});

test('a download stops at the exit\'s byte cap, an upload past its capped time is reset, whatever the entry asks', async () => {
  const { exit, ctx } = await setup(true, LIMITS);
  try {
    const r = await runSpeedTest(ctx, 5); // asks 5 s per phase; the exit allows 300 ms and 256 KiB
    const [p] = r.paths;
    assert.equal(p!.down.bytes, LIMITS.bytes, 'the download is exactly the byte cap');
    // The entry would end its 5 s upload cleanly: the reset is the exit's cap at work.
    assert.match(p!.up.error ?? '', /ran past its time/);
    assert.ok(p!.up.bytes > 0, 'the upload moved bytes before its reset');
    assert.equal(r.striped, undefined, 'one path: no striped phase');
    await until('test streams released', () => exit.status().tests.running === 0);
    assert.equal(exit.status().tests.served, 2);
    await until('test session forgotten', () => exit.status().sessions.length === 0);
  } finally {
    await exit.stop();
  }
});

test('a test beyond the exit\'s concurrent limit is refused; once the slot is free the next one is served', async () => {
  const { exit, ctx } = await setup(true, { max: 1, ms: 60_000, bytes: 64 * 1024, graceMs: 60_000 });
  // A holder: a test upload that sends nothing, so it keeps the exit's only slot.
  let opened = false;
  const mux = new Mux('entry', muxTuning(ctx.tuning), realClock, silentLogger(), { onOpened: () => (opened = true) });
  const d = new PathDialer({ via: ctx.exit }, 0, 'holder', {
    entryName: 'e',
    exit: ctx.exit,
    key: ctx.key,
    session: randomBytes(16),
    window: ctx.tuning.reorderBuffer,
    retryMin: 100,
    retryMax: 1000,
    handshakeTimeout: 3000,
    mux,
    clock: realClock,
    log: silentLogger(),
    random: Math.random,
    onWelcome: () => undefined,
  });
  try {
    d.evaluate(new Map());
    await until('holder path up', () => d.state === 'up');
    const port = new TestStreamPort(realClock, undefined);
    port.bind(mux, mux.openFlow(port, { test: 'up', ms: 60_000 }));
    await until('holder stream opened', () => opened);
    assert.equal(exit.status().tests.running, 1);

    const refused = await runSpeedTest(ctx, 1);
    assert.match(refused.paths[0]!.down.error ?? '', /serving as many speed tests as it allows/);
    assert.equal(exit.status().tests.served, 1, 'only the holder was served');

    d.stop('done');
    mux.close();
    await until('holder released', () => exit.status().tests.running === 0);
    const served = await runSpeedTest(ctx, 1);
    assert.equal(served.paths[0]!.down.bytes, 64 * 1024, 'positive control: with the slot free the download is served');
  } finally {
    d.stop('done');
    mux.close();
    await exit.stop();
  }
});
