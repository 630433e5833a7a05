/** `wanbraid speedtest`: its arguments, its table and JSON, its progress line, and its exit codes against a control socket. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { parseSpeedTestArgs } from '../../../src/cli/commands/speedtest.js';
import { formatMbps, formatSpeedTest, progressLine, speedTestComplete, speedTestSummary } from '../../../src/cli/format-speedtest.js';
import { StatusServer } from '../../../src/status/server.js';
import { silentLogger } from '../../../src/log.js';
import { UsageError } from '../../../src/errors.js';
import type { SpeedTestResult } from '../../../src/relay/speedtest-plan.js';

const RESULT: SpeedTestResult = {
  entry: 'lanrelay',
  time: '2026-12-08T00:30:00.000Z',
  seconds: 4,
  paths: [
    { path: 'wan1', link: 'wan1', down: { bps: 19.05e6, meanBps: 19e6, bytes: 9e6 }, up: { bps: 18.9e6, meanBps: 18.8e6, bytes: 9e6 } },
    { path: 'wan2', link: 'wan2', down: { bps: 19.1e6, meanBps: 19e6, bytes: 9e6 }, up: { bps: 19e6, meanBps: 19e6, bytes: 9e6 } },
  ],
  striped: { paths: ['wan1', 'wan2'], down: { bps: 37.8e6, meanBps: 37e6, bytes: 18e6, share: 0.9909 }, up: { bps: 37.1e6, meanBps: 37e6, bytes: 18e6, share: 0.98 } },
};

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
  return { code, out, err };
}

test('arguments: defaults, and clear usage errors for a bad --seconds or an empty --entry', async () => {
  assert.deepEqual(parseSpeedTestArgs([]), { entry: undefined, seconds: 4, json: false, socket: undefined, config: undefined });
  assert.deepEqual(parseSpeedTestArgs(['--entry', 'e', '-t', '2.5', '--json', '-s', '/x']), { entry: 'e', seconds: 2.5, json: true, socket: '/x', config: undefined });
  for (const bad of ['0', '21', 'fast', '']) {
    assert.throws(() => parseSpeedTestArgs(['--seconds', bad]), (e: unknown) => e instanceof UsageError && /--seconds must be a number from 1 to 20, got "/.test(e.message));
  }
  assert.throws(() => parseSpeedTestArgs(['--entry', '']), /--entry needs a relay entry name/);
  const r = await cli('speedtest', '--seconds', '99');
  assert.equal(r.code, 2);
  assert.match(r.err, /wanbraid speedtest: --seconds must be a number from 1 to 20, got "99"/);
  assert.equal((await cli('speedtest', 'extra')).code, 2);
  assert.equal((await cli('speedtest', '--bogus')).code, 2);
});

test('the table: each path down and up, the striped rates with their share of the sum, the errors listed', () => {
  assert.equal(
    formatSpeedTest(RESULT),
    [
      'speed test of relay entry lanrelay, 4 s per phase, 2026-12-08T00:30:00.000Z',
      'PATH                 LINK  DOWNLOAD                       UPLOAD',
      'wan1                 wan1  19.05 Mbit/s                   18.90 Mbit/s',
      'wan2                 wan2  19.10 Mbit/s                   19.00 Mbit/s',
      'striped (wan1+wan2)        37.80 Mbit/s (99% of the sum)  37.10 Mbit/s (98% of the sum)',
    ].join('\n'),
  );
  assert.equal(speedTestComplete(RESULT), true);
  const failed: SpeedTestResult = { ...RESULT, paths: [{ ...RESULT.paths[0]!, up: { bytes: 0, error: 'path wan1 did not come up: link wan1 is offline' } }], striped: undefined };
  assert.equal(speedTestComplete(failed), false);
  assert.match(formatSpeedTest(failed), /\nwan1 +wan1 +19\.05 Mbit\/s +failed\nwan1 upload: path wan1 did not come up: link wan1 is offline$/);
  assert.equal(formatMbps(250e6), '250 Mbit/s');
  assert.equal(formatMbps(undefined), '-');
  assert.equal(
    speedTestSummary(RESULT),
    'last speed test (entry lanrelay, 2026-12-08T00:30:00.000Z), Mbit/s down/up: wan1 19.1/18.9, wan2 19.1/19.0, striped 37.8/37.1 (99%/98% of the sum)',
  );
});

test('the progress line: a bar, the percentage, the phase and its rate so far', () => {
  assert.equal(progressLine({ phase: 0, phases: 6, label: 'wan1 download', done: 0 }, 10), '[>         ]   0%  wan1 download');
  assert.equal(progressLine({ phase: 2, phases: 6, label: 'wan2 download', done: 0.45, bps: 18.9e6 }, 10), '[====>     ]  45%  wan2 download  18.90 Mbit/s');
  assert.equal(progressLine({ phase: 5, phases: 6, label: 'striped upload', done: 1 }, 10), '[==========] 100%  striped upload');
});

test('against a control socket: the result as a table or JSON, exit 1 when a phase failed or the daemon refuses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-speedtest-'));
  let reply: Record<string, unknown> | Error = { result: RESULT };
  const asked: unknown[] = [];
  const server = new StatusServer({
    path: join(dir, 's.sock'),
    logger: silentLogger(),
    peer: () => ({ pid: 1, uid: 0, gid: 0, groups: [] }),
    handler: (req) => {
      asked.push(req);
      if (reply instanceof Error) throw reply;
      return reply;
    },
  });
  await server.start();
  try {
    const sock = join(dir, 's.sock');
    const t = await cli('speedtest', '-s', sock, '--entry', 'lanrelay', '--seconds', '3');
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^striped \(wan1\+wan2\) +37\.80 Mbit\/s \(99% of the sum\)/m);
    assert.deepEqual(asked[0], { cmd: 'speedtest', entry: 'lanrelay', seconds: 3 });
    const j = await cli('speedtest', '-s', sock, '--json');
    assert.equal(j.code, 0);
    assert.deepEqual(JSON.parse(j.out), RESULT);
    assert.deepEqual(asked[1], { cmd: 'speedtest', seconds: 4 });
    reply = { result: { ...RESULT, striped: { ...RESULT.striped!, up: { bytes: 0, error: 'the test stream failed (timeout)' } } } };
    const f = await cli('speedtest', '-s', sock);
    assert.equal(f.code, 1, 'a failed phase exits 1');
    assert.match(f.out, /striped upload: the test stream failed \(timeout\)/);
    reply = new (await import('../../../src/errors.js')).WanbraidError('WB_BUSY', 'speedtest: a speed test is already running; wait for it to finish');
    const b = await cli('speedtest', '-s', sock);
    assert.equal(b.code, 1);
    assert.match(b.err, /wanbraid speedtest: speedtest: a speed test is already running/);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
