/**
 * The nft adapter and the planner's ruleset against the real kernel, in a scratch namespace:
 *
 *   [ns r]  (no interfaces needed: nft accepts interface names that do not exist yet)
 *
 * The kernel accepts the full ruleset (`nft -j --check`, then for real), element batches change
 * only elements, counters and elements read back, a refusal is WB_NFT with nft's message, and
 * deleting our table leaves a foreign table untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceSet, nsExec } from '../../../src/lab/netns.js';
import { Nft, NftError } from '../../../src/kernel/nft/nft.js';
import { deleteTableBatch, mapElementsCommands, replaceTableBatch } from '../../../src/kernel/nft/table.js';
import { plan } from '../../../src/plan/planner.js';
import { fullConfig } from '../../unit/kernel/nft/fixtures.js';
import { views } from '../../unit/plan/fixtures.js';

test('the kernel accepts the planned ruleset; element updates, read-back and deletion behave', async () => {
  const set = await NamespaceSet.create(['r']);
  try {
    const nft = new Nft({ exec: (argv, opts) => nsExec(set.ns('r'), argv, opts) });
    const foreign = { nftables: [{ add: { table: { family: 'ip' as const, name: 'fw' } } }, { add: { chain: { family: 'ip' as const, table: 'fw', name: 'in', type: 'filter' as const, hook: 'input' as const, prio: 0, policy: 'accept' as const } } }] };
    await nft.apply(foreign);
    const before = await nft.listRuleset();

    const c = fullConfig();
    const d = plan(c, views(c));
    await nft.check(replaceTableBatch(d.nft));
    await nft.apply(replaceTableBatch(d.nft));
    // Installing twice is a clean replace (the first apply of a restarted daemon).
    await nft.apply(replaceTableBatch(d.nft));
    const tables = await nft.listTables();
    assert.deepEqual(tables.map((t) => `${t.family} ${t.name}`).sort(), ['inet wanbraid', 'ip fw']);
    const counters = await nft.counters('inet', 'wanbraid');
    assert.deepEqual([...counters.keys()].sort(), d.nft.counters.slice().sort());

    const down = plan(c, views(c, { wan1: { state: 'offline' } }));
    const m = down.nft.maps.find((x) => x.name === 'pick_balanced_v4')!;
    await nft.apply({ nftables: mapElementsCommands('inet', 'wanbraid', m.name, m.elements) });
    assert.deepEqual(await nft.mapElements('inet', 'wanbraid', m.name), [
      [{ range: [0, 599] }, { goto: { target: 'mark_wan2' } }],
      [{ range: [600, 999] }, { goto: { target: 'mark_wan3' } }],
    ]);
    assert.deepEqual(await nft.setElements('inet', 'wanbraid', 'set_cdn_v6'), [{ prefix: { addr: '2001:db8:ff::', len: 48 } }]);

    const err = await nft.apply({ nftables: [{ add: { rule: { family: 'inet', table: 'wanbraid', chain: 'nonexistent', expr: [{ accept: null }] } } }] }).catch((e: unknown) => e);
    assert.ok(err instanceof NftError && err.code === 'WB_NFT', String(err));
    assert.match(err.nftMessage, /No such file or directory/);

    await nft.apply(deleteTableBatch('inet', 'wanbraid'));
    await nft.apply(deleteTableBatch('inet', 'wanbraid'));
    assert.deepEqual(await nft.listRuleset(), before, 'only the foreign table is left, unchanged');
  } finally {
    await set.destroy();
  }
});
