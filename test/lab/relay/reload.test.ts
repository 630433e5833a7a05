/**
 * The daemon's handle on the relay, over loopback: link availability decides which link paths
 * connect (and from which source address), reload adds and removes paths under a running flow,
 * changes the exit's allow-list, and a bad key file at reload changes nothing.
 *
 *   client ──► entry ──► l1 (from 127.0.0.1) ──┐
 *                   └──► l2 (from 127.0.0.2) ──┴──► exit ──► target
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../../src/config/load.js';
import { startRelay, type RelayHandle } from '../../../src/relay/relay.js';
import { ConfigError } from '../../../src/errors.js';
import { Target, client, patternSha, keyFile, tempDir, captureLogger, waitFor, freePort } from './helpers.js';

const MB = 1 << 20;
const dir = tempDir();
const key = keyFile(dir);
const handles: RelayHandle[] = [];
const servers: Target[] = [];
after(async () => {
  for (const h of handles) await h.stop();
  for (const s of servers) await s.close();
});

const entryYaml = (entryPort: number, exitPort: number, tport: number, paths: string, k = key) => `
links:
  - { name: l1, interface: lo }
  - { name: l2, interface: lo2 }
relay:
  entries:
    - { name: bulk, listen: 127.0.0.1:${entryPort}, target: 127.0.0.1:${tport}, exit: 127.0.0.1:${exitPort}, keyFile: ${k}, paths: [${paths}] }
  tuning: { pathTimeout: 1s, retryMin: 100ms, retryMax: 500ms }
`;

test('link paths follow link availability and bind the link source address; reload keeps flows', async () => {
  // Long enough (about 0.7 s on loopback) to still be running when l1 is taken out below.
  const target = new Target(160 * MB);
  servers.push(target);
  const tport = await target.listen();
  const exitPort = await freePort();
  const xlog = captureLogger();
  const exit = await startRelay(parseConfigText(`relay:\n  exit: { listen: 127.0.0.1:${exitPort}, keyFile: ${key}, allow: [127.0.0.0/8:${tport}] }\n`), { logger: xlog.logger });
  handles.push(exit);
  const entryPort = await freePort();
  const log = captureLogger();
  const relay = await startRelay(parseConfigText(entryYaml(entryPort, exitPort, tport, '{ link: l1 }, { link: l2 }')), {
    logger: log.logger,
    links: { l1: { usable: true, ipv4: '127.0.0.1' }, l2: { usable: false, ipv4: '127.0.0.2' } },
  });
  handles.push(relay);
  const paths = () => Object.fromEntries(relay.status().entries[0]!.paths.map((p) => [p.name, p]));
  await waitFor('l1 up', () => paths().l1!.state === 'up');
  assert.equal(paths().l2!.state, 'unused');
  assert.equal(paths().l2!.reason, 'link l2 is offline');

  const run = client(entryPort, 4 * MB, 9, 160 * MB);
  await waitFor('the download is under way', () => (exit.status().exit!.sessions[0]?.flows ?? 0) > 0);
  relay.setLinks({ l1: { usable: true, ipv4: '127.0.0.1' }, l2: { usable: true, ipv4: '127.0.0.2' } });
  await waitFor('l2 up', () => paths().l2!.state === 'up');
  assert.equal(paths().l2!.local, '127.0.0.2');
  assert.ok(
    exit.status().exit!.sessions[0]!.paths.some((p) => p.name === 'l2' && p.remote.startsWith('127.0.0.2:')),
    'the exit sees l2 coming from the link source address',
  );
  relay.setLinks({ l1: { usable: false, ipv4: '127.0.0.1' }, l2: { usable: true, ipv4: '127.0.0.2' } });
  await waitFor('l1 unused', () => paths().l1!.state === 'unused');
  const stillRunning = (exit.status().exit!.sessions[0]?.flows ?? 0) > 0;
  const r = await run;
  assert.equal(r.replySha, patternSha(1000, 160 * MB), 'download exact across link changes');
  assert.equal(r.trailer, patternSha(9, 4 * MB));
  assert.ok(stillRunning, 'precondition: the download was still running when l1 was taken out');
  assert.ok(paths().l2!.rxBytes > 1 * MB, 'l2 carried data');
});

test('reload: add and remove paths under a running flow; allow-list changes apply to new opens; a bad key changes nothing', async () => {
  const target = new Target(96 * MB);
  servers.push(target);
  const tport = await target.listen();
  const exitPort = await freePort();
  const exitCfg = (allow: string) => parseConfigText(`relay:\n  exit: { listen: 127.0.0.1:${exitPort}, keyFile: ${key}, allow: [${allow}] }\n`);
  const exit = await startRelay(exitCfg(`127.0.0.1:${tport}`), { logger: captureLogger().logger });
  handles.push(exit);
  const entryPort = await freePort();
  const links = { l1: { usable: true, ipv4: '127.0.0.1' }, l2: { usable: true, ipv4: '127.0.0.2' } };
  const relay = await startRelay(parseConfigText(entryYaml(entryPort, exitPort, tport, '{ link: l1 }')), { logger: captureLogger().logger, links });
  handles.push(relay);
  const names = () => relay.status().entries[0]!.paths.map((p) => `${p.name}:${p.state}`).join(',');
  await waitFor('l1 up', () => names() === 'l1:up');

  const run = client(entryPort, 1 * MB, 3, 96 * MB);
  await waitFor('flow open', () => relay.status().entries[0]!.flows === 1);
  await relay.reload(parseConfigText(entryYaml(entryPort, exitPort, tport, '{ link: l1 }, { link: l2 }')));
  await waitFor('l2 added', () => names() === 'l1:up,l2:up');
  await relay.reload(parseConfigText(entryYaml(entryPort, exitPort, tport, '{ link: l2 }')));
  assert.equal(names(), 'l2:up', 'l1 removed, l2 kept as it was');
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'not a key\n', { mode: 0o600 });
  await assert.rejects(relay.reload(parseConfigText(entryYaml(entryPort, exitPort, tport, '{ link: l1 }', bad))), (e: unknown) => e instanceof ConfigError && /relay.entries\[0\].keyFile: .*bad.key: expected base64/.test(e.message));
  assert.equal(names(), 'l2:up', 'the failed reload changed nothing');
  const r = await run;
  assert.equal(r.replySha, patternSha(1000, 96 * MB), 'the flow survived both reloads');
  assert.equal(relay.status().entries[0]!.accepted, 1);

  await exit.reload(exitCfg('127.0.0.2:1'));
  const refused = await client(entryPort, 10, 1, 0);
  assert.equal(refused.error, 'ECONNRESET', 'the new allow-list refuses the target');
  assert.equal(exit.status().exit!.refused, 1);
});
