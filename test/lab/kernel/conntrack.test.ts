/**
 * Conntrack flush by mark against the real kernel, in a scratch namespace:
 *
 *   [ns r]  conntrack entries planted with `conntrack -I` (IPv4 and IPv6, several marks)
 *
 * One ctnetlink request deletes exactly the entries whose mark & mask equals the value — both
 * families, foreign mark bits ignored — and nothing else; flushing a mark nobody carries is fine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NamespaceSet } from '../../../src/lab/netns.js';

const CHILD = fileURLToPath(new URL('./conntrack-flush.js', import.meta.url));

test('a flush by mark deletes exactly the matching entries in both families', async () => {
  const set = await NamespaceSet.create(['r']);
  try {
    const plant = async (family: 4 | 6, mark: number, sport: number) => {
      const [s, d] = family === 4 ? ['198.18.100.2', '198.19.0.10'] : ['2001:db8:100::2', '2001:db8:ffff::10'];
      await set.exec('r', ['conntrack', '-I', '--mark', String(mark), '-p', 'tcp', '-s', s, '-d', d, '--sport', String(sport), '--dport', '80', '--state', 'ESTABLISHED', '-t', '120']);
    };
    let port = 1000;
    for (const mark of [0x10000, 0x20000, 0x20001, 0x30000, 0x1]) {
      await plant(4, mark, port++);
      await plant(6, mark, port++);
    }
    const marks = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const f of ['ipv4', 'ipv6']) {
        const r = await set.exec('r', ['conntrack', '-L', '-f', f], { allowFail: true });
        for (const m of r.stdout.matchAll(/mark=(\d+)/g)) out.push(`${f}:${Number(m[1]).toString(16)}`);
      }
      return out.sort();
    };
    assert.equal((await marks()).length, 10);
    const flush = async (value: number, mask: number) => JSON.parse((await set.exec('r', [process.execPath, CHILD, String(value), String(mask)])).stdout) as { ok: boolean; ms: number };
    const r = await flush(0x20000, 0xff0000);
    assert.equal(r.ok, true);
    // 0x20001 carries a foreign bit outside the mask: it is on link 2 as well, and goes.
    assert.deepEqual(await marks(), ['ipv4:1', 'ipv4:10000', 'ipv4:30000', 'ipv6:1', 'ipv6:10000', 'ipv6:30000']);
    assert.equal((await flush(0x70000, 0xff0000)).ok, true, 'nothing to flush is not an error');
    assert.equal((await marks()).length, 6);
  } finally {
    await set.destroy();
  }
});
