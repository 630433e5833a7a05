/**
 * `wanbraid speedtest` through the real daemons and the CLI: the router's daemon runs the
 * example's links and a relay entry with one path per WAN link (wan1, wan2), an exit-only daemon
 * in inet serves the test stream (`relay.exit.speedtest: true`). Every lab link is shaped to
 * 20 Mbit/s each way (tbf), so each path alone must be found near 20 Mbit/s and one flow
 * striped over both near the sum.
 *
 *   router [wanbraid: entry lanrelay, metrics] ═╦═ wan1 ═ isp1 (20 Mbit/s) ═╗
 *        ▲ wanbraid speedtest (control socket)  ╚═ wan2 ═ isp2 (20 Mbit/s) ═╩═ inet [wanbraid: exit :7000, speedtest on]
 *
 * Then the exit turns the test stream off (reload): the same command fails, saying so (the
 * absence, after the positive run above).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../../src/lab/lab.js';
import { generateKey } from '../../../src/relay/key.js';
import type { SpeedTestResult } from '../../../src/relay/speedtest-plan.js';
import type { RelayStatus } from '../../../src/relay/relay.js';
import { DaemonProcess, statusOf, stopAndClean } from '../harness/daemon.js';
import { exitOnlyConfig, lanRelayEntry, waitBothPathsUp } from './relay-daemons.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const BIN = fileURLToPath(new URL('../../../../bin/wanbraid', import.meta.url));
const RATE = 20e6;
const SECONDS = 4;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('wanbraid speedtest finds each 20 Mbit/s lab link within 10 % and a striped flow at 90 % of their sum or more; refused once the exit turns it off', async () => {
  const lab = await Lab.up({ links: 3, rates: ['20mbit', '20mbit', '20mbit'] });
  const key = join(lab.dir, 'relay.key');
  writeFileSync(key, generateKey() + '\n', { mode: 0o600 });
  const router = EXAMPLE.concat('metrics:\n  listen: 127.0.0.1:9780\n', lanRelayEntry(lab, key));
  const exitOn = exitOnlyConfig(lab, key, [`${lab.addr.inet.server4}:5300`]).concat('    speedtest: true\n');
  let entry: DaemonProcess | undefined;
  let exit: DaemonProcess | undefined;
  try {
    exit = await DaemonProcess.start(lab.ns('inet'), exitOn);
    entry = await DaemonProcess.start(lab.ns('router'), router);
    await waitBothPathsUp(entry);

    const run = await cli(['speedtest', '--json', '--seconds', String(SECONDS), '-s', entry.socketPath]);
    assert.equal(run.code, 0, `speedtest exit status (stderr: ${run.stderr})`);
    assert.equal(run.stderr, '', 'no progress bar when stderr is not a terminal');
    const r = JSON.parse(run.stdout) as SpeedTestResult;
    const mbps = (v: number | undefined) => (v === undefined ? 'none' : (v / 1e6).toFixed(2));
    const summary = `${r.paths.map((p) => `${p.path} ${mbps(p.down.bps)}/${mbps(p.up.bps)}`).join(', ')}, striped ${mbps(r.striped?.down.bps)}/${mbps(r.striped?.up.bps)} Mbit/s`;
    const means = r.paths.map((p) => `${p.path} ${mbps(p.down.meanBps)}/${mbps(p.up.meanBps)}`).join(', ');
    console.log(`speedtest: ${summary}; striped share ${r.striped?.down.share?.toFixed(3)}/${r.striped?.up.share?.toFixed(3)}; plain means ${means}, striped ${mbps(r.striped?.down.meanBps)}/${mbps(r.striped?.up.meanBps)}`);
    assert.deepEqual(r.paths.map((p) => p.path), ['wan1', 'wan2']);
    for (const p of r.paths) {
      for (const d of ['down', 'up'] as const) {
        const bps = p[d].bps;
        assert.ok(bps !== undefined, `${p.path} ${d}: ${p[d].error}`);
        assert.ok(Math.abs(bps - RATE) <= 0.1 * RATE, `${p.path} ${d}: ${mbps(bps)} Mbit/s found for a 20 Mbit/s link (${summary})`);
      }
    }
    assert.ok(r.striped, 'a striped phase');
    assert.deepEqual(r.striped.paths, ['wan1', 'wan2']);
    for (const d of ['down', 'up'] as const) {
      const s = r.striped[d];
      assert.ok(s.bps !== undefined && s.share !== undefined, `striped ${d}: ${s.error}`);
      const sum = r.paths.reduce((a, p) => a + p[d].bps!, 0);
      assert.ok(Math.abs(s.share - s.bps / sum) < 1e-9, 'share is striped over the sum');
      assert.ok(s.share >= 0.9, `striped ${d} ${mbps(s.bps)} Mbit/s is ${(s.share * 100).toFixed(1)} % of the sum (${summary})`);
    }

    // The last result is in status, and in the metrics.
    const st = statusOf(await entry.request({ cmd: 'status' }));
    assert.deepEqual(st.speedtest, r);
    const human = await cli(['status', '-s', entry.socketPath]);
    assert.match(human.stdout, /last speed test \(entry lanrelay, .*wan1 \d+\.\d\/\d+\.\d, wan2 .*striped/);
    const metrics = await lab.exec('router', [process.execPath, '-e', "fetch('http://127.0.0.1:9780/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
    for (const p of r.paths) {
      const line = `wanbraid_speedtest_path_bytes_per_second{entry="lanrelay",path="${p.path}",direction="down"} ${p.down.bps! / 8}`;
      assert.ok(metrics.stdout.includes(line), `metrics hold ${line}`);
    }
    assert.match(metrics.stdout, /^wanbraid_speedtest_striped_share_ratio\{entry="lanrelay",direction="up"\} 0\.9\d*|^wanbraid_speedtest_striped_share_ratio\{entry="lanrelay",direction="up"\} 1/m);
    // The exit forgets each test session when its paths go (the GOAWAY of the last one may still be on
    // its way): only the entry's own session is left, its two paths untouched by the test.
    const exitRelay = async () => (statusOf(await exit!.request({ cmd: 'status' })).relay as RelayStatus).exit!;
    for (let i = 0; i < 50 && (await exitRelay()).sessions.length > 1; i++) await new Promise((res) => setTimeout(res, 100));
    const x = await exitRelay();
    assert.equal(x.sessions.length, 1, `test sessions are forgotten when their paths go: ${JSON.stringify(x.sessions)}`);
    assert.deepEqual(x.sessions[0]!.paths.map((p) => `${p.name} ${p.state}`).sort(), ['wan1 up', 'wan2 up']);
    assert.ok(x.sessions[0]!.paths.every((p) => p.forMs > 4 * SECONDS * 1000), 'the entry\'s own paths stayed up through the test');
    assert.equal(x.tests.served, 6, 'the exit served six test streams');
    assert.equal(x.tests.running, 0);

    // The exit stops serving test streams: the same command fails and says why.
    exit.writeConfig(exitOn.replace('    speedtest: true\n', ''));
    const reload = await exit.request({ cmd: 'reload' });
    assert.equal(reload.ok, true);
    const off = await cli(['speedtest', '--seconds', '1', '-s', entry.socketPath]);
    assert.equal(off.code, 1, 'a refused test exits 1');
    assert.match(off.stdout, /wan1 download: the exit does not serve speed tests \(relay\.exit\.speedtest is off there\)/);
    assert.equal(statusOf(await entry.request({ cmd: 'status' })).relay !== undefined, true);

    assert.equal(await entry.stop(), 0);
    assert.equal(await exit.stop(), 0);
  } finally {
    await stopAndClean(entry, exit);
    await lab.down();
  }
});
