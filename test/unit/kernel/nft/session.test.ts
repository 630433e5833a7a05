import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NftSession } from '../../../../src/kernel/nft/session.js';
import { NftError } from '../../../../src/kernel/nft/nft.js';
import type { NativeNftHandle, NativeNftResult } from '../../../../src/native/addon.js';

/** A fake addon: records runs, answers from a script, lets the test settle each run. */
function fakeAddon(opts: { openError?: Error } = {}) {
  const runs: { text: string; dry: boolean; settle: (r: NativeNftResult) => void }[] = [];
  let active = 0;
  let maxActive = 0;
  let closed = 0;
  const handle = {} as NativeNftHandle;
  return {
    runs,
    get maxActive() {
      return maxActive;
    },
    get closed() {
      return closed;
    },
    addon: {
      nftOpen: (lib: string) => {
        if (opts.openError) throw opts.openError;
        assert.equal(lib, 'libnftables.so.1');
        return handle;
      },
      nftRun: (_h: NativeNftHandle, text: string, dry: boolean) =>
        new Promise<NativeNftResult>((resolve) => {
          active++;
          maxActive = Math.max(maxActive, active);
          runs.push({ text, dry, settle: (r) => (active--, resolve(r)) });
        }),
      nftClose: () => void closed++,
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('runs are queued one at a time, in call order; a refusal is an NftError with nft\'s message and the queue goes on', async () => {
  const f = fakeAddon();
  const s = NftSession.open({ addon: f.addon });
  const a = s.run('{"nftables":[1]}', { what: 'batch', commands: 1 });
  const b = s.run('{"nftables":[2,3]}', { what: 'batch', commands: 2 });
  const c = s.run('list tables', { what: 'list tables', commands: 1, dryRun: true });
  await tick();
  assert.equal(f.runs.length, 1, 'the second run waits for the first');
  f.runs[0]!.settle({ rc: 0, output: '', error: '' });
  await a;
  await tick();
  assert.equal(f.runs.length, 2);
  f.runs[1]!.settle({ rc: 1, output: '', error: 'internal:0:0-0: Error: Could not process rule: No such file or directory\n' });
  const err = await b.catch((e: unknown) => e);
  assert.ok(err instanceof NftError);
  assert.equal(err.code, 'WB_NFT');
  assert.equal(err.nftMessage, 'Error: Could not process rule: No such file or directory');
  assert.equal(err.commands, 2);
  await tick();
  assert.equal(f.runs[2]!.dry, true);
  f.runs[2]!.settle({ rc: 0, output: '{"nftables":[]}\n', error: '' });
  assert.equal(await c, '{"nftables":[]}\n');
  assert.equal(f.maxActive, 1);
  assert.deepEqual(f.runs.map((r) => r.text), ['{"nftables":[1]}', '{"nftables":[2,3]}', 'list tables']);
  assert.equal(s.count, 3);
});

test('close waits for queued runs, frees the context once, and later runs are refused', async () => {
  const f = fakeAddon();
  const s = NftSession.open({ addon: f.addon });
  const a = s.run('x', { what: 'batch', commands: 1 });
  const closing = s.close();
  await tick();
  assert.equal(f.closed, 0, 'not freed while a run is in flight');
  f.runs[0]!.settle({ rc: 0, output: '', error: '' });
  await a;
  await closing;
  await s.close();
  assert.equal(f.closed, 1);
  await assert.rejects(s.run('y', { what: 'list tables', commands: 1 }), { code: 'WB_NFT_LIBRARY', message: /nft list tables: the libnftables context is closed/ });
  assert.equal(f.runs.length, 1);
});

test('a library that does not load is WB_NFT_LIBRARY naming the package', () => {
  const f = fakeAddon({ openError: Object.assign(new Error('cannot load libnftables.so.1: cannot open shared object file'), { code: 'WB_NFT_LIBRARY' }) });
  assert.throws(() => NftSession.open({ addon: f.addon }), { code: 'WB_NFT_LIBRARY', message: /cannot load libnftables\.so\.1.*libnftables1/ });
});
