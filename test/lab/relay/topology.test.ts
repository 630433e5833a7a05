/**
 * The relay in the lab topologies, every role its own process in its own namespace:
 *
 *   relay lab:  user ── entry ═╦═ hop1 (forward :7001, 40mbit) ═╗
 *                              ╚═ hop2 (forward :7001, 40mbit) ═╩═ exit :7000 ── target :5300
 *
 *   WAN lab:    client ── router (entry, paths from wan1 and wan2) ═╦═ isp1 ═╗
 *                                                                   ╚═ isp2 ═╩═ inet (exit :7000, target :5300)
 *
 * Transfers are small (a few MB) and checked by sha256 both ways; figures belong in bench/relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RelayLab, Lab, type Testbed } from '../../../src/lab/lab.js';
import { RelayProcess } from '../../../src/relay/standalone-process.js';
import { generateKey } from '../../../src/relay/key.js';
import { patternSha, sleep, waitFor, type ClientResult } from './helpers.js';

const TRANSFER = fileURLToPath(new URL('./transfer.js', import.meta.url));
const MB = 1 << 20;
const TPORT = 5300;

type AnyLab = Testbed<unknown>;

function file(lab: AnyLab, name: string, text: string): string {
  const f = join(lab.dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

function relay(lab: AnyLab, node: string, config: string, links?: Record<string, { usable: boolean; ipv4?: string }>): Promise<RelayProcess> {
  return RelayProcess.start((argv) => lab.spawn(node, argv, { stdio: ['pipe', 'pipe', 'pipe'] }), config, links);
}

async function target(lab: AnyLab, node: string, reply: number): Promise<void> {
  const child = lab.spawn(node, [process.execPath, TRANSFER, 'target', String(TPORT), String(reply)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`target exited with ${c}`)));
  });
}

async function transfer(lab: AnyLab, node: string, host: string, port: number, upload: number, seed: number, reply: number): Promise<ClientResult> {
  const r = await lab.exec(node, [process.execPath, TRANSFER, 'client', host, String(port), String(upload), String(seed), String(reply)], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as ClientResult;
}

const upPaths = async (p: RelayProcess) => (await p.status()).status.entries[0]!.paths.filter((x) => x.state === 'up').map((x) => x.name);

async function waitUp(p: RelayProcess, n: number, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while ((await upPaths(p)).length !== n) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Relay lab with forwards on the hops, the exit and the entry running; returns the entry process. */
async function relayRoles(lab: RelayLab, reply: number, tuning = '') {
  const key = file(lab, 'relay.key', generateKey() + '\n');
  const a = lab.addr;
  await target(lab, 'target', reply);
  const exit = await relay(lab, 'exit', file(lab, 'exit.yaml', `relay:\n  exit: { listen: 0.0.0.0:7000, keyFile: ${key}, allow: [${a.relay.target4}:${TPORT}] }\n${tuning}`));
  for (const p of a.paths) await relay(lab, p.hop, file(lab, `${p.hop}.yaml`, `forwards:\n  - { listen: 0.0.0.0:7001, to: ${a.relay.exit4}:7000 }\n`));
  const paths = a.paths.map((p) => `{ name: ${p.name}, via: ${p.hop4}:7001 }`).join(', ');
  const entry = await relay(
    lab,
    'entry',
    file(lab, 'entry.yaml', `relay:\n  entries:\n    - { name: bulk, listen: ${a.relay.entryUser4}:30000, target: ${a.relay.target4}:${TPORT}, exit: ${a.relay.exit4}:7000, keyFile: ${key}, paths: [${paths}] }\n${tuning}`),
  );
  return { entry, exit };
}

test('A → [B, C] → D → target: sha256 exact both ways, both paths carry data', async () => {
  const lab = await RelayLab.up({ paths: 2, rates: ['40mbit', '40mbit'], services: false });
  try {
    const { entry, exit } = await relayRoles(lab, 6 * MB);
    await waitUp(entry, 2, 'both paths up');
    const r = await transfer(lab, 'user', lab.addr.relay.entryUser4, 30000, 3 * MB, 11, 6 * MB);
    assert.equal(r.error, undefined);
    assert.equal(r.replySha, patternSha(1000, 6 * MB), 'download exact');
    assert.equal(r.trailer, patternSha(11, 3 * MB), 'upload exact');
    const st = (await entry.status()).status.entries[0]!;
    for (const p of st.paths) assert.ok(p.rxBytes > 1 * MB && p.txBytes > 0.5 * MB, `${p.name} carried data (${p.txBytes}/${p.rxBytes})`);
    const xs = (await exit.status()).status.exit!;
    assert.equal(xs.sessions.length, 1);
    assert.deepEqual(xs.sessions[0]!.paths.map((p) => p.remote.split(':')[0]).sort(), ['198.18.21.1', '198.18.22.1'], 'the exit sees the paths arrive from the hops');
  } finally {
    await lab.down();
  }
});

test('a path cut mid-transfer, by carrier loss then by a blackhole: sha256 exact, the path rejoins each time', async () => {
  const lab = await RelayLab.up({ paths: 2, rates: ['40mbit', '40mbit'], services: false });
  try {
    const { entry, exit } = await relayRoles(lab, 12 * MB, '  tuning: { retryMax: 1s }\n');
    await waitUp(entry, 2, 'both paths up');
    for (const fault of ['carrier-down', 'blackhole'] as const) {
      const run = transfer(lab, 'user', lab.addr.relay.entryUser4, 30000, 1 * MB, 5, 12 * MB);
      await sleep(400);
      await lab.fault('path2', { kind: fault });
      const r = await run;
      assert.equal(r.replySha, patternSha(1000, 12 * MB), `${fault}: download exact`);
      assert.equal(r.trailer, patternSha(5, 1 * MB), `${fault}: upload exact`);
      // The transfer can end (the exit resent on path1) before the entry's own timers declare
      // path2 down: wait for that, then check it is path2 that went.
      await waitUp(entry, 1, `${fault}: path2 down`);
      assert.deepEqual(await upPaths(entry), ['path1'], `${fault}: path2 is down`);
      await lab.fault('path2', { kind: fault === 'carrier-down' ? 'carrier-up' : 'clear' });
      await waitUp(entry, 2, `path2 back after ${fault}`);
    }
    await waitFor('the entry to log the path going down', () => entry.logged('relay path down'));
    const resent = (await exit.status()).status.exit!.sessions[0]!.resentChunks;
    assert.ok(resent > 0, 'the exit resent download chunks of the cut path');
  } finally {
    await lab.down();
  }
});

test('entry on a multi-WAN router: one path per WAN link (source address + per-link table), both links carry it', async () => {
  const lab = await Lab.up({ links: 2, rates: ['40mbit', '40mbit'], services: false });
  try {
    const [w1, w2] = lab.addr.links;
    // What the daemon keeps for link paths: a table per link and `from <addr> lookup <table>`.
    await lab.ip('router', [
      `route add default via ${w1!.gateway4} dev ${w1!.iface} table 101`,
      `route add default via ${w2!.gateway4} dev ${w2!.iface} table 102`,
      `rule add from ${w1!.router4} lookup 101 priority 1000`,
      `rule add from ${w2!.router4} lookup 102 priority 1000`,
    ]);
    const key = file(lab, 'relay.key', generateKey() + '\n');
    const inet = lab.addr.inet;
    await target(lab, 'inet', 6 * MB);
    await relay(lab, 'inet', file(lab, 'exit.yaml', `relay:\n  exit: { listen: ${inet.relayExit4}:7000, keyFile: ${key}, allow: [${inet.server4}:${TPORT}] }\n`));
    const cfg = file(
      lab,
      'entry.yaml',
      `links:\n  - { name: wan1, interface: wan1 }\n  - { name: wan2, interface: wan2 }\nrelay:\n  entries:\n    - { name: bulk, listen: ${lab.addr.lan.router4}:30000, target: ${inet.server4}:${TPORT}, exit: ${inet.relayExit4}:7000, keyFile: ${key}, paths: [{ link: wan1 }, { link: wan2 }] }\n`,
    );
    const entry = await relay(lab, 'router', cfg, { wan1: { usable: true, ipv4: w1!.router4 }, wan2: { usable: true, ipv4: w2!.router4 } });
    await waitUp(entry, 2, 'both link paths up');
    const counters = async () => {
      const r = await lab.exec('router', ['ip', '-j', '-s', 'link', 'show']);
      const links = JSON.parse(r.stdout) as { ifname: string; stats64: { rx: { bytes: number } } }[];
      return Object.fromEntries(links.map((l) => [l.ifname, l.stats64.rx.bytes]));
    };
    const before = await counters();
    const r = await transfer(lab, 'client', lab.addr.lan.router4, 30000, 1 * MB, 3, 6 * MB);
    assert.equal(r.replySha, patternSha(1000, 6 * MB), 'download exact');
    assert.equal(r.trailer, patternSha(3, 1 * MB), 'upload exact');
    const after = await counters();
    for (const w of ['wan1', 'wan2']) assert.ok(after[w]! - before[w]! > 1 * MB, `${w} received ${after[w]! - before[w]!} bytes of the download`);
    const st = (await entry.status()).status.entries[0]!;
    assert.deepEqual(st.paths.map((p) => p.local), [w1!.router4, w2!.router4]);

    // The link goes offline: its path is closed and stays unused; back online, it reconnects.
    await entry.setLinks({ wan1: { usable: true, ipv4: w1!.router4 }, wan2: { usable: false, ipv4: w2!.router4 } });
    await waitUp(entry, 1, 'only wan1 up');
    await entry.setLinks({ wan1: { usable: true, ipv4: w1!.router4 }, wan2: { usable: true, ipv4: w2!.router4 } });
    await waitUp(entry, 2, 'wan2 back');
  } finally {
    await lab.down();
  }
});
