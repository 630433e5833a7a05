/**
 * The transparent hand-off: nftables redirects the client's TCP connection to a transparent
 * entry on the router (no fixed target), which learns the original destination through the
 * native addon (SO_ORIGINAL_DST) and relays to it through the exit, over both WAN links. The nft
 * rule here stands in for the one the balancing planner generates for a `relay` policy.
 *
 *   client ──(dst 198.19.0.10:5300)──► router: nft redirect → entry :30010
 *                                          ═╦═ wan1 ═ isp1 ═╗
 *                                           ╚═ wan2 ═ isp2 ═╩═ inet: exit :7000 → target 198.19.0.10:5300
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../../src/lab/lab.js';
import { RelayProcess } from '../../../src/relay/standalone-process.js';
import { generateKey } from '../../../src/relay/key.js';
import { patternSha, sleep, waitFor, type ClientResult } from './helpers.js';

const TRANSFER = fileURLToPath(new URL('./transfer.js', import.meta.url));
const MB = 1 << 20;

test('a redirected LAN connection reaches its original destination through the relay; others are refused', async () => {
  const lab = await Lab.up({ links: 2, rates: ['40mbit', '40mbit'], services: false });
  try {
    const [w1, w2] = lab.addr.links;
    const inet = lab.addr.inet;
    const file = (name: string, text: string) => {
      const f = join(lab.dir, name);
      writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    const spawnIn = (node: string) => (argv: string[]) => lab.spawn(node, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    await lab.ip('router', [
      `route add default via ${w1!.gateway4} dev ${w1!.iface} table 101`,
      `route add default via ${w2!.gateway4} dev ${w2!.iface} table 102`,
      `rule add from ${w1!.router4} lookup 101 priority 1000`,
      `rule add from ${w2!.router4} lookup 102 priority 1000`,
    ]);
    // The hand-off: new LAN TCP connections to 198.19.0.0/24 ports 5300-5301 go to the entry.
    await lab.exec('router', ['nft', '-f', '-'], {
      input: `table ip relaytest {\n  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n    iifname "lan0" ip daddr 198.19.0.0/24 tcp dport 5300-5301 redirect to :30010\n  }\n}\n`,
    });
    const key = file('relay.key', generateKey() + '\n');
    const target = lab.spawn('inet', [process.execPath, TRANSFER, 'target', '5300', String(4 * MB)], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((r) => target.stdout!.once('data', () => r()));
    const exit = await RelayProcess.start(spawnIn('inet'), file('exit.yaml', `relay:\n  exit: { listen: ${inet.relayExit4}:7000, keyFile: ${key}, allow: [${inet.server4}:5300] }\n`));
    const entry = await RelayProcess.start(
      spawnIn('router'),
      file(
        'entry.yaml',
        `links:\n  - { name: wan1, interface: wan1 }\n  - { name: wan2, interface: wan2 }\nrelay:\n  entries:\n    - { name: lan, listen: 0.0.0.0:30010, exit: ${inet.relayExit4}:7000, keyFile: ${key}, paths: [{ link: wan1 }, { link: wan2 }] }\n`,
      ),
      { wan1: { usable: true, ipv4: w1!.router4 }, wan2: { usable: true, ipv4: w2!.router4 } },
    );
    for (let i = 0; i < 200 && (await entry.status()).status.entries[0]!.paths.some((p) => p.state !== 'up'); i++) await sleep(50);

    const client = async (host: string, port: number, upload: number, reply: number) => {
      const r = await lab.exec('client', [process.execPath, TRANSFER, 'client', host, String(port), String(upload), '21', String(reply)], { timeoutMs: 60_000 });
      return JSON.parse(r.stdout) as ClientResult;
    };

    // Redirected to the entry, relayed to the original destination, exact both ways.
    const ok = await client(inet.server4, 5300, 1 * MB, 4 * MB);
    assert.equal(ok.error, undefined);
    assert.equal(ok.replySha, patternSha(1000, 4 * MB), 'download exact');
    assert.equal(ok.trailer, patternSha(21, 1 * MB), 'upload exact');
    const st = (await entry.status()).status.entries[0]!;
    assert.equal(st.target, 'transparent');
    assert.ok(st.paths.every((p) => p.rxBytes > 256 * 1024), 'both WAN paths carried the reply');

    // Redirected too, but the exit's allow-list does not permit port 5301: refused, user reset.
    const refused = await client(inet.server4, 5301, 100, 0);
    assert.equal(refused.error, 'ECONNRESET');
    assert.equal((await exit.status()).status.exit!.refused, 1);
    await waitFor('the exit to log the refusal', () => exit.logged('relay open refused: target not in the allow-list'));

    // A direct connection to the entry's own port is not a hand-off: reset, and said so.
    const direct = await client(lab.addr.lan.router4, 30010, 100, 0);
    assert.equal(direct.error, 'ECONNRESET');
    await waitFor('the entry to log the refusal', () => entry.logged(/not redirected; refusing/));
    assert.equal((await exit.status()).status.exit!.sessions[0]!.flows, 0);
  } finally {
    await lab.down();
  }
});
