/**
 * QUIC fallback for a relay policy, through real daemons: the router's daemon relays LAN TCP to
 * port 443 of the test server; with `quic: fallback` (the default) the same rule's UDP to port 443
 * is rejected at once with ICMP port unreachable, so an HTTP/3 client falls back to TCP, which the
 * relay stripes over both paths. With `quic: pass` the same datagram goes through, balanced per
 * flow like any UDP. Nothing but the config files sets this up.
 *
 *   client ──(TCP and UDP to 198.19.0.10:443 / [2001:db8:ffff::10]:443)──► router [wanbraid]
 *       TCP: nft redirect → entry :30010 ═╦═ wan1 ═ isp1 ═╗
 *                                         ╚═ wan2 ═ isp2 ═╩═ inet [wanbraid: exit :7000] → TCP target :443
 *       UDP: reject (fallback) | balanced (pass) ─ wanN ─ ispN ── inet: UDP whoami :443
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../../src/lab/lab.js';
import { generateKey } from '../../../src/relay/key.js';
import type { RelayStatus } from '../../../src/relay/relay.js';
import { DaemonProcess, statusOf, stopAndClean } from '../harness/daemon.js';
import { patternSha, type ClientResult } from '../relay/helpers.js';
import { udpProbe, udpServe } from '../plan/udp-flows.js';
import { exitOnlyConfig, lanRelayEntry, waitBothPathsUp } from './relay-daemons.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const TRANSFER = fileURLToPath(new URL('../relay/transfer.js', import.meta.url));
const MB = 1 << 20;
const COMMENT = 'wanbraid: quic fallback for relay entry lanrelay (rule web)';

test('quic fallback rejects a relay rule\'s UDP/443 at once while its TCP is relayed over both paths; quic pass lets the datagram through', async (t) => {
  // No lab services: TCP and UDP port 443 in inet are this test's (health probes use ICMP).
  const lab = await Lab.up({ links: 3, rates: ['20mbit', '20mbit', '20mbit'], services: false });
  const key = join(lab.dir, 'relay.key');
  writeFileSync(key, generateKey() + '\n', { mode: 0o600 });
  const inet = lab.addr.inet;
  // The example's links with their IPv6 gateways too: UDP that passes is forwarded in both families.
  const dualStack = lab.addr.links.reduce((text, l) => text.replace(`gateway: ${l.gateway4}\n`, `gateway: [${l.gateway4}, "${l.gateway6}"]\n`), EXAMPLE);
  const routerConfig = (relay: string) =>
    dualStack.replace('policies:\n', `policies:\n  web-relay:\n    relay: ${relay}\n`)
      .replace('rules:\n', `rules:\n  - name: web\n    match: { proto: tcp, dst: [${inet.server4}, "${inet.server6}"], dstPort: [443] }\n    policy: web-relay\n`)
      .concat(lanRelayEntry(lab, key));
  const exitOnly = exitOnlyConfig(lab, key, [`${inet.server4}:443`, `[${inet.server6}]:443`]);
  const target = lab.spawn('inet', [process.execPath, TRANSFER, 'target', '443', String(4 * MB)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let entry: DaemonProcess | undefined;
  let exit: DaemonProcess | undefined;
  try {
    await new Promise<void>((r) => target.stdout!.once('data', () => r()));
    // The UDP side of port 443: the test server, and an address no rule matches (the control).
    await udpServe(lab, 'inet', [inet.server4, inet.server6, inet.track4[0], inet.track6[0]], 443);
    exit = await DaemonProcess.start(lab.ns('inet'), exitOnly);
    entry = await DaemonProcess.start(lab.ns('router'), routerConfig('lanrelay'));
    await waitBothPathsUp(entry);

    // The rule is in the ruleset, commented, once per family.
    const ruleset = (await lab.exec('router', ['nft', 'list', 'ruleset'])).stdout;
    const quicLines = ruleset.split('\n').filter((l) => l.includes(`comment "${COMMENT}"`));
    assert.equal(quicLines.length, 2, `one quic fallback rule per family:\n${ruleset}`);
    for (const l of quicLines) assert.match(l, /udp dport 443 counter packets \d+ bytes \d+ reject( with icmpx port-unreachable)? comment/);
    t.diagnostic(`nft list ruleset:\n${quicLines.join('\n')}`);

    // UDP to 443 of the relayed destination: refused at once, both families.
    for (const host of [inet.server4, inet.server6]) {
      const p = await udpProbe(lab, host, 443);
      assert.equal(p.error, 'ECONNREFUSED', `UDP to [${host}]:443 is rejected: ${JSON.stringify(p)}`);
      t.diagnostic(`UDP to [${host}]:443 refused after ${p.ms.toFixed(1)} ms`);
    }
    // Control: the same datagram to an address the rule does not match is answered (the whoami runs).
    for (const host of [inet.track4[0], inet.track6[0]]) {
      const p = await udpProbe(lab, host, 443);
      assert.equal(p.ok, true, `UDP to [${host}]:443 passes: ${JSON.stringify(p)}`);
    }
    // The rejects were ours: each family's rule counted its datagram.
    const classify = JSON.parse((await lab.exec('router', ['nft', '-j', 'list', 'chain', 'inet', 'wanbraid', 'classify'])).stdout) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
    const counts = classify.nftables.filter((o) => o.rule?.comment === COMMENT).map((o) => o.rule!.expr.find((e) => e.counter)!.counter!.packets);
    assert.deepEqual(counts, [1, 1], 'one rejected datagram per family');

    // TCP to the same destination and port goes through the relay, striped over both paths.
    const r = await lab.exec('client', [process.execPath, TRANSFER, 'client', inet.server4, '443', String(MB), '21', String(4 * MB)], { timeoutMs: 60_000 });
    const res = JSON.parse(r.stdout) as ClientResult;
    assert.equal(res.error, undefined);
    assert.equal(res.replySha, patternSha(1000, 4 * MB), 'download exact');
    assert.equal(res.trailer, patternSha(21, MB), 'upload exact');
    const e = (statusOf(await entry.request({ cmd: 'status' })).relay as RelayStatus).entries[0]!;
    assert.equal(e.accepted, 1, 'the TCP connection was handed to the entry');
    for (const p of e.paths) assert.ok(p.rxBytes > 256 * 1024, `${p.name} carried part of the download (${p.rxBytes} bytes)`);

    // quic: pass — reloaded: the rule is gone and the datagram is answered, from a WAN address.
    const mark = entry.logs.length;
    entry.writeConfig(routerConfig('{ entry: lanrelay, quic: pass }'));
    entry.signal('SIGHUP');
    await entry.waitForLog((l) => l.msg === 'reloaded', 10_000, mark);
    const after = (await lab.exec('router', ['nft', 'list', 'ruleset'])).stdout;
    assert.ok(!after.includes('quic fallback'), `no quic fallback rule with quic: pass:\n${after}`);
    const wanAddrs = new Set(lab.addr.links.flatMap((l) => [l.router4, l.router6]));
    for (const host of [inet.server4, inet.server6]) {
      const p = await udpProbe(lab, host, 443);
      assert.equal(p.ok, true, `UDP to [${host}]:443 passes with quic: pass: ${JSON.stringify(p)}`);
      const seenFrom = p.reply!.split(' ').pop()!;
      assert.ok(wanAddrs.has(seenFrom), `balanced like any UDP: the server saw a WAN link's address (${seenFrom})`);
    }

    assert.equal(await entry.stop(), 0);
    assert.equal(await exit.stop(), 0);
  } finally {
    await stopAndClean(entry, exit);
    target.kill('SIGTERM');
    await lab.down();
  }
});
