import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PICK_SLOTS, STICKY_BUCKETS, dealSlots, stickyBuckets } from '../../../src/plan/select.js';

const M = (link: string, weight: number) => ({ link, weight });

test('dealSlots gives contiguous ranges covering every slot, in proportion to the weights', () => {
  const r = dealSlots([M('a', 5), M('b', 3), M('c', 2)]);
  assert.deepEqual(
    r.map((x) => [x.member.link, x.from, x.to]),
    [
      ['a', 0, 499],
      ['b', 500, 799],
      ['c', 800, 999],
    ],
  );
  // Thirds: remainders go to the earlier members, every slot is dealt once.
  const t = dealSlots([M('a', 1), M('b', 1), M('c', 1)]);
  assert.deepEqual(t.map((x) => x.to - x.from + 1), [334, 333, 333]);
  // Many links with awkward weights still cover 0..PICK_SLOTS-1 without gaps.
  const many = dealSlots(Array.from({ length: 64 }, (_, i) => M(`l${i}`, (i % 7) + 1)));
  let next = 0;
  for (const x of many) {
    assert.equal(x.from, next);
    next = x.to + 1;
  }
  assert.equal(next, PICK_SLOTS);
  assert.deepEqual(dealSlots([M('a', 0)]), []);
  assert.deepEqual(dealSlots([]), []);
});

function owners(runs: { member: { link: string }; from: number; to: number }[]): string[] {
  const out: string[] = [];
  for (const r of runs) for (let b = r.from; b <= r.to; b++) out[b] = r.member.link;
  return out;
}

test('sticky buckets follow the weights and only the departed link\'s buckets move', () => {
  const all = owners(stickyBuckets('p', [M('a', 5), M('b', 3), M('c', 2)]));
  assert.equal(all.length, STICKY_BUCKETS);
  const share = (l: string) => all.filter((x) => x === l).length / STICKY_BUCKETS;
  assert.ok(Math.abs(share('a') - 0.5) < 0.08, `a ${share('a')}`);
  assert.ok(Math.abs(share('b') - 0.3) < 0.08, `b ${share('b')}`);
  assert.ok(Math.abs(share('c') - 0.2) < 0.08, `c ${share('c')}`);

  const withoutB = owners(stickyBuckets('p', [M('a', 5), M('c', 2)]));
  for (let b = 0; b < STICKY_BUCKETS; b++) {
    if (all[b] !== 'b') assert.equal(withoutB[b], all[b], `bucket ${b} moved although its link stayed`);
    else assert.notEqual(withoutB[b], 'b');
  }
  // Coming back restores exactly the previous assignment (stateless).
  assert.deepEqual(owners(stickyBuckets('p', [M('a', 5), M('b', 3), M('c', 2)])), all);
  // Another policy name spreads differently.
  assert.notDeepEqual(owners(stickyBuckets('q', [M('a', 5), M('b', 3), M('c', 2)])), all);
  assert.deepEqual(stickyBuckets('p', [M('a', 0)]), []);
});
