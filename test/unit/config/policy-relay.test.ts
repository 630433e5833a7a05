/** A policy's `relay` option: `relay: NAME` or `relay: { entry: NAME, quic: fallback | pass }`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { issuesOf } from '../../helpers/config-issues.js';

const BASE = `
lan: { interfaces: [lan0] }
links: [{ name: wan1, interface: wan1 }]
relay:
  entries:
    - { name: bulk, listen: "[::]:30000", exit: 198.19.0.20:7000, keyFile: /k, paths: [{ link: wan1 }] }
rules: [{ name: web, match: { proto: tcp, dstPort: 443 }, policy: r }]
`;


test('relay: the short form and the long form, quic defaulting to fallback', () => {
  assert.deepEqual(parseConfigText(`${BASE}policies: { r: { relay: bulk } }\n`).policies.r!.relay, { entry: 'bulk', quic: 'fallback' });
  assert.deepEqual(parseConfigText(`${BASE}policies: { r: { relay: { entry: bulk } } }\n`).policies.r!.relay, { entry: 'bulk', quic: 'fallback' });
  assert.deepEqual(parseConfigText(`${BASE}policies: { r: { relay: { entry: bulk, quic: pass } } }\n`).policies.r!.relay, { entry: 'bulk', quic: 'pass' });
});

test('relay: a bad quic value, an unknown key, a missing or unknown entry are errors naming their path', () => {
  assert.deepEqual(issuesOf(`${BASE}policies: { r: { relay: { entry: bulk, quic: block } } }\n`), ['policies.r.relay.quic: expected one of "fallback", "pass", got "block"']);
  assert.deepEqual(issuesOf(`${BASE}policies: { r: { relay: { entry: bulk, qiuc: pass } } }\n`), ['policies.r.relay.qiuc: unknown key (did you mean "quic"?)']);
  assert.deepEqual(issuesOf(`${BASE}policies: { r: { relay: { quic: pass } } }\n`), ['policies.r.relay.entry: expected a name of letters, digits, "-" or "_" starting with a letter (at most 31 characters), got nothing']);
  assert.deepEqual(issuesOf(`${BASE}policies: { r: { relay: { entry: bulq } } }\n`), ['policies.r.relay.entry: unknown relay entry "bulq" (did you mean "bulk"?)']);
  assert.deepEqual(issuesOf(`${BASE}policies: { r: { relay: bulq } }\n`), ['policies.r.relay: unknown relay entry "bulq" (did you mean "bulk"?)']);
  assert.equal(issuesOf(`${BASE}policies: { r: { relay: 7 } }\n`)[0]!.startsWith('policies.r.relay: expected'), true);
});
