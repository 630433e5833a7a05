/**
 * The kept libnftables context (src/kernel/nft/session.ts) against the real kernel, in a scratch
 * namespace: the table is installed through the nft program, then element updates, listings and
 * counters go through the context and match what the program reads; a refused update is WB_NFT
 * with nft's message and changes nothing; queued updates apply in call order; a closed context
 * refuses further runs; a library that is not there is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceSet, nsExec } from '../../../src/lab/netns.js';
import { Nft } from '../../../src/kernel/nft/nft.js';
import { mapElementsCommands, replaceTableBatch } from '../../../src/kernel/nft/table.js';
import type { NftBatch } from '../../../src/kernel/nft/json.js';
import { plan } from '../../../src/plan/planner.js';
import { fullConfig } from '../../unit/kernel/nft/fixtures.js';
import { views } from '../../unit/plan/fixtures.js';
import { NftSession } from '../../../src/kernel/nft/session.js';
import { Driver, opsModulePath } from '../harness/remote.js';

test('a library that is not there is refused by name, through the real addon', () => {
  assert.throws(() => NftSession.open({ library: 'libwanbraid-no-such-nftables.so.9' }), { code: 'WB_NFT_LIBRARY', message: /cannot load libwanbraid-no-such-nftables\.so\.9.*libnftables1/ });
});

test('a kept libnftables context updates elements and reads the table the nft program installed', async () => {
  const set = await NamespaceSet.create(['r']);
  let d: Driver | undefined;
  try {
    const program = new Nft({ exec: (argv, opts) => nsExec(set.ns('r'), argv, opts) });
    d = await Driver.start(set, 'r', opsModulePath(import.meta.url, './nft-session-ops.js'));
    assert.equal(await d.call('transport'), 'libnftables');

    const c = fullConfig();
    const up = plan(c, views(c));
    await d.call('install', { batch: replaceTableBatch(up.nft) });
    const name = 'pick_balanced_v4';
    const mapOf = (p: ReturnType<typeof plan>): NftBatch => {
      const m = p.nft.maps.find((x) => x.name === name)!;
      return { nftables: mapElementsCommands('inet', 'wanbraid', m.name, m.elements) };
    };
    const down = plan(c, views(c, { wan1: { state: 'offline' } }));
    const before = await d.call<number>('runs');
    await d.call('update', { batch: mapOf(down) });
    assert.equal(await d.call<number>('runs'), before + 1, 'the update ran through the context, not a process');
    const expected = [
      [{ range: [0, 599] }, { goto: { target: 'mark_wan2' } }],
      [{ range: [600, 999] }, { goto: { target: 'mark_wan3' } }],
    ];
    assert.deepEqual(await program.mapElements('inet', 'wanbraid', name), expected, 'the nft program sees the update');
    assert.deepEqual(await d.call('mapElements', { table: 'wanbraid', map: name }), expected, 'the context reads the same');
    assert.deepEqual(Object.keys(await d.call<Record<string, unknown>>('counters', { table: 'wanbraid' })).sort(), [...(await program.counters('inet', 'wanbraid')).keys()].sort());
    assert.deepEqual(
      (await d.call<{ family: string; name: string }[]>('tables')).map((t) => `${t.family} ${t.name}`),
      (await program.listTables()).map((t) => `${t.family} ${t.name}`),
    );

    // A refused update: nft's message, the command count, and the map unchanged (one transaction).
    const bad: NftBatch = { nftables: [...mapOf(up).nftables, { add: { rule: { family: 'inet', table: 'wanbraid', chain: 'nonexistent', expr: [{ accept: null }] } } }] };
    const refused = await d.call<{ code: string; message: string; commands: number }>('refused', { batch: bad });
    assert.equal(refused.code, 'WB_NFT');
    assert.match(refused.message, /No such file or directory/);
    assert.equal(refused.commands, bad.nftables.length);
    assert.deepEqual(await program.mapElements('inet', 'wanbraid', name), expected, 'nothing of the refused batch applied');

    // The context is still usable after a refusal, and queued updates apply in call order: the last one wins.
    await d.call('burst', { batches: [mapOf(up), mapOf(down), mapOf(up), mapOf(down), mapOf(up)] });
    const all = await program.mapElements('inet', 'wanbraid', name);
    assert.equal(all.length, 3, `all three links picked again: ${JSON.stringify(all)}`);

    await d.call('close');
    assert.equal(await d.call('closedRun'), 'WB_NFT_LIBRARY');
  } finally {
    await d?.stop();
    await set.destroy();
  }
});
