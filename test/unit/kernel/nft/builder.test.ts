/**
 * The nft JSON builder: expression shapes, batch order, and a golden ruleset for a config that
 * uses every feature (tiers, sticky, rules with sets and ports, bypass, relay, snat). Regenerate
 * the golden file deliberately with WANBRAID_UPDATE_GOLDEN=1 after reviewing the diff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prefixExpr, setMarkBits, anonSet } from '../../../../src/kernel/nft/expr.js';
import { deleteTableBatch, mapElementsCommands, replaceTableBatch, setElementsCommands, structureKey, type NftTableSpec } from '../../../../src/kernel/nft/table.js';
import { plan } from '../../../../src/plan/planner.js';
import { views } from '../../plan/fixtures.js';
import { fullConfig } from './fixtures.js';

const GOLDEN = fileURLToPath(new URL('../../../../../test/unit/kernel/nft/golden/full.json', import.meta.url));

test('expression helpers produce the nft JSON schema shapes', () => {
  assert.equal(prefixExpr({ address: '198.18.0.1', len: 32, family: 4 }), '198.18.0.1');
  assert.deepEqual(prefixExpr({ address: '2001:db8::', len: 32, family: 6 }), { prefix: { addr: '2001:db8::', len: 32 } });
  assert.deepEqual(setMarkBits('ct', 0x00ff0000, 0x00030000), {
    mangle: { key: { ct: { key: 'mark' } }, value: { '|': [{ '&': [{ ct: { key: 'mark' } }, 0xff00ffff] }, 0x00030000] } },
  });
  assert.equal(anonSet(['a']), 'a');
  assert.deepEqual(anonSet(['a', 'b']), { set: ['a', 'b'] });
});

test('a replace batch is add/delete/add table, then chains, counters, sets, maps, rules', () => {
  const c = fullConfig();
  const batch = replaceTableBatch(plan(c, views(c)).nft).nftables;
  const t = { table: { family: 'inet', name: 'wanbraid' } };
  assert.deepEqual(batch.slice(0, 3), [{ add: t }, { delete: t }, { add: t }]);
  const kinds = batch.slice(3).map((cmd) => Object.keys((cmd as { add: object }).add)[0]);
  const firstOf = (k: string) => kinds.indexOf(k);
  const lastOf = (k: string) => kinds.lastIndexOf(k);
  assert.ok(lastOf('chain') < firstOf('counter') && lastOf('counter') < firstOf('set') && lastOf('set') < firstOf('map') && lastOf('map') < firstOf('rule'));
  assert.deepEqual(deleteTableBatch('inet', 'wanbraid').nftables, [{ add: t }, { delete: t }]);
});

test('element batches flush then add, and skip the add when empty', () => {
  assert.deepEqual(setElementsCommands('inet', 'wanbraid', 'bypass_v4', []), [{ flush: { set: { family: 'inet', table: 'wanbraid', name: 'bypass_v4' } } }]);
  assert.deepEqual(mapElementsCommands('inet', 'wanbraid', 'pick_p_v4', [[0, { goto: { target: 'mark_a' } }]]), [
    { flush: { map: { family: 'inet', table: 'wanbraid', name: 'pick_p_v4' } } },
    { add: { element: { family: 'inet', table: 'wanbraid', name: 'pick_p_v4', elem: [[0, { goto: { target: 'mark_a' } }]] } } },
  ]);
});

test('structureKey ignores dynamic elements only', () => {
  const c = fullConfig();
  const a = plan(c, views(c)).nft;
  const b = plan(c, views(c, { wan1: { state: 'offline' } })).nft;
  assert.equal(structureKey(a), structureKey(b));
  const changed: NftTableSpec = { ...a, chains: a.chains.slice(1) };
  assert.notEqual(structureKey(changed), structureKey(a));
});

test('golden: the full ruleset batch', () => {
  const c = fullConfig();
  // One command per line: reviewable as a diff, and still the JSON document nft reads.
  const text = `{"nftables": [\n${replaceTableBatch(plan(c, views(c)).nft).nftables.map((cmd) => JSON.stringify(cmd)).join(',\n')}\n]}\n`;
  if (process.env.WANBRAID_UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
    writeFileSync(GOLDEN, text);
    if (process.env.WANBRAID_UPDATE_GOLDEN !== '1') assert.fail(`golden file was missing and has been written: ${GOLDEN}; review and commit it`);
  }
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
});
