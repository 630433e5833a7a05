/** The four relay examples of issue 5 (examples/relay-*.yaml) are accepted as they are. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigFile, parseConfigText } from '../../../src/config/load.js';

const ex = (name: string) => new URL(`../../../../examples/${name}`, import.meta.url).pathname;

test('A: entry striping over two WAN links', () => {
  const c = loadConfigFile(ex('relay-entry.yaml'));
  const e = c.relay!.entries[0]!;
  assert.equal(e.name, 'bulk');
  assert.deepEqual(e.paths, [{ link: 'wan1' }, { link: 'wan2' }]);
  assert.deepEqual(e.target, { host: '198.19.0.10', port: 5201, family: 4 });
  assert.equal(c.relay!.tuning.chunkSize, 16 * 1024);
  assert.equal(c.relay!.tuning.sessionBuffer, 32 * 1024 * 1024);
});

test("A': entry through two forwarding hops, no links", () => {
  const c = loadConfigFile(ex('relay-entry-via.yaml'));
  assert.equal(c.links.length, 0);
  assert.deepEqual(c.relay!.entries[0]!.paths[1], { via: { host: '198.18.12.2', port: 7001, family: 4 } });
});

test('B and C: a forwarding hop only', () => {
  const c = loadConfigFile(ex('relay-hop.yaml'));
  assert.equal(c.relay, undefined);
  assert.deepEqual(c.forwards[0]!.listen, { host: '0.0.0.0', port: 7001, family: 4 });
});

test('D: an exit only', () => {
  const c = loadConfigFile(ex('relay-exit.yaml'));
  assert.deepEqual(c.relay!.exit!.allow, [{ prefix: { address: '198.19.0.10', len: 32, family: 4 }, ports: { from: 5201, to: 5201 } }]);
  assert.deepEqual(c.relay!.entries, []);
});

test('exit speedtest: off by default, a boolean when given', () => {
  const exit = (extra: string) => `relay:\n  exit:\n    listen: 0.0.0.0:7000\n    keyFile: /k\n    allow: [198.19.0.10:5201]\n${extra}`;
  assert.equal(parseConfigText(exit('')).relay!.exit!.speedtest, false);
  assert.equal(parseConfigText(exit('    speedtest: true\n')).relay!.exit!.speedtest, true);
  assert.throws(() => parseConfigText(exit('    speedtest: sometimes\n')), /relay\.exit\.speedtest/);
});

test('tuning: sessionBuffer below reorderBuffer is refused', () => {
  assert.throws(
    () => parseConfigText('relay:\n  tuning: { reorderBuffer: 8MiB, sessionBuffer: 4MiB }\n'),
    /relay.tuning.sessionBuffer: expected at least reorderBuffer \(8388608 bytes\)/,
  );
});

test('exit keys: one per entry by name, or the shared keyFile; not both, not neither, no duplicate names', () => {
  const exit = (keys: string) => `relay:\n  exit:\n    listen: 0.0.0.0:7000\n${keys}    allow: [198.19.0.10:5201]\n`;
  const c = parseConfigText(exit('    keys: [{ name: east, keyFile: /k/east }, { name: west, keyFile: /k/west }]\n'));
  assert.deepEqual(c.relay!.exit!.keys, [
    { name: 'east', keyFile: '/k/east' },
    { name: 'west', keyFile: '/k/west' },
  ]);
  assert.equal(c.relay!.exit!.keyFile, undefined);
  assert.equal(parseConfigText(exit('    keyFile: /k/shared\n')).relay!.exit!.keyFile, '/k/shared');
  assert.throws(() => parseConfigText(exit('    keyFile: /k/shared\n    keys: [{ name: east, keyFile: /k/east }]\n')), /relay\.exit: "keys" and "keyFile" exclude each other/);
  assert.throws(() => parseConfigText(exit('')), /relay\.exit: needs "keys" \(one key per entry: \[\{ name, keyFile \}\]\) or "keyFile"/);
  assert.throws(() => parseConfigText(exit('    keys: [{ name: east, keyFile: /a }, { name: east, keyFile: /b }]\n')), /relay\.exit\.keys\[1\]\.name: duplicate key name "east" \(also relay\.exit\.keys\[0\]\)/);
  assert.throws(() => parseConfigText(exit('    keys: []\n')), /relay\.exit\.keys/);
  assert.throws(() => parseConfigText(exit('    keys: [{ name: "a b", keyFile: /a }]\n')), /relay\.exit\.keys\[0\]\.name/);
});

test('entry keyName: the name the exit knows its key by (default the entry name)', () => {
  const entry = (extra: string) =>
    parseConfigText(`relay:\n  entries:\n    - { name: bulk, ${extra}listen: 127.0.0.1:1, target: 127.0.0.1:2, exit: 127.0.0.1:3, keyFile: /k, paths: [{ via: 127.0.0.1:3 }] }\n`);
  assert.equal(entry('').relay!.entries[0]!.keyName, undefined);
  assert.equal(entry('keyName: branch-7, ').relay!.entries[0]!.keyName, 'branch-7');
  assert.throws(() => entry('keyName: "7up", '), /relay\.entries\[0\]\.keyName/);
});
