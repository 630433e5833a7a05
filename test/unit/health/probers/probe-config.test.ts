/** The `probe:` fields the probers read, as the config schema delivers them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../../src/config/load.js';
import { ConfigError } from '../../../../src/errors.js';

const doc = (probe: string) => `lan:
  interfaces: [lan0]
links:
  - name: wan1
    interface: wan1
    gateway: 198.18.1.254
    probe:
${probe
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;

test('https probe fields: certificate verification is off unless asked for', () => {
  const plain = parseConfigText(doc('method: https\ntargets: [198.19.0.1]\nhost: probe.test')).links[0]!.probe!;
  assert.equal(plain.verifyCertificate, false);
  assert.equal(plain.path, '/');
  const strict = parseConfigText(doc('method: https\ntargets: [198.19.0.1]\nhost: probe.test\nverifyCertificate: true')).links[0]!.probe!;
  assert.equal(strict.verifyCertificate, true);
});

test('a non-boolean verifyCertificate is refused with its path', () => {
  try {
    parseConfigText(doc('method: https\ntargets: [198.19.0.1]\nverifyCertificate: "yes"'));
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.issues.map((i) => i.path), ['links[0].probe.verifyCertificate']);
  }
});
