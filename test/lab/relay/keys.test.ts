/**
 * Per-entry keys on real sockets over loopback (entries and exits in this process):
 *
 *   client ──► entry east (key A) ──┐
 *   client ──► entry west (key B) ──┴──► exit { keys: east=A, west=B } ──► target
 *              entry east (key A) ─────► impostor exit (holds only key B) ──► target
 *
 * Each entry authenticates with its own key; an entry that holds key B can pose neither as the
 * exit to east nor as east to the exit; removing east's key at reload closes east's session
 * (its flow is reset, its paths refused) while west's flow goes on undisturbed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { startRelay, type RelayHandle } from '../../../src/relay/relay.js';
import { Target, client, patternSha, keyFile, tempDir, captureLogger, waitFor, freePort } from './helpers.js';

const MB = 1 << 20;
const dir = tempDir();
const keyA = keyFile(dir, 'a.key');
const keyB = keyFile(dir, 'b.key');
const handles: RelayHandle[] = [];
const servers: Target[] = [];
after(async () => {
  for (const h of handles.reverse()) await h.stop();
  for (const s of servers) await s.close();
});

const tuning = '  tuning: { pathTimeout: 1s, retryMin: 100ms, retryMax: 500ms }\n';
const entry = (name: string, port: number, exitPort: number, tport: number, key: string, extra = '') =>
  `    - { name: ${name}, ${extra}listen: 127.0.0.1:${port}, target: 127.0.0.1:${tport}, exit: 127.0.0.1:${exitPort}, keyFile: ${key}, paths: [{ name: p, via: 127.0.0.1:${exitPort} }] }\n`;

test('per-entry keys: each entry with its own key; key B can pose neither as the exit to A nor as A; removing a key revokes that entry alone', async () => {
  const target = new Target(64 * MB);
  servers.push(target);
  const tport = await target.listen();
  const exitPort = await freePort();
  // Debug: peer-triggered lines after the first in an interval are rate-limited to a summary at warn and written in full at debug.
  const xlog = captureLogger('debug');
  const exitCfg = (keys: string) => parseConfigText(`relay:\n  exit: { listen: 127.0.0.1:${exitPort}, keys: [${keys}], allow: [127.0.0.1:${tport}] }\n${tuning}`);
  const both = `{ name: east, keyFile: ${keyA} }, { name: west, keyFile: ${keyB} }`;
  const exit = await startRelay(exitCfg(both), { logger: xlog.logger });
  handles.push(exit);

  const [eastPort, westPort] = [await freePort(), await freePort()];
  const log = captureLogger();
  const entries = await startRelay(
    parseConfigText(`relay:\n  entries:\n${entry('east', eastPort, exitPort, tport, keyA)}${entry('west', westPort, exitPort, tport, keyB)}${tuning}`),
    { logger: log.logger },
  );
  handles.push(entries);
  const path = (name: string) => entries.status().entries.find((e) => e.name === name)!.paths[0]!;
  await waitFor('both entries up', () => path('east').state === 'up' && path('west').state === 'up');
  const sessions = () => exit.status().exit!.sessions.map((s) => s.entry).sort();
  assert.deepEqual(sessions(), ['east', 'west'], 'one session per entry');
  const small = await client(eastPort, 1 * MB, 5, 64 * MB);
  assert.equal(small.replySha, patternSha(1000, 64 * MB), 'east relays exactly');

  // An entry holding key B that claims east's key name: refused by the exit (the hello's MAC).
  const spoofPort = await freePort();
  const spoof = await startRelay(parseConfigText(`relay:\n  entries:\n${entry('spoof', spoofPort, exitPort, tport, keyB, 'keyName: east, ')}${tuning}`), {
    logger: captureLogger().logger,
  });
  handles.push(spoof);
  await waitFor('the spoofing entry is refused', () => /wrong key/.test(spoof.status().entries[0]!.paths[0]!.reason ?? ''));
  assert.ok(
    xlog.lines.some((l) => l.msg === 'relay connection rejected' && /client hello for key "east" failed authentication/.test(String(l.err))),
    'the exit logged the refusal',
  );
  assert.deepEqual(sessions(), ['east', 'west'], 'no session for the impostor');

  // An impostor exit that holds only key B (it accepts any key name with it): east cannot
  // complete a handshake with it, so nothing of east's reaches the target through it.
  const impPort = await freePort();
  const ilog = captureLogger('debug');
  const impostor = await startRelay(parseConfigText(`relay:\n  exit: { listen: 127.0.0.1:${impPort}, keyFile: ${keyB}, allow: [127.0.0.1:${tport}] }\n${tuning}`), {
    logger: ilog.logger,
  });
  handles.push(impostor);
  const fooledPort = await freePort();
  const fooled = await startRelay(parseConfigText(`relay:\n  entries:\n${entry('east', fooledPort, impPort, tport, keyA)}${tuning}`), { logger: captureLogger().logger });
  handles.push(fooled);
  // Between attempts the path is 'connecting' with no reason: wait for a refusal to be showing.
  const fooledPath = () => fooled.status().entries[0]!.paths[0]!;
  await waitFor('east refuses the impostor', () => impostor.status().exit!.rejected >= 2 && fooledPath().state !== 'up' && /wrong key/.test(fooledPath().reason ?? ''));
  assert.equal(impostor.status().exit!.sessions.length, 0);
  assert.ok(ilog.lines.some((l) => l.msg === 'relay connection rejected' && /key "east" failed authentication/.test(String(l.err))));
  assert.match(fooledPath().reason ?? '', /wrong key/);

  // Revocation: with a flow running on each entry, reload the exit without east's key.
  // East's flow keeps its sending side open for 30 s, so it cannot end by itself before the reload.
  const eastRun = client(eastPort, 1 * MB, 6, 64 * MB, '127.0.0.1', { endAfterMs: 30_000 });
  const westRun = client(westPort, 1 * MB, 7, 64 * MB);
  await waitFor('both flows open at the exit', () => exit.status().exit!.sessions.every((s) => s.flows > 0) && sessions().length === 2);
  await exit.reload(exitCfg(`{ name: west, keyFile: ${keyB} }`));
  assert.deepEqual(sessions(), ['west'], 'east’s session is closed at once');
  assert.ok(xlog.lines.some((l) => l.msg === 'relay session closed' && l.entry === 'east' && /key "east" was removed or changed/.test(String(l.reason))));
  const [e, w] = await Promise.all([eastRun, westRun]);
  assert.equal(e.error, 'ECONNRESET', 'east’s flow is reset');
  assert.notEqual(e.replySha, patternSha(1000, 64 * MB));
  assert.equal(w.error, undefined);
  assert.equal(w.replySha, patternSha(1000, 64 * MB), 'west’s flow is undisturbed');
  assert.equal(w.trailer, patternSha(7, 1 * MB));
  await waitFor('east is refused from now on', () => /unknown key name "east" or wrong key/.test(path('east').reason ?? ''));
  assert.ok(xlog.lines.some((l) => l.msg === 'relay connection rejected' && /unknown key "east"/.test(String(l.err))));
  assert.equal(path('west').state, 'up');

  // Putting the key back lets east in again.
  await exit.reload(exitCfg(both));
  await waitFor('east back', () => path('east').state === 'up');
  const again = await client(eastPort, 1 * MB, 8, 64 * MB);
  assert.equal(again.replySha, patternSha(1000, 64 * MB));
});
