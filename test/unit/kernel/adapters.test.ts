import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Nft, NftError, type ExecFn } from '../../../src/kernel/nft/nft.js';
import { Conntrack, decodeAcks, encodeFlushByMark } from '../../../src/kernel/conntrack.js';
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

test('conntrack: the flush-by-mark request is one ctnetlink delete with mark and mask, both families', () => {
  const m = encodeFlushByMark(7, 0x20001, 0xff0000);
  assert.equal(m.readUInt32LE(0), m.length);
  assert.equal(m.readUInt16LE(4), 0x0102, 'NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE');
  assert.equal(m.readUInt16LE(6), 0x5, 'REQUEST | ACK');
  assert.equal(m.readUInt32LE(8), 7);
  assert.deepEqual([...m.subarray(16, 20)], [0, 0, 0, 0], 'nfgenmsg: AF_UNSPEC (every family), version 0');
  assert.deepEqual([m.readUInt16LE(20), m.readUInt16LE(22), m.readUInt32BE(24)], [8, 8, 0x20000], 'CTA_MARK, value & mask, big-endian');
  assert.deepEqual([m.readUInt16LE(28), m.readUInt16LE(30), m.readUInt32BE(32)], [8, 21, 0xff0000], 'CTA_MARK_MASK');
  // Acks: NLMSG_ERROR carries -errno (0 = ok) and echoes the request header.
  const ack = (seq: number, err: number) => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt32LE(seq, 8);
    b.writeInt32LE(-err, 16);
    return b;
  };
  assert.deepEqual(decodeAcks(Buffer.concat([ack(7, 0), ack(8, 1)])), [
    { seq: 7, errno: 0 },
    { seq: 8, errno: 1 },
  ]);
  assert.deepEqual(decodeAcks(Buffer.alloc(3)), []);
});

test('conntrack: an empty mask is refused before anything is sent', async () => {
  await assert.rejects(new Conntrack().flushMark(1, 0), /empty mask/);
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
