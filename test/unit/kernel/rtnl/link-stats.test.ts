/**
 * Interface counters (link-stats.ts): the RTM_NEWSTATS codec round-trips, a short struct is
 * refused with the message named, and `list` keeps only RTM_NEWSTATS messages that carry
 * IFLA_STATS_LINK_64, asking for that one attribute (filter mask bit 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkStats } from '../../../../src/kernel/rtnl/index.js';
import type { RtnlTransport } from '../../../../src/kernel/rtnl/client.js';
import type { NlMessage } from '../../../../src/kernel/rtnl/netlink.js';

const S = { ifindex: 7, rxPackets: 2 ** 40 + 3, txPackets: 12345, multicast: 9, rxBytes: 1e12, txBytes: 77 };

test('RTM_NEWSTATS: encode then decode gives the counters back (u64 above 2^32)', () => {
  assert.deepEqual(linkStats.decode(linkStats.encode(S)), S);
  assert.equal(linkStats.key(S), 'link-stats 7');
});

test('a message without IFLA_STATS_LINK_64 has no counters; a short one is refused', () => {
  const bare = linkStats.encode(S).subarray(0, 12);
  assert.equal(linkStats.decode(bare), undefined);
  assert.throws(() => linkStats.decode(Buffer.alloc(8)), /link stats/);
  assert.throws(() => linkStats.decodeStats64(1, Buffer.alloc(40), 'link stats'), /rtnl_link_stats64 of 40 bytes/);
});

test('list: one RTM_GETSTATS dump for IFLA_STATS_LINK_64; other messages are skipped', async () => {
  const asked: { type: number; payload: Buffer }[] = [];
  const msg = (type: number, payload: Buffer): NlMessage => ({ type, flags: 2, seq: 1, pid: 0, payload });
  const nl: RtnlTransport = {
    request: () => Promise.reject(new Error('no requests')),
    dump: async (_op, type, payload) => {
      asked.push({ type, payload });
      return [msg(linkStats.RTM_NEWSTATS, linkStats.encode(S)), msg(16, Buffer.alloc(16)), msg(linkStats.RTM_NEWSTATS, linkStats.encode({ ...S, ifindex: 8 }).subarray(0, 12))];
    },
  };
  assert.deepEqual(await linkStats.list(nl), [S]);
  assert.equal(asked[0]!.type, linkStats.RTM_GETSTATS);
  assert.equal(asked[0]!.payload.length, 12);
  assert.equal(asked[0]!.payload.readUInt32LE(8), 1, 'filter_mask: IFLA_STATS_LINK_64 only');
});
