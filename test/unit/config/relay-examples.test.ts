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

test('tuning: sessionBuffer below reorderBuffer is refused', () => {
  assert.throws(
    () => parseConfigText('relay:\n  tuning: { reorderBuffer: 8MiB, sessionBuffer: 4MiB }\n'),
    /relay.tuning.sessionBuffer: expected at least reorderBuffer \(8388608 bytes\)/,
  );
});
