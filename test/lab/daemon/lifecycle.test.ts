/**
 * Daemon lifecycle in a router namespace:
 *
 *   [ wanbraid-<id>-router: lan0, wan1, wan2, wan3 (veth, peers in the same namespace) ]  ← bin/wanbraid run -c <tmp>/wanbraid.yaml
 *
 * Start, status over the socket, reload with a valid and an invalid file (refused, the running
 * config stays), SIGTERM (exit 0, socket gone), and refusal to start on an invalid config.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { NamespaceSet } from '../../../src/lab/netns.js';
import { DaemonProcess, exampleRouterNamespace, statusOf } from '../harness/daemon.js';
import type { StatusObject } from '../../../src/status/types.js';
import { spawnSync } from 'node:child_process';
import { NotifySink } from '../harness/notify-sink.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;

let set: NamespaceSet;
before(async () => {
  set = await exampleRouterNamespace();
});
after(async () => {
  await set?.destroy();
});

test('start, status, reload (valid and invalid), clean stop', async () => {
  const d = await DaemonProcess.start(set.ns('router'), EXAMPLE);
  try {
    const r = await d.request({ cmd: 'status' });
    assert.equal(r.ok, true);
    const st = statusOf(r);
    assert.deepEqual(
      st.links.map((l) => [l.name, l.interface, l.configuredWeight]),
      [
        ['wan1', 'wan1', 5],
        ['wan2', 'wan2', 3],
        ['wan3', 'wan3', 2],
      ],
    );
    for (const l of st.links) {
      assert.ok(['probing', 'online', 'degraded', 'offline', 'disabled'].includes(l.state));
      assert.ok(!Number.isNaN(Date.parse(l.since)));
    }

    // A valid change is applied on SIGHUP.
    const mark = d.logs.length;
    d.writeConfig(EXAMPLE.replace('weight: 2', 'weight: 7'));
    d.signal('SIGHUP');
    await d.waitForLog((l) => l.msg === 'reloaded', 15_000, mark);
    const r2 = statusOf(await d.request({ cmd: 'status' }));
    assert.equal(r2.links[2]!.configuredWeight, 7);

    // An invalid one is refused, logged with its problems, and the running config stays.
    const mark2 = d.logs.length;
    d.writeConfig(EXAMPLE.replace('gateway: 198.18.2.254', 'gateway: 198.18.2'));
    d.signal('SIGHUP');
    const refused = await d.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'), 15_000, mark2);
    assert.deepEqual(refused.issues, ['links[1].gateway: expected an IPv4 or IPv6 address, got "198.18.2"']);
    const r3 = statusOf(await d.request({ cmd: 'status' }));
    assert.equal(r3.links[2]!.configuredWeight, 7);
    assert.equal(r3.links.length, 3);

    // The CLI renders the table from the same socket.
    const cli = spawnSync(BIN, ['status', '-s', d.socketPath], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^LINK\s+DEVICE\s+STATE\s+SINCE\s+RTT\s+LOSS\s+JITTER\s+TARGETS\s+WEIGHT\s+FLOWS\s+BYTES\s+REASON/m);
    assert.match(cli.stdout, /^wan3\s+wan3\s+\S+/m);
    const json = spawnSync(BIN, ['status', '--json', '-s', d.socketPath], { encoding: 'utf8' });
    assert.equal((JSON.parse(json.stdout) as StatusObject).links.length, 3);

    assert.equal(await d.stop(), 0);
    assert.equal(existsSync(d.socketPath), false, 'the socket file is removed on stop');
    assert.ok(d.logs.some((l) => l.msg === 'stopped'));
  } finally {
    await d.stop();
    d.cleanup();
  }
});

test('an invalid config: refuses to start, exit 1, every problem on stderr, nothing created', async () => {
  const bad = EXAMPLE.replace('weight: 5', 'weight: lots').replace('policy: balanced', 'policy: balancd');
  const d = await DaemonProcess.start(set.ns('router'), bad, { waitReady: false });
  try {
    assert.equal(await d.done, 1);
    const err = d.stderr.join('');
    assert.match(err, /refusing to start/);
    assert.match(err, /links\[0\]\.weight: expected a number, got "lots"/);
    assert.match(err, /rules\[1\]\.policy: unknown policy "balancd" \(did you mean "balanced"\?\)/);
    assert.equal(existsSync(d.socketPath), false);
  } finally {
    d.cleanup();
  }
});

test('systemd notifications: READY=1 after start, WATCHDOG=1 when asked for, RELOADING=1 and STOPPING=1', async () => {
  const sink = await NotifySink.start();
  const d = await DaemonProcess.start(set.ns('router'), EXAMPLE, { env: { NOTIFY_SOCKET: sink.path, WATCHDOG_USEC: '400000' } });
  try {
    await sink.waitFor((m) => m.split('\n').includes('READY=1'));
    const ready = sink.messages.find((m) => m.includes('READY=1'))!;
    assert.ok(ready.split('\n').includes(`MAINPID=${d.pid}`), ready);
    // READY=1 only once the first plan is in the kernel.
    assert.match(ready, /STATUS=3 links, plan applied/);
    assert.match(spawnSync('ip', ['netns', 'exec', set.ns('router'), 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout, /table inet wanbraid/);
    await sink.waitFor((m) => m === 'WATCHDOG=1');
    d.signal('SIGHUP');
    await sink.waitFor((m) => m.startsWith('RELOADING=1\nMONOTONIC_USEC='));
    assert.equal(await d.stop(), 0);
    await sink.waitFor((m) => m === 'STOPPING=1');
  } finally {
    await d.stop();
    d.cleanup();
    sink.stop();
  }
});

test('SIGTERM while starting: a clean exit 0 and nothing left behind', async () => {
  const d = await DaemonProcess.start(set.ns('router'), EXAMPLE, { waitReady: false });
  try {
    await d.waitForLog((l) => l.msg === 'starting', 10_000);
    d.signal('SIGTERM');
    assert.equal(await d.done, 0, d.stderr.join(''));
    const ns = set.ns('router');
    const rules = spawnSync('ip', ['netns', 'exec', ns, 'ip', 'rule'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(rules, /^20\d{3}:/m, rules);
    assert.doesNotMatch(spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout, /wanbraid/);
    assert.equal(existsSync(d.socketPath), false);
  } finally {
    await d.stop();
    d.cleanup();
  }
});
