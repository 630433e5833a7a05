/**
 * The hand-off from the per-flow balancer to the striping relay, all through real daemons:
 * the router's daemon runs the example's links plus a transparent relay entry and a rule that
 * sends LAN TCP to port 5300 to it (a `relay` policy); a second daemon in the internet namespace
 * runs only the exit (a config with no links). Nothing but the two config files sets this up.
 *
 *   client ──(dst 198.19.0.10:5300 or [2001:db8:ffff::10]:5300)──► router [wanbraid: nft redirect → entry :30010]
 *                                         ═╦═ wan1 ═ isp1 ═╗
 *                                          ╚═ wan2 ═ isp2 ═╩═ inet [wanbraid: exit :7000] → target :5300
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_SCRIPT, Lab } from '../../../src/lab/lab.js';
import { generateKey } from '../../../src/relay/key.js';
import type { RelayStatus } from '../../../src/relay/relay.js';
import { DaemonProcess, statusOf, stopAndClean } from '../harness/daemon.js';
import { patternSha, type ClientResult } from '../relay/helpers.js';
import { exitOnlyConfig, lanRelayEntry, waitBothPathsUp } from './relay-daemons.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const TRANSFER = fileURLToPath(new URL('../relay/transfer.js', import.meta.url));
const MB = 1 << 20;

test('a relay policy hands matching LAN connections to the entry; the exit-only daemon relays them to their destination, IPv4 and IPv6', async () => {
  const lab = await Lab.up({ links: 3, rates: ['20mbit', '20mbit', '20mbit'] });
  const key = join(lab.dir, 'relay.key');
  writeFileSync(key, generateKey() + '\n', { mode: 0o600 });
  const inet = lab.addr.inet;
  const router = EXAMPLE.replace('policies:\n', 'policies:\n  bulk-relay:\n    relay: lanrelay\n')
    .replace('rules:\n', 'rules:\n  - name: bulk\n    match: { proto: tcp, dstPort: [5300] }\n    policy: bulk-relay\n')
    .concat(lanRelayEntry(lab, key));
  const exitOnly = exitOnlyConfig(lab, key, [`${inet.server4}:5300`, `[${inet.server6}]:5300`]);
  const target = lab.spawn('inet', [process.execPath, TRANSFER, 'target', '5300', String(4 * MB)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let entry: DaemonProcess | undefined;
  let exit: DaemonProcess | undefined;
  try {
    await new Promise<void>((r) => target.stdout!.once('data', () => r()));
    exit = await DaemonProcess.start(lab.ns('inet'), exitOnly);
    assert.deepEqual(statusOf(await exit.request({ cmd: 'status' })).links, [], 'the exit runs with no links');
    entry = await DaemonProcess.start(lab.ns('router'), router);
    await waitBothPathsUp(entry);

    const r = await lab.exec('client', [process.execPath, TRANSFER, 'client', inet.server4, '5300', String(MB), '21', String(4 * MB)], { timeoutMs: 60_000 });
    const res = JSON.parse(r.stdout) as ClientResult;
    assert.equal(res.error, undefined);
    assert.equal(res.replySha, patternSha(1000, 4 * MB), 'download exact');
    assert.equal(res.trailer, patternSha(21, MB), 'upload exact');

    // The same over IPv6: the redirect, the original destination and the exit's connect are per family.
    const r6 = await lab.exec('client', [process.execPath, TRANSFER, 'client', inet.server6, '5300', String(MB), '22', String(4 * MB)], { timeoutMs: 60_000 });
    const res6 = JSON.parse(r6.stdout) as ClientResult;
    assert.equal(res6.error, undefined);
    assert.equal(res6.replySha, patternSha(1000, 4 * MB), 'IPv6 download exact');
    assert.equal(res6.trailer, patternSha(22, MB), 'IPv6 upload exact');

    const st = statusOf(await entry.request({ cmd: 'status' }));
    const e = (st.relay as RelayStatus).entries[0]!;
    assert.equal(e.target, 'transparent');
    assert.equal(e.accepted, 2);
    for (const p of e.paths) assert.ok(p.rxBytes > 256 * 1024, `${p.name} carried part of the download (${p.rxBytes} bytes)`);
    const x = (statusOf(await exit.request({ cmd: 'status' })).relay as RelayStatus).exit!;
    assert.equal(x.sessions.length, 1);

    // Other LAN traffic is still balanced, not relayed: a hold connection is answered directly.
    const other = await lab.exec('client', [process.execPath, CLIENT_SCRIPT, 'hold', inet.server4, '9000', '5', '0']);
    assert.equal((JSON.parse(other.stdout) as { ok: boolean }).ok, true);
    assert.equal((statusOf(await entry.request({ cmd: 'status' })).relay as RelayStatus).entries[0]!.accepted, 2);

    assert.equal(await entry.stop(), 0);
    assert.equal(await exit.stop(), 0);
  } finally {
    await stopAndClean(entry, exit);
    target.kill('SIGTERM');
    await lab.down();
  }
});
