import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nft, NftError, type ExecFn } from '../../../src/kernel/nft/nft.js';
import { Conntrack } from '../../../src/kernel/conntrack.js';
import { SysctlGuard, type SysctlIO } from '../../../src/kernel/sysctl.js';
import type { ExecOptions } from '../../../src/util/exec.js';

function fakeExec(answer: (argv: readonly string[], opts?: ExecOptions) => { code: number; stdout?: string; stderr?: string }) {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  const fn: ExecFn = async (argv, opts) => {
    calls.push({ argv, ...(opts?.input !== undefined ? { input: opts.input } : {}) });
    const a = answer(argv, opts);
    return { code: a.code, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  };
  return { fn, calls };
}

test('nft: a batch goes to `nft -j -f FILE`; a refusal is WB_NFT with nft\'s message', async () => {
  let seen: unknown;
  const ok = fakeExec((argv) => {
    seen = JSON.parse(readFileSync(argv[3]!, 'utf8'));
    return { code: 0 };
  });
  const batch = { nftables: [{ add: { table: { family: 'inet' as const, name: 'wanbraid' } } }] };
  await new Nft({ exec: ok.fn }).apply(batch);
  assert.deepEqual(ok.calls[0]!.argv.slice(0, 3), ['nft', '-j', '-f']);
  assert.deepEqual(seen, batch);
  assert.equal(existsSync(ok.calls[0]!.argv[3]!), false, 'the batch file is removed');
  await new Nft({ exec: ok.fn }).apply({ nftables: [] });
  assert.equal(ok.calls.length, 1, 'an empty batch runs nothing');

  const bad = fakeExec(() => ({ code: 1, stderr: 'internal:0:0-0: Error: Could not process rule: No such file or directory\n\ninternal:0:0-0: Error: Could not process rule: No such file or directory\n' }));
  const err = await new Nft({ exec: bad.fn }).apply(batch).catch((e: unknown) => e);
  assert.ok(err instanceof NftError);
  assert.equal(err.code, 'WB_NFT');
  assert.equal(err.nftMessage, 'Error: Could not process rule: No such file or directory');
  assert.match(err.message, /^nft batch refused \(1 command\): Error: Could not process rule/);
});

test('nft: listings are parsed (metainfo dropped); a missing table reads as undefined', async () => {
  const listing = (objs: unknown[]) => JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, ...objs] });
  const f = fakeExec((argv) => {
    const cmd = argv.slice(2).join(' ');
    if (cmd === 'list tables') return { code: 0, stdout: listing([{ table: { family: 'inet', name: 'fw', handle: 1 } }]) };
    if (cmd === 'list counters table inet wanbraid')
      return { code: 0, stdout: listing([{ counter: { family: 'inet', name: 'new_wan1', table: 'wanbraid', handle: 3, packets: 7, bytes: 420 } }]) };
    return { code: 1, stderr: 'Error: No such file or directory' };
  });
  const nft = new Nft({ exec: f.fn });
  assert.deepEqual(await nft.listTables(), [{ family: 'inet', name: 'fw' }]);
  assert.equal(await nft.listTable('inet', 'wanbraid'), undefined);
  assert.deepEqual([...(await nft.counters('inet', 'wanbraid'))], [['new_wan1', { packets: 7, bytes: 420 }]]);
  await assert.rejects(nft.mapElements('inet', 'wanbraid', 'nope'), (e: unknown) => e instanceof NftError && /No such file/.test(e.message));
});

test('conntrack: flush by mark in both families; "0 deleted" (exit 1) is success; an empty mask is refused', async () => {
  const f = fakeExec((argv) =>
    argv.includes('ipv4')
      ? { code: 0, stderr: 'conntrack v1.4.7 (conntrack-tools): 12 flow entries have been deleted.\n' }
      : { code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' },
  );
  const ct = new Conntrack({ exec: f.fn });
  assert.deepEqual(await ct.flushMark(0x20000, 0xff0000), { deleted: { 4: 12, 6: 0 } });
  assert.deepEqual(
    f.calls.map((c) => c.argv.join(' ')).sort(),
    ['conntrack -D -f ipv4 --mark 0x20000/0xff0000', 'conntrack -D -f ipv6 --mark 0x20000/0xff0000'],
  );
  await assert.rejects(ct.flushMark(1, 0), /empty mask/);
  const broken = new Conntrack({ exec: fakeExec(() => ({ code: 1, stderr: 'conntrack: operation failed: Operation not permitted' })).fn });
  await assert.rejects(broken.flushMark(1, 0xff), (e: unknown) => (e as { code?: string }).code === 'WB_COMMAND_FAILED');
});

function memIO(init: Record<string, string>): SysctlIO & { values: Record<string, string>; writes: string[] } {
  const values = { ...init };
  const writes: string[] = [];
  return {
    values,
    writes,
    read: async (k) => values[k]!,
    write: async (k, v) => {
      writes.push(`${k}=${v}`);
      values[k] = v;
    },
  };
}

test('sysctl guard: sets values, remembers the originals across a crash through the state file, restores them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-sysctl-'));
  const stateFile = join(dir, 'sysctl.json');
  const io = memIO({ a: '0', b: '1' });
  const g = new SysctlGuard({ io, stateFile });
  assert.deepEqual(await g.ensure([{ key: 'a', value: '1' }, { key: 'b', value: '1' }]), ['a']);
  assert.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')), { a: '0', b: '1' });
  assert.deepEqual(await g.ensure([{ key: 'a', value: '1' }]), [], 'idempotent');
  // "Crash": a new guard finds the state file and restores the values from before the first run.
  const g2 = new SysctlGuard({ io, stateFile });
  await g2.ensure([{ key: 'a', value: '1' }]);
  assert.deepEqual(g2.saved, { a: '0', b: '1' });
  const r = await g2.restore();
  assert.ok(r.every((x) => x.ok));
  assert.deepEqual(io.values, { a: '0', b: '1' });
  assert.equal(existsSync(stateFile), false);
  writeFileSync(stateFile, '{torn');
  assert.throws(() => new SysctlGuard({ io, stateFile }), /unreadable sysctl state/);
});
